//! What the MongoDB store keeps of users rather than of chats: the users who deleted their
//! account (`deletedUsers`, kept for good) and the chats each user muted (`chatMutes`). Both are
//! written once per fact: a second write of the same fact finds its `_id` taken and changes
//! nothing.

use bson::{Document, doc};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::{Collection, IndexModel};

use super::MongoStore;
use super::documents::{date, err};
use crate::ports::{StoreError, StoreResult};

/// The users who deleted their account (`_id`: the user id), kept for good.
pub(super) const DELETED_USERS: &str = "deletedUsers";
/// Who muted which chat: `{_id: "<user>:<chat>", userId, chatId}`.
pub(super) const CHAT_MUTES: &str = "chatMutes";

impl MongoStore {
    pub(super) async fn index_mutes(&self) -> mongodb::error::Result<()> {
        for key in ["userId", "chatId"] {
            self.chat_mutes
                .create_index(IndexModel::builder().keys(doc! {key: 1}).build())
                .await?;
        }
        Ok(())
    }

    /// Inserts `d` durably; false when its `_id` was there already.
    async fn insert_once(&self, into: &Collection<Document>, d: Document) -> StoreResult<bool> {
        let inserted = into
            .insert_one(d)
            .write_concern(self.durable.clone())
            .await
            .map_err(err);
        match inserted {
            Ok(_) => Ok(true),
            Err(StoreError::Duplicate) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn record_deleted(&self, user: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let record = doc! {"_id": user, "deletedAt": date(at)};
        self.insert_once(&self.deleted_users, record)
            .await
            .map(|_| ())
    }

    pub(super) async fn deleted_among(&self, users: &[String]) -> StoreResult<Vec<String>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.deleted_users.find(doc! {"_id": {"$in": users}});
        strings(found.await.map_err(err)?, "_id").await
    }

    pub(super) async fn mute(&self, chat: &str, user: &str, muted: bool) -> StoreResult<bool> {
        let id = format!("{user}:{chat}");
        if muted {
            let mute = doc! {"_id": id, "userId": user, "chatId": chat};
            return self.insert_once(&self.chat_mutes, mute).await;
        }
        self.chat_mutes
            .delete_one(doc! {"_id": id})
            .write_concern(self.durable.clone())
            .await
            .map(|r| r.deleted_count > 0)
            .map_err(err)
    }

    pub(super) async fn mutes_of(&self, user: &str) -> StoreResult<Vec<String>> {
        let found = self.chat_mutes.find(doc! {"userId": user});
        strings(found.await.map_err(err)?, "chatId").await
    }
}

/// The string `key` of each document `cursor` finds.
async fn strings(cursor: mongodb::Cursor<Document>, key: &str) -> StoreResult<Vec<String>> {
    let docs: Vec<Document> = cursor.try_collect().await.map_err(err)?;
    Ok(docs
        .iter()
        .filter_map(|d| d.get_str(key).ok().map(str::to_owned))
        .collect())
}
