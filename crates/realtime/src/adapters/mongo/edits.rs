//! Edits, deletions and reactions in MongoDB: a message changed in place by one conditional
//! `findOneAndUpdate` (durable, as a send), which also adds one to its `revision` and stamps its
//! change time in `updatedAt`. A partial index `{chatId, updatedAt}` holds changed messages only:
//! a send writes no entry in it.
//!
//! The change times (`editedAt`, `deletedAt`, `updatedAt`) are stored as milliseconds since the
//! epoch (Int64), not as BSON dates: the nx-27017 test server stores a date given to `$set` as a
//! string without its milliseconds. Numbers compare, sort and index alike on both.

use bson::{Document, doc};
use chrono::{DateTime, Utc};
use common::contracts::chat::Message;
use mongodb::IndexModel;
use mongodb::options::{IndexOptions, ReturnDocument};

use super::MongoStore;
use super::documents::{err, message_from, messages_from, oid};
use crate::ports::{MessageChange, StoreResult};

impl MongoStore {
    pub(super) async fn index_changes(&self) -> mongodb::error::Result<()> {
        let changed_only = IndexOptions::builder()
            .name("changes".to_owned())
            .partial_filter_expression(doc! {"updatedAt": {"$exists": true}})
            .build();
        self.messages
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"chatId": 1, "updatedAt": 1})
                    .options(changed_only)
                    .build(),
            )
            .await
            .map(|_| ())
    }

    pub(super) async fn change_message_doc(
        &self,
        id: &str,
        change: &MessageChange,
    ) -> StoreResult<Option<Message>> {
        let Some(oid) = oid(id) else { return Ok(None) };
        let mut filter = doc! {"_id": oid, "deletedAt": {"$exists": false}};
        let at = change.at().timestamp_millis();
        let mut update = match change {
            MessageChange::Edit {
                sender,
                content,
                iv,
                encrypted,
                ..
            } => {
                filter.insert("senderId", sender);
                let mut set = doc! {"content": content, "encrypted": encrypted, "editedAt": at};
                let mut update = Document::new();
                match iv {
                    Some(iv) => {
                        set.insert("iv", iv);
                    }
                    None => {
                        update.insert("$unset", doc! {"iv": ""});
                    }
                }
                update.insert("$set", set);
                update
            }
            MessageChange::Delete { by, .. } => doc! {
                "$set": {"content": "", "encrypted": false, "deletedAt": at, "deletedBy": by},
                "$unset": {"iv": "", "metadata": "", "replyTo": "", "reactions": ""},
            },
            MessageChange::React {
                user, emoji, add, ..
            } => {
                let reaction = doc! {"emoji": emoji, "userId": user};
                if *add {
                    doc! {"$addToSet": {"reactions": reaction}}
                } else {
                    doc! {"$pull": {"reactions": reaction}}
                }
            }
        };
        // Every change, in the same write.
        match update.get_document_mut("$set") {
            Ok(set) => {
                set.insert("updatedAt", at);
            }
            Err(_) => {
                update.insert("$set", doc! {"updatedAt": at});
            }
        }
        update.insert("$inc", doc! {"revision": 1_i64});
        if matches!(change, MessageChange::React { add: true, .. }) {
            return self.add_reaction(filter, update).await;
        }
        self.change_where(filter, update).await
    }

    /// Adds a reaction where the message has its `reactions` array, creating the array first
    /// (an empty one, in a write that changes nothing else) where it has none. MongoDB's
    /// `$addToSet` would create it, but the nx-27017 test server ignores `$addToSet` on a missing
    /// field; this is valid on both, at one more write for a message's first reaction.
    async fn add_reaction(
        &self,
        filter: Document,
        update: Document,
    ) -> StoreResult<Option<Message>> {
        let with_array = |exists: bool| {
            let mut f = filter.clone();
            f.insert("reactions", doc! {"$exists": exists});
            f
        };
        if let Some(m) = self.change_where(with_array(true), update.clone()).await? {
            return Ok(Some(m));
        }
        self.messages
            .update_one(with_array(false), doc! {"$set": {"reactions": []}})
            .write_concern(self.durable.clone())
            .await
            .map_err(err)?;
        self.change_where(with_array(true), update).await
    }

    /// The message matching `filter` after `update`, durably; `None` when none matched.
    async fn change_where(
        &self,
        filter: Document,
        update: Document,
    ) -> StoreResult<Option<Message>> {
        let d = self
            .messages
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After)
            .write_concern(self.durable.clone())
            .await
            .map_err(err)?;
        d.as_ref().map(message_from).transpose()
    }

    pub(super) async fn changed_message_docs(
        &self,
        chats: &[String],
        since: DateTime<Utc>,
        after: Option<(DateTime<Utc>, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        if chats.is_empty() {
            return Ok(Vec::new());
        }
        let since = since.timestamp_millis();
        let mut filter = doc! {"chatId": {"$in": chats}, "updatedAt": {"$gt": since}};
        if let Some((at, id)) = after {
            let at = at.timestamp_millis();
            let mut later = vec![doc! {"updatedAt": {"$gt": at}}];
            if let Some(id) = oid(id) {
                later.push(doc! {"updatedAt": at, "_id": {"$gt": id}});
            }
            filter.insert("$or", later);
        }
        let cursor = self
            .messages
            .find(filter)
            .sort(doc! {"updatedAt": 1, "_id": 1})
            .limit(i64::from(limit))
            .await
            .map_err(err)?;
        messages_from(cursor).await
    }

    pub(super) async fn delete_attachment_doc(&self, id: &str) -> StoreResult<bool> {
        let Some(oid) = oid(id) else {
            return Ok(false);
        };
        self.attachments
            .delete_one(doc! {"_id": oid})
            .write_concern(self.durable.clone())
            .await
            .map(|r| r.deleted_count == 1)
            .map_err(err)
    }
}
