//! Presence over sockets: the snapshot of a connecting socket, the changes a user's first and
//! last sockets queue, the rounds that announce them, and the watch that takes dead instances'
//! sockets off presence (the counts themselves are `domain::presence`'s, the queue and its
//! addressing `domain::presence_changes`').

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use common::contracts::events::{
    PRESENCE_SNAPSHOT_CHUNK, PresenceEvent, PresenceSnapshot, PresenceUpdate, server,
};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State};
use tokio::task::JoinHandle;

use super::auth::Session;
use super::{Services, SharedServices};
use crate::domain::presence_changes::{Announced, Change, address};
use crate::ports::Fanout;

/// Most contacts whose presence one read of the `Kv` asks for (one MGET).
const PRESENCE_READ: usize = 1000;

/// Tells a new socket which of its user's contacts are online, in parts of up to
/// [`PRESENCE_SNAPSHOT_CHUNK`] ids (rounds only announce changes, so a new socket is told the
/// state once, even when nobody is online, so a reconnecting client can drop what it last knew).
///
/// Run after the CONNECT answer (by [`super::on_connect`]): the client can use its socket while
/// the contacts are read. None is missed: the socket joined its room (in [`super::register`])
/// before the snapshot is read, so a contact marked online after the read is announced to it by
/// that contact's round, which reads the contact's state after marking it. For the same reason
/// contacts that a round of this instance takes after the socket joined are left out: that round
/// tells the socket their state, and in a storm, where most contacts are in such rounds, the
/// snapshot would repeat them.
pub(crate) async fn send_snapshot<A: Adapter>(s: &SocketRef<A>, app: &Services, session: &Session) {
    let user = &session.user_id;
    let joined_round = session.joined_round.load(Ordering::Relaxed);
    let contacts = match app.chats.contacts(user).await {
        Ok(contacts) => contacts,
        Err(e) => {
            tracing::warn!(error = %e, "cannot load contacts for presence");
            return;
        }
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
    let online = app.presence_changes.unannounced(online, joined_round);
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

/// Counts the socket for presence, and queues the user's arrival for the next round when this is
/// their first socket on any instance.
pub(crate) async fn came_online(app: &Services, session: &Session) {
    let user = &session.user_id;
    match app.presence.connected(user).await {
        Ok(true) => app.presence_changes.push(user.clone(), None),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "presence update failed"),
    }
}

pub(crate) async fn on_disconnect(
    State(app): State<SharedServices>,
    Extension(session): Extension<Arc<Session>>,
) {
    metrics::gauge!("realtime_connected_sockets").decrement(1.0);
    match app.presence.disconnected(&session.user_id).await {
        Ok(Some(last_seen)) => app
            .presence_changes
            .push(session.user_id.clone(), Some(last_seen)),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "presence update failed"),
    }
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
                Ok(back) => back
                    .into_iter()
                    .for_each(|user| app.presence_changes.push(user, None)),
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
                    .into_iter()
                    .for_each(|(user, at)| app.presence_changes.push(user, Some(at))),
                Err(e) => tracing::warn!(error = %e, "taking dead instances off presence failed"),
            }
        }
    });
    let rounds = tokio::spawn(async move {
        loop {
            app.presence_changes.pushed().await;
            // In slices, so that what a round holds at once stays small when thousands of users
            // changed (an instance's sockets connecting after a restart), however many queued.
            let mut queued = app.presence_changes.take();
            while !queued.is_empty() {
                let slice: Vec<_> = queued.drain(..queued.len().min(PRESENCE_READ)).collect();
                announce(&app, fanout.as_ref(), slice).await;
            }
            tokio::time::sleep(app.limits.presence_batch).await;
            app.presence_changes.forget_if_quiet();
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

/// One slice of a round (up to [`PRESENCE_READ`] users): reads the users' state now and their
/// chats (one query each), then emits each recipient's update (see [`address`] and
/// [`event_of`]). If the state cannot be read, the queued changes are announced as they were; if
/// the chats cannot be, the changes are put back for the next round (behind any newer change of
/// the same user).
async fn announce(app: &Services, fanout: &dyn Fanout, queued: Vec<(String, Change)>) {
    if queued.is_empty() {
        return;
    }
    let users: Vec<String> = queued.iter().map(|(u, _)| u.clone()).collect();
    let chats = match app.chats.chats_of_any(&users).await {
        Ok(chats) => chats,
        Err(e) => {
            app.presence_changes.requeue(queued);
            tracing::warn!(error = %e, users = users.len(), "cannot read chats for presence; the round is put back for the next");
            return;
        }
    };
    let online: Vec<Option<bool>> = match app.presence.are_online(&users).await {
        Ok(flags) => flags.into_iter().map(Some).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read presence; announcing the queued changes");
            vec![None; users.len()]
        }
    };
    // One at a time: only a user queued online and gone since waits on the store (their
    // last-seen time), and a thousand futures in flight would cost more than that wait.
    let mut announced = Vec::with_capacity(queued.len());
    for ((user, change), online) in queued.into_iter().zip(online) {
        announced.push(state_of(app, user, change, online).await);
    }
    let participants: Vec<Vec<String>> = chats.into_iter().map(|c| c.participants).collect();
    for (recipients, update) in address(&announced, &participants) {
        let (event, payload) = event_of(update);
        match payload {
            Ok(v) => fanout.to_users(&recipients, event, v).await,
            Err(e) => tracing::warn!(error = %e, "cannot encode a presence event"),
        }
    }
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

/// What a round announces of `user`: their state now (`online`, when it could be read; the
/// queued change otherwise).
async fn state_of(app: &Services, user: String, change: Change, online: Option<bool>) -> Announced {
    let offline_since = match (online.unwrap_or(change.is_none()), change) {
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
    Announced {
        user,
        offline_since,
    }
}
