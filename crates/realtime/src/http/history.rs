//! `/api/chats/{id}/messages…` handlers: a chat's history, a page at a time, and one message with
//! its receipts (a message's details).

use axum::Json;
use axum::extract::{Path, State};
use common::ApiError;
use common::contracts::chat::{Message, MessagePage, MessagesQuery};
use common::contracts::events::MessageRef;
use common::error::ErrorResponse;
use validator::Validate;

use super::AppState;
use super::extract::{AuthUser, QueryOf, object_id};
use crate::domain::messages::message_not_found;

/// One message of a chat, with who received and read it (`deliveredTo`, `readBy`): what a
/// message's details show. For the chat's members.
#[utoipa::path(
    get,
    path = "/api/chats/{id}/messages/{message_id}",
    tag = "chats",
    params(
        ("id" = String, Path, description = "The chat's id (24 hex digits)"),
        ("message_id" = String, Path, description = "The message's id (24 hex digits)"),
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The message as stored", body = Message),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat, or no such message in it (or not an id)", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn message(
    State(state): State<AppState>,
    user: AuthUser,
    Path((id, message_id)): Path<(String, String)>,
) -> Result<Json<Message>, ApiError> {
    object_id(&id)?;
    if !common::ids::is_object_id(&message_id) {
        return Err(message_not_found());
    }
    let r = MessageRef {
        chat_id: id,
        message_id,
    };
    Ok(Json(state.services.messages.one(&user.user_id, &r).await?))
}

/// A chat's history, newest first; pass `nextCursor` as `before` for the next (older) page.
#[utoipa::path(
    get,
    path = "/api/chats/{id}/messages",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)"), MessagesQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of messages", body = MessagePage),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: bad `before` or `limit`", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn messages(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    QueryOf(q): QueryOf<MessagesQuery>,
) -> Result<Json<MessagePage>, ApiError> {
    object_id(&id)?;
    q.validate()?;
    Ok(Json(
        state
            .services
            .messages
            .history(&user.user_id, &id, &q)
            .await?,
    ))
}
