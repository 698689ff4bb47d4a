//! The MongoDB `ChatStore` (official `mongodb` 3.x driver): collections `chats`, `messages`,
//! `attachments`, `deletedUsers` and `chatMutes`.
//!
//! Message inserts use the configured write concern (default `majority`, journaled), so an ack
//! means the message is durable. `(senderId, clientMsgId)` is unique, which makes resends
//! idempotent: the duplicate-key error returns the original. Short server-selection timeouts make
//! an unreachable server fail fast as `Unavailable`. The hot path is batched: message inserts are
//! group-committed (`group_commit`: one `insert_many` per batch of concurrent sends), and chat
//! reads are coalesced (`chat_reads`: one `find` per batch of concurrent reads). A send writes its
//! message and nothing else: a chat's newest message is read from `messages` when a chat list or
//! `sync` needs it, not copied into the chat document on every send.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::{Document, doc};
use chrono::{DateTime, Utc};
use common::contracts::chat::{ChatType, Message};
use futures::{StreamExt, TryStreamExt};
use mongodb::options::{Acknowledgment, ClientOptions, IndexOptions, ReturnDocument, WriteConcern};
use mongodb::{Client, Collection, IndexModel};
use tokio::sync::{mpsc, oneshot};

mod attachments;
mod chat_reads;
mod documents;
mod edits;
mod group_commit;
mod pictures;
mod receipts;
mod users;

use documents::{bad, chat_from, date, err, message_from, messages_from, oid, revision};

use crate::coalesce::Loader;
use crate::ports::{
    Attachment, ChatMute, ChatPicture, ChatRecord, ChatStore, Details, Inserted, Marked,
    MessageChange, NewMessage, StoreError, StoreResult, apply_pin,
};

/// How many chats' newest messages `last_messages` reads at once.
const LAST_MESSAGE_READS: usize = 16;

/// How many times `promote_if_adminless` reads the chat again when a concurrent change made its
/// conditional write match nothing (each retry means another change landed in between).
const PROMOTION_TRIES: usize = 8;

/// Collection names.
const CHATS: &str = "chats";
const MESSAGES: &str = "messages";

/// How long to wait for MongoDB.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// To find a server and open a connection: an unreachable server fails this fast.
    pub connect: Duration,
    /// For an answer to an operation already sent (the driver has no socket timeout).
    pub answer: Duration,
}

pub struct MongoStore {
    client: Client,
    chats: Collection<Document>,
    messages: Collection<Document>,
    attachments: Collection<Document>,
    deleted_users: Collection<Document>,
    chat_mutes: Collection<Document>,
    chat_pictures: Collection<Document>,
    durable: WriteConcern,
    /// Message inserts go through the group-commit writer (one `insert_many` per batch).
    inserts: mpsc::Sender<group_commit::Pending>,
    /// Chat reads go through the loader (one `find` per batch).
    chat_reads: Loader<ObjectId, ChatRecord>,
}

impl MongoStore {
    /// The chats with any of `users` among their participants, whole or as `projection` has
    /// them. `$in` also for one user rather than `participants: user`: equivalent on MongoDB,
    /// and the nx-27017 test server misses array-element equality on an indexed array field.
    async fn chat_docs_of_any(
        &self,
        users: &[String],
        projection: Option<Document>,
    ) -> StoreResult<Vec<Document>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        self.chats
            .find(doc! {"participants": {"$in": users}})
            .with_options(
                mongodb::options::FindOptions::builder()
                    .projection(projection)
                    .build(),
            )
            .await
            .map_err(err)?
            .try_collect()
            .await
            .map_err(err)
    }
    /// Connects, checks the server answers, and creates the indexes. `patience.connect` bounds
    /// finding a server and opening a connection; `patience.answer` bounds the batched writes and
    /// reads this store runs in its own tasks (wrap the store in `adapters::Deadline` to bound
    /// every operation of its callers as well).
    pub async fn connect(
        url: &str,
        db: &str,
        write_concern: &str,
        patience: Patience,
    ) -> anyhow::Result<Self> {
        let mut options = ClientOptions::parse(url).await?;
        options.server_selection_timeout = Some(patience.connect);
        options.connect_timeout = Some(patience.connect);
        options.app_name = Some("batiyoun-realtime".into());
        let client = Client::with_options(options)?;
        let db = client.database(db);
        let w = match write_concern {
            "majority" => Acknowledgment::Majority,
            n => Acknowledgment::Nodes(n.parse().map_err(|_| {
                anyhow::anyhow!("MONGODB_WRITE_CONCERN must be `majority` or a number, got {n:?}")
            })?),
        };
        let durable = WriteConcern::builder().w(w).journal(true).build();
        let store = Self {
            client,
            chats: db.collection(CHATS),
            messages: db.collection(MESSAGES),
            attachments: db.collection(attachments::ATTACHMENTS),
            deleted_users: db.collection(users::DELETED_USERS),
            chat_mutes: db.collection(users::CHAT_MUTES),
            chat_pictures: db.collection(pictures::CHAT_PICTURES),
            inserts: group_commit::spawn(db.clone(), durable.clone(), patience.answer),
            chat_reads: Loader::spawn(chat_reads::ChatFetch(db.collection(CHATS), patience.answer)),
            durable,
        };
        store
            .ping()
            .await
            .map_err(|e| anyhow::anyhow!("MongoDB unreachable: {e}"))?;
        // History by chat: ObjectId order, so `_id` alone sorts within a chat. (`{chatId, _id}` would
        // be the ideal compound index, but the nx-27017 test server fails inserts with `_id` in a
        // compound index; `{chatId, timestamp}` serves the same queries on both.)
        store
            .messages
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"chatId": 1, "timestamp": -1})
                    .build(),
            )
            .await?;
        store
            .messages
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"senderId": 1, "clientMsgId": 1})
                    .options(
                        IndexOptions::builder()
                            .unique(true)
                            .name("idempotency".to_owned())
                            .build(),
                    )
                    .build(),
            )
            .await?;
        store
            .chats
            .create_index(IndexModel::builder().keys(doc! {"participants": 1}).build())
            .await?;
        store.index_mutes().await?;
        store.index_pictures().await?;
        store.index_attachments().await?;
        store.index_changes().await?;
        Ok(store)
    }

    async fn find_messages(
        &self,
        filter: Document,
        sort: i32,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let cursor = self
            .messages
            .find(filter)
            .sort(doc! {"_id": sort})
            .limit(i64::from(limit))
            .await
            .map_err(err)?;
        messages_from(cursor).await
    }

    /// The chat's newest message, with the chat's id.
    async fn last_message(&self, chat: &str) -> StoreResult<Option<(String, Message)>> {
        let last = self.find_messages(doc! {"chatId": chat}, -1, 1).await?;
        Ok(last.into_iter().next().map(|m| (chat.to_owned(), m)))
    }

    /// Applies `update` and counts it in the chat's `revision`, in one atomic write.
    async fn update_chat(&self, id: &str, mut update: Document) -> StoreResult<Option<ChatRecord>> {
        let Some(id) = oid(id) else { return Ok(None) };
        update.insert("$inc", doc! {"revision": 1_i64});
        let d = self
            .chats
            .find_one_and_update(doc! {"_id": id}, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(err)?;
        d.as_ref().map(chat_from).transpose()
    }
}

#[async_trait]
impl ChatStore for MongoStore {
    fn backend(&self) -> &'static str {
        "mongodb"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client
            .database("admin")
            .run_command(doc! {"ping": 1})
            .await
            .map(|_| ())
            .map_err(err)
    }

    async fn insert_chat(&self, c: &ChatRecord) -> StoreResult<()> {
        let Some(id) = oid(&c.id) else {
            return Err(bad("chat id"));
        };
        let mut d = doc! {
            "_id": id,
            "type": if c.kind == ChatType::Group { "group" } else { "direct" },
            "participants": &c.participants,
            "admins": &c.admins,
            "createdAt": date(c.created_at),
            "revision": revision(c.revision),
        };
        if let Some(n) = &c.name {
            d.insert("name", n);
        }
        if let Some(t) = &c.topic {
            d.insert("topic", t);
        }
        if let Some(v) = &c.picture {
            d.insert("picture", v);
        }
        if let Some(h) = &c.passcode_hash {
            d.insert("passcodeHash", h);
        }
        // Written only once true, so `close_chat` can find the open ones by its absence.
        if c.closed {
            d.insert("closed", true);
        }
        self.chats
            .insert_one(d)
            .write_concern(self.durable.clone())
            .await
            .map(|_| ())
            .map_err(err)
    }

    async fn get_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        let Some(id) = oid(id) else { return Ok(None) };
        self.chat_reads.get(id).await
    }

    async fn chats_of(&self, user: &str) -> StoreResult<Vec<ChatRecord>> {
        self.chats_of_any(&[user.to_owned()]).await
    }

    async fn chats_of_any(&self, users: &[String]) -> StoreResult<Vec<ChatRecord>> {
        let docs = self.chat_docs_of_any(users, None).await?;
        docs.iter().map(chat_from).collect()
    }

    async fn chat_ids_of_any(&self, users: &[String]) -> StoreResult<Vec<String>> {
        let docs = self.chat_docs_of_any(users, Some(doc! {"_id": 1})).await?;
        docs.iter()
            .map(|d| d.get_object_id("_id").map(|id| id.to_hex()).map_err(bad))
            .collect()
    }

    async fn set_details(
        &self,
        id: &str,
        details: &Details<'_>,
    ) -> StoreResult<Option<ChatRecord>> {
        let mut set = Document::new();
        if let Some(name) = details.name {
            set.insert("name", name);
        }
        if let Some(topic) = details.topic {
            // Cleared as `null`, which reads back as none.
            set.insert("topic", topic);
        }
        self.update_chat(id, doc! {"$set": set}).await
    }

    async fn set_pinned(
        &self,
        id: &str,
        message: &str,
        pinned: bool,
    ) -> StoreResult<Option<ChatRecord>> {
        let Some(oid) = oid(id) else { return Ok(None) };
        // Read, change the list in Rust, and write it on the condition that the chat is still
        // at the revision read (every change counts in it); a concurrent change makes the write
        // match nothing, and the chat is read again. (`$push` with `$position` would need no
        // read, but the nx-27017 test server does not take it; this is valid on both.)
        for _ in 0..PROMOTION_TRIES {
            let Some(d) = self.chats.find_one(doc! {"_id": oid}).await.map_err(err)? else {
                return Ok(None);
            };
            let mut chat = chat_from(&d)?;
            if !apply_pin(&mut chat.pins, message, pinned) {
                return Ok(None);
            }
            let at = match d.get("revision") {
                Some(revision) => doc! {"_id": oid, "revision": revision.clone()},
                None => doc! {"_id": oid, "revision": {"$exists": false}},
            };
            let written = self
                .chats
                .find_one_and_update(
                    at,
                    doc! {"$set": {"pins": &chat.pins}, "$inc": {"revision": 1_i64}},
                )
                .return_document(ReturnDocument::After)
                .await
                .map_err(err)?;
            if let Some(d) = written {
                return chat_from(&d).map(Some);
            }
        }
        Err(StoreError::Other(
            "the chat kept changing while a message was pinned".into(),
        ))
    }

    async fn delete_chat(&self, id: &str) -> StoreResult<bool> {
        let Some(oid) = oid(id) else { return Ok(false) };
        self.messages
            .delete_many(doc! {"chatId": id})
            .await
            .map_err(err)?;
        self.delete_attachments_of(id).await?;
        self.chat_mutes
            .delete_many(doc! {"chatId": id})
            .await
            .map_err(err)?;
        self.chat_pictures
            .delete_many(doc! {"chatId": id})
            .await
            .map_err(err)?;
        let r = self
            .chats
            .delete_one(doc! {"_id": oid})
            .await
            .map_err(err)?;
        Ok(r.deleted_count > 0)
    }

    async fn add_participants(
        &self,
        id: &str,
        users: &[String],
    ) -> StoreResult<Option<ChatRecord>> {
        self.update_chat(id, doc! {"$addToSet": {"participants": {"$each": users}}})
            .await
    }

    async fn remove_participant(&self, id: &str, user: &str) -> StoreResult<Option<ChatRecord>> {
        self.update_chat(id, doc! {"$pull": {"participants": user, "admins": user}})
            .await
    }

    async fn promote_if_adminless(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        let Some(oid) = oid(id) else { return Ok(None) };
        // Read, then write on the condition that the chat still has no admin and the one chosen
        // is still a member; a concurrent change makes the write match nothing, and the chat is
        // looked at again.
        for _ in 0..PROMOTION_TRIES {
            let Some(d) = self.chats.find_one(doc! {"_id": oid}).await.map_err(err)? else {
                return Ok(None);
            };
            let chat = chat_from(&d)?;
            let first = chat.participants.first().filter(|_| chat.admins.is_empty());
            let Some(first) = first.filter(|_| chat.kind == ChatType::Group) else {
                return Ok(None);
            };
            let promoted = self
                .chats
                .find_one_and_update(
                    doc! {"_id": oid, "type": "group", "admins": {"$size": 0}, "participants": first},
                    doc! {"$set": {"admins": [first]}, "$inc": {"revision": 1_i64}},
                )
                .return_document(ReturnDocument::After)
                .await
                .map_err(err)?;
            if let Some(d) = promoted {
                return chat_from(&d).map(Some);
            }
        }
        Err(StoreError::Other(
            "the chat kept changing while an admin was chosen".into(),
        ))
    }

    async fn set_admin(
        &self,
        id: &str,
        user: &str,
        admin: bool,
    ) -> StoreResult<Option<ChatRecord>> {
        let Some(oid) = oid(id) else { return Ok(None) };
        // `$in` for one user: see `chat_docs_of_any`. "Not among the admins" is `$nin`, not
        // `$ne`: the same on MongoDB, while the nx-27017 test server's `find` and update filters
        // take `{$ne: x}` on an array as "has an element other than x".
        let (filter, mut update) = if admin {
            (
                doc! {"_id": oid, "participants": {"$in": [user]}, "admins": {"$nin": [user]}},
                doc! {"$addToSet": {"admins": user}},
            )
        } else {
            (
                doc! {"_id": oid, "admins": {"$in": [user]}},
                doc! {"$pull": {"admins": user}},
            )
        };
        update.insert("$inc", doc! {"revision": 1_i64});
        let d = self
            .chats
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(err)?;
        d.as_ref().map(chat_from).transpose()
    }

    async fn close_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        let Some(oid) = oid(id) else { return Ok(None) };
        // `closed` is absent until set (never unset): a filter valid on MongoDB and on the
        // nx-27017 test server, which stores `true` as `1`.
        let d = self
            .chats
            .find_one_and_update(
                doc! {"_id": oid, "type": "direct", "closed": {"$exists": false}},
                doc! {"$set": {"closed": true}, "$inc": {"revision": 1_i64}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(err)?;
        d.as_ref().map(chat_from).transpose()
    }

    async fn record_deleted_user(&self, user: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.record_deleted(user, at).await
    }

    async fn deleted_users_among(&self, users: &[String]) -> StoreResult<Vec<String>> {
        self.deleted_among(users).await
    }

    async fn set_chat_picture(
        &self,
        id: &str,
        picture: Option<&ChatPicture>,
    ) -> StoreResult<Option<ChatRecord>> {
        self.set_picture(id, picture).await
    }

    async fn chat_picture(&self, id: &str) -> StoreResult<Option<ChatPicture>> {
        self.picture_of(id).await
    }

    async fn mute_chat(
        &self,
        chat: &str,
        user: &str,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        self.mute(chat, user, until).await
    }

    async fn unmute_chat(&self, chat: &str, user: &str) -> StoreResult<bool> {
        self.unmute(chat, user).await
    }

    async fn muted_chats(&self, user: &str) -> StoreResult<Vec<ChatMute>> {
        self.mutes_of(user).await
    }

    async fn mute_of(&self, chat: &str, user: &str) -> StoreResult<Option<ChatMute>> {
        self.mute_by(chat, user).await
    }

    async fn delete_lapsed_mutes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.delete_mutes_ended(before).await
    }

    async fn insert_message(&self, m: NewMessage) -> StoreResult<Inserted> {
        let (reply, answer) = oneshot::channel();
        let pending = group_commit::Pending { message: m, reply };
        self.inserts.send(pending).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn last_messages(&self, chats: &[String]) -> StoreResult<HashMap<String, Message>> {
        // One indexed `find … sort limit 1` per chat (the query of a history's first page), a few
        // at a time: `$group` with `$first` would be one round trip, but MongoDB sorts every
        // message of those chats in memory for it unless `{chatId, _id}` is indexed, which the
        // nx-27017 test server cannot do (see `connect`).
        let reads: Vec<_> = chats.iter().map(|chat| self.last_message(chat)).collect();
        let mut reads = futures::stream::iter(reads).buffer_unordered(LAST_MESSAGE_READS);
        let mut last = HashMap::with_capacity(chats.len());
        while let Some(found) = reads.next().await {
            if let Some((chat, m)) = found? {
                last.insert(chat, m);
            }
        }
        Ok(last)
    }

    async fn get_message(&self, id: &str) -> StoreResult<Option<Message>> {
        let Some(id) = oid(id) else { return Ok(None) };
        let d = self
            .messages
            .find_one(doc! {"_id": id})
            .await
            .map_err(err)?;
        d.as_ref().map(message_from).transpose()
    }

    async fn messages_before(
        &self,
        chat: &str,
        before: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let mut filter = doc! {"chatId": chat};
        if let Some(b) = before.and_then(oid) {
            filter.insert("_id", doc! {"$lt": b});
        }
        self.find_messages(filter, -1, limit).await
    }

    async fn messages_after(
        &self,
        chat: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let mut filter = doc! {"chatId": chat};
        if let Some(a) = after.and_then(oid) {
            filter.insert("_id", doc! {"$gt": a});
        }
        self.find_messages(filter, 1, limit).await
    }

    async fn mark_read(&self, chat: &str, upto: &str, user: &str) -> StoreResult<Marked> {
        self.mark_read_upto(chat, upto, user).await
    }

    async fn senders(
        &self,
        chat: &str,
        messages: &[String],
    ) -> StoreResult<HashMap<String, String>> {
        self.senders_of(chat, messages).await
    }

    async fn mark_delivered(&self, messages: &[String], user: &str) -> StoreResult<Marked> {
        self.mark_delivered_to(messages, user).await
    }

    async fn change_message(
        &self,
        id: &str,
        change: &MessageChange,
    ) -> StoreResult<Option<Message>> {
        self.change_message_doc(id, change).await
    }

    async fn changed_messages(
        &self,
        chats: &[String],
        since: DateTime<Utc>,
        after: Option<(DateTime<Utc>, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.changed_message_docs(chats, since, after, limit).await
    }

    async fn unread_count(&self, chat: &str, user: &str) -> StoreResult<u64> {
        self.unread_of(chat, user).await
    }

    async fn insert_attachment(&self, attachment: &Attachment, bytes: &[u8]) -> StoreResult<()> {
        self.insert_attachment_doc(attachment, bytes).await
    }

    async fn read_attachment(
        &self,
        id: &str,
        with_bytes: bool,
    ) -> StoreResult<Option<(Attachment, Option<Vec<u8>>)>> {
        self.attachment_doc(id, with_bytes).await
    }

    async fn attachment_sent(
        &self,
        id: &str,
        chat_id: &str,
        uploader_id: &str,
        client_msg_id: &str,
    ) -> StoreResult<bool> {
        self.mark_attachment_sent(id, chat_id, uploader_id, client_msg_id)
            .await
    }

    async fn attachment_bytes_of(&self, uploader_id: &str) -> StoreResult<u64> {
        self.bytes_uploaded_by(uploader_id).await
    }

    async fn delete_attachment(&self, id: &str) -> StoreResult<bool> {
        self.delete_attachment_doc(id).await
    }

    async fn delete_unsent_attachments(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.delete_unsent_before(before).await
    }
}

/// The writer or loader task is gone (only while the runtime shuts down).
fn stopped() -> StoreError {
    StoreError::Unavailable("MongoDB batch task stopped".into())
}
