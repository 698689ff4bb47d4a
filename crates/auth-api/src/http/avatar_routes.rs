//! `/api/users/me/avatar` and `/api/users/{id}/avatar`: the caller's profile picture, set and
//! removed; anyone's, read. The picture's URL, with its version, is the profile's `avatar`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use common::ApiError;
use common::contracts::auth::UserResponse;
use common::error::ErrorResponse;
use common::pictures::{self, Audience};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::extract::Authenticated;
use crate::domain::avatars::WHAT;
use crate::domain::to_user;
use crate::domain::users::parse_id;

/// Sets the caller's profile picture (replacing any): the raw bytes of a PNG, JPEG or WebP image
/// are the body, at most `MAX_AVATAR_BYTES` (256 KiB), sent with their own type. Counted as a
/// profile change, and announced to the user's contacts as one (`profile_changed`).
#[utoipa::path(
    put,
    path = "/api/users/me/avatar",
    tag = "users",
    request_body(
        content = Vec<u8>,
        content_type = "image/webp",
        description = "The picture's bytes (1 to 262,144), `Content-Type` `image/png`, `image/jpeg` or `image/webp`, as the bytes are",
    ),
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The caller's account, its `avatar` the new picture's URL", body = UserResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed`", body = ErrorResponse),
        (status = 408, description = "`request_timeout`: the body did not arrive within 30 s", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`: more than 256 KiB", body = ErrorResponse),
        (status = 415, description = "`unsupported_media_type`: not a PNG, JPEG or WebP image, or not what `Content-Type` says", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: an empty body", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: more than `PROFILE_MAX_CHANGES_PER_HOUR` (30) profile changes this hour; see `Retry-After`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn put_avatar(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<UserResponse>, ApiError> {
    let bytes = pictures::read_picture(body, WHAT).await?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let user = state.auth.set_avatar(me.user_id, declared, bytes).await?;
    Ok(Json(UserResponse {
        user: to_user(&user),
    }))
}

/// Removes the caller's profile picture (none is not an error), announced as a profile change.
#[utoipa::path(
    delete,
    path = "/api/users/me/avatar",
    tag = "users",
    security(("bearerAuth" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The caller's account, without a picture", body = UserResponse),
        (status = 401, description = "`unauthorized`", body = ErrorResponse),
        (status = 403, description = "`origin_not_allowed`", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: more than `PROFILE_MAX_CHANGES_PER_HOUR` (30) profile changes this hour; see `Retry-After`", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn delete_avatar(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
) -> Result<Json<UserResponse>, ApiError> {
    let user = state.auth.remove_avatar(me.user_id).await?;
    Ok(Json(UserResponse {
        user: to_user(&user),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvatarQuery {
    /// The version the profile's `avatar` URL names: when it is the current one, the answer may
    /// be kept for good (that URL's bytes never change).
    pub v: Option<String>,
}

/// A user's profile picture, for anyone (as the profile is). Served with its stored type and
/// `nosniff`, so it is only ever shown as an image.
#[utoipa::path(
    get,
    path = "/api/users/{id}/avatar",
    tag = "users",
    params(("id" = Uuid, Path, description = "The user's id"), AvatarQuery),
    responses(
        (status = 200, description = "The picture; `ETag` is its version. Kept for a year when asked for by its current version (`?v=`), else asked again each time", body = Vec<u8>, content_type = "image/webp"),
        (status = 304, description = "Not modified (`If-None-Match` was the current version)"),
        (status = 404, description = "`not_found`: no such user, or no picture", body = ErrorResponse),
        (status = 503, description = "`unavailable`", body = ErrorResponse),
    ),
)]
pub async fn get_avatar(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<AvatarQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let avatar = state.auth.avatar(parse_id(&id)?).await?;
    pictures::serve(
        &avatar.content_type,
        &avatar.version,
        avatar.bytes,
        query.v.as_deref(),
        &headers,
        Audience::Public,
    )
}
