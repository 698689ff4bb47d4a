//! The REST transport: `/api/chats…` (Bearer access tokens, members only), `/healthz`, `/readyz`
//! and the OpenAPI document of them all at `/api/openapi.json`.

pub(crate) mod announce;
pub mod attachments;
pub mod chats;
pub mod extract;
pub mod health;
pub mod history;
mod meta;
mod mutes;
mod pictures;
mod pins;
pub mod socket_events;

use std::sync::Arc;

use axum::{Extension, Router};
use common::contracts::auth::PublicProfile;
use common::contracts::chat::{
    AttachmentCreated, Chat, ChatType, ListedMembers, MemberPage, Message, MessageMetadata,
    MessageType, Reaction,
};
use common::contracts::events::{
    ChangesResponse, ChangesResume, ChatChangedEvent, ChatMutedEvent, ChatRef, ChatUpdatedEvent,
    Delivered, EditMessage, KeyChanged, MessageRef, OfflineUser, PresenceEvent, PresenceSnapshot,
    PresenceUpdate, ReactMessage, ReceiptEvent, Resync, SendMessage, SendMessageAck, SyncChanges,
    SyncRequest, SyncResponse, TypingEvent, UserDeleted,
};
use common::error::{ErrorBody, ErrorResponse};
use common::kv::SharedKv;
use common::openapi::SecurityAddon;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

/// The document's fixed parts; the paths and their schemas come from the routes themselves. The
/// Socket.IO events are described in `info.description` ([`socket_events::description`]) and
/// their payloads listed as components, so clients can generate types for them too.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Batiyoun realtime",
        description = socket_events::description(),
    ),
    modifiers(&SecurityAddon),
    components(schemas(
        SendMessage,
        ChatRef,
        MessageRef,
        Delivered,
        SyncRequest,
        SyncResponse,
        EditMessage,
        ReactMessage,
        SyncChanges,
        ChangesResume,
        ChangesResponse,
        SendMessageAck,
        ReceiptEvent,
        TypingEvent,
        PresenceEvent,
        PresenceUpdate,
        OfflineUser,
        PresenceSnapshot,
        Resync,
        KeyChanged,
        PublicProfile,
        UserDeleted,
        ChatUpdatedEvent,
        ChatChangedEvent,
        ChatMutedEvent,
        Message,
        Reaction,
        MessageMetadata,
        MessageType,
        AttachmentCreated,
        Chat,
        ChatType,
        ListedMembers,
        MemberPage,
        ErrorBody,
        ErrorResponse,
    )),
    tags(
        (name = "chats", description = "Direct and group chats, membership, message history and \
                                        attachments (Bearer access token; members only)"),
        (name = "meta", description = "Health, readiness, metrics and this document"),
    ),
)]
struct ApiDoc;

/// The API routes, each registered through `routes!` together with its `#[utoipa::path]`
/// documentation, so the served path and method are the documented ones. Add routes here with
/// `.routes(routes!(handler))`, never with a bare `.route(…)`: `tests/api/openapi.rs` pins the
/// documented set and calls every documented operation.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(chats::create, chats::list))
        .routes(routes!(chats::get_one, chats::update, chats::remove))
        .routes(routes!(chats::members, chats::add_members))
        .routes(routes!(chats::remove_member))
        .routes(routes!(chats::make_admin, chats::remove_admin))
        .routes(routes!(chats::join))
        .routes(routes!(mutes::mute, mutes::unmute))
        .routes(routes!(
            pictures::set_picture,
            pictures::remove_picture,
            pictures::picture
        ))
        .routes(routes!(pins::pin, pins::unpin))
        .routes(routes!(history::messages))
        .routes(routes!(history::message))
        .routes(routes!(attachments::upload))
        .routes(routes!(attachments::download))
        .routes(routes!(health::readyz))
        .routes(routes!(meta::openapi_json))
}

/// The OpenAPI document of every route the service serves: the API routes, plus the liveness
/// route [`router`] merges and the metrics route the application adds (both from `common`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = api_routes().split_for_parts();
    with_shared_paths(doc)
}

fn with_shared_paths(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    doc.merge(common::openapi::SharedPaths::openapi());
    doc
}

/// The REST routes, `/healthz`, and the OpenAPI document at `GET /api/openapi.json`.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api_routes().with_state(state).split_for_parts();
    let doc = with_shared_paths(doc);
    // Serialized once; a failure here is a bug in a schema, caught by the tests.
    let json = doc.to_json().unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot serialize the OpenAPI document");
        "{}".to_owned()
    });
    let api: Router = api.layer(Extension(meta::OpenApiJson(json.into())));
    api.merge(common::server::liveness())
}
