//! Fixed-window rate limits on the `Kv` (`rl:{what}:{who}` counters that expire with their window),
//! so every instance sharing a Redis shares the budget.

use std::time::Duration;

use common::kv::SharedKv;
use common::{ApiError, ErrorCode};

use super::kv_err;

fn limited(retry_after: u64) -> ApiError {
    metrics::counter!("rate_limit_hits_total", "service" => "auth-api").increment(1);
    ApiError::new(ErrorCode::RateLimited, "too many attempts; retry later")
        .with_retry_after(retry_after.max(1))
}

/// Whole seconds until the window ends, rounded up: a client that waits exactly `Retry-After`
/// must not be refused again.
async fn retry_after(kv: &SharedKv, key: &str, window: Duration) -> u64 {
    let left = kv.ttl(key).await.ok().flatten().unwrap_or(window);
    (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1)
}

/// Refuses when the counter at `key` has already reached `limit` (without counting this request).
pub async fn check(kv: &SharedKv, key: &str, limit: i64, window: Duration) -> Result<(), ApiError> {
    let count: i64 = kv
        .get(key)
        .await
        .map_err(kv_err)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if count >= limit {
        return Err(limited(retry_after(kv, key, window).await));
    }
    Ok(())
}

/// Counts one event at `key` (the window starts with the first one).
pub async fn hit(kv: &SharedKv, key: &str, window: Duration) -> Result<i64, ApiError> {
    kv.incr(key, 1, window).await.map_err(kv_err)
}

/// Counts this request and refuses it when it goes over `limit`.
pub async fn consume(
    kv: &SharedKv,
    key: &str,
    limit: i64,
    window: Duration,
) -> Result<(), ApiError> {
    if hit(kv, key, window).await? > limit {
        return Err(limited(retry_after(kv, key, window).await));
    }
    Ok(())
}

/// A cooldown: the first call takes it, later calls within `period` are refused.
pub async fn cooldown(kv: &SharedKv, key: &str, period: Duration) -> Result<(), ApiError> {
    if period.is_zero() || kv.set_nx(key, "1", period).await.map_err(kv_err)? {
        return Ok(());
    }
    Err(limited(retry_after(kv, key, period).await))
}
