//! `/api/chats…` handlers: parse, call the domain, emit `chat_updated`, respond.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use common::ApiError;
use common::contracts::chat::{
    AddMembersRequest, Chat, ChatList, CreateChatRequest, JoinChatRequest, MessagePage,
    MessagesQuery, RenameChatRequest,
};
use common::contracts::events::{ChatUpdatedEvent, server};
use validator::Validate;

use super::AppState;
use super::extract::{AuthUser, ValidJson, object_id};
use crate::domain::chats::{ChatChange, to_contract};

/// Tells the chat's members (and removed users) about the change.
async fn announce(state: &AppState, change: &ChatChange) {
    let chat = to_contract(&change.chat, 0);
    let current: Vec<String> = change
        .chat
        .participants
        .iter()
        .filter(|p| !change.removed.contains(p))
        .cloned()
        .collect();
    if let Ok(v) = serde_json::to_value(ChatUpdatedEvent {
        chat: chat.clone(),
        removed: false,
    }) {
        state
            .fanout
            .to_users(&current, server::CHAT_UPDATED, v)
            .await;
    }
    if !change.removed.is_empty() {
        for user in &change.removed {
            state.fanout.leave_chat_room(user, &change.chat.id).await;
        }
        if let Ok(v) = serde_json::to_value(ChatUpdatedEvent {
            chat,
            removed: true,
        }) {
            state
                .fanout
                .to_users(&change.removed, server::CHAT_UPDATED, v)
                .await;
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(req): ValidJson<CreateChatRequest>,
) -> Result<(StatusCode, Json<Chat>), ApiError> {
    let change = state.services.chats.create(&user.user_id, req).await?;
    if change.created {
        announce(&state, &change).await;
    }
    let status = if change.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(to_contract(&change.chat, 0))))
}

pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<ChatList>, ApiError> {
    Ok(Json(ChatList {
        chats: state.services.chats.list(&user.user_id).await?,
    }))
}

pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    let chat = state.services.chats.member_chat(&user.user_id, &id).await?;
    Ok(Json(to_contract(&chat, 0)))
}

pub async fn rename(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<RenameChatRequest>,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    let change = state
        .services
        .chats
        .rename(&user.user_id, &id, &req.name)
        .await?;
    announce(&state, &change).await;
    Ok(Json(to_contract(&change.chat, 0)))
}

pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    object_id(&id)?;
    let change = state.services.chats.delete(&user.user_id, &id).await?;
    announce(&state, &change).await;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_members(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<AddMembersRequest>,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    let change = state
        .services
        .chats
        .add_members(&user.user_id, &id, &req.user_ids)
        .await?;
    announce(&state, &change).await;
    Ok(Json(to_contract(&change.chat, 0)))
}

pub async fn remove_member(
    State(state): State<AppState>,
    user: AuthUser,
    Path((id, target)): Path<(String, String)>,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    common::ids::validate_uuid(&target).map_err(|_| ApiError::field("userId", "must be a UUID"))?;
    let change = state
        .services
        .chats
        .remove_member(&user.user_id, &id, &target)
        .await?;
    announce(&state, &change).await;
    Ok(Json(to_contract(&change.chat, 0)))
}

pub async fn join(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<JoinChatRequest>,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    let change = state
        .services
        .chats
        .join(&user.user_id, &id, &req.passcode)
        .await?;
    announce(&state, &change).await;
    Ok(Json(to_contract(&change.chat, 0)))
}

pub async fn messages(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    query: Result<Query<MessagesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<MessagePage>, ApiError> {
    object_id(&id)?;
    let Query(q) =
        query.map_err(|e| ApiError::new(common::ErrorCode::ValidationFailed, e.body_text()))?;
    q.validate()?;
    Ok(Json(
        state
            .services
            .messages
            .history(&user.user_id, &id, &q)
            .await?,
    ))
}
