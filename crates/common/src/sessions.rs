//! Revoked sessions, shared by auth-api (which revokes) and realtime (which refuses them).
//!
//! An access token stays valid until it expires (at most [`MAX_ACCESS_TTL`]) whatever happens to
//! its session, so a revocation (logout, refresh-token reuse) is recorded in the `Kv` for that
//! long, and announced on [`SESSION_REVOKED_CHANNEL`] so that live sockets are dropped at once.
//! realtime checks the record when a socket connects and on every REST request: a logged-out
//! session's token opens nothing.

use crate::contracts::auth::SESSION_REVOKED_CHANNEL;
use crate::jwt::MAX_ACCESS_TTL;
use crate::kv::{Kv, KvResult};

fn revoked_key(sid: &str) -> String {
    format!("auth:revoked:{sid}")
}

/// Records session `sid` as revoked for as long as one of its access tokens can be valid, then
/// announces it. The record comes first: a socket connecting between the two is refused.
pub async fn revoke(kv: &dyn Kv, sid: &str) -> KvResult<()> {
    kv.set(&revoked_key(sid), "1", Some(MAX_ACCESS_TTL)).await?;
    kv.publish(SESSION_REVOKED_CHANNEL, sid).await
}

/// Whether session `sid` was revoked within the last [`MAX_ACCESS_TTL`].
pub async fn is_revoked(kv: &dyn Kv, sid: &str) -> KvResult<bool> {
    Ok(kv.get(&revoked_key(sid)).await?.is_some())
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::kv::MemoryKv;

    #[tokio::test]
    async fn a_revoked_session_is_recorded_for_an_access_tokens_lifetime_and_announced() {
        let kv = MemoryKv::new();
        let mut announced = kv
            .subscribe(SESSION_REVOKED_CHANNEL)
            .await
            .expect("subscribe");
        assert!(!is_revoked(&kv, "s1").await.expect("kv"));
        revoke(&kv, "s1").await.expect("revoke");
        assert!(is_revoked(&kv, "s1").await.expect("kv"));
        assert!(
            !is_revoked(&kv, "s2").await.expect("kv"),
            "only that session"
        );
        let ttl = kv
            .ttl(&revoked_key("s1"))
            .await
            .expect("kv")
            .expect("a TTL");
        assert!(ttl <= MAX_ACCESS_TTL && ttl > MAX_ACCESS_TTL / 2, "{ttl:?}");
        assert_eq!(announced.next().await.as_deref(), Some("s1"));
    }
}
