//! `/api/auth/google` and its callback. The browser ends on the app (an allow-listed URL) with
//! the session cookie set; the PWA then calls `/api/auth/refresh` for an access token.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::{ApiError, ErrorCode};
use serde::Deserialize;

use super::AppState;
use super::cookies::append;
use crate::domain::oauth;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartQuery {
    /// A path on the app to land on afterwards (`/chats`); anything else is ignored.
    return_to: Option<String>,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
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

pub async fn callback(
    State(state): State<AppState>,
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
    let issued = state.auth.issue(user).await?;
    let target = format!("{}{}", state.web.app_url.trim_end_matches('/'), return_to);
    let mut response = redirect(&target);
    append(
        response.headers_mut(),
        state.web.cookie.set(&issued.refresh_token),
    );
    Ok(response)
}
