//! What the MongoDB store keeps of users rather than of chats: the users who deleted their
//! account (`deletedUsers`, kept for good) and the chats each user muted (`chatMutes`). Both are
//! inserted once per fact: a second insert of the same fact finds its `_id` taken and changes
//! nothing (a mute's end is then updated in place).

use bson::{Bson, Document, doc};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::options::ReturnDocument;
use mongodb::{Collection, IndexModel};

use super::MongoStore;
use super::documents::{date, err, millis};
use crate::ports::{ChatMute, StoreError, StoreResult};

/// The users who deleted their account (`_id`: the user id), kept for good.
pub(super) const DELETED_USERS: &str = "deletedUsers";
/// Who muted which chat until when: `{_id: "<user>:<chat>", userId, chatId, until}`, `until` in
/// milliseconds since the epoch or `null` (until unmuted).
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

    /// Inserted, or its end changed where it was there: told apart in Rust, from the mute as it
    /// was before the update (a filter `until: {$ne: …}` would compare with `null`, which the
    /// nx-27017 test server does as SQL does: never unequal).
    pub(super) async fn mute(
        &self,
        chat: &str,
        user: &str,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let id = format!("{user}:{chat}");
        let ms = until.map(|t| t.timestamp_millis());
        let stored = ms.map_or(Bson::Null, Bson::Int64);
        let fields = doc! {"userId": user, "chatId": chat, "until": stored};
        let mut mute = doc! {"_id": &id};
        mute.extend(fields.clone());
        if self.insert_once(&self.chat_mutes, mute).await? {
            return Ok(true);
        }
        // Upserted (the `_id` from the filter): a mute removed since the insert found it
        // (unmuted on another device) is this one again rather than lost.
        let before = self
            .chat_mutes
            .find_one_and_update(doc! {"_id": &id}, doc! {"$set": fields})
            .upsert(true)
            .return_document(ReturnDocument::Before)
            .write_concern(self.durable.clone())
            .await
            .map_err(err)?;
        Ok(before.is_none_or(|d| millis(&d, "until").map(|t| t.timestamp_millis()) != ms))
    }

    pub(super) async fn unmute(&self, chat: &str, user: &str) -> StoreResult<bool> {
        self.chat_mutes
            .delete_one(doc! {"_id": format!("{user}:{chat}")})
            .write_concern(self.durable.clone())
            .await
            .map(|r| r.deleted_count > 0)
            .map_err(err)
    }

    pub(super) async fn mutes_of(&self, user: &str) -> StoreResult<Vec<ChatMute>> {
        let found = self
            .chat_mutes
            .find(doc! {"userId": user})
            .await
            .map_err(err)?;
        let docs: Vec<Document> = found.try_collect().await.map_err(err)?;
        Ok(docs.iter().filter_map(mute_from).collect())
    }

    pub(super) async fn mute_by(&self, chat: &str, user: &str) -> StoreResult<Option<ChatMute>> {
        let id = format!("{user}:{chat}");
        let found = self
            .chat_mutes
            .find_one(doc! {"_id": id})
            .await
            .map_err(err)?;
        Ok(found.as_ref().and_then(mute_from))
    }

    pub(super) async fn delete_mutes_ended(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        // `$lt` a number matches numbers only: a mute until unmuted (`null`) stays.
        self.chat_mutes
            .delete_many(doc! {"until": {"$lt": before.timestamp_millis()}})
            .write_concern(self.durable.clone())
            .await
            .map(|r| r.deleted_count)
            .map_err(err)
    }
}

/// A mute as stored (`until`: milliseconds, as the edits' times, or `null`).
fn mute_from(d: &Document) -> Option<ChatMute> {
    Some(ChatMute {
        chat_id: d.get_str("chatId").ok()?.to_owned(),
        until: millis(d, "until"),
    })
}

/// The string `key` of each document `cursor` finds.
async fn strings(cursor: mongodb::Cursor<Document>, key: &str) -> StoreResult<Vec<String>> {
    let docs: Vec<Document> = cursor.try_collect().await.map_err(err)?;
    Ok(docs
        .iter()
        .filter_map(|d| d.get_str(key).ok().map(str::to_owned))
        .collect())
}
