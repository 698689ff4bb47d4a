//! Auth: auth-api's login throughput against the argon2id floor, and our WebSocket p99 while a
//! login storm runs on the same core. auth-api runs with its embedded defaults (SQLite, dev
//! mailbox) pinned with the servers; one account is signed up and verified through the real
//! email-code flow (the code is read from the dev mailbox file).
//!
//! Two storms of 4 clients logging in back to back: first alone (realtime's sockets connected,
//! nobody publishing), whose share of the floor is the login's non-hash overhead; then during a
//! publish load on realtime, for the WebSocket p99 and the share left to logins beside it.
//!
//! The floor the storm is compared with is measured on the server core itself, right before and
//! right after the storm (the servers idle): consecutive floors on this shared machine differ by up
//! to 20-30%, and the two cores differ too, so a floor taken on the other core a minute earlier
//! moved the share either way by more than the overhead being measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;
use serde_json::json;

use crate::conn::{Conn, Recorder};
use crate::harness::{Ctx, Impl, Store, connect_all, create_rooms, drain, publish};
use crate::servers::{Server, Spec, stat_cpu};

#[derive(Debug, Serialize, Default)]
pub struct AuthResult {
    /// The floor the storm alone is measured against: the mean of the server core's floors
    /// before each of its slices and after the last.
    pub argon_floor_per_sec: f64,
    /// The server core's floors, in order: before each slice of the storm alone, after its last
    /// slice (also the one before the storm during the publish load), and after that storm.
    /// `share_of_floor` and `auth_cpu_per_login_over_verify` use the mean of the last two.
    pub floors_per_sec: Vec<f64>,
    /// The floor on the server core at nice +10 (as auth-api's hashing threads) while realtime
    /// serves the same publish load, after the storm (descriptive).
    pub floor_beside_realtime_per_sec: Option<f64>,
    /// The floor measured on the load generator's core at the start of the scenario (descriptive).
    pub floor_loadgen_core_per_sec: Option<f64>,
    /// Logins/s of the storm alone (realtime's sockets connected, no messages): what logins cost
    /// with nothing else on the server core.
    pub logins_per_sec_alone: f64,
    /// `logins_per_sec_alone` as a share of the floor (1.0 = nothing but hashing): the
    /// non-hash overhead of a login.
    pub share_of_floor_alone: f64,
    /// Logins during the storm under the publish load.
    pub logins: u64,
    pub login_errors: u64,
    pub logins_per_sec: f64,
    /// Logins/s under the publish load as a share of the floor: realtime's share of the core
    /// counts against it.
    pub share_of_floor: f64,
    pub login_p99_ms: f64,
    /// auth-api's CPU time (user + system) per login during the storm; the hash alone costs
    /// 1000 / `argon_floor_per_sec` ms.
    pub auth_cpu_ms_per_login: f64,
    /// `auth_cpu_ms_per_login` over the floor's CPU per verify: auth-api's own overhead (1.0 =
    /// a login costs auth-api exactly one verify), without realtime's share of the core.
    pub auth_cpu_per_login_over_verify: f64,
    /// CPU time of auth-api's hashing threads per login of the storm alone, over the floor's
    /// CPU per verify: ~1.0 when a hash costs auth-api what it costs the raw loop.
    pub hash_cpu_per_login_over_verify: Option<f64>,
    /// CPU time of every other auth-api thread (HTTP, the account and session store, the JWT)
    /// per login of the storm alone, over the floor's CPU per verify: the non-hash overhead
    /// itself, measured in the storm's own seconds, so a drift of the floor moves it by a few
    /// per cent of itself and not by as many points.
    pub non_hash_cpu_per_login_over_verify: Option<f64>,
    /// CPU seconds realtime used per second of the same publish load without logins.
    pub realtime_core_use_quiet: f64,
    /// CPU seconds realtime used per second of the storm (its deliveries, counted against logins).
    pub realtime_core_use_storm: f64,
    /// CPU seconds auth-api and realtime used per second of the storm: below 1.0 the server core
    /// was idle or taken by other processes.
    pub server_core_use_storm: f64,
    pub ws_connections: u32,
    pub ws_p99_quiet_ms: f64,
    pub ws_p99_storm_ms: f64,
    pub ws_missing: u64,
}

const PASSWORD: &str = "bench-storm-Passw0rd-x9";

pub async fn auth(
    ctx: &Ctx,
    auth_bin: &str,
    loadgen_core_floor: Option<f64>,
    quick: bool,
) -> anyhow::Result<AuthResult> {
    let dir = ctx.tmp.join("auth-api");
    std::fs::create_dir_all(&dir)?;
    let spec = Spec {
        label: "auth-api".into(),
        program: auth_bin.into(),
        args: vec![],
        env: vec![
            ("HOST".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            ("DATA_DIR".into(), dir.display().to_string()),
            ("RUST_LOG".into(), "warn,auth_api=info".into()),
        ],
        cwd: dir.clone(),
        cores: ctx.opts.server_cores.clone(),
    };
    let auth = Server::start(&spec).await?;
    let rt = Server::start(&ctx.spec(Impl::Ours, Store::Embedded, false)?).await;
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            auth.stop().await;
            return Err(e);
        }
    };
    let res = run(ctx, &auth, &rt, &dir, loadgen_core_floor, quick).await;
    rt.stop().await;
    auth.stop().await;
    res
}

async fn signup(ctx: &Ctx, base: &str, dir: &std::path::Path) -> anyhow::Result<String> {
    let email = "storm@bench.invalid";
    let r = ctx
        .http
        .post(format!("{base}/api/auth/signup"))
        .json(&json!({"email": email, "username": "storm_bench", "password": PASSWORD}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!(
            "signup: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    let code = mailed_code(&dir.join("dev-mailbox.log")).await?;
    let r = ctx
        .http
        .post(format!("{base}/api/auth/verify-otp"))
        .json(&json!({"email": email, "code": code}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!(
            "verify-otp: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    Ok(email.to_owned())
}

/// The code in the dev mailbox. auth-api mails in the background after answering the signup, so
/// the file may not be written yet when the response arrives: poll it for a while.
async fn mailed_code(path: &std::path::Path) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mailbox = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(code) = mailbox
            .split(|c: char| !c.is_ascii_digit())
            .rfind(|w| w.len() == 6)
        {
            return Ok(code.to_owned());
        }
        if Instant::now() > deadline {
            bail!("no code in the dev mailbox {} after 10 s", path.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run(
    ctx: &Ctx,
    auth: &Server,
    rt: &Server,
    dir: &std::path::Path,
    loadgen_core_floor: Option<f64>,
    quick: bool,
) -> anyhow::Result<AuthResult> {
    let base = auth.base_url();
    let login = signup(ctx, &base, dir).await?;
    // Sockets in rooms of 10 on our realtime, at a moderate rate.
    let n: u32 = if quick { 300 } else { 1000 };
    let rooms: Vec<Vec<u32>> = (0..n / 10)
        .map(|k| (k * 10..k * 10 + 10).collect())
        .collect();
    let rec = Recorder::new();
    let addr = rt.addr;
    let (conns, _failed, err, _) = connect_all(ctx, 0..n, |_| addr, &rec, |_| None).await;
    if let Some(e) = err {
        eprintln!("  auth: connections failed, first: {e}");
    }
    let chats = create_rooms(ctx, &rt.base_url(), &rooms).await?;
    drain(&rec, Duration::from_millis(300), Duration::from_secs(3)).await;
    rec.take_deliveries();
    rec.take_acks();
    let pubs: Vec<(&Conn, &str)> = rooms
        .iter()
        .zip(&chats)
        .filter_map(|(m, c)| Some((conns.get(m[0] as usize)?.as_ref()?, c.as_str())))
        .collect();
    let secs = if quick { 3 } else { 6 };
    let rate = 100.0;
    let (quiet_start, rt_cpu_quiet) = (Instant::now(), rt.cpu_secs());
    let msgs = publish(&rec, &pubs, rate, Duration::from_secs(secs)).await;
    drain(&rec, Duration::from_millis(300), Duration::from_secs(3)).await;
    let rt_cpu_quiet = rt.cpu_secs().zip(rt_cpu_quiet).map_or(0.0, |(b, a)| b - a);
    let realtime_core_use_quiet = rt_cpu_quiet / quiet_start.elapsed().as_secs_f64();
    let quiet = measure(&rec, msgs);
    let url = format!("{base}/api/auth/login");
    // The storm alone (the sockets stay connected, nobody publishes) in slices, with a floor on
    // the server core before each slice and after the last: the hash's speed on this machine
    // drifts by ±10% from one minute to the next, and slices this short give the storm and the
    // floor the same minutes.
    let (slices, slice) = if quick {
        (2, Duration::from_millis(1000))
    } else {
        (4, Duration::from_millis(1500))
    };
    let mut floors = vec![server_core_floor(ctx, slice, false).await?];
    let (mut alone_logins, mut alone_elapsed) = (0usize, 0.0);
    // CPU seconds of the hashing threads and of the rest of auth-api, summed over the slices
    // (`None` once a reading failed).
    let mut spent = Some((0.0, 0.0));
    for _ in 0..slices {
        let before = auth.thread_cpu_secs(HASHING_THREADS);
        let alone = Storm::start(ctx, &url, &login);
        tokio::time::sleep(slice).await;
        let (lats, _, elapsed) = alone.finish().await;
        let after = auth.thread_cpu_secs(HASHING_THREADS);
        spent = spent
            .zip(before)
            .zip(after)
            .map(|((s, b), a)| (s.0 + a.0 - b.0, s.1 + a.1 - b.1));
        alone_logins += lats.len();
        alone_elapsed += elapsed;
        floors.push(server_core_floor(ctx, slice, false).await?);
    }
    let split = per_login(spent, alone_logins);
    if split.is_none() {
        eprintln!(
            "  auth: no CPU time on auth-api's `{HASHING_THREADS}*` threads during the storm"
        );
    }
    // The storm again, while the same publish rate goes on.
    let (auth_cpu, rt_cpu) = (auth.cpu_secs(), rt.cpu_secs());
    let storm = Storm::start(ctx, &url, &login);
    // Let the storm reach steady state before measuring the sockets.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let msgs = publish(&rec, &pubs, rate, Duration::from_secs(secs)).await;
    drain(&rec, Duration::from_millis(300), Duration::from_secs(3)).await;
    let (mut lats, errors, elapsed) = storm.finish().await;
    let storm = measure(&rec, msgs);
    let auth_cpu = auth.cpu_secs().zip(auth_cpu).map_or(0.0, |(b, a)| b - a);
    let rt_cpu = rt.cpu_secs().zip(rt_cpu).map_or(0.0, |(b, a)| b - a);
    floors.push(server_core_floor(ctx, slice, false).await?);
    let mean = |f: &[f64]| f.iter().sum::<f64>() / f.len() as f64;
    // The storm alone against the floors between its slices; the storm under the publish load
    // against the floors right before and after it.
    let (floor, floor_publish) = (mean(&floors[..=slices]), mean(&floors[slices..]));
    // Descriptive: the floor beside realtime serving the same publish load, at the priority of
    // auth-api's hashing threads, i.e. what sharing the core costs a hash with no auth-api at all.
    let (beside, msgs) = tokio::join!(
        server_core_floor(ctx, Duration::from_secs(secs), true),
        publish(&rec, &pubs, rate, Duration::from_secs(secs)),
    );
    drain(&rec, Duration::from_millis(300), Duration::from_secs(3)).await;
    let shared = measure(&rec, msgs);
    lats.sort_unstable();
    let logins_per_sec = lats.len() as f64 / elapsed;
    let auth_cpu_ms_per_login = 1000.0 * auth_cpu / lats.len().max(1) as f64;
    drop(conns);
    Ok(AuthResult {
        argon_floor_per_sec: floor,
        floors_per_sec: floors,
        // Descriptive only: its failure does not void the scenario.
        floor_beside_realtime_per_sec: beside.inspect_err(|e| eprintln!("  auth: {e:#}")).ok(),
        floor_loadgen_core_per_sec: loadgen_core_floor,
        logins_per_sec_alone: alone_logins as f64 / alone_elapsed,
        share_of_floor_alone: alone_logins as f64 / alone_elapsed / floor,
        logins: lats.len() as u64,
        login_errors: errors,
        logins_per_sec,
        share_of_floor: logins_per_sec / floor_publish,
        login_p99_ms: crate::harness::percentile(&lats, 0.99),
        auth_cpu_ms_per_login,
        auth_cpu_per_login_over_verify: auth_cpu_ms_per_login * floor_publish / 1000.0,
        hash_cpu_per_login_over_verify: split.map(|(hash, _)| hash * floor),
        non_hash_cpu_per_login_over_verify: split.map(|(_, rest)| rest * floor),
        realtime_core_use_quiet,
        realtime_core_use_storm: rt_cpu / elapsed,
        server_core_use_storm: (auth_cpu + rt_cpu) / elapsed,
        ws_connections: n,
        ws_p99_quiet_ms: quiet.p99_ms,
        ws_p99_storm_ms: storm.p99_ms,
        ws_missing: [quiet, storm, shared]
            .iter()
            .map(|d| d.missing + d.duplicates)
            .sum(),
    })
}

/// The name prefix of auth-api's password-hashing threads (`argon2-0`, `argon2-1`, … in
/// `crates/auth-api/src/domain/password/pool.rs`).
const HASHING_THREADS: &str = "argon2-";

/// CPU seconds per login of the hashing threads and of the rest of the process, from what
/// [`Server::thread_cpu_secs`] readings around the logins added up to; `None` without a reading,
/// without logins, or when no hashing thread used any CPU.
fn per_login(spent: Option<(f64, f64)>, logins: usize) -> Option<(f64, f64)> {
    let (hash, rest) = spent?;
    if logins == 0 || hash <= 0.0 {
        return None;
    }
    let n = logins as f64;
    Some((hash / n, rest.max(0.0) / n))
}

/// 4 clients logging in back to back until `finish`.
struct Storm {
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<(Vec<u32>, u64)>>,
    started: Instant,
}

impl Storm {
    fn start(ctx: &Ctx, url: &str, login: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..4)
            .map(|_| {
                let (http, url, login, stop) = (
                    ctx.http.clone(),
                    url.to_owned(),
                    login.to_owned(),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    let (mut lats, mut errors) = (Vec::new(), 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        let ok = http
                            .post(&url)
                            .json(&json!({"login": login, "password": PASSWORD}))
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success());
                        if ok {
                            lats.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        } else {
                            errors += 1;
                        }
                    }
                    (lats, errors)
                })
            })
            .collect();
        Self {
            stop,
            workers,
            started: Instant::now(),
        }
    }

    /// Stops the clients; their login latencies (µs), failed logins, and the seconds from the
    /// first login sent to the last one answered.
    async fn finish(self) -> (Vec<u32>, u64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut lats, mut errors) = (Vec::new(), 0);
        for w in self.workers {
            if let Ok((l, e)) = w.await {
                lats.extend(l);
                errors += e;
            }
        }
        (lats, errors, self.started.elapsed().as_secs_f64())
    }
}

fn measure(rec: &Recorder, msgs: std::ops::Range<u32>) -> crate::harness::Delivered {
    let acked = rec.take_acks().into_iter().map(|(m, _)| m).collect();
    crate::harness::analyze(&rec.take_deliveries(), msgs, 9, &acked)
}

/// The flag that makes `loadgen` measure the floor and print it (`loadgen --argon-floor <ms>`).
pub const FLOOR_FLAG: &str = "--argon-floor";

/// The floor on the server core: this binary again, pinned there with `taskset` like the servers
/// (this process is pinned to the load generator's core); `niced`: at nice +10, the priority of
/// auth-api's hashing threads.
async fn server_core_floor(ctx: &Ctx, dur: Duration, niced: bool) -> anyhow::Result<f64> {
    let exe = std::env::current_exe()?.display().to_string();
    let ms = dur.as_millis().to_string();
    let mut argv: Vec<&str> = Vec::new();
    if niced {
        argv.extend(["nice", "-n", "10"]);
    }
    if let Some(cores) = &ctx.opts.server_cores {
        argv.extend(["taskset", "-c", cores]);
    }
    argv.extend([exe.as_str(), FLOOR_FLAG, ms.as_str()]);
    let out = tokio::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .await?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim().parse::<f64>() {
        Ok(floor) if out.status.success() && floor > 0.0 => Ok(floor),
        _ => bail!(
            "argon2id floor on the server core: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// `loadgen --argon-floor <ms>`: prints [`argon_floor`] over that long on stdout.
pub fn print_argon_floor(dur: Duration) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    match rt.block_on(argon_floor(dur)) {
        Some(floor) => {
            println!("{floor}");
            Ok(())
        }
        None => bail!("the argon2id floor could not be measured"),
    }
}

/// argon2id verifications per second of one core with auth-api's parameters, doing the work of
/// auth-api's verify: parse the PHC string, derive with the hash's own parameters and salt into
/// working memory kept from one call to the next (as auth-api's hashing threads do), compare in
/// constant time. Counted per CPU-second of the measuring thread (user + system), not per
/// wall-clock second: on a shared machine other processes take turns on this core, and time they
/// take would lower the floor and flatter the login share compared with it.
pub async fn argon_floor(dur: Duration) -> Option<f64> {
    use argon2::password_hash::phc::{Output, PasswordHash};
    use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, Version};
    const PASSWORD: &[u8] = b"correct horse battery";
    fn verify(memory: &mut [Block], phc: &str) -> Option<bool> {
        let hash = PasswordHash::new(phc).ok()?;
        let (salt, expected) = (hash.salt.as_ref()?, hash.hash.as_ref()?);
        let algorithm = Algorithm::try_from(hash.algorithm.as_str()).ok()?;
        let version = hash
            .version
            .map_or(Ok(Version::default()), Version::try_from);
        let params = Params::try_from(&hash).ok()?;
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = &mut out[..expected.len()];
        Argon2::new(algorithm, version.ok()?, params)
            .hash_password_into_with_memory(PASSWORD, salt, out, memory)
            .ok()?;
        Some(Output::new(out).ok()? == *expected)
    }
    tokio::task::spawn_blocking(move || {
        let params = Params::new(19 * 1024, 2, 1, None).ok()?;
        let mut memory = vec![Block::new(); params.block_count()];
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let phc = argon.hash_password(PASSWORD).ok()?.to_string();
        let (start, cpu_start) = (Instant::now(), thread_cpu_secs()?);
        let mut n = 0u32;
        while start.elapsed() < dur {
            if !verify(&mut memory, &phc)? {
                return None;
            }
            n += 1;
        }
        Some(f64::from(n) / (thread_cpu_secs()? - cpu_start))
    })
    .await
    .ok()
    .flatten()
}

/// CPU seconds (user + system) the calling thread has used.
fn thread_cpu_secs() -> Option<f64> {
    let t = stat_cpu(&std::fs::read_to_string("/proc/thread-self/stat").ok()?)?;
    Some(t.user + t.system)
}

#[cfg(test)]
mod tests {
    use super::per_login;

    #[test]
    fn cpu_is_split_per_login() {
        let split = per_login(Some((1.5, 0.06)), 100).expect("split");
        assert!((split.0 - 0.015).abs() < 1e-9 && (split.1 - 0.0006).abs() < 1e-9);
        // No logins, no hashing thread, or no reading: nothing to report.
        assert_eq!(per_login(Some((1.0, 0.1)), 0), None);
        assert_eq!(per_login(Some((0.0, 1.5)), 10), None);
        assert_eq!(per_login(None, 10), None);
    }
}
