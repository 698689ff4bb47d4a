//! Presence over sockets: the online announcement and snapshot of a connecting socket, the
//! offline announcement of a user's last one, and the watch that takes dead instances' sockets
//! off presence (the counts themselves are `domain::presence`'s).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::contracts::events::{PRESENCE_SNAPSHOT_CHUNK, PresenceEvent, PresenceSnapshot, server};
use futures::StreamExt;
use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State};
use socketioxide::operators::BroadcastOperators;
use tokio::task::JoinHandle;

use super::auth::Session;
use super::outage::FanoutHealth;
use super::{Services, SharedServices, emit, rooms_of};
use crate::domain::chats::CONTACT_READS_IN_FLIGHT;
use crate::ports::Fanout;

/// Most contacts whose presence one read of the `Kv` asks for (one MGET).
const PRESENCE_READ: usize = 1000;

/// The online contacts [`came_online`] read, waiting in the socket's extensions for
/// [`super::on_connect`] to send them (and removed then).
#[derive(Clone)]
struct PendingSnapshot(Vec<String>);

/// Sends the presence snapshot [`came_online`] left in the socket's extensions, in parts of up
/// to [`PRESENCE_SNAPSHOT_CHUNK`] ids.
pub(crate) fn send_snapshot<A: Adapter>(s: &SocketRef<A>) {
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
/// is missed: this socket joined its room (in [`super::register`]) before the snapshot is read,
/// so a contact marked online after the read announces to it.
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
            tell(
                &app.fanout_health,
                || s.broadcast(),
                contacts,
                server::USER_ONLINE,
                &event,
            )
            .await;
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

pub(crate) async fn on_disconnect<A: Adapter>(
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
                || io.broadcast(),
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

/// Every third of `INSTANCE_TTL_SECS`, two loops: one renews this instance's presence key
/// (`Presence::heartbeat`), the other takes dead instances' sockets off presence
/// (`Presence::reap`), and each tells the contacts of those whom it brings online or takes
/// offline. Apart, so that a long reap (a large instance gone, and its users' contacts to tell)
/// cannot hold up the renewal past the key's TTL, which would have this instance taken for dead
/// in turn. They run until aborted.
pub fn spawn_instance_watch(app: SharedServices, fanout: Arc<dyn Fanout>) -> [JoinHandle<()>; 2] {
    let every = (app.limits.instance_ttl / 3).max(Duration::from_millis(100));
    let (a, f) = (app.clone(), fanout.clone());
    let heartbeat = repeat(every, move || {
        let (app, fanout) = (a.clone(), f.clone());
        async move {
            match app.presence.heartbeat().await {
                Ok(back) => {
                    let events = back.into_iter().map(|user| PresenceEvent {
                        user_id: user,
                        last_seen: None,
                    });
                    tell_each(&app, fanout.as_ref(), server::USER_ONLINE, events).await;
                }
                Err(e) => tracing::warn!(error = %e, "presence heartbeat failed"),
            }
        }
    });
    let reap = repeat(every, move || {
        let (app, fanout) = (app.clone(), fanout.clone());
        async move {
            match app.presence.reap().await {
                Ok(gone) => {
                    let events = gone.into_iter().map(|(user, at)| PresenceEvent {
                        user_id: user,
                        last_seen: Some(at),
                    });
                    tell_each(&app, fanout.as_ref(), server::USER_OFFLINE, events).await;
                }
                Err(e) => tracing::warn!(error = %e, "taking dead instances off presence failed"),
            }
        }
    });
    [heartbeat, reap]
}

/// Runs `round` now and then every `every` after the previous round ends, until aborted.
fn repeat<F, Fut>(every: Duration, mut round: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            round().await;
        }
    })
}

/// [`tell_contacts`] of each event's user, a few at a time (the contacts reads are gated to
/// [`CONTACT_READS_IN_FLIGHT`] anyway).
async fn tell_each(
    app: &Services,
    fanout: &dyn Fanout,
    event: &'static str,
    payloads: impl Iterator<Item = PresenceEvent>,
) {
    futures::stream::iter(payloads)
        .for_each_concurrent(CONTACT_READS_IN_FLIGHT, |payload| async move {
            tell_contacts(app, fanout, event, &payload).await;
        })
        .await;
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
    op: impl Fn() -> BroadcastOperators<A>,
    user: &str,
    event: &'static str,
    payload: &T,
) {
    match app.chats.contacts(user).await {
        Ok(contacts) => tell(&app.fanout_health, op, &contacts, event, payload).await,
        Err(e) => tracing::warn!(error = %e, "cannot load contacts for presence"),
    }
}

/// Emits to the rooms of `contacts`, if there are any.
async fn tell<A: Adapter, T: Serialize + ?Sized>(
    health: &FanoutHealth,
    op: impl Fn() -> BroadcastOperators<A>,
    contacts: &[String],
    event: &'static str,
    payload: &T,
) {
    if !contacts.is_empty() {
        emit(health, || op().to(rooms_of(contacts)), event, payload).await;
    }
}
