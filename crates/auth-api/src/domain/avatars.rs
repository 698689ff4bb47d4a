//! Profile pictures: one per account, set and removed by its owner, read by anyone who can read
//! the profile. The account's `avatar` is the picture's URL, which names the version (a digest
//! of the bytes), so a new picture is a new URL and a URL's bytes never change.
//!
//! The bytes are checked to be what their `Content-Type` says (`common::pictures`, shared with
//! realtime's group pictures): one of the types every browser decodes and none can run. Past
//! that they are not decoded: they are served with that type and `nosniff`.

use common::{ApiError, ErrorCode, pictures};
use uuid::Uuid;

use super::AuthService;
use super::account::gone;
use crate::ports::{Avatar, UserRecord};

/// The URL a picture of this version is served at.
pub fn avatar_url(user_id: Uuid, version: &str) -> String {
    format!("/api/users/{user_id}/avatar?v={version}")
}

/// What a refusal calls it.
pub const WHAT: &str = "a profile picture";

fn no_picture() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such picture")
}

impl AuthService {
    /// Replaces the caller's picture with `bytes`, sent as `declared`; counted as a profile
    /// change, and announced as one.
    pub async fn set_avatar(
        &self,
        user_id: Uuid,
        declared: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<UserRecord, ApiError> {
        let content_type = pictures::checked_type(declared, &bytes, WHAT)?;
        self.count_profile_change(user_id).await?;
        let version = pictures::version(&bytes);
        let url = avatar_url(user_id, &version);
        let avatar = Avatar {
            content_type: content_type.to_owned(),
            bytes,
            version,
        };
        if !self.store.set_avatar(user_id, &avatar, &url).await? {
            return Err(gone());
        }
        let user = self.own_account(user_id).await?;
        self.announce_profile_change(&user).await;
        Ok(user)
    }

    /// Removes the caller's picture (none is not an error); counted and announced as a profile
    /// change when there was one.
    pub async fn remove_avatar(&self, user_id: Uuid) -> Result<UserRecord, ApiError> {
        let user = self.own_account(user_id).await?;
        if user.avatar.is_none() {
            return Ok(user);
        }
        self.count_profile_change(user_id).await?;
        if !self.store.remove_avatar(user_id).await? {
            return Err(gone());
        }
        let user = self.own_account(user_id).await?;
        self.announce_profile_change(&user).await;
        Ok(user)
    }

    /// A user's picture; `not_found` when they have none, or there is no such user.
    pub async fn avatar(&self, user_id: Uuid) -> Result<Avatar, ApiError> {
        self.store.avatar(user_id).await?.ok_or_else(no_picture)
    }
}
