//! BSON mapping of chats and messages, and driver errors mapped to `StoreError`.

use bson::oid::ObjectId;
use bson::{Bson, Document, RawArrayBuf, RawBson, RawDocumentBuf};
use chrono::{DateTime, Utc};
use common::contracts::chat::{ChatType, Message, Reaction};
use futures::TryStreamExt;
use mongodb::Cursor;
use mongodb::error::{ErrorKind, WriteFailure};

use crate::ports::{ChatRecord, StoreError, StoreResult};

pub(super) fn err(e: mongodb::error::Error) -> StoreError {
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == 11000 => StoreError::Duplicate,
        ErrorKind::Command(c) if c.code == 11000 => StoreError::Duplicate,
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. } => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

pub(super) fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("malformed document: {e}"))
}

pub(super) fn oid(id: &str) -> Option<ObjectId> {
    ObjectId::parse_str(id).ok()
}

pub(super) fn date(t: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(t.timestamp_millis())
}

pub(super) fn strings(d: &Document, key: &str) -> Vec<String> {
    d.get_array(key)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A message as the raw BSON the driver sends. Built in place, not as a `Document` first: the
/// driver would copy that into raw BSON anyway, after a map of owned keys and values had been
/// built for nothing (the two steps were 2.7% of the server's CPU in a rooms-of-10 fan-out).
pub(super) fn message_doc(m: &Message) -> StoreResult<RawDocumentBuf> {
    let Some(id) = oid(&m.id) else {
        return Err(bad("message id"));
    };
    let kind = RawBson::try_from(bson::to_bson(&m.kind).map_err(bad)?).map_err(bad)?;
    let mut d = RawDocumentBuf::new();
    d.append("_id", id);
    d.append_ref("chatId", m.chat_id.as_str());
    d.append_ref("senderId", m.sender_id.as_str());
    d.append_ref("clientMsgId", m.client_msg_id.as_str());
    d.append_ref("content", m.content.as_str());
    d.append("encrypted", m.encrypted);
    d.append("type", kind);
    d.append("timestamp", date(m.timestamp));
    d.append("readBy", raw_strings(&m.read_by));
    d.append("deliveredTo", raw_strings(&m.delivered_to));
    if let Some(iv) = &m.iv {
        d.append_ref("iv", iv.as_str());
    }
    if let Some(meta) = &m.metadata {
        d.append("metadata", bson::to_raw_document_buf(meta).map_err(bad)?);
    }
    if let Some(id) = m.reply_to.as_deref().and_then(oid) {
        d.append("replyTo", id);
    }
    Ok(d)
}

fn raw_strings(items: &[String]) -> RawArrayBuf {
    let mut a = RawArrayBuf::new();
    for s in items {
        a.push(s.as_str());
    }
    a
}

pub(super) fn message_from(d: &Document) -> StoreResult<Message> {
    let s = |k: &str| d.get_str(k).map(str::to_owned).map_err(bad);
    Ok(Message {
        id: d.get_object_id("_id").map_err(bad)?.to_hex(),
        chat_id: s("chatId")?,
        sender_id: s("senderId")?,
        client_msg_id: s("clientMsgId")?,
        content: s("content")?,
        iv: d.get_str("iv").ok().map(str::to_owned),
        encrypted: flag(d, "encrypted").unwrap_or(false),
        kind: d
            .get("type")
            .cloned()
            .map(bson::from_bson)
            .transpose()
            .map_err(bad)?
            .unwrap_or_default(),
        metadata: match d.get_document("metadata") {
            Ok(m) => Some(bson::from_document(m.clone()).map_err(bad)?),
            Err(_) => None,
        },
        reply_to: d.get_object_id("replyTo").ok().map(|id| id.to_hex()),
        timestamp: d.get_datetime("timestamp").map_err(bad)?.to_chrono(),
        read_by: strings(d, "readBy"),
        delivered_to: strings(d, "deliveredTo"),
        edited_at: millis(d, "editedAt"),
        deleted_at: millis(d, "deletedAt"),
        deleted_by: d.get_str("deletedBy").ok().map(str::to_owned),
        reactions: reactions_from(d),
        revision: count(d, "revision").unwrap_or(0),
        updated_at: millis(d, "updatedAt"),
    })
}

/// Reactions are stored one per user and emoji, `{emoji, userId}` in the order they were added
/// (so `$addToSet` and `$pull` add and take back one atomically); a message shows them grouped
/// by emoji, in the order each emoji was first used.
fn reactions_from(d: &Document) -> Vec<Reaction> {
    let mut grouped: Vec<Reaction> = Vec::new();
    let Ok(stored) = d.get_array("reactions") else {
        return grouped;
    };
    for r in stored.iter().filter_map(Bson::as_document) {
        let (Ok(emoji), Ok(user)) = (r.get_str("emoji"), r.get_str("userId")) else {
            continue;
        };
        match grouped.iter_mut().find(|g| g.emoji == emoji) {
            Some(g) => g.users.push(user.to_owned()),
            None => grouped.push(Reaction {
                emoji: emoji.to_owned(),
                users: vec![user.to_owned()],
            }),
        }
    }
    grouped
}

pub(super) fn chat_from(d: &Document) -> StoreResult<ChatRecord> {
    Ok(ChatRecord {
        id: d.get_object_id("_id").map_err(bad)?.to_hex(),
        kind: if d.get_str("type").map_err(bad)? == "group" {
            ChatType::Group
        } else {
            ChatType::Direct
        },
        participants: strings(d, "participants"),
        name: d.get_str("name").ok().map(str::to_owned),
        topic: d.get_str("topic").ok().map(str::to_owned),
        picture: d.get_str("picture").ok().map(str::to_owned),
        pins: strings(d, "pins"),
        admins: strings(d, "admins"),
        passcode_hash: d.get_str("passcodeHash").ok().map(str::to_owned),
        created_at: d.get_datetime("createdAt").map_err(bad)?.to_chrono(),
        // Chats written before revisions were kept have none: they count from 0.
        revision: count(d, "revision").unwrap_or(0),
        closed: flag(d, "closed").unwrap_or(false),
    })
}

/// A flag stored as a boolean, read back also as an integer: the nx-27017 test server stores
/// `{$set: {field: true}}` as `1`.
pub(super) fn flag(d: &Document, key: &str) -> Option<bool> {
    match d.get(key) {
        Some(Bson::Boolean(b)) => Some(*b),
        Some(Bson::Int32(n)) => Some(*n != 0),
        Some(Bson::Int64(n)) => Some(*n != 0),
        _ => None,
    }
}

/// A count stored as a 64-bit integer (BSON has no unsigned ones), read back as either width: the
/// nx-27017 test server returns an `Int64` that fits in 32 bits as an `Int32`.
pub(super) fn count(d: &Document, key: &str) -> Option<u64> {
    match d.get(key) {
        Some(Bson::Int64(n)) => u64::try_from(*n).ok(),
        Some(Bson::Int32(n)) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// An instant stored as milliseconds since the epoch (see `edits`), read back as either integer
/// width.
pub(super) fn millis(d: &Document, key: &str) -> Option<DateTime<Utc>> {
    let ms = match d.get(key)? {
        Bson::Int64(n) => *n,
        Bson::Int32(n) => i64::from(*n),
        _ => return None,
    };
    DateTime::from_timestamp_millis(ms)
}

/// A revision as stored: BSON has no unsigned integers.
pub(super) fn revision(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Every message a `find` returned, in cursor order.
pub(super) async fn messages_from(cursor: Cursor<Document>) -> StoreResult<Vec<Message>> {
    let docs: Vec<Document> = cursor.try_collect().await.map_err(err)?;
    docs.iter().map(message_from).collect()
}
