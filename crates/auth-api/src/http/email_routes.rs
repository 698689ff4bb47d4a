//! `/api/auth/email`: moving the caller's account to another email address.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::ApiError;
use common::contracts::account::{ChangeEmailRequest, ConfirmEmailRequest};
use common::contracts::auth::{MessageResponse, UserResponse};
use common::error::ErrorResponse;

use super::AppState;
use super::extract::{Authenticated, ClientIp, ValidJson};
use crate::domain::to_user;

/// Asks to move the caller's account to `newEmail`, proven by the account's password; a code is
/// mailed to the new address, which `POST /api/auth/email/confirm` takes.
#[utoipa::path(
    post,
    path = "/api/auth/email",
    tag = "auth",
    request_body = ChangeEmailRequest,
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 202, description = "A code is on its way to the new address", body = MessageResponse),
        (status = 400, description = "`invalid_json`", body = ErrorResponse),
        (status = 401, description = "`invalid_credentials`: the password is wrong (counted with failed logins); or `unauthorized`", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed`", body = ErrorResponse),
        (status = 409, description = "`email_taken`: another account has that address", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `newEmail` not an address or already the account's; `password` for an account without one", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many wrong passwords, or the new address's code cooldown and hourly budget, or the IP's; see `Retry-After`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn request_change(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    ClientIp(ip): ClientIp,
    ValidJson(req): ValidJson<ChangeEmailRequest>,
) -> Result<impl IntoResponse, ApiError> {
    state.auth.request_email_change(&me, req, ip).await?;
    let body = MessageResponse {
        message: "a code is on its way to the new address".to_owned(),
    };
    Ok((StatusCode::ACCEPTED, Json(body)))
}

/// Makes `newEmail` the caller's address with the code mailed there; the old address is told.
#[utoipa::path(
    post,
    path = "/api/auth/email/confirm",
    tag = "auth",
    request_body = ConfirmEmailRequest,
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The account with its new address", body = UserResponse),
        (status = 400, description = "`invalid_otp` (wrong, expired, used, burnt after 5 attempts, or for another address) or `invalid_json`", body = ErrorResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed`", body = ErrorResponse),
        (status = 409, description = "`email_taken`: another account took the address meanwhile", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn confirm_change(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    ValidJson(req): ValidJson<ConfirmEmailRequest>,
) -> Result<Json<UserResponse>, ApiError> {
    let user = state.auth.confirm_email_change(&me, req).await?;
    Ok(Json(UserResponse {
        user: to_user(&user),
    }))
}
