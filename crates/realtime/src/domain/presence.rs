//! Presence and typing, kept in the shared key-value store so every instance agrees.
//!
//! - `user:online:{userId}`: present while the user has a socket on any instance; 5-minute TTL,
//!   renewed every minute by every instance holding one of the user's sockets (renewed only:
//!   the refresh never sets a key that is gone).
//! - `user:sockets:{userId}`: how many sockets the user has across instances (incremented on
//!   connect, decremented on disconnect); the user goes offline when it reaches zero. It has the
//!   same TTL and refresh, so counts of an instance that crashed eventually expire.
//! - `user:lastseen:{userId}`: RFC 3339 time of the last disconnect (kept without expiry).
//! - `chat:{chatId}:typing:{userId}`: the seed's typing key, made per user so several members can
//!   type at once; 3-second TTL. `…:throttle` limits `user_typing` broadcasts.
//!
//! An instance that dies without closing its sockets (a crash, a kill, a lost host) cannot take
//! its sockets off `user:sockets:*`, and the instances still up keep those counts alive while
//! they hold another socket of the same user, who would then never go offline. So each instance
//! keeps a ledger of its part of the counts, and the others take a dead instance's part off:
//! - `realtime:instances`: the registry, a hash of instance ids;
//! - `realtime:instance:{id}`: present while the instance is up (`INSTANCE_TTL_SECS`, 30 s,
//!   renewed every third of it);
//! - `realtime:instance:{id}:sockets`: its ledger, a hash of user id → sockets on it;
//! - `realtime:instance:{id}:reaping`: the claim of the instance taking a dead one's part off.
//!
//! An instance whose own key lapsed (the store was unreachable or lost its data) has been taken
//! for dead, or soon will be: it registers again under a fresh id and puts its sockets back. One
//! that stops gracefully deletes its key as it goes ([`Presence::leave`]), so another instance
//! takes what it left at once, not a TTL later.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::kv::{KvResult, SharedKv};
use dashmap::DashMap;
use futures::{StreamExt, TryStreamExt, stream};
use tokio::sync::RwLock;

use crate::config::Limits;

#[derive(Clone)]
pub struct Presence {
    kv: SharedKv,
    limits: Limits,
    /// This instance's socket count per user (what the refresh task keeps alive).
    local: Arc<DashMap<String, usize>>,
    /// This instance's id in the registry. Socket bookkeeping holds it shared; a fresh
    /// registration, exclusively, so that no socket is counted under both ids or under neither.
    instance: Arc<RwLock<String>>,
    /// Set by [`Presence::leave`]: this instance counts nothing more.
    left: Arc<AtomicBool>,
}

const REGISTRY: &str = "realtime:instances";
/// How long an instance's claim on a dead one's ledger holds before another may take over.
const REAP_CLAIM: Duration = Duration::from_secs(60);
/// Users whose keys a re-registration or a reap updates at once: each user's few commands run in
/// order, and the users' interleave on the store's one connection, pipelined, rather than
/// waiting a round trip each (at 19k users, seconds).
const KV_IN_FLIGHT: usize = 64;
/// Most users whose keys one round trip of [`Presence::refresh`] renews.
pub const REFRESH_BATCH: usize = 1000;

fn alive_key(instance: &str) -> String {
    format!("realtime:instance:{instance}")
}
fn ledger_key(instance: &str) -> String {
    format!("realtime:instance:{instance}:sockets")
}
fn reaping_key(instance: &str) -> String {
    format!("realtime:instance:{instance}:reaping")
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
            instance: Arc::new(RwLock::new(uuid::Uuid::new_v4().to_string())),
            left: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Enters this instance in the registry; before any socket is counted under its id.
    pub async fn register(&self) -> KvResult<()> {
        let id = self.instance.read().await;
        self.enter(&id).await
    }

    async fn enter(&self, id: &str) -> KvResult<()> {
        self.kv.hash_incr(REGISTRY, id, 1).await?;
        self.kv
            .set(&alive_key(id), "1", Some(self.limits.instance_ttl))
            .await
    }

    /// A socket of `user` connected; true when the user just came online.
    pub async fn connected(&self, user: &str) -> KvResult<bool> {
        let id = self.instance.read().await;
        if self.has_left() {
            return Ok(false);
        }
        *self.local.entry(user.to_owned()).or_insert(0) += 1;
        // The ledger first: should this instance die in between, its part taken off by another
        // goes one too far, which leaves the user offline (until they connect again), not online
        // for good.
        self.kv.hash_incr(&ledger_key(&id), user, 1).await?;
        let ttl = self.limits.presence_ttl;
        let n = self.kv.incr(&sockets_key(user), 1, ttl).await?;
        self.kv.expire(&sockets_key(user), ttl).await?;
        self.kv.set(&online_key(user), "1", Some(ttl)).await?;
        Ok(n == 1)
    }

    /// A socket of `user` went away; `Some(lastSeen)` when it was the user's last one.
    pub async fn disconnected(&self, user: &str) -> KvResult<Option<DateTime<Utc>>> {
        let id = self.instance.read().await;
        if self.has_left() {
            return Ok(None);
        }
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
        self.kv.hash_incr(&ledger_key(&id), user, -1).await?;
        if n > 0 {
            return Ok(None);
        }
        self.went_offline(user).await.map(Some)
    }

    async fn went_offline(&self, user: &str) -> KvResult<DateTime<Utc>> {
        let now = Utc::now();
        self.kv.del(&sockets_key(user)).await?;
        self.kv.del(&online_key(user)).await?;
        self.kv
            .set(&last_seen_key(user), &now.to_rfc3339(), None)
            .await?;
        Ok(now)
    }

    /// Renews this instance's key. If it had lapsed, registers again under a fresh id and puts
    /// this instance's sockets back in the counts (its old part is, or will be, taken off as a
    /// dead instance's); returns the users that this brought back online.
    pub async fn heartbeat(&self) -> KvResult<Vec<String>> {
        let ttl = self.limits.instance_ttl;
        if self.has_left()
            || self
                .kv
                .expire(&alive_key(&self.instance.read().await), ttl)
                .await?
        {
            return Ok(Vec::new());
        }
        let mut id = self.instance.write().await;
        if self.has_left() {
            return Ok(Vec::new());
        }
        let fresh = uuid::Uuid::new_v4().to_string();
        self.enter(&fresh).await?;
        tracing::warn!(
            old = %id,
            new = %fresh,
            "this instance's presence key had lapsed; registered again"
        );
        *id = fresh;
        let mine: Vec<(String, i64)> = self
            .local
            .iter()
            .filter(|e| *e.value() > 0)
            .map(|e| {
                (
                    e.key().clone(),
                    i64::try_from(*e.value()).unwrap_or(i64::MAX),
                )
            })
            .collect();
        let ledger = ledger_key(&id);
        let back: Vec<Option<String>> = stream::iter(mine)
            .map(|(user, n)| self.put_back(&ledger, user, n))
            .buffer_unordered(KV_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(back.into_iter().flatten().collect())
    }

    /// Counts `n` sockets of `user` under this instance's fresh `ledger`; the user if this
    /// brought them back online.
    async fn put_back(&self, ledger: &str, user: String, n: i64) -> KvResult<Option<String>> {
        let ttl = self.limits.presence_ttl;
        self.kv.hash_incr(ledger, &user, n).await?;
        let total = self.kv.incr(&sockets_key(&user), n, ttl).await?;
        self.kv.set(&online_key(&user), "1", Some(ttl)).await?;
        Ok((total == n).then_some(user))
    }

    /// Takes the part of every dead instance (in the registry, its key gone) off the counts;
    /// returns the users that went offline with it and when.
    pub async fn reap(&self) -> KvResult<Vec<(String, DateTime<Utc>)>> {
        let me = self.instance.read().await.clone();
        if self.has_left() {
            return Ok(Vec::new());
        }
        let mut gone = Vec::new();
        for (dead, _) in self.kv.hash_all(REGISTRY).await? {
            if dead == me || self.kv.get(&alive_key(&dead)).await?.is_some() {
                continue;
            }
            if !self.kv.set_nx(&reaping_key(&dead), &me, REAP_CLAIM).await? {
                continue;
            }
            tracing::warn!(
                instance = %dead,
                "an instance is gone; taking its sockets off presence"
            );
            let ledger = ledger_key(&dead);
            let taken: Vec<_> = stream::iter(self.kv.hash_all(&ledger).await?)
                .map(|(user, n)| self.take_off(&ledger, user, n))
                .buffer_unordered(KV_IN_FLIGHT)
                .try_collect()
                .await?;
            gone.extend(taken.into_iter().flatten());
            self.kv.del(&ledger).await?;
            self.kv.hash_incr(REGISTRY, &dead, -1).await?;
        }
        Ok(gone)
    }

    /// Takes the `n` sockets a dead instance's `ledger` holds of `user` off the count; the user
    /// and when, if this took them offline.
    async fn take_off(
        &self,
        ledger: &str,
        user: String,
        n: i64,
    ) -> KvResult<Option<(String, DateTime<Utc>)>> {
        let left = self
            .kv
            .incr(&sockets_key(&user), -n, self.limits.presence_ttl)
            .await?;
        // Off the ledger as it goes, so an instance taking over a lapsed claim does not take it
        // off twice.
        self.kv.hash_incr(ledger, &user, -n).await?;
        if left > 0 {
            return Ok(None);
        }
        let at = self.went_offline(&user).await?;
        Ok(Some((user, at)))
    }

    /// At a graceful stop, before the sockets are closed: this instance counts nothing more,
    /// and gives up its key, so that another instance takes this one's part of the counts off
    /// presence at its next watch, as it does a dead instance's, and tells the contacts of those
    /// who went offline with it. The disconnects themselves cannot be relied on for that: their
    /// announcements would go through an adapter that is closing, and the process may end
    /// before they all have run. Bookkeeping under way finishes first.
    pub async fn leave(&self) -> KvResult<()> {
        let id = self.instance.write().await;
        self.left.store(true, Ordering::SeqCst);
        self.local.clear();
        self.kv.del(&alive_key(&id)).await.map(|_| ())
    }

    fn has_left(&self) -> bool {
        self.left.load(Ordering::SeqCst)
    }

    pub async fn is_online(&self, user: &str) -> KvResult<bool> {
        Ok(self.kv.get(&online_key(user)).await?.is_some())
    }

    /// Which of `users` are online, in one round trip to the store.
    pub async fn online_among(&self, users: &[String]) -> KvResult<Vec<String>> {
        let online = self.are_online(users).await?;
        Ok(users
            .iter()
            .zip(online)
            .filter(|(_, online)| *online)
            .map(|(u, _)| u.clone())
            .collect())
    }

    /// Whether each of `users` is online, in one round trip to the store.
    pub async fn are_online(&self, users: &[String]) -> KvResult<Vec<bool>> {
        let keys: Vec<String> = users.iter().map(|u| online_key(u)).collect();
        let values = self.kv.get_many(&keys).await?;
        Ok(values.iter().map(Option::is_some).collect())
    }

    pub async fn last_seen(&self, user: &str) -> KvResult<Option<DateTime<Utc>>> {
        Ok(self
            .kv
            .get(&last_seen_key(user))
            .await?
            .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
            .map(|d| d.with_timezone(&Utc)))
    }

    /// Extends the presence keys of every user with a socket on this instance, a round trip per
    /// [`REFRESH_BATCH`] users. It only extends: a key that is gone stays gone, so a user whose
    /// last socket left while the refresh ran is not brought back online by it.
    pub async fn refresh(&self) {
        let users: Vec<String> = self.local.iter().map(|e| e.key().clone()).collect();
        for some in users.chunks(REFRESH_BATCH) {
            let keys: Vec<String> = some
                .iter()
                .flat_map(|u| [online_key(u), sockets_key(u)])
                .collect();
            if let Err(e) = self.kv.expire_many(&keys, self.limits.presence_ttl).await {
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
