//! Changes to a user that auth-api announces reach the user's contacts and the user's own other
//! devices at once. Every instance follows the channels and tells the sockets it holds:
//! - a new end-to-end key (`KEY_CHANGED_CHANNEL` → `key_changed`): clients fetch the new key
//!   before sealing anything more to the old one, which its owner may no longer hold;
//! - a changed profile (`PROFILE_CHANGED_CHANNEL` → `profile_changed`, the profile itself): clients
//!   show the new display name.
//!
//! Missed announcements (the subscription down) cost only that: clients keep keys a few seconds
//! and fetch them afresh when a chat opens, and load profiles again after a reload.

use std::sync::Arc;
use std::time::Duration;

use common::contracts::auth::{KEY_CHANGED_CHANNEL, PROFILE_CHANGED_CHANNEL, PublicProfile};
use common::contracts::events::{KeyChanged, server};
use common::kv::{Followed, SharedKv};
use futures::StreamExt;
use serde_json::Value;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::SharedServices;
use crate::ports::Fanout;

/// An announcement understood: the user it is about and the event's payload.
type Parse = fn(&str) -> Option<(String, Value)>;

fn key_change(message: &str) -> Option<(String, Value)> {
    let user = Uuid::parse_str(message.trim()).ok()?.to_string();
    let payload = serde_json::to_value(KeyChanged {
        user_id: user.clone(),
    })
    .ok()?;
    Some((user, payload))
}

fn profile_change(message: &str) -> Option<(String, Value)> {
    let profile: PublicProfile = serde_json::from_str(message).ok()?;
    let user = Uuid::parse_str(&profile.id).ok()?.to_string();
    Some((user, serde_json::to_value(profile).ok()?))
}

/// Follows `KEY_CHANGED_CHANNEL` (subscribing again after a drop) until aborted.
pub fn spawn_key_changes(
    app: SharedServices,
    fanout: Arc<dyn Fanout>,
    kv: SharedKv,
    retry: Duration,
) -> JoinHandle<()> {
    let channel = common::kv::follow(kv, KEY_CHANGED_CHANNEL, retry);
    spawn_follower(app, fanout, channel, server::KEY_CHANGED, key_change)
}

/// Follows `PROFILE_CHANGED_CHANNEL` (subscribing again after a drop) until aborted.
pub fn spawn_profile_changes(
    app: SharedServices,
    fanout: Arc<dyn Fanout>,
    kv: SharedKv,
    retry: Duration,
) -> JoinHandle<()> {
    let channel = common::kv::follow(kv, PROFILE_CHANGED_CHANNEL, retry);
    spawn_follower(
        app,
        fanout,
        channel,
        server::PROFILE_CHANGED,
        profile_change,
    )
}

fn spawn_follower(
    app: SharedServices,
    fanout: Arc<dyn Fanout>,
    mut channel: futures::stream::BoxStream<'static, Followed>,
    event: &'static str,
    parse: Parse,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(followed) = channel.next().await {
            let Followed::Message(message) = followed else {
                continue;
            };
            let Some((user, payload)) = parse(&message) else {
                tracing::warn!(event, "an announcement that is not about a user, ignored");
                continue;
            };
            match app.chats.contacts(&user).await {
                Ok(mut told) => {
                    told.push(user);
                    fanout.to_users_local(&told, event, payload).await;
                }
                Err(e) => tracing::warn!(error = %e, event, "cannot tell a user's contacts"),
            }
        }
    })
}
