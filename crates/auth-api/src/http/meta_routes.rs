//! Service metadata: the public key set, readiness and this service's OpenAPI document.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

/// The `GET /readyz` body.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `"ready"` or `"unavailable"`.
    pub status: &'static str,
    pub database: BackendHealth,
    pub kv: BackendHealth,
}

/// One backend's health in [`Readiness`].
#[derive(Serialize, ToSchema)]
pub struct BackendHealth {
    /// `postgres` / `sqlite` for the database, `redis` / `memory` for the Kv.
    pub backend: &'static str,
    pub ok: bool,
}

/// `GET /.well-known/jwks.json`: the keys that verify access tokens (current and, during an
/// overlap, the previous one).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "meta",
    responses(
        (status = 200, description = "A JSON Web Key Set (RFC 7517): `{\"keys\":[{\"kty\",\"crv\",\"x\",\"kid\",\"alg\",\"use\"},…]}`",
            body = Object, headers(("cache-control" = String))),
    ),
)]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let set = state.auth.minter.jwks(crate::domain::now());
    ([("cache-control", "public, max-age=300")], Json(set))
}

/// `GET /readyz`: 200 when the database and the Kv answer, 503 otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    responses(
        (status = 200, description = "The database and the Kv answer", body = Readiness),
        (status = 503, description = "A backend does not answer", body = Readiness),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.auth.store.ping().await.map_err(|e| e.to_string());
    let kv = state.auth.kv.ping().await.map_err(|e| e.to_string());
    let ok = db.is_ok() && kv.is_ok();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ok { "ready" } else { "unavailable" },
        database: BackendHealth {
            backend: state.auth.store.backend(),
            ok: db.is_ok(),
        },
        kv: BackendHealth {
            backend: state.auth.kv.backend(),
            ok: kv.is_ok(),
        },
    };
    if let (Err(e), _) | (_, Err(e)) = (&db, &kv) {
        tracing::warn!(error = %e, "not ready");
    }
    (status, Json(body))
}

/// This service's OpenAPI document, serialized once when the router is built.
#[derive(Clone)]
pub struct OpenApiJson(pub Bytes);

/// `GET /api/openapi.json`: the OpenAPI 3.1 document of every route of this service.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    responses((status = 200, description = "This document", body = Object)),
)]
pub async fn openapi_json(
    Extension(OpenApiJson(doc)): Extension<OpenApiJson>,
) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], doc)
}
