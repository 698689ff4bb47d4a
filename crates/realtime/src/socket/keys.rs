//! Key changes reach a user's contacts at once. auth-api announces a user who published a new
//! end-to-end key on `KEY_CHANGED_CHANNEL`; every instance hears it and tells the sockets it
//! holds of that user's contacts, and of the user's own other devices (`key_changed`). Their
//! clients then fetch the new key before sealing anything more to the old one, which its owner
//! may no longer hold. Missed announcements (the subscription down) cost only that: clients keep
//! keys a few seconds and fetch them afresh when a chat opens.

use std::sync::Arc;
use std::time::Duration;

use common::contracts::auth::KEY_CHANGED_CHANNEL;
use common::contracts::events::{KeyChanged, server};
use common::kv::{Followed, SharedKv};
use futures::StreamExt;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::SharedServices;
use crate::ports::Fanout;

/// Follows the channel (subscribing again after a drop) until aborted.
pub fn spawn_key_changes(
    app: SharedServices,
    fanout: Arc<dyn Fanout>,
    kv: SharedKv,
    retry: Duration,
) -> JoinHandle<()> {
    let mut changes = common::kv::follow(kv, KEY_CHANGED_CHANNEL, retry);
    tokio::spawn(async move {
        while let Some(event) = changes.next().await {
            let Followed::Message(user) = event else {
                continue;
            };
            let Ok(user) = Uuid::parse_str(user.trim()) else {
                tracing::warn!("a key change announced for something not a user id");
                continue;
            };
            let user = user.to_string();
            match app.chats.contacts(&user).await {
                Ok(mut told) => {
                    told.push(user.clone());
                    let payload = serde_json::to_value(KeyChanged { user_id: user })
                        .expect("a key change serializes");
                    fanout
                        .to_users_local(&told, server::KEY_CHANGED, payload)
                        .await;
                }
                Err(e) => tracing::warn!(error = %e, "cannot tell a key change to contacts"),
            }
        }
    })
}
