//! Revoked sessions (`common::sessions`): a token of a logged-out session is refused at connect
//! and on REST requests, not only its live sockets dropped.

use common::kv::SharedKv;

#[derive(Clone)]
pub struct Revocations {
    kv: SharedKv,
}

impl Revocations {
    pub fn new(kv: SharedKv) -> Self {
        Self { kv }
    }

    /// Whether session `sid` was revoked. A `Kv` that cannot answer lets the token through
    /// (logged): its signature and expiry were checked already, the record only shortens a
    /// revoked token's life, and refusing every connect while Redis is away would take the whole
    /// service down with it.
    pub async fn is_revoked(&self, sid: &str) -> bool {
        match common::sessions::is_revoked(&*self.kv, sid).await {
            Ok(revoked) => revoked,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check whether a session was revoked");
                false
            }
        }
    }
}
