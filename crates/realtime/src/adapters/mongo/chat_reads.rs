//! The MongoDB fetch behind coalesced chat reads (`coalesce`): ONE
//! `find({_id: {$in: [...]}})` per batch of concurrent reads.

use std::collections::HashMap;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::Collection;

use super::documents::{chat_from, err};
use crate::adapters::deadline::within;
use crate::coalesce::Fetch;
use crate::ports::{ChatRecord, StoreResult};

/// The `chats` collection, and how long one fetch may take (see `adapters::deadline`).
pub(super) struct ChatFetch(pub Collection<Document>, pub Duration);

impl Fetch<ObjectId, ChatRecord> for ChatFetch {
    async fn fetch(
        &mut self,
        ids: Vec<ObjectId>,
    ) -> StoreResult<HashMap<ObjectId, StoreResult<ChatRecord>>> {
        let docs: Vec<Document> = within(self.1, "MongoDB", async {
            self.0
                .find(doc! {"_id": {"$in": ids}})
                .await
                .map_err(err)?
                .try_collect()
                .await
                .map_err(err)
        })
        .await?;
        Ok(docs
            .iter()
            .filter_map(|d| Some((d.get_object_id("_id").ok()?, chat_from(d))))
            .collect())
    }
}
