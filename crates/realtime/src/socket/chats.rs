//! Live chat activity: `join_chat` / `leave_chat` subscribe a socket to a chat's room (members
//! only), and `typing` tells the chat's other members (throttled; the indicator expires).

use std::sync::Arc;

use common::ApiError;
use common::contracts::events::{ChatRef, TypingEvent, server};
use serde_json::json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use validator::Validate;

use super::{Session, SharedServices, emit, invalid_payload, reply};
use crate::ports::{chat_room, user_room};

async fn member_chat_id(
    app: &SharedServices,
    session: &Session,
    data: Result<ChatRef, impl std::fmt::Display>,
) -> Result<String, ApiError> {
    session.limiter.check()?;
    let req = data.map_err(invalid_payload)?;
    req.validate()?;
    Ok(app
        .chats
        .member_chat(&session.user_id, &req.chat_id)
        .await?
        .id)
}

pub async fn join_chat<A: Adapter>(
    s: SocketRef<A>,
    ack: AckSender<A>,
    TryData(data): TryData<ChatRef>,
    State(app): State<SharedServices>,
    Extension(session): Extension<Arc<Session>>,
) {
    let result = member_chat_id(&app, &session, data).await.map(|id| {
        s.join(chat_room(&id));
        json!({ "ok": true })
    });
    reply(ack, result);
}

pub async fn leave_chat<A: Adapter>(
    s: SocketRef<A>,
    ack: AckSender<A>,
    TryData(data): TryData<ChatRef>,
    State(app): State<SharedServices>,
    Extension(session): Extension<Arc<Session>>,
) {
    let result = member_chat_id(&app, &session, data).await.map(|id| {
        s.leave(chat_room(&id));
        json!({ "ok": true })
    });
    reply(ack, result);
}

pub async fn typing<A: Adapter>(
    s: SocketRef<A>,
    ack: AckSender<A>,
    TryData(data): TryData<ChatRef>,
    State(app): State<SharedServices>,
    Extension(session): Extension<Arc<Session>>,
) {
    let result = async {
        let chat = member_chat_id(&app, &session, data).await?;
        let broadcast = app
            .presence
            .typing(&chat, &session.user_id)
            .await
            .map_err(ApiError::unavailable)?;
        if broadcast {
            let event = TypingEvent {
                chat_id: chat.clone(),
                user_id: session.user_id.clone(),
            };
            emit(
                s.to(chat_room(&chat)).except(user_room(&session.user_id)),
                server::USER_TYPING,
                &event,
            )
            .await;
        }
        Ok(json!({ "ok": true }))
    }
    .await;
    reply(ack, result);
}
