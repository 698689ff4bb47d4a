//! `/api/chats/{id}/picture`: a group's picture, set and removed by its admins, read by its
//! members. The chat's `picture` is its URL, which names the version (a digest of the bytes), so
//! a new picture is a new URL; members hear of a change by `chat_changed {picture}`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use common::ApiError;
use common::contracts::chat::{Chat, ChatListQuery};
use common::error::ErrorResponse;
use common::pictures::{self, Audience};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::chats::answer;
use super::extract::{AuthUser, Changer, QueryOf, object_id};
use crate::domain::chats::PICTURE;

/// Sets a group's picture (admins only), replacing any: the raw bytes of a PNG, JPEG or WebP
/// image are the body, at most 256 KiB, sent with their own type. Members hear `chat_changed
/// {picture}` with its URL.
#[utoipa::path(
    put,
    path = "/api/chats/{id}/picture",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)"), ChatListQuery),
    request_body(
        content = Vec<u8>,
        content_type = "image/webp",
        description = "The picture's bytes (1 to 262,144), `Content-Type` `image/png`, `image/jpeg` or `image/webp`, as the bytes are",
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The chat, its `picture` the new picture's URL", body = Chat),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`, `not_an_admin`, or `forbidden` (a direct chat)", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 408, description = "`request_timeout`: the body did not arrive within 30 s", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`: more than 256 KiB", body = ErrorResponse),
        (status = 415, description = "`unsupported_media_type`: not a PNG, JPEG or WebP image, or not what `Content-Type` says", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: an empty body", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn set_picture(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path(id): Path<String>,
    QueryOf(q): QueryOf<ChatListQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    let bytes = pictures::read_picture(body, PICTURE).await?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let change = state
        .services
        .chats
        .set_picture(&user.user_id, &id, declared, bytes)
        .await?;
    Ok(answer(&state, &change, q.members).await)
}

/// Removes a group's picture (admins only; none is no change, and nobody is told). Members hear
/// `chat_changed {picture: ""}`.
#[utoipa::path(
    delete,
    path = "/api/chats/{id}/picture",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)"), ChatListQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The chat, without a picture", body = Chat),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`, `not_an_admin`, or `forbidden` (a direct chat)", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn remove_picture(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path(id): Path<String>,
    QueryOf(q): QueryOf<ChatListQuery>,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    let change = state
        .services
        .chats
        .remove_picture(&user.user_id, &id)
        .await?;
    Ok(answer(&state, &change, q.members).await)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PictureQuery {
    /// The version the chat's `picture` URL names: when it is the current one, the answer may be
    /// kept for good (that URL's bytes never change).
    pub v: Option<String>,
}

/// A group's picture, for its members. Served with its stored type and `nosniff`, so it is only
/// ever shown as an image, and kept by the member's browser alone (`private`).
#[utoipa::path(
    get,
    path = "/api/chats/{id}/picture",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)"), PictureQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The picture; `ETag` is its version. Kept for a year when asked for by its current version (`?v=`), else asked again each time", body = Vec<u8>, content_type = "image/webp"),
        (status = 304, description = "Not modified (`If-None-Match` was the current version)"),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat, or no picture", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn picture(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Query(query): Query<PictureQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    object_id(&id)?;
    let picture = state.services.chats.picture(&user.user_id, &id).await?;
    pictures::serve(
        &picture.content_type,
        &picture.version,
        picture.bytes,
        query.v.as_deref(),
        &headers,
        Audience::Private,
    )
}
