//! `/api/auth/google` and its callback. The browser ends on the app (an allow-listed URL) with
//! the session cookie set; the PWA then calls `/api/auth/refresh` for an access token.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::error::ErrorResponse;
use common::{ApiError, ErrorCode};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::cookies::append;
use super::extract::UserAgent;
use crate::domain::oauth;

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// A path on the app to land on afterwards (`/chats`); anything else is ignored.
    return_to: Option<String>,
}

/// What the provider appends to the redirect URI.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorization code.
    code: Option<String>,
    /// The single-use `state` issued by `GET /api/auth/google`.
    state: Option<String>,
    /// Set instead of `code` when the user or the provider refused.
    error: Option<String>,
}

fn redirect(location: &str) -> Response {
    match header::HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        Err(_) => ApiError::internal("unrepresentable redirect location").into_response(),
    }
}

/// Only same-app relative paths: no scheme, no `//host`, no backslashes (open-redirect defence).
fn safe_path(path: Option<String>) -> String {
    match path {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && p.len() <= 512
                && !p.chars().any(char::is_control) =>
        {
            p
        }
        _ => "/".to_owned(),
    }
}

/// Starts Google sign-in: redirects to the provider with `state`, PKCE (S256) and `nonce`.
#[utoipa::path(
    get,
    path = "/api/auth/google",
    operation_id = "google_start",
    tag = "google",
    params(StartQuery),
    responses(
        (status = 302, description = "Redirect to the provider's authorization endpoint",
            headers(("location" = String, description = "The provider's authorization URL"))),
        (status = 404, description = "`not_found`: Google sign-in is not configured", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn start(
    State(state): State<AppState>,
    Query(q): Query<StartQuery>,
) -> Result<Response, ApiError> {
    let google = state
        .google
        .as_ref()
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "Google sign-in is not configured"))?;
    let url = google.start(&state.auth.kv, safe_path(q.return_to)).await?;
    Ok(redirect(&url))
}

/// The provider's redirect back: checks `state`, exchanges the code, validates the ID token, signs
/// the account in and redirects to the app.
#[utoipa::path(
    get,
    path = "/api/auth/google/callback",
    operation_id = "google_callback",
    tag = "google",
    params(CallbackQuery),
    responses(
        (status = 302, description = "Signed in; redirect to the app with the session cookie set",
            headers(
                ("location" = String, description = "The app URL to land on"),
                ("set-cookie" = String, description = "The session cookie (refresh token)"),
            )),
        (status = 400, description = "`oauth_failed`: refused, missing or reused `state`, failed code exchange or ID-token check", body = ErrorResponse),
        (status = 404, description = "`not_found`: Google sign-in is not configured", body = ErrorResponse),
        (status = 409, description = "`conflict`: the identity cannot be linked to the existing account", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn callback(
    State(state): State<AppState>,
    UserAgent(user_agent): UserAgent,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let google = state
        .google
        .as_ref()
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "Google sign-in is not configured"))?;
    if let Some(error) = q.error {
        tracing::info!(%error, "the provider refused the sign-in");
        return Err(oauth::failed("the provider refused the sign-in"));
    }
    let st = q
        .state
        .filter(|s| !s.is_empty())
        .ok_or_else(|| oauth::failed("missing state"))?;
    let code = q
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(|| oauth::failed("missing code"))?;
    let (claims, return_to) = google.finish(&state.auth.kv, &code, &st).await?;
    let user = state.auth.google_account(&claims).await?;
    let issued = state.auth.issue(user, user_agent).await?;
    let target = format!("{}{}", state.web.app_url.trim_end_matches('/'), return_to);
    let mut response = redirect(&target);
    append(
        response.headers_mut(),
        state.web.cookie.set(&issued.refresh_token),
    );
    Ok(response)
}
