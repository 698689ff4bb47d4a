//! `sync` over every store: what a reconnecting client is sent, including the messages whose ids
//! do not follow the order in which they were written (see `MessageService::sync`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::contracts::chat::{ChatType, Message};
use common::contracts::events::SyncRequest;
use realtime::domain::{ChatService, MessageService};
use realtime::ports::{ChatStore, Inserted};

use super::store_contract::{chat, message, mongo, sqlite, user};

// `contract!` (from `store_contract`): each body on SQLite and on MongoDB.
contract!(
    a_message_with_a_lower_id_written_later_is_not_missed,
    pages_resume_exactly_and_repeat_only_the_look_back,
    a_chat_named_in_after_is_answered_exactly,
);

const LOOKBACK: Duration = Duration::from_secs(15);

fn service(store: &Arc<dyn ChatStore>) -> MessageService {
    MessageService::new(store.clone(), ChatService::new(store.clone()), LOOKBACK)
}

/// An ObjectId of second `seconds` ending in `rest` (16 hex digits): an ObjectId is its second,
/// then the writing process's random part and counter, so two instances' ids of one second
/// order by instance, not by time.
fn id_at(seconds: i64, rest: &str) -> String {
    format!("{:08x}{rest}", seconds as u32)
}

async fn write(store: &Arc<dyn ChatStore>, chat: &str, sender: &str, id: String) -> Message {
    let mut m = message(chat, sender, &uuid::Uuid::new_v4().to_string(), "hello");
    m.id = id;
    match store.insert_message(m).await.expect("insert") {
        Inserted::New(m) => m,
        Inserted::Existing(_) => panic!("a fresh message reported as existing"),
    }
}

/// Every page of one sync, following `resume`; the messages' ids in answer order.
async fn sync_all(
    messages: &MessageService,
    me: &str,
    cursors: BTreeMap<String, String>,
    after: BTreeMap<String, String>,
    limit: u32,
) -> Vec<String> {
    let mut req = SyncRequest {
        cursors,
        after,
        resume: None,
        limit: Some(limit),
    };
    let mut got = Vec::new();
    for _ in 0..50 {
        let page = messages.sync(me, &req).await.expect("sync");
        assert!(page.messages.len() <= limit as usize);
        assert_eq!(
            page.has_more,
            page.resume.is_some(),
            "resume exactly when more"
        );
        got.extend(page.messages.into_iter().map(|m| m.id));
        match page.resume {
            Some(resume) => req.resume = Some(resume),
            None => return got,
        }
    }
    panic!("sync never finished: {} messages in 50 pages", got.len());
}

async fn a_message_with_a_lower_id_written_later_is_not_missed(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("insert");
    let now = Utc::now().timestamp();
    // Instance 2's message is written, and reaches b, first; instance 1's, with the lower id,
    // a moment later, after b went offline.
    let received = write(&store, &c.id, &a, id_at(now, "ffffffffff000001")).await;
    let missed = write(&store, &c.id, &a, id_at(now, "0000000000000001")).await;
    assert!(missed.id < received.id);

    let got = sync_all(
        &service(&store),
        &b,
        BTreeMap::from([(c.id.clone(), received.id.clone())]),
        BTreeMap::new(),
        200,
    )
    .await;
    assert_eq!(
        got,
        vec![missed.id, received.id],
        "the missed message, and the one b has from the look-back"
    );
}

async fn pages_resume_exactly_and_repeat_only_the_look_back(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let direct = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    let group = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    for c in [&direct, &group] {
        store.insert_chat(c).await.expect("insert");
    }
    let now = Utc::now().timestamp();
    // In the direct chat b has everything: one old message, then five of the last second.
    let old = write(&store, &direct.id, &a, id_at(now - 60, "0000000000000001")).await;
    let mut recent = Vec::new();
    for i in 0..5 {
        let id = id_at(now, &format!("00000000000001{i:02x}"));
        recent.push(write(&store, &direct.id, &a, id).await.id);
    }
    // The group b has never synced.
    let mut group_ids = Vec::new();
    for i in 0..4 {
        let id = id_at(now, &format!("00000000000002{i:02x}"));
        group_ids.push(write(&store, &group.id, &a, id).await.id);
    }

    let cursors = BTreeMap::from([(direct.id.clone(), recent[4].clone())]);
    // Pages of 2: each stops inside a chat or between the two, and must resume exactly there.
    let got = sync_all(&service(&store), &b, cursors, BTreeMap::new(), 2).await;
    let (first, second) = if direct.id < group.id {
        (recent.clone(), group_ids.clone())
    } else {
        (group_ids.clone(), recent.clone())
    };
    assert_eq!(
        got,
        [first, second].concat(),
        "chats in id order, each message once; the direct chat's look-back repeats the last \
         second, not the message of a minute ago ({})",
        old.id
    );
}

/// A client that knows a chat only from its chat list, read while connected, names it in
/// `after`: only what came after that message is sent, none of the look-back.
async fn a_chat_named_in_after_is_answered_exactly(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("insert");
    let now = Utc::now().timestamp();
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = id_at(now, &format!("00000000000003{i:02x}"));
        ids.push(write(&store, &c.id, &a, id).await.id);
    }
    let messages = service(&store);
    let exact = sync_all(
        &messages,
        &b,
        // `after` wins over a cursor for the same chat.
        BTreeMap::from([(c.id.clone(), ids[0].clone())]),
        BTreeMap::from([(c.id.clone(), ids[1].clone())]),
        200,
    )
    .await;
    assert_eq!(exact, ids[2..]);
    let nothing_new = sync_all(
        &messages,
        &b,
        BTreeMap::new(),
        BTreeMap::from([(c.id.clone(), ids[2].clone())]),
        200,
    )
    .await;
    assert!(nothing_new.is_empty(), "{nothing_new:?}");
}
