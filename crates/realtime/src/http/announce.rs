//! Telling the people a chat change concerns: the whole chat (`chat_updated`) to those who gain
//! it, the change alone (`chat_changed`) to those who had it. Used by the REST handlers and by the
//! deletion of an account (`socket::account_deletions`).

use common::contracts::chat::{Chat, ListedMembers};
use common::contracts::events::{ChatChangedEvent, ChatUpdatedEvent, server};

use super::AppState;
use crate::domain::chats::{ChatChange, ChatDelta, picture_url, to_contract};
use crate::ports::ChatRecord;

/// The chat as clients see it, with its newest message. Called after a change is done, so a
/// store that does not answer for the newest message leaves it out rather than failing the change.
pub(super) async fn view(state: &AppState, chat: &ChatRecord) -> Chat {
    match state.services.chats.view(chat, ListedMembers::All).await {
        Ok(view) => view,
        Err(e) => {
            tracing::warn!(error = ?e, "chat view without its newest message");
            to_contract(chat, None, 0, ListedMembers::All)
        }
    }
}

/// Tells the people a change concerns. Users who gain the chat get it whole (`chat_updated`);
/// those who had it get what changed (`chat_changed`), whose size does not grow with the group:
/// a rename of a 1,000-member group is 1,000 small events, not 1,000 copies of 1,000 ids.
/// Answers the chat as the caller sees it now.
pub(crate) async fn announce(state: &AppState, change: &ChatChange) -> Chat {
    let chat = view(state, &change.chat).await;
    let record = &change.chat;
    let changed = ChatChangedEvent::of(&record.id, record.revision);
    let member_count = Some(record.member_count());
    match &change.delta {
        ChatDelta::Unchanged => {}
        ChatDelta::Created => tell_whole(state, &record.participants, &chat).await,
        ChatDelta::Details { name, topic } => {
            let details = ChatChangedEvent {
                name: record.name.clone().filter(|_| *name),
                topic: topic.then(|| record.topic.clone().unwrap_or_default()),
                ..changed
            };
            tell_change(state, &record.participants, &details).await;
        }
        ChatDelta::Picture => {
            let url = record.picture.as_ref().map(|v| picture_url(&record.id, v));
            let picture = ChatChangedEvent {
                picture: Some(url.unwrap_or_default()),
                ..changed
            };
            tell_change(state, &record.participants, &picture).await;
        }
        ChatDelta::Pins => {
            let pins = ChatChangedEvent {
                pins: Some(record.pins.clone()),
                ..changed
            };
            tell_change(state, &record.participants, &pins).await;
        }
        ChatDelta::Added { users, newcomers } => {
            let had: Vec<String> = record
                .participants
                .iter()
                .filter(|p| !newcomers.contains(p))
                .cloned()
                .collect();
            let added = ChatChangedEvent {
                added: users.clone(),
                member_count,
                ..changed
            };
            tell_change(state, &had, &added).await;
            tell_whole(state, newcomers, &chat).await;
        }
        ChatDelta::Admins => {
            let admins = ChatChangedEvent {
                admins: Some(record.admins.clone()),
                ..changed
            };
            tell_change(state, &record.participants, &admins).await;
        }
        ChatDelta::Removed {
            user,
            revision,
            promoted,
        } => {
            state.fanout.leave_chat_room(user, &record.id).await;
            let mut told = record.participants.clone();
            told.push(user.clone());
            let removed = ChatChangedEvent {
                revision: *revision,
                removed: vec![user.clone()],
                member_count,
                ..changed.clone()
            };
            tell_change(state, &told, &removed).await;
            if *promoted {
                let promoted = ChatChangedEvent {
                    admins: Some(record.admins.clone()),
                    ..changed
                };
                tell_change(state, &record.participants, &promoted).await;
            }
        }
        ChatDelta::Deleted => {
            for user in &record.participants {
                state.fanout.leave_chat_room(user, &record.id).await;
            }
            let deleted = ChatChangedEvent {
                revision: record.revision + 1,
                deleted: true,
                ..changed
            };
            tell_change(state, &record.participants, &deleted).await;
        }
        ChatDelta::Closed => {
            let closed = ChatChangedEvent {
                closed: true,
                ..changed
            };
            tell_change(state, &record.participants, &closed).await;
        }
    }
    chat
}

async fn tell_whole(state: &AppState, users: &[String], chat: &Chat) {
    let event = ChatUpdatedEvent { chat: chat.clone() };
    if !users.is_empty()
        && let Ok(v) = serde_json::to_value(event)
    {
        state.fanout.to_users(users, server::CHAT_UPDATED, v).await;
    }
}

async fn tell_change(state: &AppState, users: &[String], change: &ChatChangedEvent) {
    if let Ok(v) = serde_json::to_value(change) {
        state.fanout.to_users(users, server::CHAT_CHANGED, v).await;
    }
}
