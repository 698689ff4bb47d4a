//! Pinned messages: any member of a chat (direct or group) pins a message of it or unpins one,
//! as in Slack, where anyone in a channel may; a group's admins have no say over it (Matrix lets
//! a room require a power level; WhatsApp lets admins keep it to themselves — not offered yet).
//! The chat keeps the ids only, newest pin first, at most [`MAX_PINS`]; each change counts in its
//! revision and is told to the members as the whole list (`chat_changed {pins}`). A message
//! deleted is unpinned with it (`MessageService::delete`).

use common::contracts::chat::MAX_PINS;
use common::{ApiError, ErrorCode};

use super::ChatService;
use super::changes::{ChatChange, ChatDelta};
use crate::domain::chat_not_found;
use crate::domain::messages::message_not_found;
use crate::ports::ChatRecord;

impl ChatService {
    /// Pins `message_id` (`pinned`) or unpins it, in `chat_id`, of which `user` is a member.
    /// Pinning again, or unpinning what is not pinned, changes nothing (`ChatDelta::Unchanged`).
    pub async fn pin(
        &self,
        user: &str,
        chat_id: &str,
        message_id: &str,
        pinned: bool,
    ) -> Result<ChatChange, ApiError> {
        let chat = self.member_chat(user, chat_id).await?;
        if pinned {
            let message = self
                .store
                .get_message(message_id)
                .await?
                .filter(|m| m.chat_id == chat.id)
                .ok_or_else(message_not_found)?;
            if message.is_deleted() {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "a deleted message cannot be pinned",
                ));
            }
            if !chat.pins.contains(&message.id) && chat.pins.len() >= MAX_PINS {
                return Err(full());
            }
        }
        match self.store.set_pinned(&chat.id, message_id, pinned).await? {
            Some(chat) => Ok(ChatChange::new(chat, ChatDelta::Pins)),
            None => {
                // Nothing changed, or pins made meanwhile filled the list: as it is now.
                let chat = self
                    .store
                    .get_chat(&chat.id)
                    .await?
                    .ok_or_else(chat_not_found)?;
                if pinned && !chat.pins.iter().any(|p| p == message_id) {
                    return Err(full());
                }
                Ok(ChatChange::new(chat, ChatDelta::Unchanged))
            }
        }
    }

    /// Unpins a message just deleted, if `chat` has it pinned: the chat as it is now, `None`
    /// when it was not pinned (nothing written).
    pub async fn unpin_deleted(
        &self,
        chat: &ChatRecord,
        message_id: &str,
    ) -> Result<Option<ChatRecord>, ApiError> {
        if !chat.pins.iter().any(|p| p == message_id) {
            return Ok(None);
        }
        Ok(self.store.set_pinned(&chat.id, message_id, false).await?)
    }
}

fn full() -> ApiError {
    ApiError::new(
        ErrorCode::Conflict,
        format!("at most {MAX_PINS} messages may be pinned in a chat; unpin one first"),
    )
}
