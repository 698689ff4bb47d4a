//! auth-api request and response bodies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

use super::char_len;

/// The `Kv` pub/sub channel on which auth-api announces revoked sessions (logout, refresh-token
/// reuse). The payload is the bare session id (the `sid` claim of that session's access tokens);
/// realtime subscribes and disconnects the session's sockets.
pub const SESSION_REVOKED_CHANNEL: &str = "auth:session_revoked";

/// `Kv` channel on which auth-api announces a user who published a new end-to-end key (the
/// payload is their id); realtime tells their contacts (`key_changed`).
pub const KEY_CHANGED_CHANNEL: &str = "auth:key_changed";

/// `Kv` channel on which auth-api announces a changed profile (the payload is the
/// [`PublicProfile`] as it now is, JSON); realtime tells the user's contacts and other devices
/// (`profile_changed`).
pub const PROFILE_CHANGED_CHANNEL: &str = "auth:profile_changed";

/// `Kv` channel on which auth-api announces a deleted account (the payload is its id); realtime
/// takes the user out of their groups and tells their contacts (`user_deleted`).
pub const USER_DELETED_CHANNEL: &str = "auth:user_deleted";

/// `Kv` hash of deleted accounts whose groups realtime has yet to take them out of (field: the
/// user's id; value: when the account was deleted, Unix milliseconds). auth-api adds the field
/// before it deletes the account; the realtime instance that finishes the work removes it. The
/// channel only hastens the work: an instance down when it was published finds it here.
pub const DELETED_USERS_PENDING_KEY: &str = "users_deleted_pending";

/// The public view of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[schema(format = Uuid)]
    pub id: String,
    pub email: String,
    pub username: String,
    pub display_name: Option<String>,
    pub avatar: Option<String>,
    /// `"email"` or `"google"`.
    pub provider: String,
    pub verified: bool,
    #[serde(with = "super::time::millis")]
    pub created_at: DateTime<Utc>,
}

/// What other users may see of an account (no email).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicProfile {
    #[schema(format = Uuid)]
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub avatar: Option<String>,
}

fn validate_username(value: &str) -> Result<(), ValidationError> {
    // 3-32 of a-z, 0-9, `_`, `.`: all ASCII, so bytes are characters.
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.';
    if (3..=32).contains(&value.len()) && value.bytes().all(allowed) {
        Ok(())
    } else {
        let mut e = ValidationError::new("username");
        e.message = Some("must be 3-32 characters of a-z, 0-9, '_' and '.'".into());
        Err(e)
    }
}

pub(crate) fn validate_password(value: &str) -> Result<(), ValidationError> {
    let n = char_len(value);
    if !(12..=128).contains(&n) {
        let mut e = ValidationError::new("length");
        e.message = Some("must be 12-128 characters".into());
        return Err(e);
    }
    Ok(())
}

pub(crate) fn validate_display_name(value: &str) -> Result<(), ValidationError> {
    let n = char_len(value.trim());
    if (1..=64).contains(&n) && !value.chars().any(char::is_control) {
        Ok(())
    } else {
        let mut e = ValidationError::new("display_name");
        e.message = Some("must be 1-64 printable characters".into());
        Err(e)
    }
}

/// `POST /api/auth/signup`.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupRequest {
    #[validate(email(message = "must be an email address"), length(max = 254))]
    #[schema(max_length = 254, format = "email")]
    pub email: String,
    #[validate(custom(function = "validate_username"))]
    #[schema(pattern = "^[a-z0-9_.]{3,32}$")]
    pub username: String,
    /// 12–128 characters of any Unicode; the server also refuses the most common passwords.
    #[validate(custom(function = "validate_password"))]
    #[schema(min_length = 12, max_length = 128, format = Password)]
    pub password: String,
    #[validate(custom(function = "validate_display_name"))]
    #[schema(min_length = 1, max_length = 64)]
    pub display_name: Option<String>,
}

/// `POST /api/auth/request-otp`.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestOtpRequest {
    #[validate(email(message = "must be an email address"), length(max = 254))]
    #[schema(max_length = 254, format = "email")]
    pub email: String,
}

pub(crate) fn validate_otp_code(value: &str) -> Result<(), ValidationError> {
    if value.len() == 6 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        let mut e = ValidationError::new("otp");
        e.message = Some("must be 6 digits".into());
        Err(e)
    }
}

/// `POST /api/auth/verify-otp`.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOtpRequest {
    #[validate(email(message = "must be an email address"), length(max = 254))]
    #[schema(max_length = 254, format = "email")]
    pub email: String,
    #[validate(custom(function = "validate_otp_code"))]
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

/// `POST /api/auth/login`; `login` is an email or a username.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    #[validate(length(min = 1, max = 254, message = "must be 1-254 characters"))]
    pub login: String,
    #[validate(length(min = 1, max = 1024, message = "must be 1-1024 bytes"))]
    #[schema(min_length = 1, format = Password)]
    pub password: String,
}

/// Returned by verify-otp, login and the OAuth callback's token fetch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub user: User,
    pub access_token: String,
    /// Seconds until `accessToken` expires.
    pub expires_in: u64,
}

/// Returned by `POST /api/auth/refresh`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
}

/// `{ "user": … }` bodies (signup, verify-me).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserResponse {
    pub user: User,
}

/// `GET /api/users/search?q=`: a username prefix.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UserSearchQuery {
    /// The start of a username (1-32 characters).
    #[param(min_length = 1, max_length = 32)]
    #[validate(length(min = 1, max = 32, message = "must be 1-32 characters"))]
    pub q: String,
}

/// Most users one `GET /api/users?ids=` asks for.
pub const MAX_PROFILE_IDS: usize = 100;

/// `GET /api/users?ids=`: the public profiles of several users in one request (a client
/// showing a group's members asks once per 100, not once per member).
#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UserProfilesQuery {
    /// 1-100 user ids (UUIDs), comma-separated.
    pub ids: String,
}

/// `GET /api/users/search` and `GET /api/users?ids=` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSearchResponse {
    pub users: Vec<PublicProfile>,
}

/// An ECDH P-256 public key as a JWK (`{"kty":"EC","crv":"P-256","x":…,"y":…}`).
/// Field presence is checked here; that the point is on the curve is checked by auth-api.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyJwk {
    #[validate(length(equal = 2, message = "must be \"EC\""))]
    pub kty: String,
    #[validate(length(equal = 5, message = "must be \"P-256\""))]
    pub crv: String,
    #[validate(length(min = 43, max = 43, message = "must be 32 bytes base64url"))]
    pub x: String,
    #[validate(length(min = 43, max = 43, message = "must be 32 bytes base64url"))]
    pub y: String,
}

/// `202` from `POST /api/auth/request-otp`: a fixed message, whatever the email (no account
/// enumeration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageResponse {
    pub message: String,
}

/// `PUT /api/users/me/keys` and `GET /api/users/{id}/keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyBody {
    #[validate(nested)]
    pub public_key: PublicKeyJwk,
}

/// `GET /api/users/keys?ids=` response: the published keys of those of the users that have one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeysResponse {
    pub keys: Vec<UserPublicKey>,
}

/// One user's published end-to-end key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPublicKey {
    #[schema(format = Uuid)]
    pub user_id: String,
    pub public_key: PublicKeyJwk,
}

/// Fewest PBKDF2 iterations a key backup may use (OWASP's 2023 figure for PBKDF2-HMAC-SHA256 is
/// 600,000; this floor refuses the clearly weak, and leaves the cost to the client).
pub const MIN_BACKUP_ITERATIONS: u32 = 100_000;
/// Most PBKDF2 iterations a key backup may use: restoring it must stay feasible on a phone.
pub const MAX_BACKUP_ITERATIONS: u32 = 10_000_000;

fn validate_b64(value: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    let ok = (min..=max).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if ok {
        Ok(())
    } else {
        let mut e = ValidationError::new("base64");
        e.message = Some(format!("must be {min}-{max} characters of base64").into());
        Err(e)
    }
}

fn validate_backup_salt(value: &str) -> Result<(), ValidationError> {
    validate_b64(value, 22, 88)
}

fn validate_backup_iv(value: &str) -> Result<(), ValidationError> {
    validate_b64(value, 16, 16)
}

fn validate_backup_ciphertext(value: &str) -> Result<(), ValidationError> {
    validate_b64(value, 24, 1024)
}

fn validate_backup_kdf(value: &str) -> Result<(), ValidationError> {
    if value == "PBKDF2-SHA256" {
        Ok(())
    } else {
        let mut e = ValidationError::new("kdf");
        e.message = Some("must be \"PBKDF2-SHA256\"".into());
        Err(e)
    }
}

/// A user's private key as the client wrapped it: AES-256-GCM under a key derived from a recovery
/// passphrase by PBKDF2-HMAC-SHA256. The server stores it opaque and never sees the passphrase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WrappedKey {
    /// `"PBKDF2-SHA256"`.
    #[validate(custom(function = "validate_backup_kdf"))]
    pub kdf: String,
    #[validate(range(min = MIN_BACKUP_ITERATIONS, max = MAX_BACKUP_ITERATIONS))]
    pub iterations: u32,
    /// Base64, 16 bytes or more.
    #[validate(custom(function = "validate_backup_salt"))]
    pub salt: String,
    /// Base64 of the 12-byte GCM nonce.
    #[validate(custom(function = "validate_backup_iv"))]
    pub iv: String,
    /// Base64 of the sealed PKCS #8 private key and its tag.
    #[validate(custom(function = "validate_backup_ciphertext"))]
    pub ciphertext: String,
}

/// `PUT` and `GET /api/users/me/key-backup`: the public key published and its private key,
/// wrapped, stored together so a backup always opens the key the directory gives out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyBackupBody {
    #[validate(nested)]
    pub public_key: PublicKeyJwk,
    #[validate(nested)]
    pub backup: WrappedKey,
}
