//! Live chat activity: `join_chat` / `leave_chat` subscribe a socket to a chat's room (members
//! only), and `typing` tells the chat's other members (throttled; the indicator expires).

use common::ApiError;
use common::contracts::events::{ChatRef, TypingEvent, server};
use serde_json::json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use validator::Validate;

use super::limit::Budget;
use super::{Call, Session, SharedServices, emit, invalid_payload, reply};
use crate::ports::{chat_room, user_room};

async fn member_chat_id(
    app: &SharedServices,
    session: &Session,
    data: Result<ChatRef, impl std::fmt::Display>,
) -> Result<String, ApiError> {
    session.limiter.check(Budget::Events)?;
    let req = data.map_err(invalid_payload)?;
    req.validate()?;
    Ok(app
        .chats
        .member_chat(&session.user_id, &req.chat_id)
        .await?
        .id)
}

pub(crate) async fn join_chat<A: Adapter>(call: Call<A, ChatRef>) {
    change_room(call, |s, room| s.join(room)).await
}

pub(crate) async fn leave_chat<A: Adapter>(call: Call<A, ChatRef>) {
    change_room(call, |s, room| s.leave(room)).await
}

/// Once the sender is known to be a member, joins the socket to the chat's room or leaves it
/// (`change`) and acks `{"ok":true}`.
async fn change_room<A: Adapter>(
    call: Call<A, ChatRef>,
    change: impl FnOnce(&SocketRef<A>, String),
) {
    let result = member_chat_id(&call.app, &call.session, call.data)
        .await
        .map(|id| {
            change(&call.s, chat_room(&id));
            json!({ "ok": true })
        });
    reply(call.ack, result);
}

pub(crate) async fn typing<A: Adapter>(call: Call<A, ChatRef>) {
    let result = async {
        let chat = member_chat_id(&call.app, &call.session, call.data).await?;
        let broadcast = call
            .app
            .presence
            .typing(&chat, &call.session.user_id)
            .await
            .map_err(ApiError::unavailable)?;
        if broadcast {
            let event = TypingEvent {
                chat_id: chat.clone(),
                user_id: call.session.user_id.clone(),
            };
            emit(
                &call.app.fanout_health,
                || {
                    call.s
                        .to(chat_room(&chat))
                        .except(user_room(&call.session.user_id))
                },
                server::USER_TYPING,
                &event,
            )
            .await;
        }
        Ok(json!({ "ok": true }))
    }
    .await;
    reply(call.ack, result);
}
