//! The `ChatStore` contract, run against every adapter: SQLite (always) and MongoDB
//! (`TEST_MONGODB_URL`). The stores and fixtures here; the tests by what they cover: chats and
//! their members (`chats`), messages (`messages`), receipts and unread counts (`receipts`), edits
//! and deletions (`edits`), reactions (`reactions`), attachments (`attachments`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use common::contracts::chat::{ChatType, MessageType};
use realtime::adapters::{Deadline, MongoStore, Patience, SqliteStore};
use realtime::domain::{direct_chat_id, new_object_id};
use realtime::ports::{ChatRecord, ChatStore, NewMessage};

pub(super) async fn sqlite() -> Arc<dyn ChatStore> {
    let dir = std::env::temp_dir().join(common::testing::unique_name("store"));
    Arc::new(SqliteStore::open(&dir).await.expect("open sqlite"))
}

pub(super) async fn mongo() -> Option<Arc<dyn ChatStore>> {
    let url = common::testing::backend_url("TEST_MONGODB_URL")?;
    let db = common::testing::unique_name("store");
    // As the service deploys it: every operation under a deadline.
    let patience = Patience {
        connect: Duration::from_secs(3),
        answer: Duration::from_secs(10),
    };
    let store = MongoStore::connect(&url, &db, "majority", patience)
        .await
        .expect("connect mongo");
    Some(Arc::new(Deadline::new(store, patience.answer)))
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(super::sqlite().await).await;
                }
                #[tokio::test]
                async fn mongodb() {
                    if let Some(store) = super::mongo().await {
                        super::$name(store).await;
                    }
                }
            }
        )*
    };
}

pub(super) fn user() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(super) fn chat(kind: ChatType, participants: Vec<String>) -> ChatRecord {
    ChatRecord {
        id: if kind == ChatType::Direct {
            direct_chat_id(&participants[0], &participants[1])
        } else {
            new_object_id()
        },
        kind,
        name: (kind == ChatType::Group).then(|| "group".to_owned()),
        admins: if kind == ChatType::Group {
            vec![participants[0].clone()]
        } else {
            vec![]
        },
        participants,
        passcode_hash: None,
        created_at: Utc::now().trunc_subsecs(3),
        revision: 0,
        closed: false,
        topic: None,
        picture: None,
        pins: Vec::new(),
    }
}

pub(super) fn message(chat: &str, sender: &str, client_msg_id: &str, content: &str) -> NewMessage {
    NewMessage {
        id: new_object_id(),
        chat_id: chat.to_owned(),
        sender_id: sender.to_owned(),
        client_msg_id: client_msg_id.to_owned(),
        content: content.to_owned(),
        iv: None,
        encrypted: false,
        kind: MessageType::Text,
        metadata: None,
        reply_to: None,
        timestamp: Utc::now().trunc_subsecs(3),
    }
}

mod attachments;
mod chats;
mod edits;
mod messages;
mod reactions;
mod receipts;
