//! Receipts in MongoDB: who has a message (`deliveredTo`) and who read it (`readBy`), each a
//! list on the message, added to once per user; which messages of a chat are unread.

use std::collections::HashMap;

use bson::oid::ObjectId;
use bson::{Document, doc};
use futures::TryStreamExt;

use super::MongoStore;
use super::documents::{err, oid};
use crate::ports::{Marked, StoreResult};

impl MongoStore {
    /// Adds `user` to the list `field` of the messages `filter` finds (those without it), first
    /// reading which of them have an empty list. A message another instance writes between the
    /// two that the filter takes is marked without being among the firsts.
    async fn mark(&self, filter: Document, field: &str, user: &str) -> StoreResult<Marked> {
        let mut unmarked = filter.clone();
        unmarked.insert(field, doc! {"$size": 0});
        let firsts: Vec<(String, String)> = self
            .messages
            .find(unmarked)
            .projection(doc! {"senderId": 1})
            .sort(doc! {"_id": 1})
            .await
            .map_err(err)?
            .try_filter_map(|d| async move {
                let id = d.get_object_id("_id").ok().map(|id| id.to_hex());
                let sender = d.get_str("senderId").ok().map(str::to_owned);
                Ok(id.zip(sender))
            })
            .try_collect()
            .await
            .map_err(err)?;
        let r = self
            .messages
            .update_many(filter, doc! {"$addToSet": {field: user}})
            .await
            .map_err(err)?;
        Ok(Marked {
            count: r.modified_count,
            firsts,
        })
    }

    pub(super) async fn mark_read_upto(
        &self,
        chat: &str,
        upto: &str,
        user: &str,
    ) -> StoreResult<Marked> {
        let Some(upto) = oid(upto) else {
            return Ok(Marked::default());
        };
        let filter = doc! {"chatId": chat, "_id": {"$lte": upto}, "senderId": {"$ne": user}, "readBy": {"$nin": [user]}};
        self.mark(filter, "readBy", user).await
    }

    pub(super) async fn senders_of(
        &self,
        chat: &str,
        messages: &[String],
    ) -> StoreResult<HashMap<String, String>> {
        let ids: Vec<ObjectId> = messages.iter().filter_map(|m| oid(m)).collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let docs: Vec<Document> = self
            .messages
            .find(doc! {"_id": {"$in": ids}, "chatId": chat})
            .projection(doc! {"senderId": 1})
            .await
            .map_err(err)?
            .try_collect()
            .await
            .map_err(err)?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                Some((
                    d.get_object_id("_id").ok()?.to_hex(),
                    d.get_str("senderId").ok()?.to_owned(),
                ))
            })
            .collect())
    }

    pub(super) async fn mark_delivered_to(
        &self,
        messages: &[String],
        user: &str,
    ) -> StoreResult<Marked> {
        let ids: Vec<ObjectId> = messages.iter().filter_map(|m| oid(m)).collect();
        if ids.is_empty() {
            return Ok(Marked::default());
        }
        let filter = doc! {"_id": {"$in": ids}, "deliveredTo": {"$nin": [user]}};
        self.mark(filter, "deliveredTo", user).await
    }

    pub(super) async fn unread_of(&self, chat: &str, user: &str) -> StoreResult<u64> {
        // A deleted message is nothing to read.
        let filter = doc! {
            "chatId": chat, "senderId": {"$ne": user}, "readBy": {"$nin": [user]},
            "deletedAt": {"$exists": false},
        };
        self.messages.count_documents(filter).await.map_err(err)
    }
}
