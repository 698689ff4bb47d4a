//! `/api/chats/{id}/mute`: a member mutes a chat for themself, until they unmute it or for a
//! while, or unmutes it; their own setting, told to their devices (`chat_muted`) and to nobody
//! else. A mute for a while ends by itself: readers compare its end with the time, and devices
//! were told the end, so nothing is sent when it comes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use common::ApiError;
use common::contracts::chat::MuteChatRequest;
use common::contracts::events::{ChatMutedEvent, server};
use common::error::ErrorResponse;

use super::AppState;
use super::extract::{AuthUser, Changer, ValidJson, object_id};

/// Mutes the chat for the caller (members only): their devices stop notifying them of its
/// messages, which still arrive and count as unread. No body (or no `until`): until they unmute
/// it; `until`: until then. Replaces the mute there was. Told to all their devices
/// (`chat_muted`); the other members are not. Muted so already: the same answer, nobody told.
#[utoipa::path(
    put,
    path = "/api/chats/{id}/mute",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)")),
    request_body(content = Option<MuteChatRequest>, description = "Optional: how long"),
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Muted"),
        (status = 400, description = "`invalid_json`: a body that is not the request's JSON", body = ErrorResponse),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `until` not in the future, or more than a year away", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn mute(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path(id): Path<String>,
    body: Option<ValidJson<MuteChatRequest>>,
) -> Result<StatusCode, ApiError> {
    let ValidJson(body) = body.unwrap_or_default();
    let until = body.until_after(Utc::now())?;
    set_muted(state, user, id, true, until).await
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
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn unmute(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_muted(state, user, id, false, None).await
}

async fn set_muted(
    state: AppState,
    user: AuthUser,
    id: String,
    muted: bool,
    until: Option<DateTime<Utc>>,
) -> Result<StatusCode, ApiError> {
    object_id(&id)?;
    let changed = state
        .services
        .chats
        .set_muted(&user.user_id, &id, muted, until)
        .await?;
    let event = ChatMutedEvent {
        chat_id: id,
        muted,
        until,
    };
    if changed && let Ok(v) = serde_json::to_value(event) {
        let me = std::slice::from_ref(&user.user_id);
        state.fanout.to_users(me, server::CHAT_MUTED, v).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
