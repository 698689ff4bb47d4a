//! The MongoDB fetch behind coalesced chat reads (`adapters::coalesce`): ONE
//! `find({_id: {$in: [...]}})` per batch of concurrent reads.

use std::collections::HashMap;

use bson::oid::ObjectId;
use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::Collection;

use super::documents::{chat_from, err};
use crate::adapters::coalesce::Fetch;
use crate::ports::{ChatRecord, StoreResult};

pub(super) struct ChatFetch(pub Collection<Document>);

impl Fetch<ObjectId, ChatRecord> for ChatFetch {
    async fn fetch(
        &mut self,
        ids: Vec<ObjectId>,
    ) -> StoreResult<HashMap<ObjectId, StoreResult<ChatRecord>>> {
        let docs: Vec<Document> = self
            .0
            .find(doc! {"_id": {"$in": ids}})
            .await
            .map_err(err)?
            .try_collect()
            .await
            .map_err(err)?;
        Ok(docs
            .iter()
            .filter_map(|d| Some((d.get_object_id("_id").ok()?, chat_from(d))))
            .collect())
    }
}
