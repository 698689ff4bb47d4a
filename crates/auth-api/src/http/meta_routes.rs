//! Service metadata: the public key set and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::AppState;

/// `GET /.well-known/jwks.json`: the keys that verify access tokens (current and, during an
/// overlap, the previous one).
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let set = state.auth.minter.jwks(crate::domain::now());
    ([("cache-control", "public, max-age=300")], Json(set))
}

/// `GET /readyz`: 200 when the database and the Kv answer, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.auth.store.ping().await.map_err(|e| e.to_string());
    let kv = state.auth.kv.ping().await.map_err(|e| e.to_string());
    let ok = db.is_ok() && kv.is_ok();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ok { "ready" } else { "unavailable" },
        "database": { "backend": state.auth.store.backend(), "ok": db.is_ok() },
        "kv": { "backend": state.auth.kv.backend(), "ok": kv.is_ok() },
    });
    if let (Err(e), _) | (_, Err(e)) = (&db, &kv) {
        tracing::warn!(error = %e, "not ready");
    }
    (status, Json(body))
}
