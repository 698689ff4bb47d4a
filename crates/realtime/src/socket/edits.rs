//! `edit_message`, `delete_message` and `react_message`: validate, check who may (the domain),
//! change the message in place, send it as it is now in `message_updated` to every participant's
//! sockets, then ack with it. `sync_changes`: what changed in the caller's chats since a client last asked.

use common::ApiError;
use common::contracts::events::{
    ChatChangedEvent, EditMessage, MessageRef, ReactMessage, SyncChanges, server,
};
use socketioxide::adapter::Adapter;
use validator::Validate;

use super::limit::Budget;
use super::messages::Accepted;
use super::{Call, emit, invalid_payload, reply, rooms_of};
use crate::domain::edits::Changed;

pub(crate) async fn edit_message<A: Adapter>(call: Call<A, EditMessage>) {
    let result = async {
        call.session.limiter.check(Budget::Messages)?;
        let req = call.data.map_err(invalid_payload)?;
        req.validate()?;
        call.app.messages.edit(&call.session.user_id, req).await
    }
    .await;
    announce(call.s, call.ack, &call.app, result).await;
}

pub(crate) async fn delete_message<A: Adapter>(call: Call<A, MessageRef>) {
    let result = async {
        call.session.limiter.check(Budget::Messages)?;
        let req = call.data.map_err(invalid_payload)?;
        req.validate()?;
        call.app.messages.delete(&call.session.user_id, &req).await
    }
    .await;
    announce(call.s, call.ack, &call.app, result).await;
}

pub(crate) async fn react_message<A: Adapter>(call: Call<A, ReactMessage>) {
    let result = async {
        call.session.limiter.check(Budget::Messages)?;
        let req = call.data.map_err(invalid_payload)?;
        req.validate()?;
        call.app.messages.react(&call.session.user_id, req).await
    }
    .await;
    announce(call.s, call.ack, &call.app, result).await;
}

/// Tells every participant of a change, then acks it (an error is acked alone).
async fn announce<A: Adapter>(
    s: socketioxide::extract::SocketRef<A>,
    ack: socketioxide::extract::AckSender<A>,
    app: &super::Services,
    result: Result<Changed, ApiError>,
) {
    match result {
        Ok(changed) => {
            emit(
                &app.fanout_health,
                || s.to(rooms_of(&changed.participants)),
                server::MESSAGE_UPDATED,
                &changed.message,
            )
            .await;
            if let Some(chat) = &changed.unpinned {
                let unpinned = ChatChangedEvent {
                    pins: Some(chat.pins.clone()),
                    ..ChatChangedEvent::of(&chat.id, chat.revision)
                };
                emit(
                    &app.fanout_health,
                    || s.to(rooms_of(&chat.participants)),
                    server::CHAT_CHANGED,
                    &unpinned,
                )
                .await;
            }
            let _ = ack.send(&Accepted {
                ok: true,
                message: &changed.message,
            });
        }
        Err(e) => reply(ack, Err(e)),
    }
}

pub(crate) async fn sync_changes<A: Adapter>(call: Call<A, SyncChanges>) {
    let result = async {
        call.session.limiter.check(Budget::Events)?;
        let req = call.data.map_err(invalid_payload)?;
        req.validate()?;
        let page = call
            .app
            .messages
            .changes(&call.session.user_id, &req)
            .await?;
        serde_json::to_value(page).map_err(ApiError::internal)
    }
    .await;
    reply(call.ack, result);
}
