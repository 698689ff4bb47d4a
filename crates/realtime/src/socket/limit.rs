//! Per-socket event rate limit: token buckets (a burst, then a sustained rate). Over the limit an
//! event is answered `rate_limited` without being processed.
//!
//! A socket has two buckets of the same size: one for the messages it sends, one for everything
//! else (receipts, typing, joining and leaving rooms, `sync`). A client's chatter in a busy chat
//! (a read receipt per message that arrives while the chat is open, say) then never makes its
//! user's own messages wait.

use std::sync::Mutex;
use std::time::Instant;

use common::{ApiError, ErrorCode};

/// What an event spends.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// `send_message`.
    Messages = 0,
    /// Every other event.
    Events = 1,
}

pub struct RateLimiter {
    burst: f64,
    per_sec: f64,
    /// Tokens left in each [`Budget`] and when they were counted.
    buckets: Mutex<[(f64, Instant); 2]>,
}

impl RateLimiter {
    pub fn new(burst: u32, per_sec: f64) -> Self {
        let burst = f64::from(burst);
        let now = Instant::now();
        Self {
            burst,
            per_sec,
            buckets: Mutex::new([(burst, now); 2]),
        }
    }

    /// Takes one token of `budget`, or says how long until one is available.
    pub fn check(&self, budget: Budget) -> Result<(), ApiError> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        let bucket = &mut buckets[budget as usize];
        let (tokens, last) = *bucket;
        let tokens =
            (tokens + now.duration_since(last).as_secs_f64() * self.per_sec).min(self.burst);
        if tokens >= 1.0 {
            *bucket = (tokens - 1.0, now);
            Ok(())
        } else {
            *bucket = (tokens, now);
            metrics::counter!("rate_limit_hits_total", "service" => "realtime").increment(1);
            let wait = ((1.0 - tokens) / self.per_sec).ceil().max(1.0) as u64;
            Err(
                ApiError::new(ErrorCode::RateLimited, "too many events; slow down")
                    .with_retry_after(wait),
            )
        }
    }
}
