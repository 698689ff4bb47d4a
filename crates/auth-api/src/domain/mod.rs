//! The domain core: the rules of accounts, codes, sessions and sign-in, written against the ports
//! (`UserStore`, `Mailer`) and common's `Kv`. Handlers call [`AuthService`]; nothing here knows
//! about HTTP beyond the shared error codes.

pub mod account;
pub mod accounts;
pub mod avatars;
mod deletion;
mod email_change;
pub mod keys;
pub mod oauth;
mod oauth_accounts;
pub mod otp;
pub mod password;
pub mod rate_limit;
pub mod sessions;
pub mod users;

use std::sync::Arc;

use common::contracts::auth::User;
use common::jwt::{Minter, Verifier};
use common::kv::SharedKv;
use common::{ApiError, ErrorCode};

use crate::config::Limits;
use crate::ports::{Mailer, StoreError, UserRecord, UserStore};

/// Everything the domain operations need, cheap to clone (all shared handles).
#[derive(Clone)]
pub struct AuthService {
    pub store: Arc<dyn UserStore>,
    pub kv: SharedKv,
    pub mailer: Arc<dyn Mailer>,
    pub hasher: password::Hasher,
    pub minter: Arc<Minter>,
    pub verifier: Arc<Verifier>,
    pub sessions: sessions::Sessions,
    pub otps: otp::Otps,
    /// Codes that prove a new address before it replaces an account's.
    pub email_changes: otp::Otps,
    pub limits: Limits,
}

/// What a successful sign-in yields: an access token and the session's refresh token (cookie).
#[derive(Debug, Clone)]
pub struct Issued {
    pub user: UserRecord,
    pub session_id: String,
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
}

/// Who made an authenticated request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: uuid::Uuid,
    pub session_id: String,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::EmailTaken => {
                ApiError::new(ErrorCode::EmailTaken, "this email is already registered")
            }
            StoreError::UsernameTaken => {
                ApiError::new(ErrorCode::UsernameTaken, "this username is taken")
            }
            StoreError::IdentityTaken => {
                ApiError::new(ErrorCode::Conflict, "this identity is already linked")
            }
            StoreError::Unavailable(m) => ApiError::unavailable(m),
        }
    }
}

pub(crate) fn kv_err(e: common::kv::KvError) -> ApiError {
    ApiError::unavailable(e)
}

/// The public view of a stored account.
pub fn to_user(u: &UserRecord) -> User {
    User {
        id: u.id.to_string(),
        email: u.email.clone(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        avatar: u.avatar.clone(),
        provider: u.provider.clone(),
        verified: u.verified,
        created_at: u.created_at,
    }
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
