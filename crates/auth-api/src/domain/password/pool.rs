//! The password-hashing threads.
//!
//! One thread per core, each with its own argon2 working memory, so a hash costs its CPU time and
//! nothing more (no 19 MiB allocation, page faults and zeroing per login); a thread keeps its
//! memory while logins keep coming and gives it back after a minute without any. The threads run
//! at a lower CPU priority (nice +10), so the scheduler prefers the process's other threads, and
//! other processes on the host such as a realtime next to it: a login storm queues here instead
//! of taking the core from latency-sensitive work.
//!
//! Jobs are handed over through a rendezvous channel: a caller waits (asynchronously, in arrival
//! order) until a thread takes its job, so at most one hash per thread is in progress, no async
//! worker ever blocks, and a caller that gives up before a thread took its job costs nothing.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use common::ApiError;
use flume::RecvTimeoutError;
use tokio::sync::oneshot;

use super::argon::Memory;

/// A thread idle this long gives its working memory back.
const IDLE: Duration = Duration::from_secs(60);

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// Handle to the hashing threads; they exit once every clone of it is dropped.
#[derive(Clone)]
pub struct Pool {
    jobs: flume::Sender<Job>,
}

impl Pool {
    /// Starts `threads` hashing threads.
    pub fn start(threads: usize) -> anyhow::Result<Self> {
        let (jobs, queue) = flume::bounded::<Job>(0);
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&queue))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `job` on the first free hashing thread with that thread's working memory.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send_async(Box::new(move |memory: &mut Memory| {
                let _ = tx.send(job(memory));
            }))
            .await
            .map_err(|_| ApiError::internal("the password-hashing threads have stopped"))?;
        rx.await
            .map_err(|_| ApiError::internal("a password-hashing job panicked"))
    }
}

fn work(queue: &flume::Receiver<Job>) {
    lower_priority();
    let mut memory = Memory::default();
    loop {
        match queue.recv_timeout(IDLE) {
            // A panicking job drops its result sender (its caller gets an error); the thread and
            // its memory, which holds nothing that needs to be consistent, carry on.
            Ok(job) => drop(catch_unwind(AssertUnwindSafe(|| job(&mut memory)))),
            Err(RecvTimeoutError::Timeout) => memory.release(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Puts the calling thread at nice +10: it gets the CPU that nice-0 threads leave (about a tenth of
/// a core against a busy one) and they preempt it when they wake. Best effort: where the system
/// refuses, hashing runs at normal priority.
fn lower_priority() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    // thread-priority maps its 0..=99 scale onto nice 19..=-20 for the normal policies: 22 is
    // nice 10 (a test below checks it).
    let nice_10 = ThreadPriority::Crossplatform(22u8.try_into().expect("within 0..=99"));
    let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
    if let Err(e) = set_thread_priority_and_policy(thread_native_id(), nice_10, policy) {
        tracing::warn!(error = ?e, "could not lower the priority of a password-hashing thread");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::Pool;

    #[tokio::test]
    async fn runs_at_most_one_job_per_thread_at_a_time() {
        let pool = Pool::start(2).expect("pool starts");
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs = (0..8).map(|i| {
            let (running, most) = (running.clone(), most.clone());
            pool.run(move |_memory| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                i
            })
        });
        let done: Vec<i32> = futures::future::try_join_all(jobs)
            .await
            .expect("every job runs");
        assert_eq!(done, (0..8).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 2);
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_caller_and_the_thread_carries_on() {
        let pool = Pool::start(1).expect("pool starts");
        assert!(pool.run(|_memory| panic!("boom")).await.is_err());
        assert_eq!(pool.run(|_memory| 7).await.expect("job runs"), 7);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_nice_10() {
        let pool = Pool::start(1).expect("pool starts");
        let nice = pool
            .run(|_memory| {
                let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("thread stat");
                // After the `(comm)`: state is field 3, nice is field 19.
                let fields: Vec<String> = stat[stat.rfind(')').expect("comm field") + 2..]
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                fields[16].parse::<i32>().expect("nice value")
            })
            .await
            .expect("job runs");
        assert_eq!(nice, 10);
    }
}
