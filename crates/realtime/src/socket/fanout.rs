//! The `Fanout` port implemented with the `SocketIo` handle: rooms `user:{id}` reach every socket
//! of a user on every instance (through the Redis adapter when configured).

use std::sync::Arc;

use async_trait::async_trait;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;

use super::auth::Session;
use super::outage::FanoutHealth;
use super::{emit, rooms_of};
use crate::ports::{Fanout, chat_room, user_room};

pub struct SocketFanout<A: Adapter> {
    io: SocketIo<A>,
    health: Arc<FanoutHealth>,
}

impl<A: Adapter> SocketFanout<A> {
    pub fn new(io: SocketIo<A>, health: Arc<FanoutHealth>) -> Self {
        Self { io, health }
    }
}

#[async_trait]
impl<A: Adapter> Fanout for SocketFanout<A> {
    async fn to_users(&self, users: &[String], event: &'static str, payload: serde_json::Value) {
        if users.is_empty() {
            return;
        }
        emit(
            &self.health,
            || self.io.to(rooms_of(users)),
            event,
            &payload,
        )
        .await;
    }

    async fn to_users_local(
        &self,
        users: &[String],
        event: &'static str,
        payload: serde_json::Value,
    ) {
        if users.is_empty() {
            return;
        }
        if let Err(e) = self
            .io
            .local()
            .to(rooms_of(users))
            .emit(event, &payload)
            .await
        {
            tracing::warn!(error = %e, event, "emit to this instance's sockets failed");
        }
    }

    async fn leave_chat_room(&self, user: &str, chat: &str) {
        if let Err(e) = self.io.to(user_room(user)).leave(chat_room(chat)).await {
            tracing::warn!(error = %e, "cannot remove sockets from chat room");
        }
    }

    /// Looks through this instance's sockets rather than a room per session: revocations are
    /// rare (logout, refresh-token reuse), while a room per session cost every idle socket a
    /// room of its own.
    async fn disconnect_session_local(&self, sid: &str) {
        for s in self.io.local().sockets() {
            let revoked = s
                .extensions
                .get::<Arc<Session>>()
                .is_some_and(|session| session.sid == sid);
            if revoked && let Err(e) = s.disconnect() {
                tracing::warn!(error = %e, "cannot disconnect revoked session");
            }
        }
    }
}
