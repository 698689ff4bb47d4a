//! The Socket.IO transport: connect-time authentication, one module per event group, and the
//! `Fanout` adapter REST handlers use to emit. Every handler is generic over the socketioxide
//! adapter `A`, so the same code runs with the in-process `LocalAdapter` and the `RedisAdapter`.

pub mod account_deletions;
pub mod auth;
pub mod chats;
pub mod edits;
pub mod fanout;
pub mod limit;
pub mod messages;
pub mod outage;
pub mod presence;
pub mod receipts;
pub mod redis_driver;
pub mod sync;
pub mod user_changes;

use std::convert::Infallible;
use std::sync::Arc;

use common::ApiError;
use common::contracts::Object;
use common::contracts::events::client;
use common::jwt::JwksVerifier;
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketioxide::BroadcastError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, Extension, SocketRef, State};
use socketioxide::handler::{FromMessage, Value};
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Socket;
use socketioxide_core::parser::Parse;
use socketioxide_parser_common::CommonParser;

use crate::config::Limits;
use crate::domain::{
    AttachmentService, Budgets, ChatService, MessageService, Presence, PresenceChanges, Revocations,
};
use crate::ports::user_room;

pub use account_deletions::spawn_account_deletions;
pub use auth::{Session, authenticate};
pub use fanout::SocketFanout;
pub use outage::{FanoutHealth, spawn_recovery};
pub use presence::spawn_instance_watch;
pub use user_changes::{spawn_key_changes, spawn_profile_changes};

/// What socket handlers share (`with_state`).
pub struct Services {
    pub chats: ChatService,
    pub messages: MessageService,
    pub attachments: AttachmentService,
    /// What each user may do to chats over REST in a while (changes, wrong passcodes).
    pub budgets: Budgets,
    pub presence: Presence,
    /// This instance's presence changes waiting for their round (`presence::spawn_instance_watch`).
    pub presence_changes: PresenceChanges,
    pub revocations: Revocations,
    pub verifier: Arc<JwksVerifier>,
    pub allowed_origins: Vec<String>,
    pub limits: Limits,
    pub fanout_health: Arc<FanoutHealth>,
}

pub type SharedServices = Arc<Services>;

/// Joins the socket's rooms and registers its event handler. Called by [`authenticate`] once
/// the socket is accepted, i.e. *before* socketioxide sends the CONNECT answer: the async connect
/// handler runs only after that answer, so a client emitting right away could otherwise race
/// the registration and lose its first event.
pub(crate) fn register<A: Adapter>(s: &SocketRef<A>, session: &Session) {
    s.join(user_room(&session.user_id));
    s.on_fallback(dispatch::<A>);
    s.on_disconnect(presence::on_disconnect);
    metrics::gauge!("realtime_connected_sockets").increment(1.0);
}

/// What every client event handler gets.
pub(crate) struct Call<A: Adapter, T> {
    pub s: SocketRef<A>,
    pub ack: AckSender<A>,
    /// The event's payload, or why it does not fit the event's type.
    pub data: Result<T, String>,
    pub app: SharedServices,
    pub session: Arc<Session>,
}

impl<A: Adapter> Call<A, Payload> {
    /// The same call with its payload decoded into the event's type.
    fn typed<T: DeserializeOwned>(self) -> Call<A, T> {
        Call {
            s: self.s,
            ack: self.ack,
            data: self.data.and_then(Payload::decode),
            app: self.app,
            session: self.session,
        }
    }
}

/// An event's payload as socketioxide received it (the packet's JSON text), not yet decoded.
/// [`dispatch`] decodes it straight into the event's type: going through `serde_json::Value`
/// first built a map of owned strings per event, then moved them into the type (that decode was
/// 1.8% of the server's CPU in a rooms-of-10 fan-out profile).
pub(crate) struct Payload(Value);

impl Payload {
    /// The event's data (the packet's arguments after the event name) as `T`, from one JSON
    /// object ([`Object`]: several arguments, or an array, are refused). `CommonParser` is
    /// the parser socketioxide uses unless told otherwise (`app.rs` does not); a payload of
    /// another parser would fail here as malformed, not be misread.
    fn decode<T: DeserializeOwned>(mut self) -> Result<T, String> {
        CommonParser
            .decode_value(&mut self.0, true)
            .map(|Object(value)| value)
            .map_err(|e| e.to_string())
    }
}

impl<A: Adapter> FromMessage<A> for Payload {
    type Error = Infallible;
    fn from_message(_: Arc<Socket<A>>, v: Value, _: Option<i64>) -> Result<Self, Infallible> {
        Ok(Payload(v))
    }
}

/// Routes every client event. ONE handler for all events rather than one `on(event, …)` per event
/// and socket: socketioxide keeps a socket's handlers in a map of its own, which for seven events
/// cost 341 bytes per connection (heaptrack, 19k idle sockets). Unknown events are ignored, as
/// they were without a handler. `Payload` takes the packet, so it comes last (after `Event`,
/// which reads the name from it).
async fn dispatch<A: Adapter>(
    s: SocketRef<A>,
    ack: AckSender<A>,
    Event(event): Event,
    State(app): State<SharedServices>,
    Extension(session): Extension<Arc<Session>>,
    payload: Payload,
) {
    let call = Call {
        s,
        ack,
        data: Ok(payload),
        app,
        session,
    };
    match event.as_str() {
        client::SEND_MESSAGE => messages::send_message(call.typed()).await,
        client::JOIN_CHAT => chats::join_chat(call.typed()).await,
        client::LEAVE_CHAT => chats::leave_chat(call.typed()).await,
        client::TYPING => chats::typing(call.typed()).await,
        client::READ_RECEIPT => receipts::read_receipt(call.typed()).await,
        client::DELIVERED => receipts::delivered(call.typed()).await,
        client::SYNC => sync::sync(call.typed()).await,
        client::EDIT_MESSAGE => edits::edit_message(call.typed()).await,
        client::DELETE_MESSAGE => edits::delete_message(call.typed()).await,
        client::SYNC_CHANGES => edits::sync_changes(call.typed()).await,
        client::REACT_MESSAGE => edits::react_message(call.typed()).await,
        _ => tracing::debug!(event, "unknown client event ignored"),
    }
}

/// The connect handler. All set-up happens in [`authenticate`] (see `register`), so by the time
/// the client sees its CONNECT answer, its handlers, rooms and presence are in place. What is
/// left is the presence snapshot: socketioxide sends the CONNECT answer only after the
/// middleware, and an event must not precede it.
pub async fn on_connect<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<SharedServices>,
    Extension(session): Extension<Arc<Session>>,
) {
    tracing::debug!(socket = %s.id, "socket connected");
    presence::send_snapshot(&s, &app, &session).await;
}

pub(crate) fn rooms_of(users: &[String]) -> Vec<String> {
    users.iter().map(|u| user_room(u)).collect()
}

/// Emits to the sockets `op` selects, logging (not failing) when that is impossible: the message
/// is already stored, and clients catch up through `sync`. While fan-out between instances is
/// out, or when it fails, emits to this instance's sockets among them (see [`outage`]).
pub(crate) async fn emit<A: Adapter, T: Serialize + ?Sized>(
    health: &FanoutHealth,
    op: impl Fn() -> BroadcastOperators<A>,
    event: &'static str,
    payload: &T,
) {
    if !health.is_out() {
        match op().emit(event, payload).await {
            Ok(()) => return,
            Err(BroadcastError::Adapter(e)) => {
                tracing::warn!(error = %e, event, "fan-out between instances failed; emitting to this instance's sockets");
                health.went_out();
            }
            Err(e) => {
                tracing::warn!(error = %e, event, "broadcast failed");
                return;
            }
        }
    }
    if let Err(e) = op().local().emit(event, payload).await {
        tracing::warn!(error = %e, event, "broadcast failed");
    }
}

/// Answers an event's ack: `{"ok":true,…}` or `{"ok":false,"error":{…}}`.
pub(crate) fn reply<A: Adapter>(ack: AckSender<A>, result: Result<serde_json::Value, ApiError>) {
    let value = result.unwrap_or_else(|e| e.to_ack());
    // A client that did not ask for an ack gets none; that is not an error.
    let _ = ack.send(&value);
}

/// A payload that does not deserialize into the event's type.
pub(crate) fn invalid_payload(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        common::ErrorCode::InvalidJson,
        format!("invalid event payload: {e}"),
    )
}
