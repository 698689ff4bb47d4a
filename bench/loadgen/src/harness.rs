//! What every scenario needs: the shared test key served as a JWKS, users and tokens, the two
//! servers' start specs, connecting many sockets, creating rooms over REST, paced publishing and
//! the exactly-once/latency analysis of what arrived.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use common::jwt::{KeyRing, Minter, SigningKey};
use futures::StreamExt;

use crate::conn::{self, ClosedLoop, Conn, Recorder};
use crate::servers::Spec;

pub const ISSUER: &str = "batiyoun-auth";
pub const AUDIENCE: &str = "batiyoun";

/// Which implementation a run is against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Ours,
    Baseline,
}

impl Impl {
    pub fn name(self) -> &'static str {
        match self {
            Impl::Ours => "ours",
            Impl::Baseline => "baseline",
        }
    }
}

/// Which message store a server uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// Ours only: SQLite under DATA_DIR.
    Embedded,
    MongoWire,
}

pub struct Opts {
    pub ours_bin: String,
    pub node_server: String,
    pub mongo_url: String,
    pub redis_url: String,
    pub server_cores: Option<String>,
    pub quick: bool,
    pub only: Vec<String>,
    pub out_dir: PathBuf,
    pub auth_bin: Option<String>,
}

pub struct Ctx {
    pub opts: Opts,
    pub minter: Minter,
    pub jwks_url: String,
    pub http: reqwest::Client,
    pub run_id: String,
    pub tmp: PathBuf,
    seq: std::sync::atomic::AtomicU32,
}

impl Ctx {
    /// Serves the test key's JWKS on an ephemeral loopback port for the whole run.
    pub async fn new(opts: Opts) -> anyhow::Result<Ctx> {
        let key = SigningKey::from_seed([7u8; 32]);
        let minter = Minter::new(
            KeyRing::new(key),
            ISSUER,
            AUDIENCE,
            Duration::from_secs(15 * 60),
        );
        let jwks = serde_json::to_string(&minter.jwks(chrono::Utc::now().timestamp()))?;
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let body = jwks.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let jwks_url = format!("http://{}/.well-known/jwks.json", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let run_id = format!("bench{}", std::process::id());
        let tmp = std::env::temp_dir().join(format!("batiyoun-{run_id}"));
        std::fs::create_dir_all(&tmp)?;
        Ok(Ctx {
            opts,
            minter,
            jwks_url,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(32)
                .build()?,
            run_id,
            tmp,
            seq: std::sync::atomic::AtomicU32::new(0),
        })
    }

    pub fn token(&self, user: u32) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        Ok(self
            .minter
            .mint_access(&user_id(user), &user_id(user), now)?)
    }

    /// A start spec for `which`; `redis` adds the Redis adapter (and, for ours, the Redis Kv).
    pub fn spec(&self, which: Impl, store: Store, redis: bool) -> anyhow::Result<Spec> {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let db = format!("{}_{}", self.run_id, n);
        let cwd = self.tmp.join(&db);
        std::fs::create_dir_all(&cwd)?;
        let mut env = vec![
            ("HOST".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            ("AUTH_JWKS_URL".into(), self.jwks_url.clone()),
            ("JWT_ISSUER".into(), ISSUER.into()),
            ("JWT_AUDIENCE".into(), AUDIENCE.into()),
        ];
        if store == Store::MongoWire || which == Impl::Baseline {
            env.push(("MONGODB_URL".into(), self.opts.mongo_url.clone()));
            env.push(("MONGODB_DB".into(), db.clone()));
        }
        if redis {
            env.push(("REDIS_URL".into(), self.opts.redis_url.clone()));
            env.push(("REDIS_PREFIX".into(), format!("{db}:")));
        }
        let (program, args) = match which {
            Impl::Ours => {
                env.extend([
                    ("DATA_DIR".into(), cwd.display().to_string()),
                    ("RUST_LOG".into(), "warn,realtime=info".into()),
                    // Load, not abuse: lift the per-socket token bucket.
                    ("SOCKET_RATE_BURST".into(), "1000000".into()),
                    ("SOCKET_RATE_PER_SEC".into(), "1000000".into()),
                ]);
                // Experiments (profiling, allocator settings): BENCH_OURS_ENV="K=V,K2=V2" and
                // BENCH_OURS_WRAP="valgrind --tool=massif" (a command prefix).
                if let Ok(extra) = std::env::var("BENCH_OURS_ENV") {
                    env.extend(extra.split(',').filter_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        Some((k.to_owned(), v.to_owned()))
                    }));
                }
                match std::env::var("BENCH_OURS_WRAP") {
                    Ok(wrap) if !wrap.trim().is_empty() => {
                        let mut words = wrap.split_whitespace().map(str::to_owned);
                        let program = words.next().unwrap_or_default();
                        let mut args: Vec<String> = words.collect();
                        args.push(self.opts.ours_bin.clone());
                        (program, args)
                    }
                    _ => (self.opts.ours_bin.clone(), vec![]),
                }
            }
            Impl::Baseline => {
                env.push(("NODE_ENV".into(), "production".into()));
                ("node".into(), vec![self.opts.node_server.clone()])
            }
        };
        Ok(Spec {
            label: which.name().into(),
            program,
            args,
            env,
            cwd,
            cores: self.opts.server_cores.clone(),
        })
    }
}

/// User `i` as a canonical UUID (the contract's user id format).
pub fn user_id(i: u32) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

/// Source address of connection `i`: 127.0.0.2, .3, … with 8,000 connections each, so the
/// ephemeral ports of one address never run out.
pub fn source_ip(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i / 8000) as u8))
}

/// Connects users `users` (user i on `addr_of(i)`), 256 handshakes in flight at a time.
/// Returns the connections (None where it failed), the failures' first error, and the time taken.
pub async fn connect_all(
    ctx: &Ctx,
    users: std::ops::Range<u32>,
    addr_of: impl Fn(u32) -> SocketAddr,
    rec: &Arc<Recorder>,
    closed_loop: impl Fn(u32) -> Option<ClosedLoop>,
) -> (Vec<Option<Conn>>, u32, Option<String>, Duration) {
    let started = Instant::now();
    let jobs: Vec<_> = users
        .clone()
        .map(|u| (u, addr_of(u), ctx.token(u), closed_loop(u)))
        .collect();
    let results: Vec<(u32, Result<Conn, String>)> = futures::stream::iter(jobs)
        .map(|(u, addr, token, cl)| {
            let rec = rec.clone();
            async move {
                let r = match token {
                    Ok(t) => {
                        let fut = conn::connect(u, source_ip(u), addr, &t, rec, cl);
                        match tokio::time::timeout(Duration::from_secs(30), fut).await {
                            Ok(r) => r,
                            Err(_) => Err("handshake timed out".to_owned()),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                (u, r)
            }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let mut conns: Vec<Option<Conn>> = (0..users.len()).map(|_| None).collect();
    let (mut failed, mut first_err) = (0, None);
    for (u, r) in results {
        match r {
            Ok(c) => conns[(u - users.start) as usize] = Some(c),
            Err(e) => {
                failed += 1;
                first_err.get_or_insert(e);
            }
        }
    }
    (conns, failed, first_err, started.elapsed())
}

/// Creates a group per room (`members[0]` creates it with the rest as members) over REST.
pub async fn create_rooms(
    ctx: &Ctx,
    base_url: &str,
    rooms: &[Vec<u32>],
) -> anyhow::Result<Vec<String>> {
    let url = format!("{base_url}/api/chats");
    let results: Vec<anyhow::Result<String>> = futures::stream::iter(rooms.iter().enumerate())
        .map(|(k, members)| {
            let url = url.clone();
            async move {
                let creator = *members.first().context("empty room")?;
                let member_ids: Vec<String> = members[1..].iter().map(|&u| user_id(u)).collect();
                let body = serde_json::json!({"type":"group","name":format!("room {k}"),"memberIds":member_ids});
                let resp = ctx
                    .http
                    .post(&url)
                    .bearer_auth(ctx.token(creator)?)
                    .json(&body)
                    .send()
                    .await?;
                let status = resp.status();
                let v: serde_json::Value = resp.json().await?;
                v.get("id")
                    .and_then(|i| i.as_str())
                    .map(str::to_owned)
                    .with_context(|| format!("create chat: {status} {v}"))
            }
        })
        .buffered(8)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Publishes at `rate` messages/s for `dur`, round-robin over `(publisher connection, chat)`,
/// open loop (a 1 ms tick sends whatever is due). Returns the message numbers used.
pub async fn publish(
    rec: &Recorder,
    pubs: &[(&Conn, &str)],
    rate: f64,
    dur: Duration,
) -> std::ops::Range<u32> {
    let first = rec.next_msg.load(std::sync::atomic::Ordering::Relaxed);
    if pubs.is_empty() {
        return first..first;
    }
    let start = Instant::now();
    let total = (rate * dur.as_secs_f64()) as u64;
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while sent < total {
        tick.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate) as u64).min(total);
        while sent < due {
            let (conn, chat) = pubs[(sent % pubs.len() as u64) as usize];
            let msg = rec
                .next_msg
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = conn.tx.send(rec.send_frame(msg, chat));
            sent += 1;
        }
    }
    first..rec.next_msg.load(std::sync::atomic::Ordering::Relaxed)
}

/// Waits until no new delivery, ack or other event has arrived for `quiet`, at most `max`.
pub async fn drain(rec: &Recorder, quiet: Duration, max: Duration) {
    let start = Instant::now();
    let count = || {
        rec.deliveries.lock().map(|d| d.len()).unwrap_or(0)
            + rec.acks.lock().map(|a| a.len()).unwrap_or(0)
            + rec.other_events.load(std::sync::atomic::Ordering::Relaxed) as usize
    };
    let mut last = count();
    let mut last_change = Instant::now();
    while start.elapsed() < max && last_change.elapsed() < quiet {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = count();
        if now != last {
            last = now;
            last_change = Instant::now();
        }
    }
}

/// Latency percentiles (µs) and exactly-once accounting of deliveries of messages in `msgs`.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Delivered {
    pub expected: u64,
    pub received: u64,
    pub duplicates: u64,
    pub missing: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// `expected_per_msg` is how many receivers each message should reach exactly once;
/// `acked` limits the expectation to messages that were acknowledged (a nack is counted apart).
pub fn analyze(
    deliveries: &[(u32, u32, u32)],
    msgs: std::ops::Range<u32>,
    expected_per_msg: u64,
    acked: &std::collections::HashSet<u32>,
) -> Delivered {
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut lats: Vec<u32> = Vec::new();
    for &(conn, msg, lat) in deliveries {
        if msgs.contains(&msg) {
            pairs.push((msg, conn));
            lats.push(lat);
        }
    }
    let received = pairs.len() as u64;
    pairs.sort_unstable();
    pairs.dedup();
    let unique = pairs.len() as u64;
    lats.sort_unstable();
    let expected = acked.iter().filter(|m| msgs.contains(m)).count() as u64 * expected_per_msg;
    Delivered {
        expected,
        received,
        duplicates: received - unique,
        missing: expected.saturating_sub(unique),
        p50_ms: percentile(&lats, 0.50),
        p99_ms: percentile(&lats, 0.99),
        max_ms: percentile(&lats, 1.0),
    }
}
