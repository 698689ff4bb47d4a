//! Receipts: `read_receipt` (this message and every earlier one are read) and `delivered` (these
//! messages reached the caller). Who hears of them: the reader's other sockets, and the senders
//! of the messages nobody had read, or that had reached nobody, before (`message_read`,
//! `message_delivered`); see `MessageService::read` and `delivered`.

use common::contracts::events::{Delivered, MessageRef, ReceiptEvent, server};
use serde_json::json;
use socketioxide::adapter::Adapter;
use validator::Validate;

use super::limit::Budget;
use super::{Call, emit, invalid_payload, reply, rooms_of};
use crate::ports::user_room;

pub(crate) async fn read_receipt<A: Adapter>(call: Call<A, MessageRef>) {
    let result = async {
        call.session.limiter.check(Budget::Events)?;
        let req = call.data.map_err(invalid_payload)?;
        req.validate()?;
        let read = call.app.messages.read(&call.session.user_id, &req).await?;
        let event = ReceiptEvent {
            chat_id: read.chat_id,
            message_id: read.message_id,
            user_id: call.session.user_id.clone(),
        };
        emit(
            &call.app.fanout_health,
            || call.s.to(rooms_of(&read.tell)),
            server::MESSAGE_READ,
            &event,
        )
        .await;
        Ok(json!({ "ok": true }))
    }
    .await;
    reply(call.ack, result);
}

/// One `delivered` event names one message or up to a hundred (a client catching up by `sync`),
/// and costs one token of the socket's rate limit either way.
pub(crate) async fn delivered<A: Adapter>(call: Call<A, Delivered>) {
    let result = async {
        call.session.limiter.check(Budget::Events)?;
        let req = call.data.map_err(invalid_payload)?;
        req.validate()?;
        let deliveries = call
            .app
            .messages
            .delivered(&call.session.user_id, &req)
            .await?;
        call.app
            .messages
            .metrics
            .delivered
            .increment(deliveries.changed);
        for (message_id, sender) in deliveries.to_tell {
            let event = ReceiptEvent {
                chat_id: deliveries.chat_id.clone(),
                message_id,
                user_id: call.session.user_id.clone(),
            };
            emit(
                &call.app.fanout_health,
                || call.s.to(user_room(&sender)),
                server::MESSAGE_DELIVERED,
                &event,
            )
            .await;
        }
        Ok(json!({ "ok": true }))
    }
    .await;
    reply(call.ack, result);
}
