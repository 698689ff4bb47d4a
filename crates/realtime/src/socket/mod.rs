//! The Socket.IO transport: connect-time authentication, one module per event group, and the
//! `Fanout` adapter REST handlers use to emit. Every handler is generic over the socketioxide
//! adapter `A`, so the same code runs with the in-process `LocalAdapter` and the `RedisAdapter`.

pub mod auth;
pub mod chats;
pub mod fanout;
pub mod limit;
pub mod messages;
pub mod receipts;
pub mod redis_driver;
pub mod sync;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use common::ApiError;
use common::contracts::events::{
    PRESENCE_SNAPSHOT_CHUNK, PresenceEvent, PresenceSnapshot, client, server,
};
use common::jwt::JwksVerifier;
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, Extension, SocketRef, State};
use socketioxide::handler::{FromMessage, Value};
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Socket;
use socketioxide_core::parser::Parse;
use socketioxide_parser_common::CommonParser;
use tokio::task::JoinHandle;

use crate::config::Limits;
use crate::domain::{ChatService, MessageService, Presence, Revocations};
use crate::ports::{Fanout, user_room};

pub use auth::{Session, authenticate};
pub use fanout::SocketFanout;

/// What socket handlers share (`with_state`).
pub struct Services {
    pub chats: ChatService,
    pub messages: MessageService,
    pub presence: Presence,
    pub revocations: Revocations,
    pub verifier: Arc<JwksVerifier>,
    pub allowed_origins: Vec<String>,
    pub limits: Limits,
}

pub type SharedServices = Arc<Services>;

/// Joins the socket's rooms and registers its event handler. Called by [`authenticate`] once
/// the socket is accepted, i.e. *before* socketioxide sends the CONNECT answer: the async connect
/// handler runs only after that answer, so a client emitting right away could otherwise race
/// the registration and lose its first event.
pub(crate) fn register<A: Adapter>(s: &SocketRef<A>, session: &Session) {
    s.join(user_room(&session.user_id));
    s.on_fallback(dispatch::<A>);
    s.on_disconnect(on_disconnect::<A>);
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
    /// The event's data (the packet's arguments after the event name) as `T`. `CommonParser` is
    /// the parser socketioxide uses unless told otherwise (`app.rs` does not); a payload of
    /// another parser would fail here as malformed, not be misread.
    fn decode<T: DeserializeOwned>(mut self) -> Result<T, String> {
        CommonParser
            .decode_value(&mut self.0, true)
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
        _ => tracing::debug!(event, "unknown client event ignored"),
    }
}

/// Most contacts whose presence one read of the `Kv` asks for (one MGET).
const PRESENCE_READ: usize = 1000;

/// The online contacts [`came_online`] read, waiting in the socket's extensions for
/// [`on_connect`] to send them (and removed then).
#[derive(Clone)]
struct PendingSnapshot(Vec<String>);

/// The connect handler. All set-up happens in [`authenticate`] (see [`register`]), so by the time
/// the client sees its CONNECT answer, its handlers, rooms and presence are in place. What is
/// left is sending the presence snapshot [`came_online`] read: socketioxide sends the CONNECT
/// answer only after the middleware, and an event must not precede it.
pub async fn on_connect<A: Adapter>(s: SocketRef<A>) {
    tracing::debug!(socket = %s.id, "socket connected");
    let Some(PendingSnapshot(online)) = s.extensions.remove::<PendingSnapshot>() else {
        return;
    };
    let mut parts = online.chunks(PRESENCE_SNAPSHOT_CHUNK).peekable();
    loop {
        let part = PresenceSnapshot {
            online: parts.next().unwrap_or_default().to_vec(),
            more: parts.peek().is_some(),
        };
        // The socket may already be gone; nothing more to send then.
        if s.emit(server::PRESENCE_SNAPSHOT, &part).is_err() || !part.more {
            break;
        }
    }
}

/// Counts the socket for presence, announces the user online to their contacts when this is
/// their first socket on any instance, and reads which contacts are online for the snapshot
/// (`user_online`/`user_offline` only announce changes, so a new socket is told the state once,
/// even when nobody is online, so a reconnecting client can drop what it last knew).
///
/// One read of the contacts serves both, and it comes first, so that the user is online for as
/// short a time as possible before the announcement: a contact connecting meanwhile would hear
/// of the user twice, in its snapshot and by the announcement (harmless, but in a connect storm
/// the reads queue, and the window was long enough for 27% of the reports to be repeats). None
/// is missed: this socket joined its room (in [`register`]) before the snapshot is read, so a
/// contact marked online after the read announces to it.
pub(crate) async fn came_online<A: Adapter>(s: &SocketRef<A>, app: &Services, session: &Session) {
    let user = &session.user_id;
    let contacts = app.chats.contacts(user).await;
    if let Err(e) = &contacts {
        tracing::warn!(error = %e, "cannot load contacts for presence");
    }
    match (app.presence.connected(user).await, &contacts) {
        (Ok(true), Ok(contacts)) => {
            let event = PresenceEvent {
                user_id: user.clone(),
                last_seen: None,
            };
            tell(s.broadcast(), contacts, server::USER_ONLINE, &event).await;
        }
        (Ok(_), _) => {}
        (Err(e), _) => tracing::warn!(error = %e, "presence update failed"),
    }
    let Ok(contacts) = contacts else {
        return;
    };
    let mut online = Vec::new();
    for some in contacts.chunks(PRESENCE_READ) {
        match app.presence.online_among(some).await {
            Ok(found) => online.extend(found),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read presence for the snapshot");
                return;
            }
        }
    }
    s.extensions.insert(PendingSnapshot(online));
}

async fn on_disconnect<A: Adapter>(
    io: SocketIo<A>,
    State(app): State<SharedServices>,
    Extension(session): Extension<Arc<Session>>,
) {
    metrics::gauge!("realtime_connected_sockets").decrement(1.0);
    match app.presence.disconnected(&session.user_id).await {
        Ok(Some(last_seen)) => {
            let event = PresenceEvent {
                user_id: session.user_id.clone(),
                last_seen: Some(last_seen),
            };
            announce(
                &app,
                io.broadcast(),
                &session.user_id,
                server::USER_OFFLINE,
                &event,
            )
            .await;
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "presence update failed"),
    }
}

/// Every third of `INSTANCE_TTL_SECS`: renews this instance's presence key, and takes dead
/// instances' sockets off presence (`Presence::heartbeat`, `Presence::reap`), telling the contacts
/// of those whom this brings online or takes offline. Runs until aborted.
pub fn spawn_instance_watch(app: SharedServices, fanout: Arc<dyn Fanout>) -> JoinHandle<()> {
    let every = (app.limits.instance_ttl / 3).max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match app.presence.heartbeat().await {
                Ok(back) => {
                    for user in back {
                        let event = PresenceEvent {
                            user_id: user,
                            last_seen: None,
                        };
                        tell_contacts(&app, fanout.as_ref(), server::USER_ONLINE, &event).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "presence heartbeat failed"),
            }
            match app.presence.reap().await {
                Ok(gone) => {
                    for (user, last_seen) in gone {
                        let event = PresenceEvent {
                            user_id: user,
                            last_seen: Some(last_seen),
                        };
                        tell_contacts(&app, fanout.as_ref(), server::USER_OFFLINE, &event).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "taking dead instances off presence failed"),
            }
        }
    })
}

/// [`announce`] from outside a socket handler, through the [`Fanout`] port.
async fn tell_contacts(
    app: &Services,
    fanout: &dyn Fanout,
    event: &'static str,
    payload: &PresenceEvent,
) {
    match app.chats.contacts(&payload.user_id).await {
        Ok(contacts) => match serde_json::to_value(payload) {
            Ok(v) => fanout.to_users(&contacts, event, v).await,
            Err(e) => tracing::warn!(error = %e, "cannot encode a presence event"),
        },
        Err(e) => tracing::warn!(error = %e, "cannot load contacts for presence"),
    }
}

/// Tells everyone who shares a chat with `user`.
async fn announce<A: Adapter, T: Serialize + ?Sized>(
    app: &Services,
    op: BroadcastOperators<A>,
    user: &str,
    event: &'static str,
    payload: &T,
) {
    match app.chats.contacts(user).await {
        Ok(contacts) => tell(op, &contacts, event, payload).await,
        Err(e) => tracing::warn!(error = %e, "cannot load contacts for presence"),
    }
}

/// Emits to the rooms of `contacts`, if there are any.
async fn tell<A: Adapter, T: Serialize + ?Sized>(
    op: BroadcastOperators<A>,
    contacts: &[String],
    event: &'static str,
    payload: &T,
) {
    if !contacts.is_empty() {
        emit(op.to(rooms_of(contacts)), event, payload).await;
    }
}

pub(crate) fn rooms_of(users: &[String]) -> Vec<String> {
    users.iter().map(|u| user_room(u)).collect()
}

/// Emits, logging (not failing) when fan-out is impossible: the message is already stored, and
/// clients catch up through `sync`.
pub(crate) async fn emit<A: Adapter, T: Serialize + ?Sized>(
    op: BroadcastOperators<A>,
    event: &'static str,
    payload: &T,
) {
    if let Err(e) = op.emit(event, payload).await {
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
