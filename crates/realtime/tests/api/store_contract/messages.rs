//! Messages: idempotent inserts, pages, batches, the newest message of each chat.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use common::contracts::chat::{ChatType, Message};
use realtime::domain::new_object_id;
use realtime::ports::{ChatStore, Inserted, MessageChange, NewMessage, StoreError};

use super::{chat, message, mongo, sqlite, user};

contract!(
    messages_insert_idempotently_and_page_in_id_order,
    concurrent_sends_and_resends_are_each_stored_once,
    a_batch_with_resends_inside_it_stores_each_message_once,
    the_last_message_only_moves_forward,
    last_messages_answer_each_chat_that_has_one,
    a_taken_message_id_fails_alone_in_its_batch,
    a_reply_is_read_back_as_one_until_it_is_deleted,
);

async fn messages_insert_idempotently_and_page_in_id_order(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("insert");
    let mut ids = Vec::new();
    for i in 0..5 {
        match store
            .insert_message(message(&c.id, &a, &format!("m{i}"), &format!("text {i}")))
            .await
            .expect("insert")
        {
            Inserted::New(m) => ids.push(m.id),
            Inserted::Existing(_) => panic!("fresh message reported as existing"),
        }
    }
    let Inserted::Existing(original) = store
        .insert_message(message(&c.id, &a, "m2", "changed"))
        .await
        .expect("resend")
    else {
        panic!("a resend must return the original")
    };
    assert_eq!(original.id, ids[2]);
    assert_eq!(original.content, "text 2");
    // Another sender may reuse the same clientMsgId.
    assert!(matches!(
        store
            .insert_message(message(&c.id, &b, "m2", "b's"))
            .await
            .expect("insert"),
        Inserted::New(_)
    ));

    let newest = store.messages_before(&c.id, None, 3).await.expect("page");
    let newest_ids: Vec<_> = newest.iter().map(|m| m.id.clone()).collect();
    assert_eq!(newest.len(), 3);
    let older = store
        .messages_before(&c.id, Some(&ids[2]), 10)
        .await
        .expect("page");
    assert_eq!(
        older.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        vec![ids[1].clone(), ids[0].clone()]
    );
    let after = store
        .messages_after(&c.id, Some(&ids[1]), 3)
        .await
        .expect("page");
    assert_eq!(
        after.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        ids[2..5].to_vec()
    );
    assert_eq!(newest_ids[1..], [ids[4].clone(), ids[3].clone()]);
    assert_eq!(
        last_of(&store, &c.id).await.map(|m| m.id),
        Some(newest_ids[0].clone())
    );
    let fetched = store
        .get_message(&ids[0])
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(fetched.content, "text 0");
    assert_eq!(fetched.timestamp, original.timestamp.min(fetched.timestamp));
}

/// Concurrent inserts (one group-commit batch on SQLite), with resends of the same `clientMsgId`
/// racing each other: each distinct message is stored once, and every resend gets the original.
async fn concurrent_sends_and_resends_are_each_stored_once(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("insert");
    let sends = (0..60).map(|i| {
        let store = store.clone();
        let m = message(&c.id, &a, &format!("c{}", i % 20), &format!("text {i}"));
        tokio::spawn(async move { store.insert_message(m).await })
    });
    let mut fresh = std::collections::HashMap::new();
    let mut all = Vec::new();
    for r in futures::future::join_all(sends).await {
        match r.expect("task").expect("insert") {
            Inserted::New(m) => {
                assert!(
                    fresh
                        .insert(m.client_msg_id.clone(), m.id.clone())
                        .is_none()
                );
                all.push(m);
            }
            Inserted::Existing(m) => all.push(m),
        }
    }
    assert_eq!(fresh.len(), 20, "each clientMsgId stored exactly once");
    for m in &all {
        assert_eq!(
            fresh.get(&m.client_msg_id),
            Some(&m.id),
            "a resend returns the original"
        );
    }
    let page = store
        .messages_before(&c.id, None, 100)
        .await
        .expect("history");
    assert_eq!(page.len(), 20);
}

/// Sends issued together from one task (queued before the writer runs, so one batch on the
/// current-thread test runtime): resends of a `clientMsgId` inside the batch and of one stored
/// before it all get the original, and each chat's last message is its newest.
async fn a_batch_with_resends_inside_it_stores_each_message_once(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let one = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    let two = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    store.insert_chat(&one).await.expect("insert");
    store.insert_chat(&two).await.expect("insert");
    let Inserted::New(before) = store
        .insert_message(message(&one.id, &a, "k0", "stored before"))
        .await
        .expect("insert")
    else {
        panic!("new")
    };
    let batch = vec![
        message(&one.id, &a, "k0", "resend of a stored one"),
        message(&one.id, &a, "k1", "k1"),
        message(&two.id, &b, "k1", "another sender's k1"),
        message(&one.id, &a, "k1", "k1, resent in the batch"),
        message(&two.id, &a, "k2", "newest of two"),
        message(&one.id, &a, "k1", "k1, resent again"),
        message(&one.id, &b, "k3", "newest of one"),
    ];
    let results: Vec<Inserted> =
        futures::future::join_all(batch.into_iter().map(|m| store.insert_message(m)))
            .await
            .into_iter()
            .map(|r| r.expect("insert"))
            .collect();

    let Inserted::Existing(original) = &results[0] else {
        panic!("a resend of a stored message returns it")
    };
    assert_eq!(original, &before);
    // One of the three k1 is stored (unordered inserts may apply in any order); the others get it.
    let k1: Vec<&Message> = [1, 3, 5]
        .iter()
        .filter_map(|&i| match &results[i] {
            Inserted::New(m) => Some(m),
            Inserted::Existing(_) => None,
        })
        .collect();
    assert_eq!(k1.len(), 1, "k1 stored once");
    for i in [1, 3, 5] {
        match &results[i] {
            Inserted::New(m) | Inserted::Existing(m) => assert_eq!(m, k1[0], "resend {i}"),
        }
    }
    let fresh: Vec<&Message> = results
        .iter()
        .filter_map(|r| match r {
            Inserted::New(m) => Some(m),
            Inserted::Existing(_) => None,
        })
        .collect();
    assert_eq!(fresh.len(), 4, "k1 (a), k1 (b), k2, k3");
    assert_eq!(
        store
            .messages_before(&one.id, None, 10)
            .await
            .expect("page")
            .len(),
        3,
        "k0, k1, k3"
    );
    for (c, newest) in [(&one, &results[6]), (&two, &results[4])] {
        let Inserted::New(newest) = newest else {
            panic!("new")
        };
        assert_eq!(last_of(&store, &c.id).await.as_ref(), Some(newest));
    }
}

/// A chat's last message is its highest id: one with an older id stored after a newer one does
/// not rewind it.
async fn the_last_message_only_moves_forward(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("insert");
    let older = message(&c.id, &a, "f0", "older id");
    let newer = message(&c.id, &b, "f1", "newer id");
    assert!(older.id < newer.id);
    store.insert_message(newer.clone()).await.expect("insert");
    store.insert_message(older).await.expect("insert");
    assert_eq!(last_of(&store, &c.id).await.map(|m| m.id), Some(newer.id));
}

/// `last_messages` answers for every chat asked that has a message, and only for those.
async fn last_messages_answer_each_chat_that_has_one(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let busy = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    let quiet = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    let other = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    for c in [&busy, &quiet, &other] {
        store.insert_chat(c).await.expect("insert");
    }
    let mut newest = HashMap::new();
    for (i, c) in [&busy, &other, &busy].into_iter().enumerate() {
        let m = message(&c.id, &a, &format!("l{i}"), &format!("to {}", c.id));
        let Inserted::New(m) = store.insert_message(m).await.expect("insert") else {
            panic!("new")
        };
        newest.insert(c.id.clone(), m);
    }
    let asked = [
        busy.id.clone(),
        quiet.id.clone(),
        other.id.clone(),
        new_object_id(),
    ];
    assert_eq!(store.last_messages(&asked).await.expect("read"), newest);
    assert!(store.last_messages(&[]).await.expect("read").is_empty());
}

/// The newest message of `chat`, through `last_messages`.
async fn last_of(store: &Arc<dyn ChatStore>, chat: &str) -> Option<Message> {
    let mut last = store
        .last_messages(&[chat.to_owned()])
        .await
        .expect("last messages");
    last.remove(chat)
}

/// A message whose id is taken (by a stored message, or an earlier one of its batch) is refused
/// as a duplicate, and only it: the rest of its batch is stored, and the chat's last message is
/// the newest one actually stored.
async fn a_taken_message_id_fails_alone_in_its_batch(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("insert");
    let stored = message(&c.id, &a, "t0", "stored");
    store.insert_message(stored.clone()).await.expect("insert");
    let fresh = message(&c.id, &b, "t2", "fresh");
    let batch = vec![
        NewMessage {
            id: stored.id.clone(),
            ..message(&c.id, &a, "t1", "reuses a stored id")
        },
        fresh.clone(),
        NewMessage {
            id: fresh.id.clone(),
            ..message(&c.id, &b, "t3", "reuses an id of its batch")
        },
    ];
    let results =
        futures::future::join_all(batch.into_iter().map(|m| store.insert_message(m))).await;
    assert!(
        matches!(results[0], Err(StoreError::Duplicate)),
        "{:?}",
        results[0]
    );
    let Ok(Inserted::New(written)) = &results[1] else {
        panic!("the fresh message is stored: {:?}", results[1]);
    };
    assert_eq!(written, &fresh.clone().into_message());
    assert!(
        matches!(results[2], Err(StoreError::Duplicate)),
        "{:?}",
        results[2]
    );
    let page = store.messages_before(&c.id, None, 10).await.expect("page");
    let contents: Vec<&str> = page.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["fresh", "stored"]);
    assert_eq!(last_of(&store, &c.id).await.as_ref(), Some(written));
}

/// `replyTo` is stored with its message, in a batch as alone, read back by every read, and goes
/// with a deletion.
async fn a_reply_is_read_back_as_one_until_it_is_deleted(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("insert");
    let question = message(&c.id, &a, "q", "lunch?");
    store
        .insert_message(question.clone())
        .await
        .expect("insert");
    let answers: Vec<NewMessage> = ["yes", "no"]
        .into_iter()
        .map(|text| NewMessage {
            reply_to: Some(question.id.clone()),
            ..message(&c.id, &b, text, text)
        })
        .collect();
    let inserted =
        futures::future::join_all(answers.iter().map(|m| store.insert_message(m.clone()))).await;
    for (m, r) in answers.iter().zip(inserted) {
        let Ok(Inserted::New(stored)) = r else {
            panic!("{r:?}");
        };
        assert_eq!(stored.reply_to.as_deref(), Some(question.id.as_str()));
        let read = store.get_message(&m.id).await.expect("get").expect("kept");
        assert_eq!(read, stored);
    }
    let page = store.messages_before(&c.id, None, 10).await.expect("page");
    let replies: Vec<Option<&str>> = page.iter().map(|m| m.reply_to.as_deref()).collect();
    assert_eq!(
        replies.iter().filter(|r| r.is_some()).count(),
        2,
        "{replies:?}"
    );
    assert_eq!(page.last().map(|m| m.reply_to.clone()), Some(None));

    let delete = MessageChange::Delete {
        by: b.clone(),
        at: Utc::now(),
    };
    let tombstone = store
        .change_message(&answers[0].id, &delete)
        .await
        .expect("delete")
        .expect("deleted");
    assert_eq!(tombstone.reply_to, None, "a tombstone answers nothing");
}
