//! The ports the domain needs from the outside world. Ephemeral state (OTP codes, sessions, rate
//! limits, OAuth state) goes through common's `Kv` port; durable accounts through [`UserStore`];
//! email through [`Mailer`]. Each trait has one contract test suite run against every adapter.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An account as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub password_hash: Option<String>,
    pub display_name: Option<String>,
    /// The URL of the stored picture (`/api/users/<id>/avatar?v=<version>`), if there is one.
    pub avatar: Option<String>,
    /// `email` or `google`: how the account was created.
    pub provider: String,
    pub provider_id: Option<String>,
    pub verified: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What creating an account needs; email must already be lower-cased.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub username: String,
    pub password_hash: Option<String>,
    pub display_name: Option<String>,
    pub provider: String,
    pub provider_id: Option<String>,
    pub verified: bool,
}

/// A user's profile picture as stored: its bytes, their type (one of
/// `AVATAR_CONTENT_TYPES`, checked against the bytes) and the version its URL names.
#[derive(Debug, Clone, PartialEq)]
pub struct Avatar {
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("email already registered")]
    EmailTaken,
    #[error("username already registered")]
    UsernameTaken,
    #[error("identity already linked")]
    IdentityTaken,
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Durable accounts, external identities and the public-key directory.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// `"postgres"` or `"sqlite"`, for start-up logs.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;
    /// Inserts a user; a duplicate email or username is reported as such.
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRecord>;
    async fn find_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>>;
    /// The users with these ids, in no particular order; unknown ids are left out.
    async fn find_by_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<UserRecord>>;
    async fn find_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    async fn find_by_username(&self, username: &str) -> StoreResult<Option<UserRecord>>;
    async fn mark_verified(&self, id: Uuid) -> StoreResult<()>;
    /// Replaces the display name (`None` clears it); false when there is no such user.
    async fn set_display_name(&self, id: Uuid, display_name: Option<&str>) -> StoreResult<bool>;
    /// Stores (or replaces) the user's picture and sets the account's `avatar` to `url`, both
    /// or neither; false when there is no such user.
    async fn set_avatar(&self, id: Uuid, avatar: &Avatar, url: &str) -> StoreResult<bool>;
    /// Deletes the user's picture, if any, and clears the account's `avatar`; false when there
    /// is no such user.
    async fn remove_avatar(&self, id: Uuid) -> StoreResult<bool>;
    /// The user's picture, if they have one.
    async fn avatar(&self, id: Uuid) -> StoreResult<Option<Avatar>>;
    /// Replaces the email (lower-cased, proven) and marks it verified; `EmailTaken` when another
    /// account has it, false when there is no such user.
    async fn set_email(&self, id: Uuid, email: &str) -> StoreResult<bool>;
    /// Replaces the password hash (PHC string); false when there is no such user.
    async fn set_password_hash(&self, id: Uuid, password_hash: &str) -> StoreResult<bool>;
    /// Deletes the account with its linked identities, its picture and its key (and the key's
    /// backup); false when there is no such user.
    async fn delete_user(&self, id: Uuid) -> StoreResult<bool>;
    /// The user an external identity (`provider`, `subject`) is linked to.
    async fn find_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<UserRecord>>;
    async fn link_identity(&self, user_id: Uuid, provider: &str, subject: &str) -> StoreResult<()>;
    /// Users whose username starts with `prefix` (taken literally, no wildcards), by username.
    async fn search_by_username_prefix(
        &self,
        prefix: &str,
        limit: i64,
    ) -> StoreResult<Vec<UserRecord>>;
    /// Stores (or replaces) the user's ECDH public key, as JWK JSON text, with the backup of its
    /// private key (JSON text) or none: a key replaced never keeps the backup of the one before.
    async fn set_public_key(
        &self,
        user_id: Uuid,
        jwk_json: &str,
        backup_json: Option<&str>,
    ) -> StoreResult<()>;
    async fn public_key(&self, user_id: Uuid) -> StoreResult<Option<String>>;
    /// The public keys of those of `user_ids` that have one, in no particular order.
    async fn public_keys(&self, user_ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String)>>;
    /// The user's public key and the backup stored with it, if it has one.
    async fn key_backup(&self, user_id: Uuid) -> StoreResult<Option<(String, String)>>;
}

/// An email to send.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
#[error("mail not sent: {0}")]
pub struct MailError(pub String);

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// `"smtp"` or `"dev-mailbox"`, for start-up logs.
    fn backend(&self) -> &'static str;
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
}
