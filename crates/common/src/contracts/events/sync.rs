//! `sync` and `sync_changes`: how a client catches up after being away, on new messages (by id,
//! per chat) and on changes to messages it has (by change time).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationErrors};

use super::{err, finish};
use crate::contracts::chat::Message;
use crate::ids::validate_object_id;

/// Most messages one `sync` answer carries.
pub const MAX_SYNC_LIMIT: u32 = 500;
/// Most chats one `sync` may name.
pub const MAX_SYNC_CURSORS: usize = 2000;

/// `sync`: per chat, the id of the newest message the client already has. Chats of the caller
/// absent from `cursors` and `after` are synced from their start. The answer is [`SyncResponse`].
///
/// Message ids are not in commit order across instances (an ObjectId orders by its second, then
/// by the writing process), nor in delivery order (another instance's messages arrive through
/// Redis), so a message the client missed can have a lower id than one it received. The server
/// therefore answers from a look-back window before each cursor (`SYNC_LOOKBACK_SECS`, 15 s by
/// default), which repeats messages of that window the client has: clients dedupe by message id,
/// as they must for live `new_message`s that overlap a sync anyway. `after` names chats to answer
/// exactly from an id, with no look-back: for a client that knows a chat only from a read made
/// while connected (its chat list's `lastMessage`), whatever came later reached it live. Chats
/// are answered in id order; a continuation page is exact: send the same request with the
/// previous answer's `resume`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequest {
    /// Chat id → id of the newest message the client has (both 24 hex digits).
    #[serde(default)]
    pub cursors: BTreeMap<String, String>,
    /// Chat id → message id to answer exactly after (no look-back); wins over `cursors`.
    #[serde(default)]
    pub after: BTreeMap<String, String>,
    /// The previous answer's `resume`, unchanged; absent on a first page.
    #[serde(default)]
    pub resume: Option<SyncResume>,
    /// Most messages in this answer, 1-500.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Where a `sync` answer stopped: chats with lower ids are complete, `chatId` continues right
/// after `messageId` (no look-back), chats with higher ids start from their `after` or cursors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncResume {
    #[validate(custom(function = "validate_object_id"))]
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub chat_id: String,
    #[validate(custom(function = "validate_object_id"))]
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub message_id: String,
}

impl Validate for SyncRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        for (field, map) in [("cursors", &self.cursors), ("after", &self.after)] {
            if map.len() > MAX_SYNC_CURSORS {
                errors.add(
                    field,
                    err("length", format!("at most {MAX_SYNC_CURSORS} chats")),
                );
            }
            let bad = map.iter().any(|(chat, msg)| {
                validate_object_id(chat).is_err() || validate_object_id(msg).is_err()
            });
            if bad {
                errors.add(
                    field,
                    err(
                        "object_id",
                        "keys and values must be 24-hex-digit ids".into(),
                    ),
                );
            }
        }
        if self.resume.as_ref().is_some_and(|r| r.validate().is_err()) {
            errors.add(
                "resume",
                err(
                    "object_id",
                    "chatId and messageId must be 24-hex-digit ids".into(),
                ),
            );
        }
        check_sync_limit(self.limit, &mut errors);
        finish(errors)
    }
}

/// The `sync` ack: missed messages (and those of the look-back window the client has), chats in
/// id order, each chat's oldest first. While `hasMore` is true, send the request again with
/// `resume` set to this answer's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncResponse {
    pub ok: bool,
    pub messages: Vec<Message>,
    pub has_more: bool,
    /// Where to continue; present exactly when `hasMore` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<SyncResume>,
}

/// `sync_changes`: the messages of the caller's chats edited or deleted since `since` (a `until`
/// of an earlier answer), whatever their age: what `sync` cannot tell, as it answers by id. The
/// answer is [`ChangesResponse`]; a client keeps its `until` for the next time. Without `since`,
/// the answer has no messages, only `until`: where a client that has just read its chats starts.
///
/// An edit is stamped with its instance's clock before it is written, so the server answers
/// from a look-back window before `since` (`SYNC_LOOKBACK_SECS`), as `sync` does before a
/// cursor: repeated changes are the messages as they are now, which clients apply again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncChanges {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::contracts::time::option_millis"
    )]
    pub since: Option<DateTime<Utc>>,
    /// The previous answer's `resume`, unchanged (with the same `since`); absent on a first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ChangesResume>,
    /// Most messages in this answer, 1-500.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Where a `sync_changes` answer stopped: right after this message's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangesResume {
    #[serde(with = "crate::contracts::time::millis")]
    pub at: DateTime<Utc>,
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub message_id: String,
}

impl Validate for SyncChanges {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if let Some(r) = &self.resume
            && validate_object_id(&r.message_id).is_err()
        {
            errors.add(
                "resume",
                err("object_id", "messageId must be a 24-hex-digit id".into()),
            );
        }
        if self.resume.is_some() && self.since.is_none() {
            errors.add(
                "since",
                err("required", "a resumed page needs since".into()),
            );
        }
        check_sync_limit(self.limit, &mut errors);
        finish(errors)
    }
}

/// The `sync_changes` ack: changed messages as they are now, oldest change first. While
/// `hasMore`, send the request again with `resume` set to this answer's; keep the first page's
/// `until` as the next request's `since` (changes made while paging have a later one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangesResponse {
    pub ok: bool,
    pub messages: Vec<Message>,
    pub has_more: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ChangesResume>,
    /// When this answer was read: the next request's `since`.
    #[serde(with = "crate::contracts::time::millis")]
    pub until: DateTime<Utc>,
}

/// A page size of `sync` or `sync_changes`: 1 to [`MAX_SYNC_LIMIT`] when given.
fn check_sync_limit(limit: Option<u32>, errors: &mut ValidationErrors) {
    if matches!(limit, Some(l) if l == 0 || l > MAX_SYNC_LIMIT) {
        errors.add("limit", err("range", format!("must be 1-{MAX_SYNC_LIMIT}")));
    }
}
