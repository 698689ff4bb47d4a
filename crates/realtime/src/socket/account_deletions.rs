//! Accounts deleted in auth-api: the user is recorded as deleted for good (nobody starts a chat
//! with them or adds them to one again), their direct chats are closed (readable, but they take
//! no new messages: `account_deleted`; the other participant gets `chat_changed` with `closed`),
//! they leave every group they were in, as if they had left each (the groups' members get its
//! `chat_changed`, and a group that loses its last admin gets another), and their contacts are
//! told (`user_deleted`), so a direct chat with them shows the account as gone. Their sessions,
//! and so their sockets, auth-api has already ended.
//!
//! The work is durable: auth-api records it in the `Kv` hash `DELETED_USERS_PENDING_KEY` before
//! it deletes the account, and the instance that finishes it removes the record. The channel
//! only hastens it; every instance also looks at the hash when its subscription (re)starts and
//! every [`Config::deleted_users_sweep`](crate::config::Config), so an announcement missed
//! (no instance up, the subscription down) or work cut short (an instance dying half-way) is
//! done later. One instance at a time does a user's work (a claim in the `Kv`, which lapses if
//! that instance dies), so members hear of each removal once.

use std::time::Duration;

use common::contracts::auth::{DELETED_USERS_PENDING_KEY, USER_DELETED_CHANNEL};
use common::contracts::events::{UserDeleted, server};
use common::kv::Followed;
use futures::StreamExt;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::http::AppState;
use crate::http::announce::announce;

/// How long one instance's claim on a user's work lasts: far more than the work takes, and the
/// wait before another instance takes over from one that died.
const CLAIM: Duration = Duration::from_secs(60);

fn claim_key(user: &str) -> String {
    format!("user_deleted_claim:{user}")
}

/// Follows `USER_DELETED_CHANNEL` and sweeps the pending work every `sweep`, until aborted.
pub fn spawn_account_deletions(
    state: AppState,
    retry: Duration,
    sweep: Duration,
) -> JoinHandle<()> {
    let mut channel = common::kv::follow(state.kv.clone(), USER_DELETED_CHANNEL, retry);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + sweep, sweep);
        loop {
            tokio::select! {
                followed = channel.next() => match followed {
                    Some(Followed::Message(user)) => {
                        if let Ok(user) = Uuid::parse_str(user.trim()) {
                            finish(&state, &user.to_string()).await;
                        } else {
                            tracing::warn!("a deleted account that is not a user id, ignored");
                        }
                    }
                    // Announcements made while the subscription was down are lost: look.
                    Some(Followed::Up) => sweep_pending(&state).await,
                    Some(Followed::Down) => {}
                    None => return,
                },
                _ = ticks.tick() => sweep_pending(&state).await,
            }
        }
    })
}

/// Finishes every deletion still pending.
async fn sweep_pending(state: &AppState) {
    match state.kv.hash_all(DELETED_USERS_PENDING_KEY).await {
        Ok(pending) => {
            for (user, _) in pending {
                match Uuid::parse_str(&user) {
                    Ok(id) => finish(state, &id.to_string()).await,
                    // Not ours to keep: nothing could ever finish it.
                    Err(_) => {
                        let _ = state.kv.hash_del(DELETED_USERS_PENDING_KEY, &user).await;
                    }
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the deleted accounts' pending work"),
    }
}

/// Does a deleted user's work unless another instance is doing it: the contacts told, the
/// groups left, the pending record removed. Kept pending if the store fails, for the next
/// sweep.
async fn finish(state: &AppState, user: &str) {
    match state.kv.set_nx(&claim_key(user), "1", CLAIM).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot claim a deleted account's work");
            return;
        }
    }
    let chats = &state.services.chats;
    // Recorded first: from here on nobody starts a chat with them or adds them to one, so the
    // chats closed and left below stay all there is.
    if let Err(e) = chats.record_deleted(user).await {
        return retry_later(state, user, &e).await;
    }
    // Read, and told, before any group is left: the members of those groups are among the
    // contacts, and a try cut short after leaving some would find them no longer contacts
    // when tried again. Told again by a later try, which is harmless.
    let contacts = match chats.contacts(user).await {
        Ok(contacts) => contacts,
        Err(e) => return retry_later(state, user, &e).await,
    };
    let told = UserDeleted {
        user_id: user.to_owned(),
    };
    let payload = serde_json::to_value(told).expect("the event serializes");
    state
        .fanout
        .to_users(&contacts, server::USER_DELETED, payload)
        .await;
    let (changes, failed) = chats.part_with_deleted(user).await;
    for change in &changes {
        announce(state, change).await;
    }
    if let Some(e) = failed {
        return retry_later(state, user, &e).await;
    }
    if let Err(e) = state.kv.hash_del(DELETED_USERS_PENDING_KEY, user).await {
        tracing::warn!(error = %e, "cannot clear a deleted account's pending work; it will be done again");
    }
    tracing::info!(
        user,
        chats = changes.len(),
        contacts = contacts.len(),
        "a deleted account's chats closed or left"
    );
}

/// Lets the next sweep (of any instance) try again at once rather than after the claim lapses.
async fn retry_later(state: &AppState, user: &str, error: &common::ApiError) {
    tracing::warn!(%error, user, "a deleted account's groups not all left; tried again later");
    let _ = state.kv.del(&claim_key(user)).await;
}
