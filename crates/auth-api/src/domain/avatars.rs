//! Profile pictures: one per account, set and removed by its owner, read by anyone who can read
//! the profile. The account's `avatar` is the picture's URL, which names the version (a digest
//! of the bytes), so a new picture is a new URL and a URL's bytes never change.
//!
//! The bytes are checked to be what their `Content-Type` says, one of the types every browser
//! decodes and none can run (`AVATAR_CONTENT_TYPES`: no SVG). Past that they are not decoded:
//! they are served with that type and `nosniff`, so a browser only ever shows them as an image.

use common::contracts::account::{AVATAR_CONTENT_TYPES, MAX_AVATAR_BYTES};
use common::{ApiError, ErrorCode};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::AuthService;
use super::account::gone;
use crate::ports::{Avatar, UserRecord};

/// The URL a picture of this version is served at.
pub fn avatar_url(user_id: Uuid, version: &str) -> String {
    format!("/api/users/{user_id}/avatar?v={version}")
}

/// The image type the bytes start like, of those accepted.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

pub fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("a profile picture may be at most {MAX_AVATAR_BYTES} bytes"),
    )
}

fn no_picture() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such picture")
}

/// The picture's type, if the bytes are an accepted image and `declared` (the request's
/// `Content-Type`, parameters ignored) says the same.
fn checked_type(declared: Option<&str>, bytes: &[u8]) -> Result<&'static str, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::field(
            "body",
            "is empty: send the picture's bytes",
        ));
    }
    if bytes.len() > MAX_AVATAR_BYTES {
        return Err(too_large());
    }
    let declared = declared
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    match sniff(bytes) {
        Some(found) if declared.as_deref() == Some(found) => Ok(found),
        Some(found) => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "the picture is {found}, but was sent as {}",
                declared.as_deref().unwrap_or("no type")
            ),
        )),
        None => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "a profile picture must be one of {}",
                AVATAR_CONTENT_TYPES.join(", ")
            ),
        )),
    }
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
        let content_type = checked_type(declared, &bytes)?;
        self.count_profile_change(user_id).await?;
        let version = hex::encode(&Sha256::digest(&bytes)[..8]);
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

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn the_bytes_must_be_the_declared_accepted_type() {
        assert_eq!(checked_type(Some("image/png"), PNG), Ok("image/png"));
        assert_eq!(
            checked_type(Some("Image/PNG; charset=x"), PNG),
            Ok("image/png")
        );
        assert_eq!(
            checked_type(Some("image/jpeg"), &[0xFF, 0xD8, 0xFF, 0xE0]),
            Ok("image/jpeg")
        );
        assert_eq!(
            checked_type(Some("image/webp"), b"RIFF\x10\0\0\0WEBPVP8 "),
            Ok("image/webp")
        );
        let code = |declared, bytes| checked_type(declared, bytes).unwrap_err().code();
        assert_eq!(
            code(Some("image/jpeg"), PNG),
            ErrorCode::UnsupportedMediaType
        );
        assert_eq!(code(None, PNG), ErrorCode::UnsupportedMediaType);
        assert_eq!(
            code(Some("image/svg+xml"), b"<svg onload=alert(1)>"),
            ErrorCode::UnsupportedMediaType
        );
        assert_eq!(
            code(Some("image/gif"), b"GIF89a"),
            ErrorCode::UnsupportedMediaType
        );
        assert_eq!(
            code(Some("image/webp"), b"RIFF"),
            ErrorCode::UnsupportedMediaType
        );
        assert_eq!(code(Some("image/png"), b""), ErrorCode::ValidationFailed);
        let mut big = PNG.to_vec();
        big.resize(MAX_AVATAR_BYTES + 1, 0);
        assert_eq!(code(Some("image/png"), &big), ErrorCode::PayloadTooLarge);
        big.truncate(MAX_AVATAR_BYTES);
        assert_eq!(checked_type(Some("image/png"), &big), Ok("image/png"));
    }
}
