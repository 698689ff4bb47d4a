//! `GET /readyz`: the chat store and the key-value store both answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::AppState;

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let (store, kv) = tokio::join!(state.store.ping(), state.kv.ping());
    let ok = store.is_ok() && kv.is_ok();
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "store": { "backend": state.store.backend(), "ok": store.is_ok() },
        "kv": { "backend": state.kv.backend(), "ok": kv.is_ok() },
    });
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}
