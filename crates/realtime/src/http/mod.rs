//! The REST transport: `/api/chats…` (Bearer access tokens, members only), `/healthz`, `/readyz`.

pub mod chats;
pub mod extract;
pub mod health;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};
use common::kv::SharedKv;

use crate::ports::{ChatStore, Fanout};
use crate::socket::SharedServices;

/// Shared state of the REST handlers.
#[derive(Clone)]
pub struct AppState {
    pub services: SharedServices,
    pub fanout: Arc<dyn Fanout>,
    pub store: Arc<dyn ChatStore>,
    pub kv: SharedKv,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/chats", post(chats::create).get(chats::list))
        .route(
            "/api/chats/{id}",
            get(chats::get_one)
                .patch(chats::rename)
                .delete(chats::remove),
        )
        .route("/api/chats/{id}/members", post(chats::add_members))
        .route(
            "/api/chats/{id}/members/{user_id}",
            delete(chats::remove_member),
        )
        .route("/api/chats/{id}/join", post(chats::join))
        .route("/api/chats/{id}/messages", get(chats::messages))
        .route("/readyz", get(health::readyz))
        .with_state(state)
        .merge(common::server::liveness())
}
