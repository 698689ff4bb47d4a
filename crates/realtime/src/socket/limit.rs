//! Per-socket event rate limit: a token bucket (burst, then a sustained rate). Over the limit an
//! event is answered `rate_limited` without being processed.

use std::sync::Mutex;
use std::time::Instant;

use common::{ApiError, ErrorCode};

pub struct RateLimiter {
    burst: f64,
    per_sec: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    pub fn new(burst: u32, per_sec: f64) -> Self {
        let burst = f64::from(burst);
        Self {
            burst,
            per_sec,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes one token, or says how long until one is available.
    pub fn check(&self) -> Result<(), ApiError> {
        let Ok(mut state) = self.state.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        let (tokens, last) = *state;
        let tokens =
            (tokens + now.duration_since(last).as_secs_f64() * self.per_sec).min(self.burst);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            Ok(())
        } else {
            *state = (tokens, now);
            metrics::counter!("rate_limit_hits_total", "service" => "realtime").increment(1);
            let wait = ((1.0 - tokens) / self.per_sec).ceil().max(1.0) as u64;
            Err(
                ApiError::new(ErrorCode::RateLimited, "too many events; slow down")
                    .with_retry_after(wait),
            )
        }
    }
}
