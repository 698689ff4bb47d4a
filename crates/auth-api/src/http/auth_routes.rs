//! `/api/auth/*`: signup, codes, login, refresh, logout, verify-me, the password (changed or
//! reset), and deleting the account.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::contracts::account::{
    ChangePasswordRequest, DeleteAccountRequest, ResetPasswordRequest, RevokedResponse,
};
use common::contracts::auth::{
    AuthResponse, LoginRequest, MessageResponse, RequestOtpRequest, SignupRequest, TokenResponse,
    UserResponse, VerifyOtpRequest,
};
use common::error::ErrorResponse;
use common::{ApiError, ErrorCode};

use super::AppState;
use super::cookies::append;
use super::extract::{Authenticated, ClientIp, UserAgent, ValidJson};
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

/// Creates an unverified account and emails it a one-time code.
#[utoipa::path(
    post,
    path = "/api/auth/signup",
    tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created, unverified; a code is on its way", body = UserResponse),
        (status = 400, description = "`invalid_json`", body = ErrorResponse),
        (status = 409, description = "`email_taken` or `username_taken`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`, with per-field messages (a too common password included)", body = ErrorResponse),
        (status = 429, description = "`rate_limited` (codes per IP per hour); see `Retry-After`", body = ErrorResponse),
        (status = 503, description = "`unavailable`: a backend is down; retry later", body = ErrorResponse),
    ),
)]
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

/// Emails a fresh code if the address has an account. The answer is the same either way, so it
/// does not reveal which addresses are registered.
#[utoipa::path(
    post,
    path = "/api/auth/request-otp",
    tag = "auth",
    request_body = RequestOtpRequest,
    responses(
        (status = 202, description = "Accepted, whatever the email", body = MessageResponse),
        (status = 400, description = "`invalid_json`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: resend cooldown, or the per-email / per-IP hourly budget; see `Retry-After`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn request_otp(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ValidJson(req): ValidJson<RequestOtpRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let result = state.auth.request_otp(&req.email, ip).await;
    outcome("auth_otp_requests_total", &result);
    result?;
    let body = MessageResponse {
        message: "if this email has an account, a code is on its way".to_owned(),
    };
    Ok((StatusCode::ACCEPTED, Json(body)))
}

/// Checks a one-time code, marks the email verified and signs the user in.
#[utoipa::path(
    post,
    path = "/api/auth/verify-otp",
    tag = "auth",
    request_body = VerifyOtpRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = AuthResponse,
            headers(("set-cookie" = String, description = "The session cookie (refresh token)"))),
        (status = 400, description = "`invalid_otp` (wrong, expired, used or burnt after 5 attempts) or `invalid_json`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn verify_otp(
    State(state): State<AppState>,
    UserAgent(user_agent): UserAgent,
    ValidJson(req): ValidJson<VerifyOtpRequest>,
) -> Result<Response, ApiError> {
    let result = state.auth.verify_otp(req, user_agent).await;
    outcome("auth_otp_verifications_total", &result);
    let issued = result?;
    Ok(signed_in(&state, issued))
}

/// Password sign-in by email or username.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = AuthResponse,
            headers(("set-cookie" = String, description = "The session cookie (refresh token)"))),
        (status = 400, description = "`invalid_json`", body = ErrorResponse),
        (status = 401, description = "`invalid_credentials`: the same for an unknown user and a wrong password", body = ErrorResponse),
        (status = 403, description = "`email_not_verified`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many failures for this login or IP; see `Retry-After`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    ValidJson(req): ValidJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let result = state.auth.login(req, ip, user_agent).await;
    outcome("auth_logins_total", &result);
    let issued = result?;
    Ok(signed_in(&state, issued))
}

/// Rotates the session cookie and returns a new access token. A failed refresh clears the cookie
/// so the client stops presenting a dead token. Presenting an already-rotated refresh token revokes
/// the whole session.
#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    security(("sessionCookie" = [])),
    responses(
        (status = 200, description = "A new access token; the session cookie is rotated", body = TokenResponse,
            headers(("set-cookie" = String, description = "The rotated session cookie"))),
        (status = 401, description = "`unauthorized`: no, expired, revoked or reused session cookie (the cookie is cleared)", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed`: the cookie came with a foreign `Origin` (or neither `Origin` nor `X-Requested-With`)", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    security((), ("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 204, description = "Signed out; the session is revoked and the cookie cleared",
            headers(("set-cookie" = String, description = "Clears the session cookie"))),
        (status = 403, description = "`origin_not_allowed`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn logout(
    State(state): State<AppState>,
    who: Result<Authenticated, ApiError>,
) -> Result<Response, ApiError> {
    if let Ok(Authenticated(principal)) = who {
        state.auth.logout(&principal.session_id).await?;
    }
    Ok(state.web.cookie.signed_out())
}

/// The signed-in user.
#[utoipa::path(
    get,
    path = "/api/auth/verify-me",
    tag = "auth",
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The caller's account", body = UserResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn verify_me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<UserResponse>, ApiError> {
    let user = state.auth.own_account(principal.user_id).await?;
    Ok(Json(UserResponse {
        user: to_user(&user),
    }))
}

/// Changes the caller's password, proven by the current one. Every other session is signed out;
/// this one stays. A notice is mailed to the account's address.
#[utoipa::path(
    post,
    path = "/api/auth/password",
    tag = "auth",
    request_body = ChangePasswordRequest,
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "Changed; how many other sessions were signed out", body = RevokedResponse),
        (status = 400, description = "`invalid_json`", body = ErrorResponse),
        (status = 401, description = "`invalid_credentials`: the current password is wrong (counted with failed logins); or `unauthorized`", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `newPassword` too short, too long or too common; `currentPassword` for an account without a password (made with Google: it sets one with `reset-password`)", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many wrong passwords for this account; see `Retry-After`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn change_password(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    ValidJson(req): ValidJson<ChangePasswordRequest>,
) -> Result<Json<RevokedResponse>, ApiError> {
    let result = state.auth.change_password(&me, req).await;
    outcome("auth_password_changes_total", &result);
    Ok(Json(RevokedResponse { revoked: result? }))
}

/// Sets a new password with a code mailed by `POST /api/auth/request-otp` ("forgot password"),
/// and signs in as `verify-otp` does. Every other session of the account is signed out, and a
/// notice is mailed.
#[utoipa::path(
    post,
    path = "/api/auth/reset-password",
    tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "The password is set; signed in, the session cookie is set", body = AuthResponse,
            headers(("set-cookie" = String, description = "The session cookie (refresh token)"))),
        (status = 400, description = "`invalid_otp` (wrong, expired, used or burnt after 5 attempts) or `invalid_json`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `newPassword` too short, too long or too common (the code is not used up)", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn reset_password(
    State(state): State<AppState>,
    UserAgent(user_agent): UserAgent,
    ValidJson(req): ValidJson<ResetPasswordRequest>,
) -> Result<Response, ApiError> {
    let result = state.auth.reset_password(req, user_agent).await;
    outcome("auth_password_resets_total", &result);
    Ok(signed_in(&state, result?))
}

/// Deletes the caller's account for good, proven by the password or by a code mailed with
/// `POST /api/auth/request-otp`. Its profile, key and key backup go, every session is signed out
/// (this one too: the cookie is cleared), and realtime takes the user out of their groups; the
/// messages they sent stay with their recipients. A notice is mailed to the address.
#[utoipa::path(
    post,
    path = "/api/auth/delete-account",
    tag = "auth",
    request_body = DeleteAccountRequest,
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 204, description = "Deleted; every session is signed out and the cookie cleared",
            headers(("set-cookie" = String, description = "Clears the session cookie"))),
        (status = 400, description = "`invalid_otp` (wrong, expired, used or burnt after 5 attempts) or `invalid_json`", body = ErrorResponse),
        (status = 401, description = "`invalid_credentials`: the password is wrong (counted with failed logins); or `unauthorized`", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: neither or both of `password` and `code`, or one malformed; `password` for an account without one (made with Google: it uses a code)", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many wrong passwords for this account; see `Retry-After`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn delete_account(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    ValidJson(req): ValidJson<DeleteAccountRequest>,
) -> Result<Response, ApiError> {
    let result = state.auth.delete_account(&me, req).await;
    outcome("auth_account_deletions_total", &result);
    result?;
    Ok(state.web.cookie.signed_out())
}
