//! `GET /readyz`: the chat store and the key-value store both answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

/// The `GET /readyz` body.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `"ready"` or `"unavailable"`.
    pub status: &'static str,
    pub store: BackendHealth,
    pub kv: BackendHealth,
}

/// One backend's health in [`Readiness`].
#[derive(Serialize, ToSchema)]
pub struct BackendHealth {
    /// `mongodb` / `sqlite` for the chat store, `redis` / `memory` for the Kv.
    pub backend: &'static str,
    pub ok: bool,
}

/// `GET /readyz`: 200 when the chat store and the Kv answer, 503 otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    responses(
        (status = 200, description = "The chat store and the Kv answer", body = Readiness),
        (status = 503, description = "A backend does not answer", body = Readiness),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let (store, kv) = tokio::join!(state.store.ping(), state.kv.ping());
    let ok = store.is_ok() && kv.is_ok();
    let body = Readiness {
        status: if ok { "ready" } else { "unavailable" },
        store: BackendHealth {
            backend: state.store.backend(),
            ok: store.is_ok(),
        },
        kv: BackendHealth {
            backend: state.kv.backend(),
            ok: kv.is_ok(),
        },
    };
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}
