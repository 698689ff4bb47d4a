//! Connect-time checks (a socketioxide connect middleware): the handshake `Origin` must be on the
//! allow-list, and the CONNECT packet must carry `auth: {token}` with a valid access token.
//! Refusals reach the client as `connect_error` with message `origin_not_allowed` or
//! `unauthorized`. A handshake without `Origin` is allowed: only browsers can be abused for
//! cross-site WebSocket hijacking, and browsers always send `Origin`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State, TryData};

use super::SharedServices;
use super::limit::RateLimiter;

/// Who is on the other end of a socket (stored in the socket's extensions).
pub struct Session {
    pub user_id: String,
    pub sid: String,
    pub limiter: RateLimiter,
    /// The presence rounds this instance had taken once the socket had joined its room (see
    /// `presence::send_snapshot`).
    pub joined_round: AtomicU64,
}

#[derive(Debug, Deserialize)]
pub struct ConnectAuth {
    pub token: String,
}

/// Why a connection was refused; the text is the `connect_error` message.
#[derive(Debug)]
pub struct Refused(&'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

pub async fn authenticate<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<SharedServices>,
    TryData(auth): TryData<ConnectAuth>,
) -> Result<(), Refused> {
    if let Some(origin) = s.req_parts().headers.get(axum::http::header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| app.allowed_origins.iter().any(|a| a == o));
        if !allowed {
            tracing::info!(origin = ?origin, "socket refused: origin not allowed");
            return Err(Refused("origin_not_allowed"));
        }
    }
    let Ok(ConnectAuth { token }) = auth else {
        return Err(Refused("unauthorized"));
    };
    let claims = match app.verifier.verify_access(&token).await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(reason = %e, "socket refused: bad token");
            return Err(Refused("unauthorized"));
        }
    };
    if app.revocations.is_revoked(&claims.sid).await {
        tracing::info!("socket refused: the token's session was revoked");
        return Err(Refused("unauthorized"));
    }
    let limiter = RateLimiter::new(app.limits.rate_burst, app.limits.rate_per_sec);
    let session = Arc::new(Session {
        user_id: claims.sub,
        sid: claims.sid,
        limiter,
        joined_round: AtomicU64::new(0),
    });
    // The session first: a revocation finds the socket by it once it has joined its rooms.
    s.extensions.insert(session.clone());
    super::register(&s, &session);
    // Read after joining: a round taken before this may have gone out before the socket joined.
    let joined = app.presence_changes.rounds();
    session.joined_round.store(joined, Ordering::Relaxed);
    super::presence::came_online(&app, &session).await;
    Ok(())
}
