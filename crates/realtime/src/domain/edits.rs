//! Editing and deleting messages, reactions to them, and `sync_changes`: what changed in messages
//! a client already has. A change is made in place (the message keeps its id and place in history); a deleted
//! message stays as a tombstone, so history, `sync` cursors and receipts keep pointing at it.

use chrono::{SubsecRound, Utc};
use common::contracts::chat::{ChatType, Message};
use common::contracts::events::{
    ChangesResponse, ChangesResume, EditMessage, MAX_REACTION_KINDS, MAX_SYNC_LIMIT, MessageRef,
    ReactMessage, SyncChanges,
};
use common::{ApiError, ErrorCode};

use super::messages::{DEFAULT_SYNC, MessageService};
use super::normalize_id;
use crate::ports::{ChatRecord, MessageChange};

/// The outcome of an edit or a deletion: the message as it is now, and who to tell.
#[derive(Debug, Clone)]
pub struct Changed {
    pub message: Message,
    /// Every participant (all their sockets get `message_updated`).
    pub participants: Vec<String>,
    /// The chat as it is now, when the change unpinned the message (a deletion of a pinned one):
    /// its members get `chat_changed {pins}` too.
    pub unpinned: Option<ChatRecord>,
}

impl MessageService {
    /// Replaces the content of the caller's own message (validated by the caller).
    pub async fn edit(&self, user: &str, req: EditMessage) -> Result<Changed, ApiError> {
        let r = MessageRef {
            chat_id: req.chat_id,
            message_id: req.message_id,
        };
        let (chat, message) = self.message_in_chat(user, &r).await?;
        if message.sender_id != user {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "only its sender may edit a message",
            ));
        }
        if message.is_deleted() {
            return Err(deleted());
        }
        let change = MessageChange::Edit {
            sender: user.to_owned(),
            content: req.content,
            iv: req.iv.filter(|_| req.encrypted),
            encrypted: req.encrypted,
            at: now(),
        };
        self.change(chat, &message.id, &change).await
    }

    /// Deletes a message of the caller's, or, for an admin of a group, anyone's. Deleting a
    /// deleted message answers its tombstone again (a retry after a lost ack), to be announced
    /// again as a resent message is.
    pub async fn delete(&self, user: &str, r: &MessageRef) -> Result<Changed, ApiError> {
        let (chat, message) = self.message_in_chat(user, r).await?;
        let moderator = chat.kind == ChatType::Group && chat.is_admin(user);
        if message.sender_id != user && !moderator {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "only its sender or an admin of the group may delete a message",
            ));
        }
        let message = if message.is_deleted() {
            message
        } else {
            // The file first: once the tombstone is written nothing names it any more, so a
            // failure between the two writes would leave it stored for good. This way a failure
            // leaves a message whose file is gone, which the retry deletes.
            if let Some(attachment) = message
                .metadata
                .as_ref()
                .and_then(|m| m.attachment_id.as_ref())
            {
                self.store.delete_attachment(attachment).await?;
            }
            let change = MessageChange::Delete {
                by: user.to_owned(),
                at: now(),
            };
            match self.store.change_message(&message.id, &change).await? {
                Some(tombstone) => tombstone,
                // Deleted meanwhile by someone else: their tombstone.
                None => self
                    .store
                    .get_message(&message.id)
                    .await?
                    .ok_or_else(super::messages::message_not_found)?,
            }
        };
        // A deleted message is no pin any more (a retry finds it unpinned and writes nothing).
        let unpinned = self.chats.unpin_deleted(&chat, &message.id).await?;
        Ok(Changed {
            message,
            participants: chat.participants,
            unpinned,
        })
    }

    /// Adds or takes back the caller's reaction to a message of a chat they are a member of.
    /// A new emoji beyond [`MAX_REACTION_KINDS`] is refused, counted on the message as read: two
    /// members adding new ones at once may pass the bound by one each.
    pub async fn react(&self, user: &str, req: ReactMessage) -> Result<Changed, ApiError> {
        let r = MessageRef {
            chat_id: req.chat_id,
            message_id: req.message_id,
        };
        let (chat, message) = self.message_in_chat(user, &r).await?;
        if message.is_deleted() {
            return Err(deleted());
        }
        let new_kind = !message.reactions.iter().any(|k| k.emoji == req.emoji);
        if req.add && new_kind && message.reactions.len() >= MAX_REACTION_KINDS {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "a message has reactions with at most {MAX_REACTION_KINDS} different emoji"
                ),
            ));
        }
        let change = MessageChange::React {
            user: user.to_owned(),
            emoji: req.emoji,
            add: req.add,
            at: now(),
        };
        self.change(chat, &message.id, &change).await
    }

    /// Applies an edit or a reaction to message `id` of `chat`; `conflict` when it was deleted
    /// since it was read (the write checks).
    async fn change(
        &self,
        chat: ChatRecord,
        id: &str,
        change: &MessageChange,
    ) -> Result<Changed, ApiError> {
        let message = self
            .store
            .change_message(id, change)
            .await?
            .ok_or_else(deleted)?;
        Ok(Changed {
            message,
            participants: chat.participants,
            unpinned: None,
        })
    }

    /// The messages of the caller's chats changed since `req.since` (less the look-back), as they
    /// are now, oldest change first; see [`SyncChanges`].
    pub async fn changes(
        &self,
        user: &str,
        req: &SyncChanges,
    ) -> Result<ChangesResponse, ApiError> {
        let until = now();
        let Some(since) = req.since else {
            return Ok(ChangesResponse {
                ok: true,
                messages: Vec::new(),
                has_more: false,
                resume: None,
                until,
            });
        };
        let limit = req.limit.unwrap_or(DEFAULT_SYNC).clamp(1, MAX_SYNC_LIMIT);
        let chats = self.store.chat_ids_of_any(&[user.to_owned()]).await?;
        let from = since - self.sync_lookback;
        let resume = req
            .resume
            .as_ref()
            .map(|r| (r.at, normalize_id(&r.message_id)));
        // One extra tells whether there is more than fits.
        let mut messages = self
            .store
            .changed_messages(
                &chats,
                from,
                resume.as_ref().map(|(at, id)| (*at, id.as_str())),
                limit + 1,
            )
            .await?;
        let has_more = messages.len() as u32 > limit;
        messages.truncate(limit as usize);
        // Every message answered has changed, so the last one has a change time.
        let resume = messages.last().filter(|_| has_more).and_then(|m| {
            m.updated_at.map(|at| ChangesResume {
                at,
                message_id: m.id.clone(),
            })
        });
        Ok(ChangesResponse {
            ok: true,
            messages,
            has_more,
            resume,
            until,
        })
    }
}

/// Millisecond precision: what every backend stores, so answers equal what is read back.
fn now() -> chrono::DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

fn deleted() -> ApiError {
    ApiError::new(ErrorCode::Conflict, "the message was deleted")
}
