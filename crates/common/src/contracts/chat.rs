//! realtime REST bodies and the chat/message shapes shared with socket events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError, ValidationErrors};

use super::char_len;
use crate::ids::{validate_object_id, validate_uuid, validate_uuid_list};

/// Largest group a client may create or grow to.
pub const MAX_GROUP_MEMBERS: usize = 1000;
/// Most admins a group may have (as Telegram's 50). Every member is sent the whole list when it
/// changes, so it stays small.
pub const MAX_GROUP_ADMINS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatType {
    Direct,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    #[default]
    Text,
    Image,
    File,
}

/// Attachment metadata (the bytes themselves live elsewhere; the seed used a CDN).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageMetadata {
    #[validate(length(min = 1, max = 255, message = "must be 1-255 characters"))]
    #[schema(min_length = 1, max_length = 255)]
    pub file_name: Option<String>,
    #[validate(range(min = 0, max = 1_073_741_824_u64, message = "must be at most 1 GiB"))]
    #[schema(maximum = 1_073_741_824_u64)]
    pub file_size: Option<u64>,
    #[validate(length(min = 1, max = 127, message = "must be 1-127 characters"))]
    #[schema(min_length = 1, max_length = 127)]
    pub mime_type: Option<String>,
    /// The bytes, uploaded to the chat beforehand (`POST /api/chats/{id}/attachments`) by the
    /// sender: required for `image` and `file` messages, refused on `text` ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "validate_object_id"))]
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub attachment_id: Option<String>,
}

/// Largest attachment, in bytes as uploaded (the PWA's are sealed: the file plus a 16-byte tag).
/// One MongoDB document holds one (its limit is 16 MiB); larger files would need GridFS.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

/// `POST /api/chats/{id}/attachments`: what was stored. Its `id` goes in the message's
/// `metadata.attachmentId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentCreated {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub id: String,
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub chat_id: String,
    /// Bytes stored.
    pub size: u64,
}

/// A stored message as every client sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub id: String,
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub chat_id: String,
    #[schema(format = Uuid)]
    pub sender_id: String,
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub client_msg_id: String,
    /// Plaintext, or base64 ciphertext when `encrypted`.
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
    pub encrypted: bool,
    #[serde(rename = "type")]
    pub kind: MessageType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MessageMetadata>,
    /// The message this one answers (`send_message`'s `replyTo`), of the same chat; absent when
    /// none, and on a tombstone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub reply_to: Option<String>,
    #[serde(with = "super::time::millis")]
    pub timestamp: DateTime<Utc>,
    pub read_by: Vec<String>,
    pub delivered_to: Vec<String>,
    /// When its sender last edited it (`edit_message`); absent when never.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::time::option_millis"
    )]
    pub edited_at: Option<DateTime<Utc>>,
    /// When it was deleted (`delete_message`). A deleted message stays in its place as a
    /// tombstone: its `content` is empty, and its `iv` and `metadata` are gone (so is its
    /// attachment's file). Its `type` is kept.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::time::option_millis"
    )]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Who deleted it: its sender, or an admin of its group (moderation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub deleted_by: Option<String>,
    /// Its reactions (`react_message`): one per emoji, in the order each was first used. Not
    /// encrypted, as Matrix's are not: the server sees who reacted with what. A deleted message
    /// has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// Counts the changes made to it since it was sent (edits, its deletion, reactions added or
    /// removed), each adding one in the same atomic write: of two copies, the higher is newer.
    /// Absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub revision: u64,
    /// When it last changed (any of those); absent when never. What `sync_changes` pages by.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::time::option_millis"
    )]
    pub updated_at: Option<DateTime<Utc>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One emoji's reactions to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reaction {
    pub emoji: String,
    /// Who reacted with it, in the order they did.
    pub users: Vec<String>,
}

impl Message {
    /// Deleted: a tombstone.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// A chat as its members see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ChatType,
    pub participants: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A group's topic (what it is about), if it has one: set by its admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// A group's picture, if it has one (set by its admins): the URL it is served at to members,
    /// `/api/chats/{id}/picture?v={version}`, a new URL for a new picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// The ids of the messages pinned in this chat, the newest pin first (at most
    /// [`MAX_PINS`]); absent when none. Ids only: a client shows the message it holds, or reads
    /// it (`GET /api/chats/{id}/messages/{messageId}`), so a sealed one is never repeated here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<String>,
    pub admins: Vec<String>,
    /// True for groups that can be joined with a passcode (the hash never leaves the server).
    pub has_passcode: bool,
    pub last_message: Option<Message>,
    #[serde(with = "super::time::option_millis")]
    pub last_message_at: Option<DateTime<Utc>>,
    #[serde(with = "super::time::millis")]
    pub created_at: DateTime<Utc>,
    /// How many participants it has (also when they are left out, see `membersOmitted`).
    pub member_count: u32,
    /// True when `participants` were left out (empty here): a group read with `?members=direct`.
    /// `admins`, `memberCount` and `revision` are still there; the members come a page at a
    /// time from `GET /api/chats/{id}/members`, or all at once from `GET /api/chats/{id}`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub members_omitted: bool,
    /// True for a direct chat with someone who deleted their account: its history stays
    /// readable, but it takes no new messages or files (`account_deleted`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
    /// Counts the changes made to the chat since its creation (0): its name and members as of
    /// that many changes. Orders a chat's copies and its `chat_changed` events.
    #[serde(default)]
    pub revision: u64,
    /// Messages from others the caller has not read (`GET /api/chats` and `GET /api/chats/{id}`;
    /// 0 in events, which every member is sent alike).
    #[serde(default)]
    pub unread_count: u64,
    /// True when the caller muted the chat: their devices do not notify them of its messages
    /// (`GET /api/chats` and `GET /api/chats/{id}`; left out of events and of the answers to
    /// changes, which every member is sent alike: `chat_muted` tells the user's devices).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub muted: bool,
    /// When the caller's mute ends by itself, if it does (muted "for 8 hours"); absent for a
    /// mute that lasts until they unmute the chat, and when it is not muted. A mute that has
    /// ended is not `muted` any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<DateTime<Utc>>,
}

fn validate_chat_name(value: &str) -> Result<(), ValidationError> {
    let n = char_len(value.trim());
    if (1..=100).contains(&n) && !value.chars().any(char::is_control) {
        Ok(())
    } else {
        let mut e = ValidationError::new("name");
        e.message = Some("must be 1-100 printable characters".into());
        Err(e)
    }
}

fn validate_passcode(value: &str) -> Result<(), ValidationError> {
    if (4..=64).contains(&char_len(value)) {
        Ok(())
    } else {
        let mut e = ValidationError::new("passcode");
        e.message = Some("must be 4-64 characters".into());
        Err(e)
    }
}

/// `POST /api/chats`: `{"type":"direct","userId"}` or
/// `{"type":"group","name","memberIds","passcode"?,"topic"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CreateChatRequest {
    #[serde(rename_all = "camelCase")]
    Direct {
        #[schema(format = Uuid)]
        user_id: String,
    },
    #[serde(rename_all = "camelCase")]
    Group {
        #[schema(min_length = 1, max_length = 100)]
        name: String,
        #[serde(default)]
        member_ids: Vec<String>,
        #[serde(default)]
        #[schema(min_length = 4, max_length = 64)]
        passcode: Option<String>,
        /// What the group is about, at most 250 printable characters (trimmed); absent, `null`
        /// or blank: none.
        #[serde(default)]
        #[schema(max_length = 250)]
        topic: Option<String>,
    },
}

impl CreateChatRequest {
    /// A group's topic as given, trimmed; `None` when absent or blank (and for a direct chat).
    pub fn topic(&self) -> Option<&str> {
        match self {
            CreateChatRequest::Group { topic, .. } => non_blank(topic.as_deref()),
            CreateChatRequest::Direct { .. } => None,
        }
    }
}

/// A topic trimmed, `None` when blank.
fn non_blank(topic: Option<&str>) -> Option<&str> {
    topic.map(str::trim).filter(|t| !t.is_empty())
}

/// A topic (trimmed, not blank) is at most [`MAX_TOPIC_CHARS`] printable characters.
fn validate_topic(topic: &str) -> Result<(), ValidationError> {
    if char_len(topic) > MAX_TOPIC_CHARS || topic.chars().any(char::is_control) {
        let mut e = ValidationError::new("topic");
        e.message = Some(format!("must be at most {MAX_TOPIC_CHARS} printable characters").into());
        return Err(e);
    }
    Ok(())
}

impl Validate for CreateChatRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        match self {
            CreateChatRequest::Direct { user_id } => {
                if let Err(e) = validate_uuid(user_id) {
                    errors.add("userId", e);
                }
            }
            CreateChatRequest::Group {
                name,
                member_ids,
                passcode,
                topic: _,
            } => {
                if let Some(Err(e)) = self.topic().map(validate_topic) {
                    errors.add("topic", e);
                }
                if let Err(e) = validate_chat_name(name) {
                    errors.add("name", e);
                }
                if member_ids.len() >= MAX_GROUP_MEMBERS {
                    let mut e = ValidationError::new("length");
                    e.message = Some(format!("at most {} members", MAX_GROUP_MEMBERS - 1).into());
                    errors.add("memberIds", e);
                } else if let Err(e) = validate_uuid_list(member_ids) {
                    errors.add("memberIds", e);
                }
                if let Some(Err(e)) = passcode.as_deref().map(validate_passcode) {
                    errors.add("passcode", e);
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Furthest a mute may end: a year from now (longer is "until I unmute it", `until` absent).
pub const MAX_MUTE_DAYS: i64 = 366;

/// `PUT /api/chats/{id}/mute`: how long. No body, `{}` or `until: null` mutes the chat until the
/// caller unmutes it, as Slack's and WhatsApp's "Always"; `until` mutes it until then ("for 1
/// hour", "until tomorrow"), which must be in the future and at most [`MAX_MUTE_DAYS`] away.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MuteChatRequest {
    /// When the mute ends by itself (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

impl MuteChatRequest {
    /// `until` unless it is not in the future, or is more than [`MAX_MUTE_DAYS`] after `now`.
    pub fn until_after(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, ValidationErrors> {
        let Some(until) = self.until else {
            return Ok(None);
        };
        if until > now && until - now <= chrono::Duration::days(MAX_MUTE_DAYS) {
            return Ok(Some(until));
        }
        let mut e = ValidationError::new("until");
        e.message =
            Some(format!("must be in the future and at most {MAX_MUTE_DAYS} days away").into());
        let mut errors = ValidationErrors::new();
        errors.add("until", e);
        Err(errors)
    }
}

impl Validate for MuteChatRequest {
    /// Nothing to check without the time: see [`MuteChatRequest::until_after`].
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

/// Most messages one chat may have pinned (Slack allows 100 per channel; a list a person reads
/// through, not an archive).
pub const MAX_PINS: usize = 50;

/// Longest topic a group may have, in characters (as Slack's channel topics).
pub const MAX_TOPIC_CHARS: usize = 250;

/// `PATCH /api/chats/{id}`: a new name, a new topic, or both; at least one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateChatRequest {
    /// A new name, 1-100 printable characters (trimmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// A new topic, at most 250 printable characters (trimmed), or `null` (or blank) to clear
    /// it; absent, it is kept.
    #[serde(
        default,
        deserialize_with = "super::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, max_length = 250)]
    pub topic: Option<Option<String>>,
}

impl UpdateChatRequest {
    /// The topic to set, trimmed, `Some(None)` to clear it (`null` or blank), `None` to keep it.
    pub fn new_topic(&self) -> Option<Option<&str>> {
        self.topic.as_ref().map(|t| non_blank(t.as_deref()))
    }
}

impl Validate for UpdateChatRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self.name.is_none() && self.topic.is_none() {
            let mut e = ValidationError::new("empty");
            e.message = Some("give a new name, a new topic, or both".into());
            errors.add("name", e);
        }
        if let Some(name) = &self.name
            && let Err(e) = validate_chat_name(name)
        {
            errors.add("name", e);
        }
        if let Some(Some(Err(e))) = self.new_topic().map(|t| t.map(validate_topic)) {
            errors.add("topic", e);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// `POST /api/chats/{id}/members`.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMembersRequest {
    #[validate(length(min = 1, max = 100, message = "must list 1-100 users"))]
    #[validate(custom(function = "validate_uuid_list"))]
    #[schema(min_items = 1, max_items = 100)]
    pub user_ids: Vec<String>,
}

/// `POST /api/chats/{id}/join`.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinChatRequest {
    #[validate(custom(function = "validate_passcode"))]
    #[schema(min_length = 4, max_length = 64)]
    pub passcode: String,
}

/// `GET /api/chats/{id}/messages?before=&limit=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Only messages older than this message id (a previous page's `nextCursor`).
    #[validate(custom(function = "validate_object_id"))]
    #[param(pattern = "^[0-9a-fA-F]{24}$")]
    pub before: Option<String>,
    /// Page size, 1-100 (default 50).
    #[validate(range(min = 1, max = 100, message = "must be 1-100"))]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A newest-first page of history; pass `nextCursor` as `before` to get the next (older) page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub next_cursor: Option<String>,
}

/// `GET /api/chats?members=` and `GET /api/chats/{id}?members=`: whose member lists the chats
/// carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListedMembers {
    /// Every chat's (the default).
    #[default]
    All,
    /// Direct chats' only: a group's may be 1,000 ids, and a client reloads its chat list on
    /// every reconnect. Groups come with `membersOmitted: true` (their admins still listed).
    Direct,
}

impl ListedMembers {
    /// Whether a chat of `kind` comes without its member list.
    pub fn omits(self, kind: ChatType) -> bool {
        self == ListedMembers::Direct && kind == ChatType::Group
    }
}

/// `GET /api/chats?members=` and `GET /api/chats/{id}?members=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ChatListQuery {
    /// `all` (the default) or `direct`.
    #[serde(default)]
    pub members: ListedMembers,
}

/// `GET /api/chats` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatList {
    pub chats: Vec<Chat>,
}

/// Default size of a page of members.
pub const DEFAULT_MEMBER_PAGE: u32 = 100;

/// `GET /api/chats/{id}/members?after=&limit=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// Only members whose id sorts after this one (a previous page's `nextCursor`).
    #[validate(custom(function = "validate_uuid"))]
    #[param(format = Uuid)]
    pub after: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[validate(range(min = 1, max = 1000, message = "must be 1-1000"))]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A page of a chat's members, ordered by user id. Pages follow the members as they are when
/// each is read: a member added or removed between two pages shows up, or not, in the page that
/// covers their id, and no one else is skipped or repeated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberPage {
    pub members: Vec<String>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// The chat's revision when this page was read (see `Chat.revision`).
    pub revision: u64,
    /// How many members the chat has in all.
    pub member_count: u32,
}
