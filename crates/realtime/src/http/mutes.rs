//! `/api/chats/{id}/mute`: a member mutes a chat for themself, or unmutes it; their own setting,
//! told to their devices (`chat_muted`) and to nobody else.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use common::ApiError;
use common::contracts::events::{ChatMutedEvent, server};
use common::error::ErrorResponse;

use super::AppState;
use super::extract::{AuthUser, object_id};

/// Mutes the chat for the caller (members only): their devices stop notifying them of its
/// messages, which still arrive and count as unread. Told to all their devices (`chat_muted`);
/// the other members are not. Muted already: the same answer, and nobody told.
#[utoipa::path(
    put,
    path = "/api/chats/{id}/mute",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)")),
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Muted"),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn mute(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_muted(state, user, id, true).await
}

/// Unmutes the chat for the caller (members only), told to all their devices (`chat_muted`).
/// Not muted: the same answer, and nobody told.
#[utoipa::path(
    delete,
    path = "/api/chats/{id}/mute",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)")),
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Not muted"),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn unmute(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_muted(state, user, id, false).await
}

async fn set_muted(
    state: AppState,
    user: AuthUser,
    id: String,
    muted: bool,
) -> Result<StatusCode, ApiError> {
    object_id(&id)?;
    let changed = state
        .services
        .chats
        .set_muted(&user.user_id, &id, muted)
        .await?;
    let event = ChatMutedEvent { chat_id: id, muted };
    if changed && let Ok(v) = serde_json::to_value(event) {
        let me = std::slice::from_ref(&user.user_id);
        state.fanout.to_users(me, server::CHAT_MUTED, v).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
