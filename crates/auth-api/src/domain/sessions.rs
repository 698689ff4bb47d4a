//! Sessions at `session:{id}` in the `Kv` (7 days, renewed on refresh) with a rotating refresh
//! token. The cookie carries `{session id}.{secret}`; only the secret's SHA-256 is stored. Each
//! refresh replaces the secret and remembers the old hashes, so presenting an old one again is
//! recognised as theft (RFC 9700 §4.14) and revokes the whole session. A revocation is recorded and
//! published through `common::sessions`, so realtime refuses the session's access tokens and drops
//! its sockets at once.
//!
//! A user's sessions are indexed at `sessions_of:{user id}` (a `Kv` hash with one field per
//! session id), so they can be listed and signed out together. Expired sessions leave their field
//! behind; listing prunes them, and so does one sign-in in 32, which keeps the index bounded for
//! users who never list their sessions. Signing out every other session also records a
//! cutoff (`sessions_cutoff:{user id}`: a time and the session kept): any session of that user
//! created up to then, but the one kept, is refused when it next refreshes. That covers a session
//! signed in while the others were being revoked, and sessions from before the index (indexed at
//! their next refresh).

use std::cmp::Reverse;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use common::contracts::account::SessionView;
use common::kv::SharedKv;
use common::{ApiError, ErrorCode};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::kv_err;

/// How many retired refresh hashes a session remembers for reuse detection.
const REMEMBERED: usize = 32;

/// A sign-in prunes its user's index of expired sessions once in this many (on average).
const PRUNE_ONE_IN: u32 = 32;

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    user_id: String,
    refresh_hash: String,
    #[serde(default)]
    retired: Vec<String>,
    /// Seconds since the epoch (kept for records written before `created_ms`).
    created_at: i64,
    /// Milliseconds since the epoch; 0 in records from before it was kept.
    #[serde(default)]
    created_ms: i64,
    /// When it signed in or last refreshed, in milliseconds; 0 in older records.
    #[serde(default)]
    active_ms: i64,
    #[serde(default)]
    user_agent: Option<String>,
    /// Whether the session is in its user's index (false in records from before the index).
    #[serde(default)]
    indexed: bool,
}

impl Record {
    fn created_ms(&self) -> i64 {
        if self.created_ms > 0 {
            self.created_ms
        } else {
            self.created_at.saturating_mul(1000)
        }
    }

    fn view(&self, id: &str, current: &str) -> SessionView {
        let created = self.created_ms();
        SessionView {
            id: id.to_owned(),
            current: id == current,
            created_at: time(created),
            last_active_at: time(self.active_ms.max(created)),
            user_agent: self.user_agent.clone(),
        }
    }
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `sessions_cutoff:{user}`: sessions created at or before `at_ms`, but `kept`, are over.
#[derive(Debug, Serialize, Deserialize)]
struct Cutoff {
    at_ms: i64,
    kept: String,
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

fn index_key(user_id: &str) -> String {
    format!("sessions_of:{user_id}")
}

fn cutoff_key(user_id: &str) -> String {
    format!("sessions_cutoff:{user_id}")
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
    if well_formed(id) && well_formed(secret) {
        Ok((id, secret))
    } else {
        Err(unauthorized())
    }
}

/// A session id or secret: 1–64 base64url characters.
fn well_formed(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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

    /// Starts a session for `user_id`, signed in from `user_agent`; returns (session id, refresh
    /// token for the cookie).
    pub async fn create(
        &self,
        user_id: &str,
        user_agent: Option<String>,
    ) -> Result<(String, String), ApiError> {
        let id = random(18);
        let secret = random(32);
        let now = now_ms();
        let record = Record {
            user_id: user_id.to_owned(),
            refresh_hash: hash(&secret),
            retired: Vec::new(),
            created_at: now / 1000,
            created_ms: now,
            active_ms: now,
            user_agent,
            indexed: true,
        };
        // Indexed before it exists, so no moment has a live session that is not listed.
        self.index(user_id, &id).await?;
        self.save(&id, &record).await?;
        // Expired sessions leave their index fields behind. One sign-in in `PRUNE_ONE_IN` clears
        // them: pruning reads every session of the user, which on each sign-in would make an
        // account signed in often (a bot, a load test) pay for all its sessions every time.
        if rand::random::<u32>().is_multiple_of(PRUNE_ONE_IN) {
            self.live_records(user_id).await?;
        }
        Ok((id.clone(), format!("{id}.{secret}")))
    }

    async fn index(&self, user_id: &str, id: &str) -> Result<(), ApiError> {
        self.kv
            .hash_incr(&index_key(user_id), id, 1)
            .await
            .map(drop)
            .map_err(kv_err)
    }

    async fn unindex(&self, user_id: &str, id: &str) -> Result<(), ApiError> {
        // The field goes at 0 or below, so removing twice does no harm.
        self.kv
            .hash_incr(&index_key(user_id), id, -1)
            .await
            .map(drop)
            .map_err(kv_err)
    }

    /// The user's sessions that still exist, with their records; prunes the index of the others.
    async fn live_records(&self, user_id: &str) -> Result<Vec<(String, Record)>, ApiError> {
        let ids: Vec<String> = self
            .kv
            .hash_all(&index_key(user_id))
            .await
            .map_err(kv_err)?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let keys: Vec<String> = ids.iter().map(|id| key(id)).collect();
        let raws = self.kv.get_many(&keys).await.map_err(kv_err)?;
        let mut live = Vec::with_capacity(ids.len());
        for (id, raw) in ids.into_iter().zip(raws) {
            match raw.and_then(|r| serde_json::from_str::<Record>(&r).ok()) {
                Some(record) if record.user_id == user_id => live.push((id, record)),
                _ => self.unindex(user_id, &id).await?,
            }
        }
        Ok(live)
    }

    /// Whether a cutoff (signing out every other session) ended this session.
    async fn cut_off(&self, id: &str, record: &Record) -> Result<bool, ApiError> {
        let raw = self
            .kv
            .get(&cutoff_key(&record.user_id))
            .await
            .map_err(kv_err)?;
        let Some(cutoff) = raw.and_then(|r| serde_json::from_str::<Cutoff>(&r).ok()) else {
            return Ok(false);
        };
        Ok(cutoff.kept != id && record.created_ms() <= cutoff.at_ms)
    }

    /// Loads a session for a request presenting its refresh token: the secret must be the
    /// current one, and the session must not be cut off.
    async fn checked(&self, id: &str, secret: &str) -> Result<Record, ApiError> {
        let record = self.load(id).await?.ok_or_else(unauthorized)?;
        let presented = hash(secret);
        if !bool::from(presented.as_bytes().ct_eq(record.refresh_hash.as_bytes())) {
            if record.retired.contains(&presented) {
                tracing::warn!(session = %id, user = %record.user_id, "refresh token reuse detected; revoking the session");
                self.revoke(id).await?;
            }
            return Err(unauthorized());
        }
        if self.cut_off(id, &record).await? {
            self.revoke(id).await?;
            return Err(unauthorized());
        }
        Ok(record)
    }

    /// Checks a refresh token without rotating it (cookie-authenticated reads).
    pub async fn check(&self, token: &str) -> Result<Live, ApiError> {
        let (id, secret) = parse(token)?;
        let record = self.checked(id, secret).await?;
        Ok(Live {
            session_id: id.to_owned(),
            user_id: record.user_id,
        })
    }

    /// Rotates the refresh token. A retired token revokes the session.
    pub async fn rotate(&self, token: &str) -> Result<(Live, String), ApiError> {
        let (id, secret) = parse(token)?;
        let mut record = self.checked(id, secret).await?;
        if !record.indexed {
            self.index(&record.user_id, id).await?;
            record.indexed = true;
        }
        let next = random(32);
        let old = std::mem::replace(&mut record.refresh_hash, hash(&next));
        record.retired.push(old);
        if record.retired.len() > REMEMBERED {
            record.retired.remove(0);
        }
        record.active_ms = now_ms();
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
        let taken = self.kv.take(&key(id)).await.map_err(kv_err)?;
        if let Some(record) = taken.and_then(|r| serde_json::from_str::<Record>(&r).ok()) {
            self.unindex(&record.user_id, id).await?;
        }
        common::sessions::revoke(&*self.kv, id)
            .await
            .map_err(kv_err)
    }

    /// The user's live sessions, most recently active first; `current` is marked.
    pub async fn list(&self, user_id: &str, current: &str) -> Result<Vec<SessionView>, ApiError> {
        let mut views: Vec<SessionView> = self
            .live_records(user_id)
            .await?
            .iter()
            .map(|(id, record)| record.view(id, current))
            .collect();
        views.sort_by_key(|v| Reverse((v.last_active_at, v.created_at)));
        Ok(views)
    }

    /// Ends one of the user's sessions; another user's (or an unknown) session is `not_found`.
    pub async fn revoke_own(&self, user_id: &str, id: &str) -> Result<(), ApiError> {
        let not_found = || ApiError::new(ErrorCode::NotFound, "no such session");
        if !well_formed(id) {
            return Err(not_found());
        }
        match self.load(id).await? {
            Some(record) if record.user_id == user_id => self.revoke(id).await,
            _ => Err(not_found()),
        }
    }

    /// Ends every session of the user but `kept`; returns how many it ended. The cutoff is
    /// recorded first, so a session signed in meanwhile, which the index may not show yet, is
    /// refused at its next refresh.
    pub async fn revoke_others(&self, user_id: &str, kept: &str) -> Result<u32, ApiError> {
        let cutoff = Cutoff {
            at_ms: now_ms(),
            kept: kept.to_owned(),
        };
        let json = serde_json::to_string(&cutoff).map_err(ApiError::internal)?;
        self.kv
            .set(&cutoff_key(user_id), &json, Some(self.ttl))
            .await
            .map_err(kv_err)?;
        let mut revoked = 0;
        for (id, _) in self.live_records(user_id).await? {
            if id != kept {
                self.revoke(&id).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// The session id inside a refresh token, if it is well-formed.
    pub fn id_of(token: &str) -> Option<&str> {
        parse(token).ok().map(|(id, _)| id)
    }
}
