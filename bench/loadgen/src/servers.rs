//! The servers under test as child processes: started pinned (`taskset -c`), ready once they log
//! `listening on http://…`, measured through `/proc/<pid>` (VmRSS, utime+stime), stopped with
//! SIGTERM then SIGKILL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How to start one server.
#[derive(Clone, Debug)]
pub struct Spec {
    pub label: String,
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// `taskset -c` list, if pinned.
    pub cores: Option<String>,
}

/// CPU seconds of a process: user space and kernel (system calls, and on loopback the TCP
/// receive path of the peer it writes to).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    pub user: f64,
    pub system: f64,
}

pub struct Server {
    pub label: String,
    pub pid: u32,
    pub addr: SocketAddr,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

fn ticks_per_sec() -> f64 {
    100.0 // USER_HZ on Linux x86_64
}

/// See [`Server::thread_cpu_secs`].
fn thread_cpu_secs(pid: u32, prefix: &str) -> Option<(f64, f64)> {
    let (mut named, mut rest) = (0.0, 0.0);
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let dir = task.ok()?.path();
        // A thread that exits between the listing and the read is skipped.
        let Some(t) = std::fs::read_to_string(dir.join("stat"))
            .ok()
            .and_then(|s| stat_cpu(&s))
        else {
            continue;
        };
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.starts_with(prefix) {
            named += t.user + t.system;
        } else {
            rest += t.user + t.system;
        }
    }
    Some((named, rest))
}

/// utime and stime of a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` line.
pub fn stat_cpu(stat: &str) -> Option<CpuTimes> {
    // Fields after the `(comm)`, which may contain spaces: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some(CpuTimes {
        user: utime / ticks_per_sec(),
        system: stime / ticks_per_sec(),
    })
}

impl Server {
    pub async fn start(spec: &Spec) -> anyhow::Result<Server> {
        let mut cmd = match &spec.cores {
            Some(cores) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cores).arg(&spec.program);
                c
            }
            None => Command::new(&spec.program),
        };
        cmd.args(&spec.args)
            .current_dir(&spec.cwd)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(spec.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", spec.program))?;
        let pid = child.id().context("child has no pid")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, mut addr_rx) = tokio::sync::mpsc::unbounded_channel::<SocketAddr>();
        for reader in [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|e| Box::new(e) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            let tx = addr_tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(reader).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(addr) = listening_addr(&line) {
                        let _ = tx.send(addr);
                    }
                    let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                    if l.len() < 200 {
                        l.push(line);
                    }
                }
            });
        }
        drop(addr_tx);
        let addr = tokio::time::timeout(Duration::from_secs(30), addr_rx.recv()).await;
        let mut server = Server {
            label: spec.label.clone(),
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
            log,
        };
        match addr {
            Ok(Some(a)) => server.addr = a,
            _ => {
                let log = server.log_tail();
                server.stop().await;
                bail!("{} did not start:\n{log}", spec.label);
            }
        }
        Ok(server)
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log_tail(&self) -> String {
        let l = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let tail: Vec<String> = l.iter().rev().take(20).rev().cloned().collect();
        format!("[{}]\n{}", self.label, tail.join("\n"))
    }

    /// Resident set size in KiB.
    pub fn rss_kb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }

    /// CPU seconds (user + system, all threads) used so far.
    pub fn cpu_secs(&self) -> Option<f64> {
        self.cpu_times().map(|t| t.user + t.system)
    }

    /// CPU seconds used so far, split into user space and the kernel (all threads).
    pub fn cpu_times(&self) -> Option<CpuTimes> {
        stat_cpu(&std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?)
    }

    /// CPU seconds (user + system) used so far by the threads whose name starts with `prefix`
    /// (Linux names threads after their first 15 bytes), and by all the others: an exited
    /// thread's time is gone from both.
    pub fn thread_cpu_secs(&self, prefix: &str) -> Option<(f64, f64)> {
        thread_cpu_secs(self.pid, prefix)
    }

    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(3), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// `listening on http://ADDR` (realtime, the baseline) or `… listening addr=ADDR` (auth-api,
/// text or JSON logs).
fn listening_addr(line: &str) -> Option<SocketAddr> {
    if !line.contains("listening") {
        return None;
    }
    let at = ["listening on http://", "addr=", r#""addr":""#]
        .iter()
        .find_map(|k| line.find(k).map(|i| i + k.len()))?;
    let rest = &line[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_is_found_in_text_and_json_logs() {
        let a = listening_addr(r#"{"message":"listening on http://127.0.0.1:4242","x":1}"#);
        assert_eq!(a, Some(SocketAddr::from(([127, 0, 0, 1], 4242))));
        assert_eq!(
            listening_addr("INFO auth-api listening addr=127.0.0.1:81"),
            Some(SocketAddr::from(([127, 0, 0, 1], 81)))
        );
        assert_eq!(
            listening_addr("listening on http://127.0.0.1:80"),
            Some(SocketAddr::from(([127, 0, 0, 1], 80)))
        );
    }

    #[test]
    fn a_named_threads_cpu_is_counted_apart_from_the_rest() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = Arc::new(AtomicBool::new(false));
        let busy = |name: &str| {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_add(1));
                    }
                })
                .expect("thread starts")
        };
        let pid = std::process::id();
        let (named0, rest0) = thread_cpu_secs(pid, "cpu-split-").expect("own /proc");
        let threads = [busy("cpu-split-0"), busy("other-spin")];
        // Read while both spin (an exited thread's time leaves the sums), until each side has
        // gained 50 ms: on a loaded machine that takes longer, never forever.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let (named, rest) = loop {
            std::thread::sleep(Duration::from_millis(20));
            let (named1, rest1) = thread_cpu_secs(pid, "cpu-split-").expect("own /proc");
            let gained = (named1 - named0, rest1 - rest0);
            if (gained.0 >= 0.05 && gained.1 >= 0.05) || std::time::Instant::now() > deadline {
                break gained;
            }
        };
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().expect("joins");
        }
        assert!(
            named >= 0.05 && rest >= 0.05,
            "named +{named} s, rest +{rest} s"
        );
    }
}
