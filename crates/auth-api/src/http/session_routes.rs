//! `/api/auth/sessions`: where the caller is signed in, and signing sessions out.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::ApiError;
use common::contracts::account::{RevokedResponse, SessionsResponse};
use common::error::ErrorResponse;

use super::AppState;
use super::extract::Authenticated;

/// The caller's sessions: where they signed in (the `User-Agent`), when, and when each was last
/// active; the one the request was made in is `current`.
#[utoipa::path(
    get,
    path = "/api/auth/sessions",
    tag = "auth",
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The live sessions, most recently active first", body = SessionsResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
) -> Result<Json<SessionsResponse>, ApiError> {
    let sessions = state.auth.sessions_of(&me).await?;
    Ok(Json(SessionsResponse { sessions }))
}

/// Signs out every session of the caller but this one: their access tokens are refused and their
/// sockets dropped at once.
#[utoipa::path(
    delete,
    path = "/api/auth/sessions",
    tag = "auth",
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "How many sessions were signed out", body = RevokedResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn end_others(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
) -> Result<Json<RevokedResponse>, ApiError> {
    let revoked = state.auth.end_other_sessions(&me).await?;
    Ok(Json(RevokedResponse { revoked }))
}

/// Signs out one of the caller's sessions. Signing out the current one is logging out: the
/// cookie is cleared too.
#[utoipa::path(
    delete,
    path = "/api/auth/sessions/{id}",
    tag = "auth",
    params(("id" = String, Path, description = "The session's id, as listed")),
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such session of the caller's", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn end(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.auth.end_session(&me, &id).await?;
    if id == me.session_id {
        return Ok(state.web.cookie.signed_out());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
