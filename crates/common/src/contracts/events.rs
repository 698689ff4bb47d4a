//! Socket.IO event names and payloads. Every client event is answered through an ack:
//! `{"ok":true, …}` or `{"ok":false,"error":{code,message}}` (see [`crate::error::ApiError::to_ack`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError, ValidationErrors};

use super::char_len;
use super::chat::{Chat, Message, MessageMetadata, MessageType};
use crate::ids::{validate_client_msg_id, validate_object_id};

mod sync;

pub use sync::*;

/// Client → server event names.
pub mod client {
    pub const SEND_MESSAGE: &str = "send_message";
    pub const JOIN_CHAT: &str = "join_chat";
    pub const LEAVE_CHAT: &str = "leave_chat";
    pub const TYPING: &str = "typing";
    pub const READ_RECEIPT: &str = "read_receipt";
    pub const DELIVERED: &str = "delivered";
    pub const SYNC: &str = "sync";
    pub const EDIT_MESSAGE: &str = "edit_message";
    pub const DELETE_MESSAGE: &str = "delete_message";
    pub const SYNC_CHANGES: &str = "sync_changes";
    pub const REACT_MESSAGE: &str = "react_message";
}

/// Server → client event names.
pub mod server {
    pub const NEW_MESSAGE: &str = "new_message";
    pub const MESSAGE_DELIVERED: &str = "message_delivered";
    pub const USER_TYPING: &str = "user_typing";
    pub const MESSAGE_READ: &str = "message_read";
    pub const USER_ONLINE: &str = "user_online";
    pub const USER_OFFLINE: &str = "user_offline";
    pub const PRESENCE_UPDATE: &str = "presence_update";
    pub const PRESENCE_SNAPSHOT: &str = "presence_snapshot";
    pub const CHAT_UPDATED: &str = "chat_updated";
    pub const CHAT_CHANGED: &str = "chat_changed";
    pub const RESYNC: &str = "resync";
    pub const KEY_CHANGED: &str = "key_changed";
    pub const PROFILE_CHANGED: &str = "profile_changed";
    pub const MESSAGE_UPDATED: &str = "message_updated";
    pub const USER_DELETED: &str = "user_deleted";
    pub const CHAT_MUTED: &str = "chat_muted";
}

/// Longest plaintext message, in characters.
pub const MAX_PLAINTEXT_CHARS: usize = 5000;
/// Most members a group message is sealed to, one wrapped key each (see web/src/e2e.ts).
pub const MAX_SEALED_MEMBERS: usize = 100;
/// Longest ciphertext, in base64 characters: the PWA's group envelope (a version byte, the
/// sender's 65-byte P-256 public key, a 2-byte count and 48 bytes per member for 100 members)
/// around AES-GCM of 5000 four-byte characters and its tag, 24,884 bytes. A direct message's
/// envelope (a version byte and two public keys) is smaller.
pub const MAX_CIPHERTEXT_CHARS: usize = 33_180;
/// Longest IV, in base64 characters (a 12-byte GCM nonce is 16).
pub const MAX_IV_CHARS: usize = 32;

/// `send_message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessage {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub chat_id: String,
    /// The sender's idempotency key: a resend with the same key returns the original message.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub client_msg_id: String,
    pub content: String,
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default)]
    pub iv: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<MessageType>,
    #[serde(default)]
    pub metadata: Option<MessageMetadata>,
    /// The message this one answers: a message of the same chat (deleted or not). Only its id:
    /// what a client shows of it (its sender, a line of its text) it builds from the message it
    /// holds, so the server never sees the quoted text of a sealed message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub reply_to: Option<String>,
}

fn err(code: &'static str, message: String) -> ValidationError {
    let mut e = ValidationError::new(code);
    e.message = Some(message.into());
    e
}

/// The outcome of a `validate` that gathered `errors`.
fn finish(errors: ValidationErrors) -> Result<(), ValidationErrors> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A message named by its chat and its id (`chatId`, `messageId`), as an event names it.
fn validate_ids(chat_id: &str, message_id: &str, errors: &mut ValidationErrors) {
    if let Err(e) = validate_object_id(chat_id) {
        errors.add("chatId", e);
    }
    if let Err(e) = validate_object_id(message_id) {
        errors.add("messageId", e);
    }
}

fn is_base64(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
}

impl Validate for SendMessage {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if let Err(e) = validate_object_id(&self.chat_id) {
            errors.add("chatId", e);
        }
        if let Err(e) = validate_client_msg_id(&self.client_msg_id) {
            errors.add("clientMsgId", e);
        }
        if let Some(Err(e)) = self.reply_to.as_deref().map(validate_object_id) {
            errors.add("replyTo", e);
        }
        validate_content(
            &self.content,
            self.encrypted,
            self.iv.as_deref(),
            &mut errors,
        );
        let attached = self
            .metadata
            .as_ref()
            .is_some_and(|m| m.attachment_id.is_some());
        match self.kind.unwrap_or_default() {
            MessageType::Text if attached => errors.add(
                "metadata",
                err("attachment", "text messages carry no attachment".into()),
            ),
            MessageType::Image | MessageType::File if !attached => errors.add(
                "metadata",
                err(
                    "attachment",
                    "image and file messages need metadata.attachmentId".into(),
                ),
            ),
            _ => {}
        }
        if let Some(Err(e)) = self.metadata.as_ref().map(Validate::validate) {
            errors.add(
                "metadata",
                err("metadata", e.to_string().replace('\n', "; ")),
            );
        }
        finish(errors)
    }
}

/// The rules of a message's content, for a send and an edit alike: not blank; base64 ciphertext
/// of at most [`MAX_CIPHERTEXT_CHARS`] with a base64 `iv` when encrypted; at most
/// [`MAX_PLAINTEXT_CHARS`] characters when not.
fn validate_content(
    content: &str,
    encrypted: bool,
    iv: Option<&str>,
    errors: &mut ValidationErrors,
) {
    if content.trim().is_empty() {
        errors.add("content", err("length", "must not be empty".into()));
    } else if encrypted {
        if content.len() > MAX_CIPHERTEXT_CHARS || !is_base64(content) {
            let msg =
                format!("ciphertext must be base64 of at most {MAX_CIPHERTEXT_CHARS} characters");
            errors.add("content", err("ciphertext", msg));
        }
        match iv {
            Some(iv) if !iv.is_empty() && iv.len() <= MAX_IV_CHARS && is_base64(iv) => {}
            _ => errors.add(
                "iv",
                err("iv", "encrypted messages need a base64 iv".into()),
            ),
        }
    } else if char_len(content) > MAX_PLAINTEXT_CHARS {
        let msg = format!("must be at most {MAX_PLAINTEXT_CHARS} characters");
        errors.add("content", err("length", msg));
    }
}

/// `edit_message`: the sender replaces their message's content (a file message's caption, with
/// its file key, is in its content too: the attachment itself stays). The same rules as a
/// send's content; `encrypted` and `iv` are replaced with it. The ack is `{ok, message}` with the
/// message as it is now, and every member's sockets get it in a `message_updated`. Only the
/// sender may edit, only while they are a member, and not once it is deleted (`conflict`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditMessage {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub chat_id: String,
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub message_id: String,
    pub content: String,
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default)]
    pub iv: Option<String>,
}

impl Validate for EditMessage {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        validate_ids(&self.chat_id, &self.message_id, &mut errors);
        validate_content(
            &self.content,
            self.encrypted,
            self.iv.as_deref(),
            &mut errors,
        );
        finish(errors)
    }
}

/// Most different emoji one message may have reactions with (Discord's limit): a new one beyond
/// them is `conflict`, more users with one already there are not.
pub const MAX_REACTION_KINDS: usize = 20;
/// Longest emoji accepted, in bytes (the longest in Unicode's list, a kiss of two people with
/// two skin tones, is 35): checked before the emoji is looked up.
pub const MAX_EMOJI_BYTES: usize = 64;

/// `react_message`: the caller adds (`add: true`) or takes back (`add: false`) their reaction
/// with `emoji`, one of Unicode's emoji (with or without a skin tone), to a message of a chat they
/// are a member of; each is idempotent. The ack is `{ok, message}` with the message as it is now,
/// and every member's sockets get it in a `message_updated`. `conflict` once it is deleted, or
/// for an emoji beyond [`MAX_REACTION_KINDS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReactMessage {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub chat_id: String,
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub message_id: String,
    pub emoji: String,
    pub add: bool,
}

impl Validate for ReactMessage {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        validate_ids(&self.chat_id, &self.message_id, &mut errors);
        if self.emoji.len() > MAX_EMOJI_BYTES || emojis::get(&self.emoji).is_none() {
            errors.add("emoji", err("emoji", "must be one emoji".into()));
        }
        finish(errors)
    }
}

/// `join_chat`, `leave_chat` and `typing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatRef {
    #[validate(custom(function = "validate_object_id"))]
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub chat_id: String,
}

/// `read_receipt`: this message and every earlier one are read. Also `delete_message`: the
/// message is deleted, by its sender or an admin of its group; the ack is `{ok, message}` with
/// the tombstone, and every member's sockets get it in a `message_updated`. Deleting a deleted
/// message answers the tombstone again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageRef {
    #[validate(custom(function = "validate_object_id"))]
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub chat_id: String,
    #[validate(custom(function = "validate_object_id"))]
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub message_id: String,
}

/// Most message ids one `delivered` event may name.
pub const MAX_DELIVERED_IDS: usize = 100;

/// `delivered`: the caller's client received these messages of the chat. `messageIds` names up
/// to [`MAX_DELIVERED_IDS`] of them at once: a client catching up by `sync` receives hundreds, and
/// one event each would spend its socket's rate limit on receipts. `messageId` names one (the
/// first form of this event, still accepted). Exactly one of the two is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivered {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub chat_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 100)]
    pub message_ids: Vec<String>,
}

impl Delivered {
    /// The messages named, in either form.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.message_id
            .iter()
            .chain(&self.message_ids)
            .map(String::as_str)
    }
}

impl Validate for Delivered {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if validate_object_id(&self.chat_id).is_err() {
            errors.add(
                "chatId",
                err("object_id", "must be a 24-hex-digit id".into()),
            );
        }
        match (&self.message_id, self.message_ids.len()) {
            (Some(_), 1..) | (None, 0) => errors.add(
                "messageIds",
                err("one_of", "give either messageId or messageIds".into()),
            ),
            (None, n) if n > MAX_DELIVERED_IDS => errors.add(
                "messageIds",
                err("length", format!("at most {MAX_DELIVERED_IDS} ids")),
            ),
            _ => {}
        }
        if self.ids().any(|id| validate_object_id(id).is_err()) {
            let field = if self.message_id.is_some() {
                "messageId"
            } else {
                "messageIds"
            };
            errors.add(field, err("object_id", "must be 24-hex-digit ids".into()));
        }
        finish(errors)
    }
}

/// The `send_message` ack on success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageAck {
    pub ok: bool,
    pub message: Message,
}

/// `message_delivered` and `message_read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptEvent {
    pub chat_id: String,
    pub message_id: String,
    pub user_id: String,
}

/// `user_typing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypingEvent {
    pub chat_id: String,
    pub user_id: String,
}

/// `user_online` / `user_offline`: one user sharing a chat with the receiver came online or went
/// offline (`lastSeen` set). See [`PresenceUpdate`] for when several changes come in one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEvent {
    pub user_id: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::time::option_millis"
    )]
    pub last_seen: Option<DateTime<Utc>>,
}

/// `presence_update`: several users sharing a chat with the receiver whose presence changed.
///
/// Changes are announced in rounds per instance (`PRESENCE_BATCH_MS`): the first change after a
/// quiet spell at once, the ones that follow within the window together at its end. A receiver
/// whose round names one user gets `user_online`/`user_offline` ([`PresenceEvent`]) as before;
/// one whose round names several gets them in one `presence_update`, so a thousand members of a
/// group coming online at once cost each other member a few events, not a thousand. Either way
/// each entry is the user's state when the round ran, not the change that queued it. Entries are
/// states: a repeat changes nothing, and a receiver may find its own id in the lists (when it
/// changed in the same round), which it ignores. At most [`PRESENCE_SNAPSHOT_CHUNK`] entries per
/// event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresenceUpdate {
    /// Users who are online now.
    #[serde(default)]
    pub online: Vec<String>,
    /// Users who are offline now, each with when they were last seen.
    #[serde(default)]
    pub offline: Vec<OfflineUser>,
}

/// An entry of [`PresenceUpdate::offline`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OfflineUser {
    pub user_id: String,
    #[serde(with = "super::time::millis")]
    pub last_seen: DateTime<Utc>,
}

/// Most user ids in one `presence_snapshot` or `presence_update` event.
pub const PRESENCE_SNAPSHOT_CHUNK: usize = 1000;

/// `presence_snapshot`: sent to a newly connected socket, which of the user's contacts are online
/// right now (`user_online`, `user_offline` and `presence_update` then announce changes). A few
/// events with up to [`PRESENCE_SNAPSHOT_CHUNK`] ids each, not one event per contact: a member of a
/// 1,000-member group would otherwise get ~1,000 packets at once. The snapshot is complete with
/// the first event whose `more` is false. It leaves out contacts whose state a round of changes
/// tells the socket, and that round may come before or after it: a contact in none of its events
/// and named online by no change since the connection began is offline (one named by a later
/// change is as that change says). At least one event is sent, with `online: []` when nobody is
/// online.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresenceSnapshot {
    pub online: Vec<String>,
    /// More events of this snapshot follow.
    #[serde(default)]
    pub more: bool,
}

/// `resync`: live events may have been lost on the way to this socket (fan-out between instances
/// was out for a while), though the socket stayed connected: the client catches up as after a
/// reconnect (the chat list, then `sync`). Sent to every socket at once, so clients should spread
/// their catch-up over a few seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Resync {}

/// `key_changed`: a user sharing a chat with the receiver (or the receiver, on their other
/// devices) published a new end-to-end key. Clients fetch it before sealing anything more to
/// them, and may warn that it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyChanged {
    #[schema(format = Uuid)]
    pub user_id: String,
}

/// `user_deleted`: a contact deleted their account. They have left every group (each group's
/// members also get its `chat_changed`); direct chats with them stay, read-only, with their
/// history. Their profile and key are gone (`GET /api/users/{id}` is `not_found`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDeleted {
    #[schema(format = Uuid)]
    pub user_id: String,
}

/// `chat_muted`: the user muted a chat (`PUT /api/chats/{id}/mute`) or unmuted it (`DELETE`), on
/// one of their devices; sent to all of them, that one included. Muting is the user's own: the
/// other members are not told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatMutedEvent {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub chat_id: String,
    pub muted: bool,
    /// When the mute ends by itself (`muted` only, and only a mute for a while); devices
    /// count the chat as unmuted from then on, unprompted: nothing is sent when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// `chat_updated`: a chat in full, to users who just gained it: its members when it is created,
/// and users added to it or joining it. Everyone who already had it hears of a change by a
/// [`ChatChangedEvent`], which is small whatever the size of the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatUpdatedEvent {
    pub chat: Chat,
}

/// `chat_changed`: what one change did to a chat, to its members (and to a member it removes).
///
/// Apply it to the chat held if `revision` is one more than that chat's `revision`; ignore it if
/// it is not more (already applied: a full copy of the chat can overtake it). Any other gap, or a
/// chat not held, means a change was not received (events of changes made on different server
/// instances can cross): fetch the chat (`GET /api/chats/{id}`; `403`/`404`: drop it). `added`
/// joins the participants (those already there stay once); `removed` leaves the participants and
/// the admins; `admins` replaces the admins; a client that finds its own user in `removed` drops
/// the chat. `deleted` drops it whatever the revision (the revision of a deletion is one more than
/// the instance that deleted it knew, which may be behind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatChangedEvent {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub chat_id: String,
    /// The chat's `revision` after this change.
    pub revision: u64,
    /// The new name (a rename).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The group's new picture, its URL (`""`: the picture was removed); see `Chat.picture`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// The new topic (`""`: the topic was cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Users who are now members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// Users who are no longer members (removed, or left).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// How many members the chat has after this change, when it changed them (so a client
    /// holding the chat without its member list keeps its count right).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u32>,
    /// The chat's admins, when this change set them: a group whose last admin left makes its
    /// longest-standing member admin (the change after the removal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admins: Option<Vec<String>>,
    /// The chat's pinned messages, when this change pinned or unpinned one: the whole list as it
    /// now is, newest pin first (`[]` when none is left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pins: Option<Vec<String>>,
    /// The chat was deleted: drop it, whatever the revision.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// The direct chat was closed: the other participant deleted their account (see
    /// `Chat.closed`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
}

impl ChatChangedEvent {
    /// A change to `chat_id` at `revision` that says nothing yet: set what it changed.
    pub fn of(chat_id: &str, revision: u64) -> Self {
        Self {
            chat_id: chat_id.to_owned(),
            revision,
            name: None,
            picture: None,
            topic: None,
            pins: None,
            added: Vec::new(),
            removed: Vec::new(),
            member_count: None,
            admins: None,
            deleted: false,
            closed: false,
        }
    }
}
