//! Managing one's own account: the profile, the password (changed, or reset with an emailed
//! code), the sessions signed in to it, and deleting it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError, ValidationErrors};

use super::auth::{validate_display_name, validate_otp_code, validate_password};
use super::present;

/// Largest profile picture accepted (`PUT /api/users/me/avatar`): 256 KiB, ample for the
/// 256×256 picture the PWA makes of whatever image the user picks.
pub const MAX_AVATAR_BYTES: usize = crate::pictures::MAX_PICTURE_BYTES;

/// The types a profile picture may have: images every browser decodes, none of them scriptable
/// (no SVG).
pub const AVATAR_CONTENT_TYPES: [&str; 3] = crate::pictures::PICTURE_CONTENT_TYPES;

/// Longest `User-Agent` a session keeps (longer ones are cut at a character boundary).
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// One session signed in to the caller's account (`GET /api/auth/sessions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: String,
    /// The session the request was made in.
    pub current: bool,
    #[serde(with = "super::time::millis")]
    pub created_at: DateTime<Utc>,
    /// When it last signed in or refreshed its access token.
    #[serde(with = "super::time::millis")]
    pub last_active_at: DateTime<Utc>,
    /// The `User-Agent` it signed in with, if it sent one.
    pub user_agent: Option<String>,
}

/// `GET /api/auth/sessions`: most recently active first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionsResponse {
    pub sessions: Vec<SessionView>,
}

/// How many other sessions a request signed out (`DELETE /api/auth/sessions`,
/// `POST /api/auth/password`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokedResponse {
    pub revoked: u32,
}

/// `POST /api/auth/password`: a signed-in user changes their password.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordRequest {
    #[validate(length(min = 1, max = 1024, message = "must be 1-1024 bytes"))]
    #[schema(min_length = 1, format = Password)]
    pub current_password: String,
    /// 12–128 characters; the most common passwords are refused.
    #[validate(custom(function = "validate_password"))]
    #[schema(min_length = 12, max_length = 128, format = Password)]
    pub new_password: String,
}

/// `POST /api/auth/reset-password`: a new password, proven by a code mailed with
/// `POST /api/auth/request-otp`.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetPasswordRequest {
    #[validate(email(message = "must be an email address"), length(max = 254))]
    #[schema(max_length = 254, format = "email")]
    pub email: String,
    #[validate(custom(function = "validate_otp_code"))]
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
    #[validate(custom(function = "validate_password"))]
    #[schema(min_length = 12, max_length = 128, format = Password)]
    pub new_password: String,
}

/// `POST /api/auth/email`: a signed-in user asks to move their account to another address; a
/// code is mailed there.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEmailRequest {
    #[validate(email(message = "must be an email address"), length(max = 254))]
    #[schema(max_length = 254, format = "email")]
    pub new_email: String,
    /// The account's current password.
    #[validate(length(min = 1, max = 1024, message = "must be 1-1024 bytes"))]
    #[schema(min_length = 1, format = Password)]
    pub password: String,
}

/// `POST /api/auth/email/confirm`: the code mailed to the new address makes it the account's.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmEmailRequest {
    #[validate(email(message = "must be an email address"), length(max = 254))]
    #[schema(max_length = 254, format = "email")]
    pub new_email: String,
    #[validate(custom(function = "validate_otp_code"))]
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

/// `POST /api/auth/delete-account`: the signed-in user deletes their account for good, proven by
/// exactly one of the password and a code mailed with `POST /api/auth/request-otp` (for an
/// account made with Google, which has no password, or a forgotten one).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteAccountRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 1024, format = Password)]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: Option<String>,
}

impl Validate for DeleteAccountRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        match (&self.password, &self.code) {
            (Some(password), None) => {
                if password.is_empty() || password.len() > 1024 {
                    errors.add("password", invalid("length", "must be 1-1024 bytes"));
                }
            }
            (None, Some(code)) => {
                if let Err(e) = validate_otp_code(code) {
                    errors.add("code", e);
                }
            }
            _ => errors.add(
                "password",
                invalid(
                    "proof",
                    "give either the password or a code sent to your email, not both",
                ),
            ),
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn invalid(code: &'static str, message: &'static str) -> ValidationError {
    let mut e = ValidationError::new(code);
    e.message = Some(message.into());
    e
}

/// `PATCH /api/users/me`: the fields present are changed, the others kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProfileRequest {
    /// A new display name (1–64 printable characters, trimmed), or `null` to show the username
    /// instead; absent, it is kept.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 64)]
    pub display_name: Option<Option<String>>,
}

impl Validate for UpdateProfileRequest {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if let Some(Some(name)) = &self.display_name
            && let Err(e) = validate_display_name(name)
        {
            errors.add("display_name", e);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
