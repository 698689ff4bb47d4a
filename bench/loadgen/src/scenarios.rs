//! The scenarios, each run once per implementation with a fresh server: idle connections (RSS),
//! fan-out (ramp + moderate rate), durable sends (closed loop), two nodes over Redis.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::conn::{ClosedLoop, Conn, Recorder};
use crate::harness::{
    Ctx, Delivered, Impl, Store, analyze, connect_all, create_rooms, drain, publish,
};
use crate::servers::{CpuTimes, Server};

/// Idle authenticated connections: server RSS per connection at each count.
#[derive(Debug, Serialize)]
pub struct IdlePoint {
    pub connections: u32,
    pub failed: u32,
    pub rss_kb: u64,
    pub kb_per_conn: f64,
    pub connect_secs: f64,
}

pub async fn idle(ctx: &Ctx, which: Impl, counts: &[u32]) -> anyhow::Result<Vec<IdlePoint>> {
    // Ours on its default embedded store; the baseline needs its Mongo-wire server.
    let server = Server::start(&ctx.spec(which, Store::Embedded, false)?).await?;
    // Let the runtime / V8 settle before the baseline reading.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let base = server.rss_kb().unwrap_or(0);
    let rec = Recorder::new();
    let mut conns: Vec<Conn> = Vec::new();
    let mut points = Vec::new();
    let mut have = 0u32;
    for &n in counts {
        let addr = server.addr;
        let (c, failed, err, took) = connect_all(ctx, have..n, |_| addr, &rec, |_| None).await;
        if let Some(e) = err {
            eprintln!(
                "  {}: {failed} connections failed, first: {e}",
                which.name()
            );
        }
        conns.extend(c.into_iter().flatten());
        have = n;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = server.rss_kb().unwrap_or(0);
        let live = conns.len() as u32;
        let point = IdlePoint {
            connections: live,
            failed,
            rss_kb: rss,
            kb_per_conn: rss.saturating_sub(base) as f64 / f64::from(live.max(1)),
            connect_secs: took.as_secs_f64(),
        };
        eprintln!("  {} idle {point:?}", which.name());
        points.push(point);
    }
    server.stop().await;
    drop(conns);
    Ok(points)
}

#[derive(Debug, Serialize, Clone)]
pub struct Step {
    pub msgs_per_sec: f64,
    pub deliveries_per_sec: f64,
    pub deliveries_per_cpu_sec: f64,
    /// Share of the server's CPU time spent in the kernel (system calls and, on loopback, the
    /// receivers' TCP path run on the writer's behalf); the rest is user space.
    pub server_kernel_share: f64,
    /// Share of its core the load generator itself used during the step (near 1.0: the step was
    /// bounded by the load generator, not the server).
    pub loadgen_cpu: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub missing: u64,
    pub duplicates: u64,
}

#[derive(Debug, Serialize, Default)]
pub struct FanoutResult {
    pub connections: u32,
    pub connect_failures: u32,
    /// Rooms that did not publish because a member failed to connect.
    pub rooms_left_out: u32,
    pub room_size: u32,
    pub moderate_rate: f64,
    pub moderate_deliveries: u64,
    pub moderate_p50_ms: f64,
    pub moderate_p99_ms: f64,
    pub moderate_missing: u64,
    pub moderate_duplicates: u64,
    pub steps: Vec<Step>,
    /// Highest delivery rate of a step whose p99 stayed ≤ 100 ms and lost nothing.
    pub max_deliveries_per_sec: f64,
    /// Deliveries per server CPU-second at that step.
    pub max_deliveries_per_cpu_sec: f64,
    /// Deliveries per server CPU-second spent in user space at that step (kernel time excluded).
    pub max_deliveries_per_user_cpu_sec: f64,
    /// The server's kernel share of CPU at that step.
    pub max_step_kernel_share: f64,
    pub nacks: u64,
}

impl FanoutResult {
    /// Whether a step of the ramp stayed within its bound (p99 ≤ 100 ms, nothing lost): the
    /// `max_*` figures are that step's, and mean nothing without one.
    pub fn within_bound(&self) -> bool {
        self.max_deliveries_per_sec > 0.0
    }
}

pub struct FanoutPlan {
    pub room_size: u32,
    pub connections: u32,
    pub moderate_rate: f64,
    pub moderate_secs: u64,
    pub ramp: Vec<f64>,
    pub step_secs: u64,
}

/// Fan-out over `servers`: rooms of `room_size`; each room's first member publishes (connected to
/// `servers[0]`), the rest receive (connected to the last server: across nodes when there are two).
pub async fn fanout(
    ctx: &Ctx,
    servers: &[Server],
    plan: &FanoutPlan,
) -> anyhow::Result<FanoutResult> {
    let r = plan.room_size;
    let rooms: Vec<Vec<u32>> = (0..plan.connections / r)
        .map(|k| (k * r..(k + 1) * r).collect())
        .collect();
    let n = rooms.len() as u32 * r;
    let (first, last) = match (servers.first(), servers.last()) {
        (Some(f), Some(l)) => (f.addr, l.addr),
        _ => anyhow::bail!("no server"),
    };
    let addr_of = move |u: u32| -> SocketAddr { if u.is_multiple_of(r) { first } else { last } };
    let rec = Recorder::new();
    // Connect first, then create the rooms: nobody shares a chat at connect time, so our
    // presence announcement (to chat partners, which the baseline does not have)
    // stays out of the measurement.
    let (conns, failed, err, connecting) = connect_all(ctx, 0..n, addr_of, &rec, |_| None).await;
    if let Some(e) = err {
        eprintln!("  fanout: {failed} connections failed, first: {e}");
    }
    let creating = Instant::now();
    let chats = create_rooms(ctx, &servers[0].base_url(), &rooms).await?;
    eprintln!(
        "  fanout: {n} connections in {:.1} s, {} rooms created in {:.1} s",
        connecting.as_secs_f64(),
        rooms.len(),
        creating.elapsed().as_secs_f64()
    );
    drain(&rec, Duration::from_millis(500), Duration::from_secs(5)).await;
    rec.take_deliveries();
    // A room publishes only if every member connected: each of its messages is then expected
    // at exactly `r - 1` receivers. A failed connection is reported (`connect_failures`), never
    // counted as a lost delivery.
    let pubs: Vec<(&Conn, &str)> = rooms
        .iter()
        .zip(&chats)
        .filter(|(m, _)| all_connected(m, &conns))
        .filter_map(|(m, c)| Some((conns.get(m[0] as usize)?.as_ref()?, c.as_str())))
        .collect();
    let rooms_left_out = (rooms.len() - pubs.len()) as u32;
    if rooms_left_out > 0 {
        eprintln!("  fanout: {rooms_left_out} rooms left out (a member failed to connect)");
    }
    let expected = u64::from(r - 1);
    let mut res = FanoutResult {
        connections: n - failed,
        connect_failures: failed,
        rooms_left_out,
        room_size: r,
        moderate_rate: plan.moderate_rate,
        ..Default::default()
    };
    // Moderate, fixed rate.
    let msgs = publish(
        &rec,
        &pubs,
        plan.moderate_rate,
        Duration::from_secs(plan.moderate_secs),
    )
    .await;
    drain(&rec, Duration::from_millis(500), Duration::from_secs(5)).await;
    let d = measure(&rec, msgs, expected);
    res.moderate_deliveries = d.received;
    res.moderate_p50_ms = d.p50_ms;
    res.moderate_p99_ms = d.p99_ms;
    res.moderate_missing = d.missing;
    res.moderate_duplicates = d.duplicates;
    eprintln!("  moderate {d:?}");
    // Ramp until p99 passes 100 ms.
    let cpu = || {
        servers
            .iter()
            .filter_map(Server::cpu_times)
            .fold(CpuTimes::default(), |a, t| CpuTimes {
                user: a.user + t.user,
                system: a.system + t.system,
            })
    };
    let quiet = Duration::from_millis(300);
    // A step past the p99 limit with nothing lost runs once more, once per ramp, for both servers
    // alike: one hiccup (a GC pause, a neighbour on the machine) must not end a ramp at its first
    // step. Both attempts are recorded.
    let mut retry_left = true;
    let mut steps = plan.ramp.iter().copied().peekable();
    while let Some(rate) = steps.peek().copied() {
        let (t0, c0, l0) = (Instant::now(), cpu(), self_cpu_secs());
        let msgs = publish(&rec, &pubs, rate, Duration::from_secs(plan.step_secs)).await;
        drain(&rec, quiet, Duration::from_secs(5)).await;
        let span = (t0.elapsed().saturating_sub(quiet)).as_secs_f64();
        let c1 = cpu();
        let (user, system) = (c1.user - c0.user, c1.system - c0.system);
        let used = user + system;
        let d = measure(&rec, msgs, expected);
        let unique = (d.received - d.duplicates) as f64;
        let step = Step {
            msgs_per_sec: rate,
            deliveries_per_sec: unique / span,
            deliveries_per_cpu_sec: if used > 0.0 { unique / used } else { f64::NAN },
            server_kernel_share: if used > 0.0 { system / used } else { f64::NAN },
            loadgen_cpu: (self_cpu_secs() - l0) / t0.elapsed().as_secs_f64(),
            p50_ms: d.p50_ms,
            p99_ms: d.p99_ms,
            missing: d.missing,
            duplicates: d.duplicates,
        };
        eprintln!("  step {step:?}");
        let ok = step.p99_ms <= 100.0 && step.missing == 0;
        if ok && step.deliveries_per_sec > res.max_deliveries_per_sec {
            res.max_deliveries_per_sec = step.deliveries_per_sec;
            res.max_deliveries_per_cpu_sec = step.deliveries_per_cpu_sec;
            res.max_deliveries_per_user_cpu_sec =
                step.deliveries_per_cpu_sec / (1.0 - step.server_kernel_share);
            res.max_step_kernel_share = step.server_kernel_share;
        }
        let again = !ok && retry_left && step.missing == 0;
        res.steps.push(step);
        if again {
            retry_left = false;
            continue;
        }
        if !ok {
            break;
        }
        steps.next();
    }
    res.nacks = rec.nacks.load(std::sync::atomic::Ordering::Relaxed);
    drop(conns);
    Ok(res)
}

/// Whether every member of a room (user numbers, indexes into `conns`) is connected.
fn all_connected<C>(members: &[u32], conns: &[Option<C>]) -> bool {
    members
        .iter()
        .all(|&u| conns.get(u as usize).is_some_and(Option::is_some))
}

/// CPU seconds this process has used (utime + stime).
fn self_cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 2..)) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn measure(rec: &Recorder, msgs: std::ops::Range<u32>, expected: u64) -> Delivered {
    let acked: HashSet<u32> = rec.take_acks().into_iter().map(|(m, _)| m).collect();
    analyze(&rec.take_deliveries(), msgs, expected, &acked)
}

pub async fn fanout_single(
    ctx: &Ctx,
    which: Impl,
    store: Store,
    plan: &FanoutPlan,
) -> anyhow::Result<FanoutResult> {
    let server = Server::start(&ctx.spec(which, store, false)?).await?;
    let res = fanout(ctx, std::slice::from_ref(&server), plan).await;
    server.stop().await;
    res
}

/// Two nodes sharing Redis (and the Mongo-wire store): publishers on one, receivers on the other.
pub async fn cluster(ctx: &Ctx, which: Impl, plan: &FanoutPlan) -> anyhow::Result<FanoutResult> {
    // One deployment: both nodes share the database and the Redis prefix.
    let spec_a = ctx.spec(which, Store::MongoWire, true)?;
    let mut spec_b = spec_a.clone();
    spec_b.label = format!("{}-b", spec_a.label);
    let a = Server::start(&spec_a).await?;
    let b = match Server::start(&spec_b).await {
        Ok(b) => b,
        Err(e) => {
            a.stop().await;
            return Err(e);
        }
    };
    let servers = [a, b];
    let res = fanout(ctx, &servers, plan).await;
    for s in servers {
        s.stop().await;
    }
    res
}

#[derive(Debug, Serialize, Default)]
pub struct DurableResult {
    pub senders: u32,
    pub acks: u64,
    pub acks_per_sec: f64,
    pub acks_per_cpu_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub nacks: u64,
    pub duplicate_acks: u64,
}

/// Durable sends, closed loop: `senders` sockets each keep one `send_message` outstanding in its
/// own chat for `secs`; every ack comes after the durable write.
pub async fn durable(
    ctx: &Ctx,
    which: Impl,
    store: Store,
    senders: u32,
    secs: u64,
) -> anyhow::Result<DurableResult> {
    let server = Server::start(&ctx.spec(which, store, false)?).await?;
    let res = durable_on(ctx, &server, senders, secs).await;
    server.stop().await;
    res
}

async fn durable_on(
    ctx: &Ctx,
    server: &Server,
    senders: u32,
    secs: u64,
) -> anyhow::Result<DurableResult> {
    let rooms: Vec<Vec<u32>> = (0..senders).map(|i| vec![i, senders + i]).collect();
    let chats = create_rooms(ctx, &server.base_url(), &rooms).await?;
    let rec = Recorder::new();
    let until = Instant::now() + Duration::from_secs(secs) + Duration::from_secs(30);
    let addr = server.addr;
    let chat_of = |u: u32| chats.get(u as usize).cloned().unwrap_or_default();
    let (conns, failed, err, _) = connect_all(
        ctx,
        0..senders,
        |_| addr,
        &rec,
        |u| {
            Some(ClosedLoop {
                chat_id: chat_of(u),
                until,
            })
        },
    )
    .await;
    if let Some(e) = err {
        eprintln!("  durable: {failed} connections failed, first: {e}");
    }
    // The closed loops were armed with a far deadline; the window below is what is measured.
    let (t0, c0) = (Instant::now(), server.cpu_secs().unwrap_or(0.0));
    for (u, c) in conns.iter().enumerate() {
        if let Some(c) = c {
            let msg = rec
                .next_msg
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = c.tx.send(rec.send_frame(msg, &chat_of(u as u32)));
        }
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let acks = rec.take_acks();
    let elapsed = t0.elapsed().as_secs_f64();
    let used = server.cpu_secs().unwrap_or(0.0) - c0;
    drop(conns);
    let mut lats: Vec<u32> = acks.iter().map(|a| a.1).collect();
    lats.sort_unstable();
    let mut ids: Vec<u32> = acks.iter().map(|a| a.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let n = acks.len() as u64;
    Ok(DurableResult {
        senders: senders - failed,
        acks: n,
        acks_per_sec: n as f64 / elapsed,
        acks_per_cpu_sec: if used > 0.0 {
            n as f64 / used
        } else {
            f64::NAN
        },
        p50_ms: crate::harness::percentile(&lats, 0.5),
        p99_ms: crate::harness::percentile(&lats, 0.99),
        nacks: rec.nacks.load(std::sync::atomic::Ordering::Relaxed),
        duplicate_acks: n - ids.len() as u64,
    })
}

/// A connect storm into large groups, then the disconnect storm: every user of `groups` groups of
/// `room_size` connects at once (as after an instance restart or a network blip), then they all
/// go at once.
#[derive(Debug, Serialize, Default)]
pub struct StormResult {
    pub users: u32,
    pub room_size: u32,
    pub connect_failures: u32,
    /// From the first handshake to the last CONNECT answer.
    pub connect_secs: f64,
    /// From the first handshake to the last event received (presence settled).
    pub settle_secs: f64,
    /// Server CPU from the first handshake until settled.
    pub connect_cpu_secs: f64,
    pub connect_cpu_ms_per_user: f64,
    /// Users reported online to others, by `user_online`, in a `presence_update` or in a
    /// `presence_snapshot` (ours; the baseline has no presence).
    pub online_reports: u64,
    /// Events received until settled (packets: a snapshot is one).
    pub events: u64,
    /// (connection, contact) pairs, both connected, where the connection never heard the contact
    /// was online.
    pub online_missing: u64,
    /// Reports beyond the first per (connection, contact).
    pub online_duplicates: u64,
    /// Server CPU from the first close until it has been idle for 2.5 s.
    pub disconnect_cpu_secs: f64,
    pub disconnect_settle_secs: f64,
}

pub async fn storm(
    ctx: &Ctx,
    which: Impl,
    groups: u32,
    room_size: u32,
) -> anyhow::Result<StormResult> {
    let server = Server::start(&ctx.spec(which, Store::MongoWire, false)?).await?;
    let res = storm_on(ctx, &server, groups, room_size).await;
    server.stop().await;
    res
}

async fn storm_on(ctx: &Ctx, server: &Server, groups: u32, r: u32) -> anyhow::Result<StormResult> {
    let rooms: Vec<Vec<u32>> = (0..groups)
        .map(|g| (g * r..(g + 1) * r).collect())
        .collect();
    let n = groups * r;
    create_rooms(ctx, &server.base_url(), &rooms).await?;
    let rec = Recorder::new();
    let addr = server.addr;
    let cpu = || server.cpu_secs().unwrap_or(0.0);
    let (t0, c0) = (Instant::now(), cpu());
    let (conns, failed, err, connecting) = connect_all(ctx, 0..n, |_| addr, &rec, |_| None).await;
    if let Some(e) = err {
        eprintln!("  storm: {failed} connections failed, first: {e}");
    }
    // Longer than ours' presence rounds are apart (`PRESENCE_BATCH_MS`, 1 s by default): a
    // pause between two rounds is not the end of the storm.
    let quiet = Duration::from_millis(2500);
    drain(&rec, quiet, Duration::from_secs(120)).await;
    let settle = t0.elapsed().saturating_sub(quiet);
    let connect_cpu = cpu() - c0;
    // A user may be listed in their own update (when they changed in the same round as the
    // contacts it is about); that tells nothing of presence to others.
    let online: Vec<(u32, u32)> = rec
        .take_online()
        .into_iter()
        .filter(|(c, u)| c != u)
        .collect();
    let events = rec.other_events.load(std::sync::atomic::Ordering::Relaxed);
    let (missing, duplicates) = presence_accounting(&online, &conns, r);
    // The disconnect storm: every socket closes at once; the server announces the users offline
    // to the contacts still connected.
    let (t1, c1) = (Instant::now(), cpu());
    drop(conns);
    let mut last = (Instant::now(), cpu());
    while t1.elapsed() < Duration::from_secs(60) && last.0.elapsed() < quiet {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = cpu();
        // Busy: any CPU since the last sample (the kernel counts it in 10 ms ticks).
        if now > last.1 {
            last = (Instant::now(), now);
        }
    }
    let res = StormResult {
        users: n,
        room_size: r,
        connect_failures: failed,
        connect_secs: connecting.as_secs_f64(),
        settle_secs: settle.as_secs_f64(),
        connect_cpu_secs: connect_cpu,
        connect_cpu_ms_per_user: connect_cpu * 1000.0 / f64::from((n - failed).max(1)),
        online_reports: online.len() as u64,
        events,
        online_missing: missing,
        online_duplicates: duplicates,
        disconnect_cpu_secs: last.1 - c1,
        disconnect_settle_secs: last.0.duration_since(t1).as_secs_f64(),
    };
    eprintln!("  storm {res:?}");
    Ok(res)
}

/// `(missing, duplicates)` of presence reports `(connection, user)` (a `user_online`, or an
/// `online` entry of a `presence_update` or of a `presence_snapshot`) for groups of `r`
/// consecutive users: each connected user should hear
/// of every other connected member once.
fn presence_accounting<C>(online: &[(u32, u32)], conns: &[Option<C>], r: u32) -> (u64, u64) {
    let up = |u: u32| conns.get(u as usize).is_some_and(Option::is_some);
    let mut pairs: Vec<(u32, u32)> = online.to_vec();
    pairs.sort_unstable();
    pairs.dedup();
    let duplicates = (online.len() - pairs.len()) as u64;
    let heard: u64 = pairs
        .iter()
        .filter(|&&(c, u)| c != u && c / r == u / r && up(c) && up(u))
        .count() as u64;
    let expected: u64 = (0..conns.len() as u32 / r)
        .map(|g| {
            let k = (g * r..(g + 1) * r).filter(|&u| up(u)).count() as u64;
            k * k.saturating_sub(1)
        })
        .sum();
    (expected.saturating_sub(heard), duplicates)
}

#[cfg(test)]
mod tests {
    use super::{all_connected, presence_accounting};

    #[test]
    fn presence_accounting_counts_pairs_not_heard_and_heard_twice() {
        // Two groups of 2: users 0,1 and 2,3; user 3 failed to connect.
        let conns = [Some(()), Some(()), Some(()), None];
        // 0 heard 1 twice; 1 never heard 0; 2 heard 3 (not connected: not expected, not counted).
        let online = [(0, 1), (0, 1), (2, 3)];
        assert_eq!(presence_accounting(&online, &conns, 2), (1, 1));
        assert_eq!(presence_accounting(&[(0, 1), (1, 0)], &conns, 2), (0, 0));
    }

    #[test]
    fn a_room_with_a_member_that_failed_to_connect_is_not_complete() {
        let conns = [Some(()), None, Some(()), Some(())];
        assert!(all_connected(&[0, 2, 3], &conns));
        assert!(!all_connected(&[0, 1], &conns));
        assert!(
            !all_connected(&[3, 4], &conns),
            "a member past the end never connected"
        );
    }
}
