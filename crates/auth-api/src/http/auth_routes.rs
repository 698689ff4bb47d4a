//! `/api/auth/*`: signup, codes, login, refresh, logout, verify-me.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::contracts::auth::{
    AuthResponse, LoginRequest, RequestOtpRequest, SignupRequest, TokenResponse, UserResponse,
    VerifyOtpRequest,
};
use common::{ApiError, ErrorCode};

use super::AppState;
use super::cookies::append;
use super::extract::{Authenticated, ClientIp, ValidJson};
use crate::domain::{Issued, to_user};

/// Counts the outcome of an auth step (`success` or the error code) for `/metrics`.
fn outcome<T>(metric: &'static str, result: &Result<T, ApiError>) {
    let label = match result {
        Ok(_) => "success",
        Err(e) => e.code().as_str(),
    };
    metrics::counter!(metric, "outcome" => label).increment(1);
}

/// A sign-in response: the body plus the session cookie.
fn signed_in(state: &AppState, issued: Issued) -> Response {
    let body = AuthResponse {
        user: to_user(&issued.user),
        access_token: issued.access_token,
        expires_in: issued.expires_in,
    };
    let mut response = (StatusCode::OK, Json(body)).into_response();
    append(
        response.headers_mut(),
        state.web.cookie.set(&issued.refresh_token),
    );
    response
}

pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ValidJson(req): ValidJson<SignupRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let user = state.auth.signup(req, ip).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserResponse {
            user: to_user(&user),
        }),
    ))
}

pub async fn request_otp(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ValidJson(req): ValidJson<RequestOtpRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let result = state.auth.request_otp(&req.email, ip).await;
    outcome("auth_otp_requests_total", &result);
    result?;
    let body =
        serde_json::json!({ "message": "if this email has an account, a code is on its way" });
    Ok((StatusCode::ACCEPTED, Json(body)))
}

pub async fn verify_otp(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<VerifyOtpRequest>,
) -> Result<Response, ApiError> {
    let result = state.auth.verify_otp(req).await;
    outcome("auth_otp_verifications_total", &result);
    let issued = result?;
    Ok(signed_in(&state, issued))
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ValidJson(req): ValidJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let result = state.auth.login(req, ip).await;
    outcome("auth_logins_total", &result);
    let issued = result?;
    Ok(signed_in(&state, issued))
}

/// Rotates the session cookie and returns a new access token. A failed refresh clears the cookie
/// so the client stops presenting a dead token.
pub async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = match state.web.cookie.read(&headers) {
        Some(token) => state.auth.refresh(&token).await,
        None => Err(ApiError::new(ErrorCode::Unauthorized, "no session cookie")),
    };
    match result {
        Ok((access_token, expires_in, next)) => {
            let mut response = Json(TokenResponse {
                access_token,
                expires_in,
            })
            .into_response();
            append(response.headers_mut(), state.web.cookie.set(&next));
            response
        }
        Err(e) => {
            let clear = e.code() == ErrorCode::Unauthorized;
            let mut response = e.into_response();
            if clear {
                append(response.headers_mut(), Some(state.web.cookie.clear()));
            }
            response
        }
    }
}

/// Ends the current session (idempotent: without a valid session it just clears the cookie).
pub async fn logout(
    State(state): State<AppState>,
    who: Result<Authenticated, ApiError>,
) -> Result<Response, ApiError> {
    if let Ok(Authenticated(principal)) = who {
        state.auth.logout(&principal.session_id).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    append(response.headers_mut(), Some(state.web.cookie.clear()));
    Ok(response)
}

pub async fn verify_me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<UserResponse>, ApiError> {
    let user = state
        .auth
        .user(principal.user_id)
        .await
        .map_err(|_| ApiError::new(ErrorCode::Unauthorized, "the account no longer exists"))?;
    Ok(Json(UserResponse {
        user: to_user(&user),
    }))
}
