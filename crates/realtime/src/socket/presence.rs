//! Presence over sockets: the snapshot of a connecting socket, the changes a user's first and
//! last sockets queue, the rounds that announce them, and the watch that takes dead instances'
//! sockets off presence (the counts themselves are `domain::presence`'s, the queue and its
//! addressing `domain::presence_changes`').

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use common::contracts::events::{
    PRESENCE_SNAPSHOT_CHUNK, PresenceEvent, PresenceSnapshot, PresenceUpdate, server,
};
use futures::StreamExt;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State};
use tokio::task::JoinHandle;

use super::auth::Session;
use super::{Services, SharedServices};
use crate::domain::chats::CONTACT_READS_IN_FLIGHT;
use crate::domain::presence_changes::{Announced, Change, address};
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

/// Counts the socket for presence, queues the user's arrival for the next round when this is
/// their first socket on any instance, and reads which contacts are online for the snapshot
/// (rounds only announce changes, so a new socket is told the state once, even when nobody is
/// online, so a reconnecting client can drop what it last knew).
///
/// One read of the contacts serves both. None is missed: this socket joined its room (in
/// [`super::register`]) before the snapshot is read, so a contact marked online after the read
/// is announced to it by that contact's round, which reads the contact's state after marking it.
pub(crate) async fn came_online<A: Adapter>(s: &SocketRef<A>, app: &Services, session: &Session) {
    let user = &session.user_id;
    let contacts = app.chats.contacts(user).await;
    if let Err(e) = &contacts {
        tracing::warn!(error = %e, "cannot load contacts for presence");
    }
    let first = match app.presence.connected(user).await {
        Ok(first) => first,
        Err(e) => {
            tracing::warn!(error = %e, "presence update failed");
            false
        }
    };
    let Ok(contacts) = contacts else {
        if first {
            queue(app, user, None, None);
        }
        return;
    };
    let mut online = Vec::new();
    let mut complete = true;
    for some in contacts.chunks(PRESENCE_READ) {
        match app.presence.online_among(some).await {
            Ok(found) => online.extend(found),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read presence for the snapshot");
                complete = false;
                break;
            }
        }
    }
    if first {
        queue(app, user, None, Some(contacts));
    }
    if complete {
        s.extensions.insert(PendingSnapshot(online));
    }
}

pub(crate) async fn on_disconnect(
    State(app): State<SharedServices>,
    Extension(session): Extension<Arc<Session>>,
) {
    metrics::gauge!("realtime_connected_sockets").decrement(1.0);
    match app.presence.disconnected(&session.user_id).await {
        Ok(Some(last_seen)) => queue(&app, &session.user_id, Some(last_seen), None),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "presence update failed"),
    }
}

/// Queues `user` for this instance's next round of presence announcements.
fn queue(
    app: &Services,
    user: &str,
    offline_since: Option<DateTime<Utc>>,
    contacts: Option<Vec<String>>,
) {
    app.presence_changes.push(
        user.to_owned(),
        Change {
            offline_since,
            contacts,
        },
    );
}

/// Three loops. Every third of `INSTANCE_TTL_SECS` one renews this instance's presence key
/// (`Presence::heartbeat`) and another takes dead instances' sockets off presence
/// (`Presence::reap`), each queueing those it brings online or takes offline; they are apart, so
/// that a long reap (a large instance gone) cannot hold up the renewal past the key's TTL, which
/// would have this instance taken for dead in turn. The third announces what is queued, in
/// rounds at least `PRESENCE_BATCH_MS` apart (see `domain::presence_changes`). They run until
/// aborted.
pub fn spawn_instance_watch(app: SharedServices, fanout: Arc<dyn Fanout>) -> [JoinHandle<()>; 3] {
    let every = (app.limits.instance_ttl / 3).max(Duration::from_millis(100));
    let a = app.clone();
    let heartbeat = repeat(every, move || {
        let app = a.clone();
        async move {
            match app.presence.heartbeat().await {
                Ok(back) => back.iter().for_each(|user| queue(&app, user, None, None)),
                Err(e) => tracing::warn!(error = %e, "presence heartbeat failed"),
            }
        }
    });
    let a = app.clone();
    let reap = repeat(every, move || {
        let app = a.clone();
        async move {
            match app.presence.reap().await {
                Ok(gone) => gone
                    .iter()
                    .for_each(|(user, at)| queue(&app, user, Some(*at), None)),
                Err(e) => tracing::warn!(error = %e, "taking dead instances off presence failed"),
            }
        }
    });
    let rounds = tokio::spawn(async move {
        loop {
            app.presence_changes.pushed().await;
            announce(&app, fanout.as_ref(), app.presence_changes.take()).await;
            tokio::time::sleep(app.limits.presence_batch).await;
        }
    });
    [heartbeat, reap, rounds]
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

/// One round: reads the queued users' state now and the contacts their changes did not come
/// with, then emits each recipient's update (see [`address`] and [`event_of`]). A user whose
/// contacts cannot be read is announced to nobody this round (logged); if the state cannot be
/// read, the queued changes are announced as they were.
async fn announce(app: &Services, fanout: &dyn Fanout, queued: Vec<(String, Change)>) {
    if queued.is_empty() {
        return;
    }
    let users: Vec<String> = queued.iter().map(|(u, _)| u.clone()).collect();
    let online_now = online_now(app, &users).await;
    let read: Vec<Option<(Announced, Vec<String>)>> = futures::stream::iter(queued)
        .map(|(user, change)| {
            let online = online_now.as_ref().map(|set| set.contains(&user));
            announced(app, user, change, online)
        })
        .buffered(CONTACT_READS_IN_FLIGHT)
        .collect()
        .await;
    let (users, contacts): (Vec<Announced>, Vec<Vec<String>>) = read.into_iter().flatten().unzip();
    for (recipients, update) in address(&users, &contacts) {
        let (event, payload) = event_of(update);
        match payload {
            Ok(v) => fanout.to_users(&recipients, event, v).await,
            Err(e) => tracing::warn!(error = %e, "cannot encode a presence event"),
        }
    }
}

/// Which of `users` are online, a round trip per [`PRESENCE_READ`]; `None` if the store cannot
/// tell.
async fn online_now(app: &Services, users: &[String]) -> Option<HashSet<String>> {
    let mut online = HashSet::new();
    for some in users.chunks(PRESENCE_READ) {
        match app.presence.online_among(some).await {
            Ok(found) => online.extend(found),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read presence; announcing the queued changes");
                return None;
            }
        }
    }
    Some(online)
}

/// An update naming one user goes out as the `user_online`/`user_offline` it always was; one
/// naming several, as a `presence_update`.
fn event_of(update: PresenceUpdate) -> (&'static str, serde_json::Result<serde_json::Value>) {
    match (&update.online[..], &update.offline[..]) {
        ([user], []) => (
            server::USER_ONLINE,
            serde_json::to_value(PresenceEvent {
                user_id: user.clone(),
                last_seen: None,
            }),
        ),
        ([], [gone]) => (
            server::USER_OFFLINE,
            serde_json::to_value(PresenceEvent {
                user_id: gone.user_id.clone(),
                last_seen: Some(gone.last_seen),
            }),
        ),
        _ => (server::PRESENCE_UPDATE, serde_json::to_value(&update)),
    }
}

/// What a round announces of `user`, and to whom: their state now (`online`, when it could be
/// read; the queued change otherwise), and their contacts.
async fn announced(
    app: &Services,
    user: String,
    change: Change,
    online: Option<bool>,
) -> Option<(Announced, Vec<String>)> {
    let contacts = match change.contacts {
        Some(contacts) => contacts,
        None => match app.chats.contacts(&user).await {
            Ok(contacts) => contacts,
            Err(e) => {
                tracing::warn!(error = %e, "cannot load contacts for presence");
                return None;
            }
        },
    };
    let offline_since = match (
        online.unwrap_or(change.offline_since.is_none()),
        change.offline_since,
    ) {
        (true, _) => None,
        (false, Some(at)) => Some(at),
        // Queued online, offline by now: the disconnect that took them offline queued its own
        // change, possibly on another instance; its time, as far as the store has it.
        (false, None) => Some(
            app.presence
                .last_seen(&user)
                .await
                .ok()
                .flatten()
                .unwrap_or_else(Utc::now),
        ),
    };
    Some((
        Announced {
            user,
            offline_since,
        },
        contacts,
    ))
}
