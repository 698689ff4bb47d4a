//! What one user may do to chats over REST in a while, counted in the `Kv` (fixed windows whose
//! counters expire with them) so every instance behind the load balancer shares the count:
//!
//! - **changes** a minute ([`Limits::chat_changes_per_minute`]): creating a chat, renaming,
//!   adding and removing members, admins, pictures, mutes, joining, deleting. Each tells other
//!   people (a group made with strangers in it is in their chat lists at once), so an account
//!   scripted to make groups or add people by the thousand would spam everyone it names; Slack
//!   and Matrix limit the same requests.
//! - **wrong passcodes** an hour ([`Limits::join_failures_per_hour`]): a passcode may be four
//!   characters, so unbounded tries would find it. Checked before the passcode's hash runs, so a
//!   refused try costs no hashing either.
//!
//! Past either, the answer is `429 rate_limited` with `Retry-After` (the window's end).

use std::time::Duration;

use common::kv::SharedKv;
use common::{ApiError, ErrorCode};

use crate::config::Limits;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn changes_key(user: &str) -> String {
    format!("rl:chat_changes:{user}")
}

fn join_failures_key(user: &str) -> String {
    format!("rl:join_fail:{user}")
}

#[derive(Clone)]
pub struct Budgets {
    kv: SharedKv,
    changes_per_minute: u32,
    join_failures_per_hour: u32,
}

impl Budgets {
    pub fn new(kv: SharedKv, limits: &Limits) -> Self {
        Self {
            kv,
            changes_per_minute: limits.chat_changes_per_minute,
            join_failures_per_hour: limits.join_failures_per_hour,
        }
    }

    /// Counts one change by `user`, or refuses it past the minute's budget.
    pub async fn spend_change(&self, user: &str) -> Result<(), ApiError> {
        let key = changes_key(user);
        let made = self
            .kv
            .incr(&key, 1, MINUTE)
            .await
            .map_err(|e| ApiError::unavailable(e.0))?;
        if made <= i64::from(self.changes_per_minute) {
            return Ok(());
        }
        Err(self
            .limited(
                &key,
                MINUTE,
                "too many changes to chats this minute; retry later",
            )
            .await)
    }

    /// Refuses a join while `user`'s wrong passcodes this hour are at the budget.
    pub async fn check_join(&self, user: &str) -> Result<(), ApiError> {
        let key = join_failures_key(user);
        let failed: i64 = self
            .kv
            .get(&key)
            .await
            .map_err(|e| ApiError::unavailable(e.0))?
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if failed < i64::from(self.join_failures_per_hour) {
            return Ok(());
        }
        Err(self
            .limited(
                &key,
                HOUR,
                "too many wrong passcodes this hour; retry later",
            )
            .await)
    }

    /// Counts a wrong passcode of `user`'s.
    pub async fn join_failed(&self, user: &str) {
        if let Err(e) = self.kv.incr(&join_failures_key(user), 1, HOUR).await {
            tracing::warn!(error = %e.0, "cannot count a wrong passcode");
        }
    }

    /// `rate_limited`, to retry when the window at `key` ends.
    async fn limited(&self, key: &str, window: Duration, message: &str) -> ApiError {
        metrics::counter!("rate_limit_hits_total", "service" => "realtime").increment(1);
        let left = self.kv.ttl(key).await.ok().flatten().unwrap_or(window);
        // Rounded up: a client that waits exactly `Retry-After` must not be refused again.
        let wait = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        ApiError::new(ErrorCode::RateLimited, message).with_retry_after(wait.max(1))
    }
}
