//! A group's picture: set and removed by its admins (each a change counted in the revision, told
//! as `chat_changed {picture}`), read by its members. The bytes are checked by
//! `common::pictures` (shared with profile pictures); the chat names their version.

use common::{ApiError, ErrorCode, pictures};

use super::{ChatChange, ChatDelta, ChatService};
use crate::domain::chat_not_found;
use crate::ports::ChatPicture;

/// What a refusal calls a group's picture.
pub const PICTURE: &str = "a group picture";

impl ChatService {
    /// Sets the group's picture to `bytes`, sent as `declared` (admins only): an image of an
    /// accepted type (`common::pictures`), its version a digest of the bytes.
    pub async fn set_picture(
        &self,
        user: &str,
        chat_id: &str,
        declared: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<ChatChange, ApiError> {
        let content_type = pictures::checked_type(declared, &bytes, PICTURE)?;
        let chat = self.admin_group(user, chat_id).await?;
        let picture = ChatPicture {
            content_type: content_type.to_owned(),
            version: pictures::version(&bytes),
            bytes,
        };
        let chat = self
            .store
            .set_chat_picture(&chat.id, Some(&picture))
            .await?
            .ok_or_else(chat_not_found)?;
        Ok(ChatChange::new(chat, ChatDelta::Picture))
    }

    /// Removes the group's picture (admins only); none is no change.
    pub async fn remove_picture(&self, user: &str, chat_id: &str) -> Result<ChatChange, ApiError> {
        let chat = self.admin_group(user, chat_id).await?;
        if chat.picture.is_none() {
            return Ok(ChatChange::new(chat, ChatDelta::Unchanged));
        }
        let chat = self
            .store
            .set_chat_picture(&chat.id, None)
            .await?
            .ok_or_else(chat_not_found)?;
        Ok(ChatChange::new(chat, ChatDelta::Picture))
    }

    /// A group's picture, for its members; `not_found` when it has none.
    pub async fn picture(&self, user: &str, chat_id: &str) -> Result<ChatPicture, ApiError> {
        let chat = self.member_chat(user, chat_id).await?;
        self.store
            .chat_picture(&chat.id)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "this chat has no picture"))
    }
}
