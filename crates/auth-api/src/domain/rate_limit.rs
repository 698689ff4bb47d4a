//! Fixed-window rate limits on the `Kv` (`rl:{what}:{who}` counters that expire with their window),
//! so every instance sharing a Redis shares the budget.

use std::time::Duration;

use common::kv::SharedKv;
use common::{ApiError, ErrorCode};

use super::kv_err;

/// The window of the hourly budgets.
pub const HOUR: Duration = Duration::from_secs(3600);

/// What each limit refuses, by the prefix of its key, so a 429 says which budget is spent: a
/// user (and a client) can then tell a code's cooldown from a locked password, say.
const REFUSALS: [(&str, &str); 7] = [
    (
        "rl:login_fail_ip:",
        "too many failed sign-ins from this network; retry later",
    ),
    (
        "rl:login_fail:",
        "too many wrong passwords for this login; retry later, or set a new password with a code sent to the address",
    ),
    (
        "otp_cooldown:",
        "a code was sent to this address moments ago; wait before asking for another",
    ),
    (
        "rl:otp_email:",
        "too many codes sent to this address this hour; retry later",
    ),
    (
        "rl:otp_ip:",
        "too many codes asked for from this network this hour; retry later",
    ),
    (
        "rl:profile:",
        "too many profile changes this hour; retry later",
    ),
    ("rl:key:", "too many keys published this hour; retry later"),
];

/// The refusal of the limit counted at `key`.
fn refusal(key: &str) -> &'static str {
    REFUSALS
        .iter()
        .find(|(prefix, _)| key.starts_with(prefix))
        .map_or("too many attempts; retry later", |(_, message)| message)
}

fn limited(key: &str, retry_after: u64) -> ApiError {
    metrics::counter!("rate_limit_hits_total", "service" => "auth-api").increment(1);
    ApiError::new(ErrorCode::RateLimited, refusal(key)).with_retry_after(retry_after.max(1))
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
        return Err(limited(key, retry_after(kv, key, window).await));
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
        return Err(limited(key, retry_after(kv, key, window).await));
    }
    Ok(())
}

/// A cooldown: the first call takes it, later calls within `period` are refused.
pub async fn cooldown(kv: &SharedKv, key: &str, period: Duration) -> Result<(), ApiError> {
    if period.is_zero() || kv.set_nx(key, "1", period).await.map_err(kv_err)? {
        return Ok(());
    }
    Err(limited(key, retry_after(kv, key, period).await))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_says_which_budget_is_spent() {
        assert!(refusal("rl:login_fail:ada@example.com").contains("wrong passwords"));
        assert!(refusal("rl:login_fail_ip:10.0.0.1").contains("from this network"));
        assert!(refusal("otp_cooldown:ada@example.com").contains("moments ago"));
        assert!(refusal("rl:otp_email:ada@example.com").contains("to this address this hour"));
        assert!(refusal("rl:otp_ip:10.0.0.1").contains("codes asked for from this network"));
        assert!(refusal("rl:profile:u").contains("profile changes"));
        assert!(refusal("rl:key:u").contains("keys published"));
        assert_eq!(refusal("rl:other:u"), "too many attempts; retry later");
        let messages: std::collections::HashSet<_> = REFUSALS.iter().map(|(_, m)| m).collect();
        assert_eq!(messages.len(), REFUSALS.len(), "no two limits say the same");
    }
}
