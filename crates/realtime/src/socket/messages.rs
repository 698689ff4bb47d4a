//! `send_message`: validate, check membership, store durably (idempotent on `clientMsgId`), fan
//! out `new_message` to every participant's sockets (the sender's other devices too), then ack
//! with the stored message. A resend is fanned out again (clients dedupe by message id), so a
//! crash between storing and fanning out cannot lose the live delivery.

use common::contracts::chat::Message;
use common::contracts::events::{SendMessage, server};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use validator::Validate;

use super::limit::Budget;
use super::{Call, emit, invalid_payload, reply, rooms_of};

pub(crate) async fn send_message<A: Adapter>(call: Call<A, SendMessage>) {
    let result = async {
        call.session.limiter.check(Budget::Messages)?;
        let req = call.data.map_err(invalid_payload)?;
        req.validate()?;
        let sent = call.app.messages.send(&call.session.user_id, req).await?;
        if sent.fresh {
            call.app.messages.metrics.accepted.increment(1);
        }
        let started = std::time::Instant::now();
        emit(
            &call.app.fanout_health,
            || call.s.to(rooms_of(&sent.participants)),
            server::NEW_MESSAGE,
            &sent.message,
        )
        .await;
        call.app
            .messages
            .metrics
            .fanout_seconds
            .record(started.elapsed().as_secs_f64());
        Ok(sent.message)
    }
    .await;
    match result {
        // Serialised straight from the message, not through a `serde_json::Value` copy of it.
        // A client that did not ask for an ack gets none; that is not an error.
        Ok(message) => {
            let _ = call.ack.send(&Accepted {
                ok: true,
                message: &message,
            });
        }
        Err(e) => reply(call.ack, Err(e)),
    }
}

/// The ack of a stored message: `{"ok":true,"message":{…}}`.
#[derive(Serialize)]
pub(crate) struct Accepted<'a> {
    pub ok: bool,
    pub message: &'a Message,
}
