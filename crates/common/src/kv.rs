//! The key-value port both services keep short-lived state in (OTP codes, sessions, rate-limit
//! counters, presence, typing) plus pub/sub channels (session revocations, chat changes), with
//! [`follow`] to stay subscribed across reconnections.
//!
//! Two adapters hold the same contract (see the `kv_contract` tests): [`RedisKv`] for deployments
//! with several instances, and [`MemoryKv`], an in-process TTL map for the embedded single-node mode.
//! Every key and channel is prefixed, so tests (and tenants) sharing one Redis never collide.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dashmap::DashMap;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::broadcast;

#[derive(Debug, thiserror::Error)]
#[error("key-value store unavailable: {0}")]
pub struct KvError(pub String);

pub type KvResult<T> = Result<T, KvError>;

/// A TTL key-value store with pub/sub.
#[async_trait]
pub trait Kv: Send + Sync + 'static {
    /// Which adapter this is, for start-up logs (`"redis"` or `"memory"`).
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> KvResult<()>;
    async fn get(&self, key: &str) -> KvResult<Option<String>>;
    /// The values of several keys in one round trip, in the order of `keys`.
    async fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<String>>>;
    /// Sets `key`; with `ttl` it expires, without it it stays.
    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> KvResult<()>;
    /// Sets `key` only if absent; true when it was set.
    async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> KvResult<bool>;
    /// Deletes `key`; true when it existed.
    async fn del(&self, key: &str) -> KvResult<bool>;
    /// Atomically reads and deletes `key` (single-use values such as OAuth `state`).
    async fn take(&self, key: &str) -> KvResult<Option<String>>;
    /// Adds `delta` to the integer at `key` (0 when absent) and returns the new value. The TTL is
    /// set only when the key is created, so a fixed window is not extended by later hits.
    async fn incr(&self, key: &str, delta: i64, ttl: Duration) -> KvResult<i64>;
    /// Resets the TTL of an existing key; false when the key does not exist.
    async fn expire(&self, key: &str, ttl: Duration) -> KvResult<bool>;
    /// [`Kv::expire`] on every key of `keys`, in one round trip; how many of them existed.
    async fn expire_many(&self, keys: &[String], ttl: Duration) -> KvResult<usize>;
    /// Remaining lifetime of `key`; `None` when absent or without expiry.
    async fn ttl(&self, key: &str) -> KvResult<Option<Duration>>;
    /// Adds `delta` to the integer `field` of the hash at `key` (0 when absent) and returns the
    /// new value; a field that reaches 0 or less is removed (and an empty hash with it). Hashes
    /// do not expire; [`Kv::del`] deletes one.
    async fn hash_incr(&self, key: &str, field: &str, delta: i64) -> KvResult<i64>;
    /// Every field of the hash at `key` with its value, in no particular order.
    async fn hash_all(&self, key: &str) -> KvResult<Vec<(String, i64)>>;
    /// Removes `field` from the hash at `key` (and an empty hash with it); true when it was there.
    async fn hash_del(&self, key: &str, field: &str) -> KvResult<bool>;
    async fn publish(&self, channel: &str, message: &str) -> KvResult<()>;
    /// Messages published on `channel` from now on.
    async fn subscribe(&self, channel: &str) -> KvResult<BoxStream<'static, String>>;
}

/// In-process adapter for the embedded single-node mode.
pub struct MemoryKv {
    entries: DashMap<String, (String, Option<Instant>)>,
    hashes: DashMap<String, std::collections::HashMap<String, i64>>,
    channels: DashMap<String, broadcast::Sender<String>>,
    writes: AtomicU64,
}

impl Default for MemoryKv {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryKv {
    pub fn new() -> Self {
        Self {
            entries: DashMap::new(),
            hashes: DashMap::new(),
            channels: DashMap::new(),
            writes: AtomicU64::new(0),
        }
    }

    fn live(expiry: &Option<Instant>) -> bool {
        expiry.is_none_or(|at| at > Instant::now())
    }

    /// Drops expired entries now and then, so memory stays bounded without a sweeper task.
    fn wrote(&self) {
        if self.writes.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.entries.retain(|_, (_, exp)| Self::live(exp));
        }
    }
}

#[async_trait]
impl Kv for MemoryKv {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> KvResult<()> {
        Ok(())
    }

    async fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<String>>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }

    async fn get(&self, key: &str) -> KvResult<Option<String>> {
        Ok(self
            .entries
            .get(key)
            .filter(|e| Self::live(&e.1))
            .map(|e| e.0.clone()))
    }

    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> KvResult<()> {
        self.entries.insert(
            key.to_owned(),
            (value.to_owned(), ttl.map(|t| Instant::now() + t)),
        );
        self.wrote();
        Ok(())
    }

    async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> KvResult<bool> {
        use dashmap::mapref::entry::Entry;
        let fresh = (value.to_owned(), Some(Instant::now() + ttl));
        let set = match self.entries.entry(key.to_owned()) {
            Entry::Occupied(o) if Self::live(&o.get().1) => false,
            Entry::Occupied(mut o) => {
                o.insert(fresh);
                true
            }
            Entry::Vacant(v) => {
                v.insert(fresh);
                true
            }
        };
        self.wrote();
        Ok(set)
    }

    async fn del(&self, key: &str) -> KvResult<bool> {
        let hash = self.hashes.remove(key).is_some();
        let value = self
            .entries
            .remove(key)
            .is_some_and(|(_, e)| Self::live(&e.1));
        Ok(hash || value)
    }

    async fn take(&self, key: &str) -> KvResult<Option<String>> {
        Ok(self
            .entries
            .remove(key)
            .filter(|(_, e)| Self::live(&e.1))
            .map(|(_, e)| e.0))
    }

    async fn incr(&self, key: &str, delta: i64, ttl: Duration) -> KvResult<i64> {
        let mut entry = self
            .entries
            .entry(key.to_owned())
            .or_insert_with(|| ("0".into(), Some(Instant::now() + ttl)));
        if !Self::live(&entry.1) {
            *entry = ("0".into(), Some(Instant::now() + ttl));
        }
        let current: i64 = entry
            .0
            .parse()
            .map_err(|_| KvError(format!("{key} is not an integer")))?;
        let next = current.saturating_add(delta);
        entry.0 = next.to_string();
        drop(entry);
        self.wrote();
        Ok(next)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> KvResult<bool> {
        Ok(match self.entries.get_mut(key) {
            Some(mut e) if Self::live(&e.1) => {
                e.1 = Some(Instant::now() + ttl);
                true
            }
            _ => false,
        })
    }

    async fn expire_many(&self, keys: &[String], ttl: Duration) -> KvResult<usize> {
        let mut existed = 0;
        for key in keys {
            existed += usize::from(self.expire(key, ttl).await?);
        }
        Ok(existed)
    }

    async fn ttl(&self, key: &str) -> KvResult<Option<Duration>> {
        Ok(self
            .entries
            .get(key)
            .and_then(|e| e.1)
            .and_then(|at| at.checked_duration_since(Instant::now())))
    }

    async fn hash_incr(&self, key: &str, field: &str, delta: i64) -> KvResult<i64> {
        let mut hash = self.hashes.entry(key.to_owned()).or_default();
        let value = hash.entry(field.to_owned()).or_insert(0);
        *value = value.saturating_add(delta);
        let next = *value;
        if next <= 0 {
            hash.remove(field);
        }
        let empty = hash.is_empty();
        drop(hash);
        if empty {
            self.hashes.remove_if(key, |_, h| h.is_empty());
        }
        Ok(next)
    }

    async fn hash_all(&self, key: &str) -> KvResult<Vec<(String, i64)>> {
        Ok(self
            .hashes
            .get(key)
            .map(|h| h.iter().map(|(f, v)| (f.clone(), *v)).collect())
            .unwrap_or_default())
    }

    async fn hash_del(&self, key: &str, field: &str) -> KvResult<bool> {
        let Some(mut hash) = self.hashes.get_mut(key) else {
            return Ok(false);
        };
        let removed = hash.remove(field).is_some();
        let empty = hash.is_empty();
        drop(hash);
        if empty {
            self.hashes.remove_if(key, |_, h| h.is_empty());
        }
        Ok(removed)
    }

    async fn publish(&self, channel: &str, message: &str) -> KvResult<()> {
        if let Some(tx) = self.channels.get(channel) {
            // No subscriber is not an error: pub/sub is fire-and-forget, as in Redis.
            let _ = tx.send(message.to_owned());
        }
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> KvResult<BoxStream<'static, String>> {
        let rx = self
            .channels
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe();
        let stream = tokio_stream_from(rx);
        Ok(stream)
    }
}

/// What [`follow`] saw on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// Subscribed (at first, and again after every `Down`): messages published from now on
    /// arrive; any published while down are lost.
    Up,
    Message(String),
    /// The subscription ended (e.g. the Redis connection dropped); `follow` subscribes again.
    Down,
}

/// Follows `channel` for as long as the stream is polled. A plain [`Kv::subscribe`] stream ends
/// for good when its connection drops; this one subscribes again, waiting `retry` between tries,
/// and says when it was down, so callers can make up for what they missed.
pub fn follow(kv: SharedKv, channel: &str, retry: Duration) -> BoxStream<'static, Followed> {
    enum State {
        Subscribe { again: bool },
        Live(BoxStream<'static, String>),
    }
    let channel: Arc<str> = channel.into();
    futures::stream::unfold(State::Subscribe { again: false }, move |state| {
        let (kv, channel) = (kv.clone(), channel.clone());
        async move {
            match state {
                State::Subscribe { again } => {
                    if again {
                        tokio::time::sleep(retry).await;
                    }
                    loop {
                        match kv.subscribe(&channel).await {
                            Ok(messages) => return Some((Followed::Up, State::Live(messages))),
                            Err(e) => {
                                tracing::warn!(error = %e, %channel, "subscribing; trying again");
                                tokio::time::sleep(retry).await;
                            }
                        }
                    }
                }
                State::Live(mut messages) => match messages.next().await {
                    Some(m) => Some((Followed::Message(m), State::Live(messages))),
                    None => {
                        tracing::warn!(%channel, "subscription ended; subscribing again");
                        Some((Followed::Down, State::Subscribe { again: true }))
                    }
                },
            }
        }
    })
    .boxed()
}

fn tokio_stream_from(rx: broadcast::Receiver<String>) -> BoxStream<'static, String> {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(msg) => return Some((msg, rx)),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "in-process subscriber lagged");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}

#[cfg(feature = "redis")]
pub use redis_adapter::RedisKv;

#[cfg(feature = "redis")]
mod redis_adapter {
    use super::*;
    use redis::AsyncCommands;
    use redis::aio::ConnectionManager;

    /// Redis adapter: one multiplexed, auto-reconnecting connection for commands, and a dedicated
    /// connection per subscription.
    pub struct RedisKv {
        client: redis::Client,
        conn: ConnectionManager,
        prefix: Arc<str>,
    }

    fn err(e: redis::RedisError) -> KvError {
        KvError(e.to_string())
    }

    impl RedisKv {
        /// Connects to `url`; every key and channel is prefixed with `prefix`.
        pub async fn connect(url: &str, prefix: &str) -> KvResult<Self> {
            let client = redis::Client::open(url).map_err(err)?;
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(3)))
                .set_response_timeout(Some(Duration::from_secs(3)))
                .set_number_of_retries(2);
            let conn = tokio::time::timeout(
                Duration::from_secs(5),
                client.get_connection_manager_with_config(config),
            )
            .await
            .map_err(|_| KvError("timed out connecting to Redis".into()))?
            .map_err(err)?;
            Ok(Self {
                client,
                conn,
                prefix: prefix.into(),
            })
        }

        fn k(&self, key: &str) -> String {
            format!("{}{key}", self.prefix)
        }
    }

    #[async_trait]
    impl Kv for RedisKv {
        fn backend(&self) -> &'static str {
            "redis"
        }

        async fn ping(&self) -> KvResult<()> {
            let mut c = self.conn.clone();
            redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .map(|_| ())
                .map_err(err)
        }

        async fn get(&self, key: &str) -> KvResult<Option<String>> {
            self.conn.clone().get(self.k(key)).await.map_err(err)
        }

        async fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<String>>> {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let keys: Vec<String> = keys.iter().map(|k| self.k(k)).collect();
            // MGET always answers a list (even for one key), unlike GET on a key slice.
            redis::cmd("MGET")
                .arg(&keys)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(err)
        }

        async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> KvResult<()> {
            let mut c = self.conn.clone();
            match ttl {
                Some(t) => c.pset_ex::<_, _, ()>(self.k(key), value, millis(t)).await,
                None => c.set::<_, _, ()>(self.k(key), value).await,
            }
            .map_err(err)
        }

        async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> KvResult<bool> {
            let mut c = self.conn.clone();
            let reply: Option<String> = redis::cmd("SET")
                .arg(self.k(key))
                .arg(value)
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl))
                .query_async(&mut c)
                .await
                .map_err(err)?;
            Ok(reply.is_some())
        }

        async fn del(&self, key: &str) -> KvResult<bool> {
            let n: i64 = self.conn.clone().del(self.k(key)).await.map_err(err)?;
            Ok(n > 0)
        }

        async fn take(&self, key: &str) -> KvResult<Option<String>> {
            self.conn.clone().get_del(self.k(key)).await.map_err(err)
        }

        async fn incr(&self, key: &str, delta: i64, ttl: Duration) -> KvResult<i64> {
            let key = self.k(key);
            let (value, _): (i64, i64) = redis::pipe()
                .atomic()
                .cmd("INCRBY")
                .arg(&key)
                .arg(delta)
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(millis(ttl))
                .arg("NX")
                .query_async(&mut self.conn.clone())
                .await
                .map_err(err)?;
            Ok(value)
        }

        async fn expire(&self, key: &str, ttl: Duration) -> KvResult<bool> {
            let n: i64 = redis::cmd("PEXPIRE")
                .arg(self.k(key))
                .arg(millis(ttl))
                .query_async(&mut self.conn.clone())
                .await
                .map_err(err)?;
            Ok(n == 1)
        }

        async fn expire_many(&self, keys: &[String], ttl: Duration) -> KvResult<usize> {
            if keys.is_empty() {
                return Ok(0);
            }
            let mut pipe = redis::pipe();
            for key in keys {
                pipe.cmd("PEXPIRE").arg(self.k(key)).arg(millis(ttl));
            }
            let existed: Vec<i64> = pipe
                .query_async(&mut self.conn.clone())
                .await
                .map_err(err)?;
            Ok(existed.iter().filter(|&&n| n == 1).count())
        }

        async fn ttl(&self, key: &str) -> KvResult<Option<Duration>> {
            let ms: i64 = redis::cmd("PTTL")
                .arg(self.k(key))
                .query_async(&mut self.conn.clone())
                .await
                .map_err(err)?;
            Ok(u64::try_from(ms).ok().map(Duration::from_millis))
        }

        async fn hash_incr(&self, key: &str, field: &str, delta: i64) -> KvResult<i64> {
            // One script, so no other client sees the field at 0 or below.
            static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
                redis::Script::new(
                    "local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2]) \
                     if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end \
                     return n",
                )
            });
            SCRIPT
                .key(self.k(key))
                .arg(field)
                .arg(delta)
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(err)
        }

        async fn hash_all(&self, key: &str) -> KvResult<Vec<(String, i64)>> {
            let all: std::collections::HashMap<String, i64> =
                self.conn.clone().hgetall(self.k(key)).await.map_err(err)?;
            Ok(all.into_iter().collect())
        }

        async fn hash_del(&self, key: &str, field: &str) -> KvResult<bool> {
            let removed: i64 = self
                .conn
                .clone()
                .hdel(self.k(key), field)
                .await
                .map_err(err)?;
            Ok(removed > 0)
        }

        async fn publish(&self, channel: &str, message: &str) -> KvResult<()> {
            self.conn
                .clone()
                .publish::<_, _, ()>(self.k(channel), message)
                .await
                .map_err(err)
        }

        async fn subscribe(&self, channel: &str) -> KvResult<BoxStream<'static, String>> {
            let mut pubsub = self.client.get_async_pubsub().await.map_err(err)?;
            pubsub.subscribe(self.k(channel)).await.map_err(err)?;
            Ok(pubsub
                .into_on_message()
                .filter_map(|m| async move { m.get_payload::<String>().ok() })
                .boxed())
        }
    }

    fn millis(d: Duration) -> u64 {
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
    }
}

/// A shared handle to whichever adapter is configured.
pub type SharedKv = Arc<dyn Kv>;

/// Connects to Redis when `redis_url` is set, else returns the in-process store.
pub async fn connect(redis_url: Option<&str>, prefix: &str) -> KvResult<SharedKv> {
    match redis_url {
        #[cfg(feature = "redis")]
        Some(url) => Ok(Arc::new(RedisKv::connect(url, prefix).await?)),
        #[cfg(not(feature = "redis"))]
        Some(_) => Err(KvError("built without the redis feature".into())),
        None => {
            let _ = prefix;
            Ok(Arc::new(MemoryKv::new()))
        }
    }
}
