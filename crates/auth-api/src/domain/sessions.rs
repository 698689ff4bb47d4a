//! Sessions at `session:{id}` in the `Kv` (7 days, renewed on refresh) with a rotating refresh
//! token. The cookie carries `{session id}.{secret}`; only the secret's SHA-256 is stored. Each
//! refresh replaces the secret and remembers the old hashes, so presenting an old one again is
//! recognised as theft (RFC 9700 §4.14) and revokes the whole session. A revocation is recorded and
//! published through `common::sessions`, so realtime refuses the session's access tokens and drops
//! its sockets at once.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::kv::SharedKv;
use common::{ApiError, ErrorCode};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::kv_err;

/// How many retired refresh hashes a session remembers for reuse detection.
const REMEMBERED: usize = 32;

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    user_id: String,
    refresh_hash: String,
    #[serde(default)]
    retired: Vec<String>,
    created_at: i64,
}

#[derive(Clone)]
pub struct Sessions {
    kv: SharedKv,
    ttl: Duration,
}

/// A live session as seen by a request.
#[derive(Debug, Clone)]
pub struct Live {
    pub session_id: String,
    pub user_id: String,
}

fn key(id: &str) -> String {
    format!("session:{id}")
}

fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn unauthorized() -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, "no valid session")
}

/// Splits a cookie value into (session id, secret), refusing anything malformed.
fn parse(token: &str) -> Result<(&str, &str), ApiError> {
    let (id, secret) = token.split_once('.').ok_or_else(unauthorized)?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if ok(id) && ok(secret) {
        Ok((id, secret))
    } else {
        Err(unauthorized())
    }
}

impl Sessions {
    pub fn new(kv: SharedKv, ttl: Duration) -> Self {
        Self { kv, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    async fn load(&self, id: &str) -> Result<Option<Record>, ApiError> {
        let raw = self.kv.get(&key(id)).await.map_err(kv_err)?;
        Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
    }

    async fn save(&self, id: &str, record: &Record) -> Result<(), ApiError> {
        let json = serde_json::to_string(record).map_err(ApiError::internal)?;
        self.kv
            .set(&key(id), &json, Some(self.ttl))
            .await
            .map_err(kv_err)
    }

    /// Starts a session; returns (session id, refresh token for the cookie).
    pub async fn create(&self, user_id: &str) -> Result<(String, String), ApiError> {
        let id = random(18);
        let secret = random(32);
        let record = Record {
            user_id: user_id.to_owned(),
            refresh_hash: hash(&secret),
            retired: Vec::new(),
            created_at: super::now(),
        };
        self.save(&id, &record).await?;
        Ok((id.clone(), format!("{id}.{secret}")))
    }

    /// Checks a refresh token without rotating it (cookie-authenticated reads).
    pub async fn check(&self, token: &str) -> Result<Live, ApiError> {
        let (id, secret) = parse(token)?;
        let record = self.load(id).await?.ok_or_else(unauthorized)?;
        if bool::from(
            hash(secret)
                .as_bytes()
                .ct_eq(record.refresh_hash.as_bytes()),
        ) {
            Ok(Live {
                session_id: id.to_owned(),
                user_id: record.user_id,
            })
        } else {
            Err(unauthorized())
        }
    }

    /// Rotates the refresh token. A retired token revokes the session.
    pub async fn rotate(&self, token: &str) -> Result<(Live, String), ApiError> {
        let (id, secret) = parse(token)?;
        let mut record = self.load(id).await?.ok_or_else(unauthorized)?;
        let presented = hash(secret);
        if !bool::from(presented.as_bytes().ct_eq(record.refresh_hash.as_bytes())) {
            if record.retired.contains(&presented) {
                tracing::warn!(session = %id, user = %record.user_id, "refresh token reuse detected; revoking the session");
                self.revoke(id).await?;
            }
            return Err(unauthorized());
        }
        let next = random(32);
        let old = std::mem::replace(&mut record.refresh_hash, hash(&next));
        record.retired.push(old);
        if record.retired.len() > REMEMBERED {
            record.retired.remove(0);
        }
        self.save(id, &record).await?;
        Ok((
            Live {
                session_id: id.to_owned(),
                user_id: record.user_id,
            },
            format!("{id}.{next}"),
        ))
    }

    /// Whether the session still exists (access tokens of a revoked session stop working here).
    pub async fn is_live(&self, id: &str) -> Result<bool, ApiError> {
        Ok(self.kv.get(&key(id)).await.map_err(kv_err)?.is_some())
    }

    /// Ends a session: its access tokens are refused by realtime from now on, and its live sockets
    /// are dropped (`common::sessions`).
    pub async fn revoke(&self, id: &str) -> Result<(), ApiError> {
        self.kv.del(&key(id)).await.map_err(kv_err)?;
        common::sessions::revoke(&*self.kv, id)
            .await
            .map_err(kv_err)
    }

    /// The session id inside a refresh token, if it is well-formed.
    pub fn id_of(token: &str) -> Option<&str> {
        parse(token).ok().map(|(id, _)| id)
    }
}
