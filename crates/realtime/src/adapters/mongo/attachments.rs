//! Attachments in MongoDB: collection `attachments`, one document per upload, its bytes in a
//! binary field `data` (an attachment is at most `MAX_ATTACHMENT_BYTES`, well under a document's
//! 16 MiB; larger files would need GridFS). Written with the messages' durable write concern.

use bson::spec::BinarySubtype;
use bson::{Binary, Document, doc};
use chrono::{DateTime, Utc};
use common::contracts::chat::MAX_ATTACHMENT_BYTES;
use futures::TryStreamExt;
use mongodb::IndexModel;

use super::MongoStore;
use super::documents::{bad, count, date, err, flag, oid};
use crate::ports::{Attachment, StoreResult};

/// Collection name.
pub(super) const ATTACHMENTS: &str = "attachments";

impl MongoStore {
    /// The indexes a chat's deletion, the sweep of unsent uploads and the storage quota find
    /// attachments by.
    pub(super) async fn index_attachments(&self) -> mongodb::error::Result<()> {
        let keys = [
            doc! {"chatId": 1},
            doc! {"sent": 1, "createdAt": 1},
            doc! {"uploaderId": 1},
        ];
        for keys in keys {
            self.attachments
                .create_index(IndexModel::builder().keys(keys).build())
                .await?;
        }
        Ok(())
    }

    pub(super) async fn insert_attachment_doc(
        &self,
        a: &Attachment,
        bytes: &[u8],
    ) -> StoreResult<()> {
        let Some(id) = oid(&a.id) else {
            return Err(bad("attachment id"));
        };
        let d = doc! {
            "_id": id,
            "chatId": &a.chat_id,
            "uploaderId": &a.uploader_id,
            "size": i64::try_from(bytes.len()).map_err(bad)?,
            "createdAt": date(a.created_at),
            "sent": a.sent,
            "data": Binary { subtype: BinarySubtype::Generic, bytes: bytes.to_vec() },
        };
        self.attachments
            .insert_one(d)
            .write_concern(self.durable.clone())
            .await
            .map(|_| ())
            .map_err(err)
    }

    /// The attachment `id`, with its bytes when `with_bytes`.
    pub(super) async fn attachment_doc(
        &self,
        id: &str,
        with_bytes: bool,
    ) -> StoreResult<Option<(Attachment, Option<Vec<u8>>)>> {
        let Some(oid) = oid(id) else { return Ok(None) };
        let find = self.attachments.find_one(doc! {"_id": oid});
        let find = if with_bytes {
            find
        } else {
            find.projection(doc! {"data": 0})
        };
        let d = find.await.map_err(err)?;
        d.map(|d| attachment_from(&d, with_bytes)).transpose()
    }

    pub(super) async fn mark_attachment_sent(
        &self,
        id: &str,
        chat_id: &str,
        uploader_id: &str,
        client_msg_id: &str,
    ) -> StoreResult<bool> {
        let Some(oid) = oid(id) else {
            return Ok(false);
        };
        // Not named by another message (`sentBy`: an attachment sent before it was recorded
        // has none, and is taken by the next message that names it).
        let mine = doc! {
            "_id": oid, "chatId": chat_id, "uploaderId": uploader_id,
            "$or": [{"sentBy": {"$exists": false}}, {"sentBy": client_msg_id}],
        };
        self.attachments
            .update_one(mine, doc! {"$set": {"sent": true, "sentBy": client_msg_id}})
            .write_concern(self.durable.clone())
            .await
            .map(|r| r.matched_count == 1)
            .map_err(err)
    }

    pub(super) async fn bytes_uploaded_by(&self, uploader_id: &str) -> StoreResult<u64> {
        let pipeline = [
            doc! {"$match": {"uploaderId": uploader_id}},
            doc! {"$group": {"_id": null, "total": {"$sum": "$size"}}},
        ];
        let mut cursor = self.attachments.aggregate(pipeline).await.map_err(err)?;
        let Some(d) = cursor.try_next().await.map_err(err)? else {
            return Ok(0); // no attachment: no group
        };
        count(&d, "total").ok_or_else(|| bad("attachments' total size"))
    }

    pub(super) async fn delete_unsent_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.attachments
            .delete_many(doc! {"sent": false, "createdAt": {"$lt": date(before)}})
            .await
            .map(|r| r.deleted_count)
            .map_err(err)
    }

    pub(super) async fn delete_attachments_of(&self, chat: &str) -> StoreResult<()> {
        self.attachments
            .delete_many(doc! {"chatId": chat})
            .await
            .map(|_| ())
            .map_err(err)
    }
}

fn attachment_from(d: &Document, with_bytes: bool) -> StoreResult<(Attachment, Option<Vec<u8>>)> {
    let attachment = Attachment {
        id: d.get_object_id("_id").map_err(bad)?.to_hex(),
        chat_id: d.get_str("chatId").map_err(bad)?.to_owned(),
        uploader_id: d.get_str("uploaderId").map_err(bad)?.to_owned(),
        size: count(d, "size").ok_or_else(|| bad("attachment size"))?,
        created_at: d.get_datetime("createdAt").map_err(bad)?.to_chrono(),
        sent: flag(d, "sent").ok_or_else(|| bad("attachment sent"))?,
    };
    let bytes = if with_bytes {
        let data = d.get_binary_generic("data").map_err(bad)?;
        if data.len() > MAX_ATTACHMENT_BYTES {
            return Err(bad("attachment larger than allowed"));
        }
        Some(data.clone())
    } else {
        None
    };
    Ok((attachment, bytes))
}
