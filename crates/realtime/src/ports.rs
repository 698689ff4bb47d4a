//! The ports the domain talks to. Adapters live in `crate::adapters` (MongoDB, SQLite) and
//! `crate::socket::fanout` (Socket.IO, local or over Redis); short-lived state (presence, typing,
//! revocations) goes through `common::kv::Kv`.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::contracts::chat::{ChatType, MAX_PINS, Message, MessageMetadata, MessageType};

/// Why a store call failed. `Clone`: a batch that fails as a whole gives every sender the same error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached (server selection, network, I/O); retrying later is safe.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A unique key already exists.
    #[error("duplicate key")]
    Duplicate,
    #[error("store error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A chat as stored (the passcode hash never leaves the server): who is in it and what it is
/// called. Its activity (the newest message) is not part of it: that is the messages' own
/// (`ChatStore::last_messages`), so a send writes the message and nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRecord {
    pub id: String,
    pub kind: ChatType,
    pub participants: Vec<String>,
    pub name: Option<String>,
    /// A group's topic, set by its admins (a change counted in `revision`).
    pub topic: Option<String>,
    /// The version of a group's picture (see [`ChatPicture`]), set by its admins (a change
    /// counted in `revision`); the bytes are kept apart, read only to be served.
    pub picture: Option<String>,
    /// The messages pinned, newest pin first (a change counted in `revision`).
    pub pins: Vec<String>,
    pub admins: Vec<String>,
    pub passcode_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    /// How many changes (rename, members added or removed) the store has applied since the
    /// chat was created: each of them adds one, in the same write.
    pub revision: u64,
    /// A direct chat whose other participant deleted their account: readable, but it takes no
    /// new messages (closing it counts in `revision`).
    pub closed: bool,
}

impl ChatRecord {
    pub fn is_member(&self, user: &str) -> bool {
        self.participants.iter().any(|p| p == user)
    }

    pub fn is_admin(&self, user: &str) -> bool {
        self.admins.iter().any(|p| p == user)
    }

    /// How many participants, as the contract counts them (`memberCount`).
    pub fn member_count(&self) -> u32 {
        u32::try_from(self.participants.len()).unwrap_or(u32::MAX)
    }
}

/// A group's picture as stored: an image of an accepted type (`common::pictures`) and its
/// version, a digest of the bytes that its URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPicture {
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub version: String,
}

/// Pins `message` first in `pins`, or takes it out; whether that changed them (not when pinned
/// already, not pinned, or [`MAX_PINS`] pinned already). Both stores apply it to the chat as
/// stored, in one conditional write.
pub fn apply_pin(pins: &mut Vec<String>, message: &str, pinned: bool) -> bool {
    let at = pins.iter().position(|p| p == message);
    match (pinned, at) {
        (true, None) if pins.len() < MAX_PINS => {
            pins.insert(0, message.to_owned());
            true
        }
        (false, Some(at)) => {
            pins.remove(at);
            true
        }
        _ => false,
    }
}

/// A group's name and topic as a change sets them (`ChatStore::set_details`): each `None` is
/// kept as it is; `topic: Some(None)` clears the topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Details<'a> {
    pub name: Option<&'a str>,
    pub topic: Option<Option<&'a str>>,
}

/// A user's mute of a chat: their devices do not notify them of its messages until `until`, or
/// until they unmute it (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMute {
    pub chat_id: String,
    pub until: Option<DateTime<Utc>>,
}

impl ChatMute {
    /// Whether it still holds at `now`.
    pub fn holds_at(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}

/// A message to insert; the store assigns nothing — ids and timestamps come from the domain so
/// every adapter stores the same values.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub id: String,
    pub chat_id: String,
    pub sender_id: String,
    pub client_msg_id: String,
    pub content: String,
    pub iv: Option<String>,
    pub encrypted: bool,
    pub kind: MessageType,
    pub metadata: Option<MessageMetadata>,
    /// The message it answers, of the same chat (the domain checked).
    pub reply_to: Option<String>,
    pub timestamp: DateTime<Utc>,
}

impl NewMessage {
    pub fn into_message(self) -> Message {
        Message {
            id: self.id,
            chat_id: self.chat_id,
            sender_id: self.sender_id,
            client_msg_id: self.client_msg_id,
            content: self.content,
            iv: self.iv,
            encrypted: self.encrypted,
            kind: self.kind,
            metadata: self.metadata,
            reply_to: self.reply_to,
            timestamp: self.timestamp,
            read_by: Vec::new(),
            delivered_to: Vec::new(),
            edited_at: None,
            deleted_at: None,
            deleted_by: None,
            reactions: Vec::new(),
            revision: 0,
            updated_at: None,
        }
    }
}

/// A change to a stored message ([`ChatStore::change_message`]). Each is stamped `at` (the
/// domain's clock, so every adapter stores the same value) as the message's `updatedAt`, which
/// [`ChatStore::changed_messages`] orders by, and adds one to its `revision`. None applies to a
/// deleted message.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageChange {
    /// Its sender replaces its content: `content`, `iv` and `encrypted` are replaced, `editedAt`
    /// set. Only when `sender` sent it.
    Edit {
        sender: String,
        content: String,
        iv: Option<String>,
        encrypted: bool,
        at: DateTime<Utc>,
    },
    /// It becomes a tombstone: content emptied, `iv`, `metadata`, `replyTo` and reactions removed,
    /// `encrypted` false, `deletedAt` and `deletedBy` (`by`: its sender, or a group admin) set.
    Delete { by: String, at: DateTime<Utc> },
    /// `user` adds (`add`) or takes back their reaction with `emoji`. Adding one already there,
    /// or taking back one that is not, changes nothing but `updatedAt` and `revision`. A new
    /// emoji goes after the others, a new user after the others of its emoji.
    React {
        user: String,
        emoji: String,
        add: bool,
        at: DateTime<Utc>,
    },
}

impl MessageChange {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Edit { at, .. } | Self::Delete { at, .. } | Self::React { at, .. } => *at,
        }
    }
}

/// An uploaded attachment, without its bytes: opaque to the server (the PWA's are sealed), read
/// by the members of the chat it was uploaded to, sent in a message by its uploader only.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub id: String,
    pub chat_id: String,
    pub uploader_id: String,
    /// Bytes stored.
    pub size: u64,
    pub created_at: DateTime<Utc>,
    /// Named by a message (`ChatStore::attachment_sent`): an upload never sent is deleted a day
    /// later (`ChatStore::delete_unsent_attachments`).
    pub sent: bool,
}

/// The result of an idempotent insert.
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted {
    /// The message was written (and acknowledged durably by the backend).
    New(Message),
    /// The same sender already sent this `clientMsgId`; this is the original.
    Existing(Message),
}

/// Chats and messages. Message order is the order of their ids (ObjectIds: time, then a
/// per-process counter), both in history (newest first) and in `sync` (oldest first).
#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// `mongodb` or `sqlite`, for logs.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;

    /// Inserts a chat; `Duplicate` when the id exists (direct chats have a pair-derived id).
    async fn insert_chat(&self, chat: &ChatRecord) -> StoreResult<()>;
    async fn get_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>>;
    /// The user's chats, in no particular order.
    async fn chats_of(&self, user: &str) -> StoreResult<Vec<ChatRecord>>;
    /// Every chat with at least one of `users` among its participants, each once, in no
    /// particular order (a round of presence changes reads its users' chats at once).
    async fn chats_of_any(&self, users: &[String]) -> StoreResult<Vec<ChatRecord>>;
    /// The ids of the chats [`ChatStore::chats_of_any`] finds, without reading the chats: the
    /// chat cache answers those two from this and the chats it holds.
    async fn chat_ids_of_any(&self, users: &[String]) -> StoreResult<Vec<String>>;
    /// Renames the chat, sets its topic, or both, in one write; the chat as it is now. This
    /// and the membership changes below add one to the chat's `revision` in the same atomic
    /// write, so no two changes share a revision.
    async fn set_details(&self, id: &str, details: &Details<'_>)
    -> StoreResult<Option<ChatRecord>>;
    /// Pins `message` in the chat, as the newest pin, or unpins it (`pinned` false), a change
    /// counted in its `revision`; the chat as it is now. `None` when there is no such chat or
    /// nothing changed: pinned already, not pinned, or [`MAX_PINS`] pinned already.
    async fn set_pinned(
        &self,
        id: &str,
        message: &str,
        pinned: bool,
    ) -> StoreResult<Option<ChatRecord>>;
    /// Sets the group's picture (`None` removes it): its bytes, and the chat's `picture` (the
    /// version), a change counted in its `revision`. The chat as it is now; `None` when there
    /// is no such chat (nothing stored then).
    async fn set_chat_picture(
        &self,
        id: &str,
        picture: Option<&ChatPicture>,
    ) -> StoreResult<Option<ChatRecord>>;
    /// The group's picture, bytes and all; `None` when it has none.
    async fn chat_picture(&self, id: &str) -> StoreResult<Option<ChatPicture>>;
    /// Deletes the chat, its messages, its attachments, its picture and its mutes; true when it
    /// existed.
    async fn delete_chat(&self, id: &str) -> StoreResult<bool>;
    /// Adds users (ignoring ones already in); the chat as it is now.
    async fn add_participants(&self, id: &str, users: &[String])
    -> StoreResult<Option<ChatRecord>>;
    /// Removes a user from participants and admins; the chat as it is now.
    async fn remove_participant(&self, id: &str, user: &str) -> StoreResult<Option<ChatRecord>>;
    /// Gives a group without admins one: its first participant (the longest-standing member)
    /// becomes its admin, a change counted in its `revision`. The chat as it is then; `None` when
    /// nothing changed (not a group, an admin already, no members, or no such chat). Never
    /// overwrites a concurrent change: the condition is checked in the write.
    async fn promote_if_adminless(&self, id: &str) -> StoreResult<Option<ChatRecord>>;
    /// Makes `user`, a member, one of the chat's admins (`admin`), or no longer one, a change
    /// counted in its `revision`. The chat as it is then; `None` when nothing changed (already
    /// so, not a member, or no such chat), checked in the write.
    async fn set_admin(&self, id: &str, user: &str, admin: bool)
    -> StoreResult<Option<ChatRecord>>;
    /// Closes a direct chat (see [`ChatRecord::closed`]), a change counted in its `revision`.
    /// The chat as it is then; `None` when nothing changed (closed already, not a direct chat,
    /// or no such chat), checked in the write.
    async fn close_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>>;
    /// Remembers that `user` deleted their account, for good (again: nothing changes).
    async fn record_deleted_user(&self, user: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Those of `users` who deleted their account, in no particular order.
    async fn deleted_users_among(&self, users: &[String]) -> StoreResult<Vec<String>>;
    /// Mutes `chat` for `user` until `until` (`None`: until unmuted), in place of the mute
    /// there was; whether that changed anything (the same mute again does not). Kept until
    /// undone or the chat is deleted, also while the user is not a member (a list shows only
    /// their chats), and also once `until` has passed (readers compare it with the time).
    async fn mute_chat(
        &self,
        chat: &str,
        user: &str,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<bool>;
    /// Unmutes `chat` for `user`; whether there was a mute (one that has lapsed included).
    async fn unmute_chat(&self, chat: &str, user: &str) -> StoreResult<bool>;
    /// The mutes of `user`, lapsed ones included, in no particular order.
    async fn muted_chats(&self, user: &str) -> StoreResult<Vec<ChatMute>>;
    /// `user`'s mute of `chat`, if there is one (lapsed or not).
    async fn mute_of(&self, chat: &str, user: &str) -> StoreResult<Option<ChatMute>>;
    /// Deletes every mute that ended before `before` (readers already take them as none); how
    /// many.
    async fn delete_lapsed_mutes(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    /// Inserts a message idempotently on `(senderId, clientMsgId)`. Returns only after the write
    /// is durable.
    async fn insert_message(&self, msg: NewMessage) -> StoreResult<Inserted>;
    /// The newest message (highest id) of each of `chats` that has one, keyed by chat id.
    async fn last_messages(&self, chats: &[String]) -> StoreResult<HashMap<String, Message>>;
    async fn get_message(&self, id: &str) -> StoreResult<Option<Message>>;
    /// Newest first, strictly older than `before` when given.
    async fn messages_before(
        &self,
        chat: &str,
        before: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
    /// Oldest first, strictly newer than `after` when given.
    async fn messages_after(
        &self,
        chat: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
    /// Marks every message of `chat` up to and including `upto` not sent by `user` as read by it;
    /// how many changed, and which of them nobody had read before.
    async fn mark_read(&self, chat: &str, upto: &str, user: &str) -> StoreResult<Marked>;
    /// The sender of each of `messages` (ids) that is a message of `chat`, keyed by its id.
    async fn senders(
        &self,
        chat: &str,
        messages: &[String],
    ) -> StoreResult<HashMap<String, String>>;
    /// Adds `user` to the `deliveredTo` of each of `messages` (ids) that lacks it; how many
    /// changed, and which of them had reached nobody before.
    async fn mark_delivered(&self, messages: &[String], user: &str) -> StoreResult<Marked>;
    /// Applies `change` to message `id` if its condition holds (checked in the write); the
    /// message as it is then, or `None` when nothing matched (no such message, not the sender's,
    /// deleted). A chat list's newest message reflects it.
    async fn change_message(
        &self,
        id: &str,
        change: &MessageChange,
    ) -> StoreResult<Option<Message>>;
    /// The messages of `chats` changed after `since` and, when given, after `after` (a change
    /// time and message id: a page's continuation), ordered by `updatedAt` then id; at most
    /// `limit`.
    async fn changed_messages(
        &self,
        chats: &[String],
        since: DateTime<Utc>,
        after: Option<(DateTime<Utc>, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
    /// Messages of `chat` from others not yet read by `user`, deleted ones not counted.
    async fn unread_count(&self, chat: &str, user: &str) -> StoreResult<u64>;

    /// Stores an attachment's bytes under `attachment.id`. Returns only after the write is
    /// durable, as a message insert does.
    async fn insert_attachment(&self, attachment: &Attachment, bytes: &[u8]) -> StoreResult<()>;
    /// The attachment, with its bytes when `with_bytes` (else `None` for them, not read).
    async fn read_attachment(
        &self,
        id: &str,
        with_bytes: bool,
    ) -> StoreResult<Option<(Attachment, Option<Vec<u8>>)>>;
    /// The attachment, without reading its bytes (a send checks the one its message names).
    async fn attachment(&self, id: &str) -> StoreResult<Option<Attachment>> {
        Ok(self.read_attachment(id, false).await?.map(|(a, _)| a))
    }
    /// The attachment and its bytes.
    async fn attachment_bytes(&self, id: &str) -> StoreResult<Option<(Attachment, Vec<u8>)>> {
        Ok(self
            .read_attachment(id, true)
            .await?
            .and_then(|(a, bytes)| bytes.map(|b| (a, b))))
    }
    /// Marks the attachment `id` as named by the message `client_msg_id` of its uploader, if
    /// `uploader_id` uploaded it to `chat_id` and no other message of theirs names it; whether
    /// it did (in one conditional write: a send checks its attachment and marks it at once).
    /// Before the message is written, so a stored message never names an attachment the sweep
    /// may delete. Idempotent: true again for a resend (the same `client_msg_id`). One message
    /// per attachment, so deleting a message may delete its file.
    async fn attachment_sent(
        &self,
        id: &str,
        chat_id: &str,
        uploader_id: &str,
        client_msg_id: &str,
    ) -> StoreResult<bool>;
    /// The bytes of every attachment `uploader_id` has stored (sent or not, in any chat): what
    /// their storage quota counts.
    async fn attachment_bytes_of(&self, uploader_id: &str) -> StoreResult<u64>;
    /// Deletes the attachment `id` and its bytes (its message was deleted); true when it existed.
    async fn delete_attachment(&self, id: &str) -> StoreResult<bool>;
    /// Deletes the attachments uploaded before `before` that no message names; how many.
    async fn delete_unsent_attachments(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

/// What [`ChatStore::mark_read`] or [`ChatStore::mark_delivered`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marked {
    /// How many messages the user was added to.
    pub count: u64,
    /// Those of them whose list was empty before (their first read, or first delivery), as
    /// `(message id, sender id)`, in id order: a sender shows "read" or "delivered" once anyone
    /// has, so only these need telling. Two users marking one message at once may both find it
    /// first; a sender told twice changes nothing.
    pub firsts: Vec<(String, String)>,
}

/// Delivery of server → client events to users' sockets on every instance.
#[async_trait]
pub trait Fanout: Send + Sync + 'static {
    /// Emits `event` to every socket of each user (rooms `user:{id}`).
    async fn to_users(&self, users: &[String], event: &'static str, payload: serde_json::Value);
    /// Emits `event` to this instance's sockets of each user only: for what every instance
    /// hears of at once and tells its own sockets (announcements on a `Kv` channel).
    async fn to_users_local(
        &self,
        users: &[String],
        event: &'static str,
        payload: serde_json::Value,
    );
    /// Makes every socket of `user` leave the chat's live room (after removal from the chat).
    async fn leave_chat_room(&self, user: &str, chat: &str);
    /// Disconnects this instance's sockets of session `sid`.
    async fn disconnect_session_local(&self, sid: &str);
}

pub fn user_room(user: &str) -> String {
    format!("user:{user}")
}

pub fn chat_room(chat: &str) -> String {
    format!("chat:{chat}")
}
