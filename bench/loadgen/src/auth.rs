//! Auth: auth-api's login throughput against the argon2id floor, and our WebSocket p99 while a
//! login storm runs on the same core. auth-api runs with its embedded defaults (SQLite, dev
//! mailbox) pinned with the servers; one account is signed up and verified through the real
//! email-code flow (the code is read from the dev mailbox file).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;
use serde_json::json;

use crate::conn::{Conn, Recorder};
use crate::harness::{Ctx, Impl, Store, connect_all, create_rooms, drain, publish};
use crate::servers::{Server, Spec};

#[derive(Debug, Serialize, Default)]
pub struct AuthResult {
    pub argon_floor_per_sec: f64,
    pub logins: u64,
    pub login_errors: u64,
    pub logins_per_sec: f64,
    /// Logins/s as a share of the floor (1.0 = nothing but hashing).
    pub share_of_floor: f64,
    pub login_p99_ms: f64,
    /// auth-api's CPU time (user + system) per login during the storm; the hash alone costs
    /// 1000 / `argon_floor_per_sec` ms.
    pub auth_cpu_ms_per_login: f64,
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
    floor: f64,
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
    let res = run(ctx, &auth, &rt, &dir, floor, quick).await;
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
    floor: f64,
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
    let msgs = publish(&rec, &pubs, rate, Duration::from_secs(secs)).await;
    drain(&rec, Duration::from_millis(300), Duration::from_secs(3)).await;
    let quiet = measure(&rec, msgs);
    // The storm: 4 clients logging in back to back, while the same publish rate goes on.
    let stop = Arc::new(AtomicBool::new(false));
    let (storm_start, auth_cpu, rt_cpu) = (Instant::now(), auth.cpu_secs(), rt.cpu_secs());
    let url = format!("{base}/api/auth/login");
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (http, url, login, stop) =
                (ctx.http.clone(), url.clone(), login.clone(), stop.clone());
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
    // Let the storm reach steady state before measuring the sockets.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let msgs = publish(&rec, &pubs, rate, Duration::from_secs(secs)).await;
    drain(&rec, Duration::from_millis(300), Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let storm = measure(&rec, msgs);
    let mut lats = Vec::new();
    let mut errors = 0;
    for w in workers {
        if let Ok((l, e)) = w.await {
            lats.extend(l);
            errors += e;
        }
    }
    // From the first login sent to the last one answered (the warm-up second included: its
    // logins are counted too).
    let elapsed = storm_start.elapsed().as_secs_f64();
    let auth_cpu = auth.cpu_secs().zip(auth_cpu).map_or(0.0, |(b, a)| b - a);
    let rt_cpu = rt.cpu_secs().zip(rt_cpu).map_or(0.0, |(b, a)| b - a);
    lats.sort_unstable();
    let logins_per_sec = lats.len() as f64 / elapsed;
    drop(conns);
    Ok(AuthResult {
        argon_floor_per_sec: floor,
        logins: lats.len() as u64,
        login_errors: errors,
        logins_per_sec,
        share_of_floor: logins_per_sec / floor,
        login_p99_ms: crate::harness::percentile(&lats, 0.99),
        auth_cpu_ms_per_login: 1000.0 * auth_cpu / lats.len().max(1) as f64,
        server_core_use_storm: (auth_cpu + rt_cpu) / elapsed,
        ws_connections: n,
        ws_p99_quiet_ms: quiet.p99_ms,
        ws_p99_storm_ms: storm.p99_ms,
        ws_missing: quiet.missing + quiet.duplicates + storm.missing + storm.duplicates,
    })
}

fn measure(rec: &Recorder, msgs: std::ops::Range<u32>) -> crate::harness::Delivered {
    let acked = rec.take_acks().into_iter().map(|(m, _)| m).collect();
    crate::harness::analyze(&rec.take_deliveries(), msgs, 9, &acked)
}
