//! `/api/chats…` handlers of chats and their members: parse, call the domain, tell the members
//! (`announce`), respond. A chat's messages are in `history`, a user's mutes in `mutes`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use common::contracts::chat::{
    AddMembersRequest, Chat, ChatList, ChatListQuery, CreateChatRequest, DEFAULT_MEMBER_PAGE,
    JoinChatRequest, ListedMembers, MemberPage, MembersQuery, UpdateChatRequest,
};
use common::error::ErrorResponse;
use common::{ApiError, ErrorCode};
use validator::Validate;

use super::AppState;
use super::announce::{announce, view};
use super::extract::{AuthUser, Changer, QueryOf, ValidJson, object_id, user_id};
use crate::domain::chats::{ChatChange, ChatDelta};
use crate::ports::Details;

/// Creates a chat. A direct chat between two users is unique: asking again returns it (200).
/// A group's creator is its admin; with a `passcode`, others may join it.
#[utoipa::path(
    post,
    path = "/api/chats",
    tag = "chats",
    request_body = CreateChatRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The chat was created", body = Chat),
        (status = 200, description = "The direct chat already existed", body = Chat),
        (status = 400, description = "`invalid_json`: the body is not the expected JSON", body = ErrorResponse),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: bad user ids, name, passcode or topic, or a direct chat with yourself", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    Changer(user): Changer,
    ValidJson(req): ValidJson<CreateChatRequest>,
) -> Result<(StatusCode, Json<Chat>), ApiError> {
    let change = state.services.chats.create(&user.user_id, req).await?;
    if change.delta == ChatDelta::Created {
        Ok((StatusCode::CREATED, Json(announce(&state, &change).await)))
    } else {
        Ok((StatusCode::OK, Json(view(&state, &change.chat).await)))
    }
}

/// The answer to a change, built whole (newcomers are sent it so), with a group's member list
/// left out when `members=direct` asks so (`membersOmitted`); its admins, count and revision
/// stay.
fn with_members(mut chat: Chat, members: ListedMembers) -> Chat {
    if members.omits(chat.kind) {
        chat.participants = Vec::new();
        chat.members_omitted = true;
    }
    chat
}

/// The caller's chats, most recent activity first, with `lastMessage` and `unreadCount`. With
/// `members=direct`, groups come without their member lists (`membersOmitted`).
#[utoipa::path(
    get,
    path = "/api/chats",
    tag = "chats",
    params(ChatListQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The caller's chats", body = ChatList),
        (status = 422, description = "`validation_failed`: `members` is not `all` or `direct`", body = ErrorResponse),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    QueryOf(q): QueryOf<ChatListQuery>,
) -> Result<Json<ChatList>, ApiError> {
    let chats = state.services.chats.list(&user.user_id, q.members).await?;
    Ok(Json(ChatList { chats }))
}

/// One chat of the caller. With `members=direct`, a group comes without its member list
/// (`membersOmitted`).
#[utoipa::path(
    get,
    path = "/api/chats/{id}",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)"), ChatListQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The chat", body = Chat),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `members` is not `all` or `direct`", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    QueryOf(q): QueryOf<ChatListQuery>,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    let chat = state.services.chats.member_chat(&user.user_id, &id).await?;
    let view = state
        .services
        .chats
        .view_for(&user.user_id, &chat, q.members);
    Ok(Json(view.await?))
}

/// A page of a chat's members, ordered by user id: what a client shows of a big group's
/// members, rather than all of them at once.
#[utoipa::path(
    get,
    path = "/api/chats/{id}/members",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)"), MembersQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of members", body = MemberPage),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: bad `after` or `limit`", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn members(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    QueryOf(q): QueryOf<MembersQuery>,
) -> Result<Json<MemberPage>, ApiError> {
    object_id(&id)?;
    q.validate()?;
    let limit = q.limit.unwrap_or(DEFAULT_MEMBER_PAGE) as usize;
    Ok(Json(
        state
            .services
            .chats
            .members_page(&user.user_id, &id, q.after.as_deref(), limit)
            .await?,
    ))
}

/// Renames a group, sets its topic, or both (admins only): one change, counted once in its
/// revision and told to the members as one `chat_changed {name?, topic?}`.
#[utoipa::path(
    patch,
    path = "/api/chats/{id}",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)"), ChatListQuery),
    request_body = UpdateChatRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The chat as changed", body = Chat),
        (status = 400, description = "`invalid_json`: the body is not the expected JSON", body = ErrorResponse),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`, `not_an_admin`, or `forbidden` (a direct chat)", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: neither a name nor a topic, a name not 1-100 printable characters, a topic over 250, or `members` not `all` or `direct`", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path(id): Path<String>,
    QueryOf(q): QueryOf<ChatListQuery>,
    ValidJson(req): ValidJson<UpdateChatRequest>,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    let details = Details {
        name: req.name.as_deref(),
        topic: req.new_topic(),
    };
    let change = state
        .services
        .chats
        .change_details(&user.user_id, &id, &details)
        .await?;
    Ok(answer(&state, &change, q.members).await)
}

/// Deletes a group (admins only); its members get `chat_changed` with `deleted: true`.
#[utoipa::path(
    delete,
    path = "/api/chats/{id}",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)")),
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "The chat was deleted"),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`, `not_an_admin`, or `forbidden` (a direct chat)", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    object_id(&id)?;
    let change = state.services.chats.delete(&user.user_id, &id).await?;
    announce(&state, &change).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds users to a group (admins only); users already in it are ignored.
#[utoipa::path(
    post,
    path = "/api/chats/{id}/members",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)"), ChatListQuery),
    request_body = AddMembersRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The chat with its new members", body = Chat),
        (status = 400, description = "`invalid_json`: the body is not the expected JSON", body = ErrorResponse),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`, `not_an_admin`, or `forbidden` (a direct chat)", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: not 1-100 UUIDs, the group would exceed 1000 members, or `members` is not `all` or `direct`", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn add_members(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path(id): Path<String>,
    QueryOf(q): QueryOf<ChatListQuery>,
    ValidJson(req): ValidJson<AddMembersRequest>,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    let change = state
        .services
        .chats
        .add_members(&user.user_id, &id, &req.user_ids)
        .await?;
    Ok(answer(&state, &change, q.members).await)
}

/// Removes a member from a group: an admin removes anyone, a member removes themself (leaves).
/// When the last admin goes, the longest-standing member becomes admin.
#[utoipa::path(
    delete,
    path = "/api/chats/{id}/members/{user_id}",
    tag = "chats",
    params(
        ("id" = String, Path, description = "The chat's id (24 hex digits)"),
        ("user_id" = Uuid, Path, description = "The member to remove"),
        ChatListQuery,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The chat without that member", body = Chat),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`, `not_an_admin`, or `forbidden` (a direct chat cannot be left)", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat, or the user is not a member", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `user_id` is not a UUID, or `members` is not `all` or `direct`", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn remove_member(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path((id, target)): Path<(String, String)>,
    QueryOf(q): QueryOf<ChatListQuery>,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    user_id(&target)?;
    let change = state
        .services
        .chats
        .remove_member(&user.user_id, &id, &target)
        .await?;
    Ok(answer(&state, &change, q.members).await)
}

/// Makes a member of a group one of its admins (admins only). Already one: the chat unchanged.
#[utoipa::path(
    put,
    path = "/api/chats/{id}/admins/{user_id}",
    tag = "chats",
    params(
        ("id" = String, Path, description = "The chat's id (24 hex digits)"),
        ("user_id" = Uuid, Path, description = "The member to make admin"),
        ChatListQuery,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The chat, with that member among its admins", body = Chat),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`, `not_an_admin`, or `forbidden` (a direct chat)", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat, or the user is not a member", body = ErrorResponse),
        (status = 409, description = "`conflict`: the group has 50 admins already", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `user_id` is not a UUID, or `members` is not `all` or `direct`", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn make_admin(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path((id, target)): Path<(String, String)>,
    QueryOf(q): QueryOf<ChatListQuery>,
) -> Result<Json<Chat>, ApiError> {
    set_admin(state, user, id, target, q, true).await
}

/// Makes an admin of a group a member only (admins only; an admin may step down). The last admin
/// cannot: a group keeps one. Not an admin: the chat unchanged.
#[utoipa::path(
    delete,
    path = "/api/chats/{id}/admins/{user_id}",
    tag = "chats",
    params(
        ("id" = String, Path, description = "The chat's id (24 hex digits)"),
        ("user_id" = Uuid, Path, description = "The admin to make a member only"),
        ChatListQuery,
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The chat, without that member among its admins", body = Chat),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`not_a_member`, `not_an_admin`, or `forbidden` (a direct chat)", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat, or the user is not a member", body = ErrorResponse),
        (status = 409, description = "`conflict`: the group's last admin", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: `user_id` is not a UUID, or `members` is not `all` or `direct`", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn remove_admin(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path((id, target)): Path<(String, String)>,
    QueryOf(q): QueryOf<ChatListQuery>,
) -> Result<Json<Chat>, ApiError> {
    set_admin(state, user, id, target, q, false).await
}

async fn set_admin(
    state: AppState,
    user: AuthUser,
    id: String,
    target: String,
    q: ChatListQuery,
    admin: bool,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    user_id(&target)?;
    let change = state
        .services
        .chats
        .set_admin(&user.user_id, &id, &target, admin)
        .await?;
    Ok(answer(&state, &change, q.members).await)
}

/// A change told to whom it concerns (`announce`), and answered with the chat as `members` asks.
pub(super) async fn answer(
    state: &AppState,
    change: &ChatChange,
    members: ListedMembers,
) -> Json<Chat> {
    Json(with_members(announce(state, change).await, members))
}

/// Joins a passcode-protected group (a member joining again gets the chat unchanged).
#[utoipa::path(
    post,
    path = "/api/chats/{id}/join",
    tag = "chats",
    params(("id" = String, Path, description = "The chat's id (24 hex digits)"), ChatListQuery),
    request_body = JoinChatRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The chat, with the caller a member", body = Chat),
        (status = 400, description = "`invalid_json`: the body is not the expected JSON", body = ErrorResponse),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorResponse),
        (status = 403, description = "`invalid_passcode`, or `forbidden`: the chat cannot be joined with a passcode", body = ErrorResponse),
        (status = 404, description = "`not_found`: no such chat (or not an id)", body = ErrorResponse),
        (status = 409, description = "`conflict`: the group is full", body = ErrorResponse),
        (status = 422, description = "`validation_failed`: the passcode is not 4-64 characters, or `members` is not `all` or `direct`", body = ErrorResponse),
        (status = 429, description = "`rate_limited`: too many changes to chats this minute (`CHAT_CHANGES_PER_MINUTE`), or too many wrong passcodes this hour (`JOIN_FAILURES_PER_HOUR`); `Retry-After` says when to retry", body = ErrorResponse),
        (status = 503, description = "`unavailable`: the chat store does not answer", body = ErrorResponse),
    ),
)]
pub async fn join(
    State(state): State<AppState>,
    Changer(user): Changer,
    Path(id): Path<String>,
    QueryOf(q): QueryOf<ChatListQuery>,
    ValidJson(req): ValidJson<JoinChatRequest>,
) -> Result<Json<Chat>, ApiError> {
    object_id(&id)?;
    let budgets = &state.services.budgets;
    budgets.check_join(&user.user_id).await?;
    let joined = state
        .services
        .chats
        .join(&user.user_id, &id, &req.passcode)
        .await;
    let change = match joined {
        Err(e) if e.code() == ErrorCode::InvalidPasscode => {
            budgets.join_failed(&user.user_id).await;
            return Err(e);
        }
        joined => joined?,
    };
    Ok(answer(&state, &change, q.members).await)
}
