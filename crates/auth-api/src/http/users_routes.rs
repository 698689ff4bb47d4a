//! `/api/users/*`: profiles (the caller's own editable), username search and the public-key
//! directory.

use axum::Json;
use axum::extract::{Path, Query, State};
use common::ApiError;
use common::contracts::account::UpdateProfileRequest;
use common::contracts::auth::{
    KeyBackupBody, PublicKeyBody, PublicKeysResponse, PublicProfile, UserProfilesQuery,
    UserResponse, UserSearchQuery, UserSearchResponse,
};
use common::error::ErrorResponse;

use super::AppState;
use super::extract::{Authenticated, ValidJson};
use crate::domain::to_user;
use crate::domain::users::{parse_id, to_profile};

/// `GET /api/users/search?q=` (signed-in users only, so the directory cannot be scraped anonymously).
#[utoipa::path(
    get,
    path = "/api/users/search",
    tag = "users",
    params(UserSearchQuery),
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "Up to 20 users whose username starts with `q`", body = UserSearchResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `q` is missing", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn search(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
    query: Result<Query<UserSearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UserSearchResponse>, ApiError> {
    let Query(q) = query.map_err(|_| ApiError::field("q", "is required"))?;
    let users = state.auth.search(&q.q).await?;
    Ok(Json(UserSearchResponse { users }))
}

/// `GET /api/users?ids=`: several users' public profiles at once (signed-in users only, like
/// search). Unknown ids are left out.
#[utoipa::path(
    get,
    path = "/api/users",
    tag = "users",
    params(UserProfilesQuery),
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The profiles of those of the users that exist, in no particular order", body = UserSearchResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `ids` is missing, not UUIDs, or more than 100", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn profiles(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
    query: Result<Query<UserProfilesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UserSearchResponse>, ApiError> {
    let Query(q) = query.map_err(|_| ApiError::field("ids", "is required"))?;
    let users = state.auth.profiles(&q.ids).await?;
    Ok(Json(UserSearchResponse { users }))
}

/// The caller's own account (as `GET /api/auth/verify-me`).
#[utoipa::path(
    get,
    path = "/api/users/me",
    tag = "users",
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The caller's account", body = UserResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn me(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
) -> Result<Json<UserResponse>, ApiError> {
    let user = state.auth.own_account(me.user_id).await?;
    Ok(Json(UserResponse {
        user: to_user(&user),
    }))
}

/// Changes the caller's profile: the fields present are replaced, the others kept. Other users
/// see the change the next time they load the profile.
#[utoipa::path(
    patch,
    path = "/api/users/me",
    tag = "users",
    request_body = UpdateProfileRequest,
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The caller's account as changed", body = UserResponse),
        (status = 400, description = "`invalid_json`", body = ErrorResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `displayName` is not 1-64 printable characters", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: more than `PROFILE_MAX_CHANGES_PER_HOUR` (30) changes this hour; see `Retry-After`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn update_me(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    ValidJson(req): ValidJson<UpdateProfileRequest>,
) -> Result<Json<UserResponse>, ApiError> {
    let user = state.auth.update_profile(me.user_id, req).await?;
    Ok(Json(UserResponse {
        user: to_user(&user),
    }))
}

/// A user's public profile.
#[utoipa::path(
    get,
    path = "/api/users/{id}",
    tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The public profile", body = PublicProfile),
        (status = 404, description = "`not_found`: no such user (or not a UUID)", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn profile(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PublicProfile>, ApiError> {
    let user = state.auth.user(parse_id(&id)?).await?;
    Ok(Json(to_profile(&user)))
}

/// Publishes the caller's end-to-end public key (ECDH P-256, JWK), replacing any previous one.
#[utoipa::path(
    put,
    path = "/api/users/me/keys",
    tag = "users",
    request_body = PublicKeyBody,
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The stored key, normalised", body = PublicKeyBody),
        (status = 400, description = "`invalid_json`", body = ErrorResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed` (cookie-authenticated from a foreign origin)", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: malformed or off-curve key", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: 20 keys published this hour (`KEY_MAX_CHANGES_PER_HOUR`); see `Retry-After`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn put_key(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    ValidJson(body): ValidJson<PublicKeyBody>,
) -> Result<Json<PublicKeyBody>, ApiError> {
    let public_key = state
        .auth
        .set_public_key(me.user_id, &body.public_key)
        .await?;
    Ok(Json(PublicKeyBody { public_key }))
}

/// Publishes the caller's end-to-end public key with its private key, wrapped on the client under
/// a recovery passphrase (the server cannot open it), for the caller's other devices to restore.
/// Replaces any key and backup before.
#[utoipa::path(
    put,
    path = "/api/users/me/key-backup",
    tag = "users",
    request_body = KeyBackupBody,
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The stored key (normalised) and backup", body = KeyBackupBody),
        (status = 400, description = "`invalid_json`", body = ErrorResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed` (cookie-authenticated from a foreign origin)", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: malformed or off-curve key, or a malformed backup", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: 20 keys published this hour (`KEY_MAX_CHANGES_PER_HOUR`); see `Retry-After`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn put_key_backup(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    ValidJson(body): ValidJson<KeyBackupBody>,
) -> Result<Json<KeyBackupBody>, ApiError> {
    Ok(Json(state.auth.set_key_backup(me.user_id, &body).await?))
}

/// The caller's own public key and its backup: what a new device restores the key from.
#[utoipa::path(
    get,
    path = "/api/users/me/key-backup",
    tag = "users",
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The key and its backup", body = KeyBackupBody),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no key, or a key published without a backup", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn get_key_backup(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
) -> Result<Json<KeyBackupBody>, ApiError> {
    Ok(Json(state.auth.key_backup(me.user_id).await?))
}

/// `GET /api/users/keys?ids=`: several users' end-to-end public keys at once (signed-in users
/// only, like the profiles). Users without a key, or unknown, are left out.
#[utoipa::path(
    get,
    path = "/api/users/keys",
    tag = "users",
    params(UserProfilesQuery),
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The keys of those of the users that published one, in no particular order", body = PublicKeysResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `ids` is missing, not UUIDs, or more than 100", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn keys(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
    query: Result<Query<UserProfilesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PublicKeysResponse>, ApiError> {
    let Query(q) = query.map_err(|_| ApiError::field("ids", "is required"))?;
    let keys = state.auth.public_keys(&q.ids).await?;
    Ok(Json(PublicKeysResponse { keys }))
}

/// A user's end-to-end public key.
#[utoipa::path(
    get,
    path = "/api/users/{id}/keys",
    tag = "users",
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user's public key", body = PublicKeyBody),
        (status = 404, description = "`not_found`: no such user, or no key published", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn get_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PublicKeyBody>, ApiError> {
    let public_key = state.auth.public_key(parse_id(&id)?).await?;
    Ok(Json(PublicKeyBody { public_key }))
}
