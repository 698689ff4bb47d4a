//! `PUT|DELETE /api/chats/{id}/pins/{message_id}`: any member pins a message of the chat or
//! unpins one (see `domain::chats::pins`); the chat's `pins` list them, newest pin first.

use axum::Json;
use axum::extract::{Path, State};
use common::ApiError;
use common::contracts::chat::{Chat, ChatListQuery};
use common::error::ErrorResponse;

use super::AppState;
use super::chats::answer;
use super::extract::{Changer, QueryOf, object_id};
use crate::domain::messages::message_not_found;

/// Pins a message of the chat, first among its pins (any member). Pinned already: the chat
/// unchanged, and nobody told.
#[utoipa::path(
    put,
    path = "/api/chats/{id}/pins/{message_id}",
    tag = "chats",
    params(
        ("id" = String, Path, description = "The chat's id (24 hex digits)"),
        ("message_id" = String, Path, description = "The message to pin (24 hex digits)"),
        ChatListQuery,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The chat, the message first among its `pins`", body = Chat),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat, or no such message in it (or not ids)", body = ErrorResponse),
        (status = 409, description = "`conflict`: the message was deleted, or 50 messages are pinned already", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `members` is not `all` or `direct`", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn pin(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path((id, message)): Path<(String, String)>,
    QueryOf(q): QueryOf<ChatListQuery>,
) -> Result<Json<Chat>, ApiError> {
    set_pinned(state, &user.user_id, &id, &message, q, true).await
}

/// Unpins a message (any member). Not pinned: the chat unchanged, and nobody told.
#[utoipa::path(
    delete,
    path = "/api/chats/{id}/pins/{message_id}",
    tag = "chats",
    params(
        ("id" = String, Path, description = "The chat's id (24 hex digits)"),
        ("message_id" = String, Path, description = "The message to unpin (24 hex digits)"),
        ChatListQuery,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The chat, without the message among its `pins`", body = Chat),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not ids)", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `members` is not `all` or `direct`", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn unpin(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path((id, message)): Path<(String, String)>,
    QueryOf(q): QueryOf<ChatListQuery>,
) -> Result<Json<Chat>, ApiError> {
    set_pinned(state, &user.user_id, &id, &message, q, false).await
}

async fn set_pinned(
    state: AppState,
    user: &str,
    id: &str,
    message: &str,
    q: ChatListQuery,
    pinned: bool,
) -> Result<Json<Chat>, ApiError> {
    object_id(id)?;
    if !common::ids::is_object_id(message) {
        return Err(message_not_found());
    }
    let change = state
        .services
        .chats
        .pin(user, id, &message.to_ascii_lowercase(), pinned)
        .await?;
    Ok(answer(&state, &change, q.members).await)
}
