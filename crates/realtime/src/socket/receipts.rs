//! Receipts: `read_receipt` (this message and every earlier one are read; all members get
//! `message_read`) and `delivered` (the sender gets `message_delivered`).

use common::contracts::events::{MessageRef, ReceiptEvent, server};
use serde_json::json;
use socketioxide::adapter::Adapter;
use validator::Validate;

use super::{Call, emit, invalid_payload, reply, rooms_of};
use crate::ports::user_room;

pub(crate) async fn read_receipt<A: Adapter>(
    Call {
        s,
        ack,
        data,
        app,
        session,
    }: Call<A, MessageRef>,
) {
    let result = async {
        session.limiter.check()?;
        let req = data.map_err(invalid_payload)?;
        req.validate()?;
        let receipt = app.messages.read(&session.user_id, &req).await?;
        let event = ReceiptEvent {
            chat_id: receipt.chat.id.clone(),
            message_id: receipt.message.id.clone(),
            user_id: session.user_id.clone(),
        };
        emit(
            s.to(rooms_of(&receipt.chat.participants)),
            server::MESSAGE_READ,
            &event,
        )
        .await;
        Ok(json!({ "ok": true }))
    }
    .await;
    reply(ack, result);
}

pub(crate) async fn delivered<A: Adapter>(
    Call {
        s,
        ack,
        data,
        app,
        session,
    }: Call<A, MessageRef>,
) {
    let result = async {
        session.limiter.check()?;
        let req = data.map_err(invalid_payload)?;
        req.validate()?;
        if let Some(receipt) = app.messages.delivered(&session.user_id, &req).await? {
            metrics::counter!("realtime_messages_delivered_total").increment(1);
            let event = ReceiptEvent {
                chat_id: receipt.chat.id.clone(),
                message_id: receipt.message.id.clone(),
                user_id: session.user_id.clone(),
            };
            emit(
                s.to(user_room(&receipt.message.sender_id)),
                server::MESSAGE_DELIVERED,
                &event,
            )
            .await;
        }
        Ok(json!({ "ok": true }))
    }
    .await;
    reply(ack, result);
}
