//! Presence and typing, kept in the shared key-value store so every instance agrees.
//!
//! - `user:online:{userId}`: present while the user has a socket on any instance; 5-minute TTL,
//!   refreshed periodically by every instance holding one of the user's sockets.
//! - `user:sockets:{userId}`: how many sockets the user has across instances (incremented on
//!   connect, decremented on disconnect); the user goes offline when it reaches zero. It has the
//!   same TTL and refresh, so counts of an instance that crashed eventually expire.
//! - `user:lastseen:{userId}`: RFC 3339 time of the last disconnect (kept without expiry).
//! - `chat:{chatId}:typing:{userId}`: the seed's typing key, made per user so several members can
//!   type at once; 3-second TTL. `…:throttle` limits `user_typing` broadcasts.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::kv::{KvResult, SharedKv};
use dashmap::DashMap;

use crate::config::Limits;

#[derive(Clone)]
pub struct Presence {
    kv: SharedKv,
    limits: Limits,
    /// This instance's socket count per user (what the refresh task keeps alive).
    local: Arc<DashMap<String, usize>>,
}

fn online_key(user: &str) -> String {
    format!("user:online:{user}")
}
fn sockets_key(user: &str) -> String {
    format!("user:sockets:{user}")
}
fn last_seen_key(user: &str) -> String {
    format!("user:lastseen:{user}")
}
pub fn typing_key(chat: &str, user: &str) -> String {
    format!("chat:{chat}:typing:{user}")
}

impl Presence {
    pub fn new(kv: SharedKv, limits: Limits) -> Self {
        Self {
            kv,
            limits,
            local: Arc::new(DashMap::new()),
        }
    }

    /// A socket of `user` connected; true when the user just came online.
    pub async fn connected(&self, user: &str) -> KvResult<bool> {
        *self.local.entry(user.to_owned()).or_insert(0) += 1;
        let ttl = self.limits.presence_ttl;
        let n = self.kv.incr(&sockets_key(user), 1, ttl).await?;
        self.kv.expire(&sockets_key(user), ttl).await?;
        self.kv.set(&online_key(user), "1", Some(ttl)).await?;
        Ok(n == 1)
    }

    /// A socket of `user` went away; `Some(lastSeen)` when it was the user's last one.
    pub async fn disconnected(&self, user: &str) -> KvResult<Option<DateTime<Utc>>> {
        let gone_locally = match self.local.get_mut(user) {
            Some(mut n) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            None => true,
        };
        if gone_locally {
            self.local.remove_if(user, |_, n| *n == 0);
        }
        let n = self
            .kv
            .incr(&sockets_key(user), -1, self.limits.presence_ttl)
            .await?;
        if n > 0 {
            return Ok(None);
        }
        let now = Utc::now();
        self.kv.del(&sockets_key(user)).await?;
        self.kv.del(&online_key(user)).await?;
        self.kv
            .set(&last_seen_key(user), &now.to_rfc3339(), None)
            .await?;
        Ok(Some(now))
    }

    pub async fn is_online(&self, user: &str) -> KvResult<bool> {
        Ok(self.kv.get(&online_key(user)).await?.is_some())
    }

    /// Which of `users` are online, in one round trip to the store.
    pub async fn online_among(&self, users: &[String]) -> KvResult<Vec<String>> {
        let keys: Vec<String> = users.iter().map(|u| online_key(u)).collect();
        let values = self.kv.get_many(&keys).await?;
        Ok(users
            .iter()
            .zip(values)
            .filter(|(_, v)| v.is_some())
            .map(|(u, _)| u.clone())
            .collect())
    }

    pub async fn last_seen(&self, user: &str) -> KvResult<Option<DateTime<Utc>>> {
        Ok(self
            .kv
            .get(&last_seen_key(user))
            .await?
            .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
            .map(|d| d.with_timezone(&Utc)))
    }

    /// Extends the presence keys of every user with a socket on this instance.
    pub async fn refresh(&self) {
        let users: Vec<String> = self.local.iter().map(|e| e.key().clone()).collect();
        let ttl = self.limits.presence_ttl;
        for user in users {
            let online = self.kv.set(&online_key(&user), "1", Some(ttl)).await;
            let count = self.kv.expire(&sockets_key(&user), ttl).await;
            if let Err(e) = online.and(count) {
                tracing::warn!(error = %e, "presence refresh failed");
            }
        }
    }

    /// Runs [`Presence::refresh`] every `presence_refresh` until the task is aborted.
    pub fn spawn_refresh(&self) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let every = self.limits.presence_refresh.max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                me.refresh().await;
            }
        })
    }

    /// Records that `user` is typing in `chat`; true when a `user_typing` should be broadcast
    /// (at most once per throttle interval).
    pub async fn typing(&self, chat: &str, user: &str) -> KvResult<bool> {
        let key = typing_key(chat, user);
        self.kv.set(&key, "1", Some(self.limits.typing_ttl)).await?;
        self.kv
            .set_nx(&format!("{key}:throttle"), "1", self.limits.typing_throttle)
            .await
    }

    pub async fn is_typing(&self, chat: &str, user: &str) -> KvResult<bool> {
        Ok(self.kv.get(&typing_key(chat, user)).await?.is_some())
    }
}
