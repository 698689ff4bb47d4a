//! Groups' pictures in MongoDB: the bytes in `chatPictures`, one document per version
//! (`_id` "<chat id>:<version>", with `chatId` and `at`, when it was stored), the version in the
//! chat's `picture`. A new picture is inserted first, then named by the chat (counted in its
//! revision), then the older versions go; a removal goes the other way. A chat so never names a
//! version before its bytes are stored, and of two admins setting pictures at the same instant
//! the later stored stays (the chat may name the other until the next change: the bytes are
//! served with their own version as `ETag`, and kept for good only when asked for by it).
//! Inserted rather than replaced in place: the nx-27017 test server cannot update a document
//! holding binary data; this is valid on MongoDB as well.

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, doc};
use chrono::Utc;
use mongodb::IndexModel;
use mongodb::options::FindOneOptions;

use super::MongoStore;
use super::documents::{bad, err, oid};
use crate::ports::{ChatPicture, ChatRecord, StoreError, StoreResult};

/// Groups' pictures: `{_id: "<chat id>:<version>", chatId, version, contentType, data, at}`.
pub(super) const CHAT_PICTURES: &str = "chatPictures";

impl MongoStore {
    pub(super) async fn index_pictures(&self) -> mongodb::error::Result<()> {
        self.chat_pictures
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"chatId": 1, "at": -1})
                    .build(),
            )
            .await
            .map(|_| ())
    }

    pub(super) async fn set_picture(
        &self,
        id: &str,
        picture: Option<&ChatPicture>,
    ) -> StoreResult<Option<ChatRecord>> {
        if oid(id).is_none() {
            return Ok(None);
        }
        let Some(p) = picture else {
            let chat = self
                .update_chat(id, doc! {"$set": {"picture": Bson::Null}})
                .await?;
            self.chat_pictures
                .delete_many(doc! {"chatId": id})
                .write_concern(self.durable.clone())
                .await
                .map_err(err)?;
            return Ok(chat);
        };
        let key = format!("{id}:{}", p.version);
        let at = Utc::now().timestamp_millis();
        let stored = doc! {
            "_id": &key,
            "chatId": id,
            "version": &p.version,
            "contentType": &p.content_type,
            "data": Binary { subtype: BinarySubtype::Generic, bytes: p.bytes.clone() },
            "at": at,
        };
        match self
            .chat_pictures
            .insert_one(stored)
            .write_concern(self.durable.clone())
            .await
            .map_err(err)
        {
            // The same bytes stored already: that document is this picture.
            Ok(_) | Err(StoreError::Duplicate) => {}
            Err(e) => return Err(e),
        }
        let chat = self
            .update_chat(id, doc! {"$set": {"picture": &p.version}})
            .await?;
        // The versions stored before this one go (all of them when there is no such chat).
        let mut older = doc! {"chatId": id, "_id": {"$ne": &key}, "at": {"$lt": at}};
        if chat.is_none() {
            older = doc! {"chatId": id};
        }
        self.chat_pictures.delete_many(older).await.map_err(err)?;
        Ok(chat)
    }

    pub(super) async fn picture_of(&self, id: &str) -> StoreResult<Option<ChatPicture>> {
        let newest = FindOneOptions::builder().sort(doc! {"at": -1}).build();
        let Some(d) = self
            .chat_pictures
            .find_one(doc! {"chatId": id})
            .with_options(newest)
            .await
            .map_err(err)?
        else {
            return Ok(None);
        };
        Ok(Some(ChatPicture {
            content_type: d.get_str("contentType").map_err(bad)?.to_owned(),
            version: d.get_str("version").map_err(bad)?.to_owned(),
            bytes: d.get_binary_generic("data").map_err(bad)?.clone(),
        }))
    }
}
