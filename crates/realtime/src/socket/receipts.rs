//! Receipts: `read_receipt` (this message and every earlier one are read; all members get
//! `message_read`) and `delivered` (the sender gets `message_delivered`).

use common::contracts::events::{MessageRef, ReceiptEvent, server};
use serde_json::json;
use socketioxide::adapter::Adapter;
use validator::Validate;

use super::{Call, emit, invalid_payload, reply, rooms_of};
use crate::ports::user_room;

pub(crate) async fn read_receipt<A: Adapter>(call: Call<A, MessageRef>) {
    let result = async {
        call.session.limiter.check()?;
        let req = call.data.map_err(invalid_payload)?;
        req.validate()?;
        let receipt = call.app.messages.read(&call.session.user_id, &req).await?;
        let event = ReceiptEvent {
            chat_id: receipt.chat.id.clone(),
            message_id: receipt.message.id.clone(),
            user_id: call.session.user_id.clone(),
        };
        emit(
            &call.app.fanout_health,
            || call.s.to(rooms_of(&receipt.chat.participants)),
            server::MESSAGE_READ,
            &event,
        )
        .await;
        Ok(json!({ "ok": true }))
    }
    .await;
    reply(call.ack, result);
}

pub(crate) async fn delivered<A: Adapter>(call: Call<A, MessageRef>) {
    let result = async {
        call.session.limiter.check()?;
        let req = call.data.map_err(invalid_payload)?;
        req.validate()?;
        if let Some(receipt) = call
            .app
            .messages
            .delivered(&call.session.user_id, &req)
            .await?
        {
            call.app.messages.metrics.delivered.increment(1);
            let event = ReceiptEvent {
                chat_id: receipt.chat.id.clone(),
                message_id: receipt.message.id.clone(),
                user_id: call.session.user_id.clone(),
            };
            emit(
                &call.app.fanout_health,
                || call.s.to(user_room(&receipt.message.sender_id)),
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
