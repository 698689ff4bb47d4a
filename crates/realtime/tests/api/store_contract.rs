//! The `ChatStore` contract, run against every adapter: SQLite (always) and MongoDB
//! (`TEST_MONGODB_URL`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use common::contracts::chat::{ChatType, Message, MessageType};
use realtime::adapters::{Deadline, MongoStore, Patience, SqliteStore};
use realtime::domain::{direct_chat_id, new_object_id};
use realtime::ports::{ChatRecord, ChatStore, Inserted, Marked, NewMessage, StoreError};

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

contract!(
    chats_round_trip_and_duplicate_ids_are_refused,
    the_chats_of_any_of_several_users_come_each_once,
    membership_changes_are_persisted,
    a_group_without_admins_gets_its_longest_standing_member,
    members_are_made_admins_and_back_each_once,
    receipts_of_several_members_are_each_counted_once,
    messages_insert_idempotently_and_page_in_id_order,
    receipts_and_unread_counts_follow_reads,
    deleting_a_chat_deletes_its_messages,
    concurrent_sends_and_resends_are_each_stored_once,
    a_batch_with_resends_inside_it_stores_each_message_once,
    the_last_message_only_moves_forward,
    last_messages_answer_each_chat_that_has_one,
    concurrent_chat_reads_each_get_their_own_chat,
    a_taken_message_id_fails_alone_in_its_batch,
);

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
        timestamp: Utc::now().trunc_subsecs(3),
    }
}

async fn chats_round_trip_and_duplicate_ids_are_refused(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("insert");
    assert_eq!(store.get_chat(&c.id).await.expect("get"), Some(c.clone()));
    assert!(matches!(
        store.insert_chat(&c).await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(store.chats_of(&b).await.expect("list"), vec![c]);
    assert!(store.chats_of(&user()).await.expect("list").is_empty());
    assert_eq!(store.get_chat(&new_object_id()).await.expect("get"), None);
}

async fn the_chats_of_any_of_several_users_come_each_once(store: Arc<dyn ChatStore>) {
    let (a, b, c, d, stranger) = (user(), user(), user(), user(), user());
    let ab = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    let group = chat(ChatType::Group, vec![a.clone(), b.clone(), c.clone()]);
    let cd = chat(ChatType::Direct, vec![c.clone(), d.clone()]);
    let other = chat(ChatType::Direct, vec![stranger.clone(), user()]);
    for ch in [&ab, &group, &cd, &other] {
        store.insert_chat(ch).await.expect("insert");
    }
    let ids = |mut chats: Vec<ChatRecord>| {
        chats.sort_by(|x, y| x.id.cmp(&y.id));
        chats.into_iter().map(|ch| ch.id).collect::<Vec<_>>()
    };
    let mut expected = vec![ab.id.clone(), group.id.clone(), cd.id.clone()];
    expected.sort();
    let found = store
        .chats_of_any(&[a.clone(), b.clone(), d.clone(), user()])
        .await
        .expect("list");
    assert_eq!(ids(found), expected, "a's and b's shared chats once each");
    let mut found = store
        .chat_ids_of_any(&[a.clone(), b.clone(), d.clone(), user()])
        .await
        .expect("ids");
    found.sort();
    assert_eq!(found, expected, "the same chats' ids alone");
    assert!(store.chat_ids_of_any(&[]).await.expect("ids").is_empty());
    assert_eq!(
        store.chats_of_any(&[d]).await.expect("list"),
        vec![cd],
        "a chat's whole record"
    );
    assert!(store.chats_of_any(&[]).await.expect("list").is_empty());
    assert!(
        store
            .chats_of_any(&[user()])
            .await
            .expect("list")
            .is_empty()
    );
}

async fn membership_changes_are_persisted(store: Arc<dyn ChatStore>) {
    let (a, b, c) = (user(), user(), user());
    let g = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    store.insert_chat(&g).await.expect("insert");
    let added = store
        .add_participants(&g.id, &[c.clone(), b.clone()])
        .await
        .expect("add")
        .expect("exists");
    assert_eq!(added.participants, vec![a.clone(), b.clone(), c.clone()]);
    assert_eq!(added.revision, 1, "each change counts, in its own write");
    let renamed = store
        .rename_chat(&g.id, "new name")
        .await
        .expect("rename")
        .expect("exists");
    assert_eq!(renamed.name.as_deref(), Some("new name"));
    assert_eq!(renamed.revision, 2);
    let removed = store
        .remove_participant(&g.id, &a)
        .await
        .expect("remove")
        .expect("exists");
    assert_eq!(removed.participants, vec![b.clone(), c.clone()]);
    assert!(removed.admins.is_empty());
    assert_eq!(removed.revision, 3);
    let stored = store.get_chat(&g.id).await.expect("get").expect("exists");
    assert_eq!(stored.participants, vec![b, c]);
    assert_eq!(stored.revision, 3);
    assert!(store.chats_of(&a).await.expect("list").is_empty());
}

async fn a_group_without_admins_gets_its_longest_standing_member(store: Arc<dyn ChatStore>) {
    let (a, b, c) = (user(), user(), user());
    let g = chat(ChatType::Group, vec![a.clone(), b.clone(), c.clone()]);
    store.insert_chat(&g).await.expect("insert");
    let promote = || store.promote_if_adminless(&g.id);
    assert_eq!(promote().await.expect("promote"), None, "it has an admin");
    let left = store.remove_participant(&g.id, &a).await.expect("remove");
    assert_eq!(left.map(|c| (c.admins, c.revision)), Some((vec![], 1)));
    let promoted = promote().await.expect("promote").expect("promoted");
    assert_eq!((promoted.admins, promoted.revision), (vec![b.clone()], 2));
    assert_eq!(promote().await.expect("promote"), None, "once");
    let stored = store.get_chat(&g.id).await.expect("get").expect("exists");
    assert_eq!((stored.admins, stored.revision), (vec![b], 2));

    let direct = chat(ChatType::Direct, vec![user(), user()]);
    store.insert_chat(&direct).await.expect("insert");
    let untouched = store.promote_if_adminless(&direct.id).await;
    assert_eq!(
        untouched.expect("promote"),
        None,
        "direct chats have no admins"
    );
    let lone = chat(ChatType::Group, vec![c.clone()]);
    store.insert_chat(&lone).await.expect("insert");
    store
        .remove_participant(&lone.id, &c)
        .await
        .expect("remove");
    let empty = store.promote_if_adminless(&lone.id).await;
    assert_eq!(empty.expect("promote"), None, "nobody to promote");
    let gone = store.promote_if_adminless(&new_object_id()).await;
    assert_eq!(gone.expect("promote"), None);
}

async fn members_are_made_admins_and_back_each_once(store: Arc<dyn ChatStore>) {
    let (a, b, stranger) = (user(), user(), user());
    let g = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    store.insert_chat(&g).await.expect("insert");
    let set = |user: &str, admin: bool| {
        let (store, id, user) = (store.clone(), g.id.clone(), user.to_owned());
        async move { store.set_admin(&id, &user, admin).await.expect("set admin") }
    };
    let made = set(&b, true).await.expect("changed");
    assert_eq!(
        (made.admins, made.revision),
        (vec![a.clone(), b.clone()], 1)
    );
    assert_eq!(set(&b, true).await, None, "already an admin");
    assert_eq!(set(&stranger, true).await, None, "not a member");
    let unmade = set(&a, false).await.expect("changed");
    assert_eq!((unmade.admins, unmade.revision), (vec![b.clone()], 2));
    assert_eq!(set(&a, false).await, None, "not an admin");
    let stored = store.get_chat(&g.id).await.expect("get").expect("exists");
    assert_eq!((stored.admins, stored.revision), (vec![b], 2));
    let gone = store.set_admin(&new_object_id(), &a, true).await;
    assert_eq!(gone.expect("set admin"), None);
}
/// Receipts in a group, where a message's `readBy` and `deliveredTo` hold several members: "not
/// read by b" must mean "b is not in the list", not "someone else is" (`{$ne: b}` on an array
/// field means the first on MongoDB, and the second in the nx-27017 test server's `find` and
/// update filters; `{$nin: [b]}` means the first on both). Only a message's first reader and
/// first recipient are among the `firsts`.
async fn receipts_of_several_members_are_each_counted_once(store: Arc<dyn ChatStore>) {
    let (a, b, c) = (user(), user(), user());
    let g = chat(ChatType::Group, vec![a.clone(), b.clone(), c.clone()]);
    store.insert_chat(&g).await.expect("insert");
    let send = |sender: &String, text: &str| {
        let (store, msg) = (store.clone(), message(&g.id, sender, text, "x"));
        async move {
            let Inserted::New(m) = store.insert_message(msg).await.expect("insert") else {
                panic!("new")
            };
            m.id
        }
    };
    let marked = |count, firsts: &[(&String, &String)]| Marked {
        count,
        firsts: firsts
            .iter()
            .map(|(id, sender)| (id.to_string(), sender.to_string()))
            .collect(),
    };
    let m = send(&a, "several").await;
    let read = |upto: &String, by: &String| {
        let (store, chat, upto, by) = (store.clone(), g.id.clone(), upto.clone(), by.clone());
        async move { store.mark_read(&chat, &upto, &by).await }
    };
    assert_eq!(read(&m, &c).await.expect("read"), marked(1, &[(&m, &a)]));
    assert_eq!(
        read(&m, &b).await.expect("read"),
        marked(1, &[]),
        "not the first"
    );
    assert_eq!(read(&m, &b).await.expect("read"), Marked::default(), "once");
    assert_eq!(store.unread_count(&g.id, &b).await.expect("count"), 0);
    assert_eq!(store.unread_count(&g.id, &c).await.expect("count"), 0);
    let ids = [m.clone()];
    assert_eq!(
        store.mark_delivered(&ids, &c).await.expect("delivered"),
        marked(1, &[(&m, &a)])
    );
    assert_eq!(
        store.mark_delivered(&ids, &b).await.expect("delivered"),
        marked(1, &[])
    );
    assert_eq!(
        store.mark_delivered(&ids, &b).await.expect("delivered"),
        Marked::default(),
        "once"
    );
    let stored = store.get_message(&m).await.expect("get").expect("exists");
    assert_eq!(
        (stored.read_by, stored.delivered_to),
        (vec![c.clone(), b.clone()], vec![c.clone(), b.clone()])
    );

    // Two senders' messages read at once, one of them read before: the first reads of the
    // others, in id order.
    let (a1, b1, a2) = (
        send(&a, "a1").await,
        send(&b, "b1").await,
        send(&a, "a2").await,
    );
    assert_eq!(read(&a1, &b).await.expect("read"), marked(1, &[(&a1, &a)]));
    assert_eq!(
        read(&a2, &c).await.expect("read"),
        marked(3, &[(&b1, &b), (&a2, &a)])
    );
}

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

async fn receipts_and_unread_counts_follow_reads(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("insert");
    let mut ids = Vec::new();
    for i in 0..4 {
        let Inserted::New(m) = store
            .insert_message(message(&c.id, &a, &format!("r{i}"), "x"))
            .await
            .expect("insert")
        else {
            panic!("new")
        };
        ids.push(m.id);
    }
    assert_eq!(store.unread_count(&c.id, &b).await.expect("count"), 4);
    assert_eq!(store.unread_count(&c.id, &a).await.expect("count"), 0);
    let firsts = |ids: &[String]| -> Vec<(String, String)> {
        ids.iter().map(|id| (id.clone(), a.clone())).collect()
    };
    let marked = store.mark_read(&c.id, &ids[2], &b).await.expect("read");
    assert_eq!(
        marked,
        Marked {
            count: 3,
            firsts: firsts(&ids[..3])
        },
        "three of a's messages, each read first"
    );
    assert_eq!(
        store.mark_read(&c.id, &ids[2], &b).await.expect("read"),
        Marked::default(),
        "idempotent"
    );
    assert_eq!(store.unread_count(&c.id, &b).await.expect("count"), 1);
    assert_eq!(
        store.mark_read(&c.id, &ids[3], &a).await.expect("read"),
        Marked::default(),
        "own messages are not marked"
    );
    let other = chat(ChatType::Direct, vec![a.clone(), user()]);
    store.insert_chat(&other).await.expect("insert");
    let Inserted::New(elsewhere) = store
        .insert_message(message(&other.id, &a, "elsewhere", "x"))
        .await
        .expect("insert")
    else {
        panic!("new")
    };
    let mut asked = ids.clone();
    asked.extend([elsewhere.id, "0123456789abcdef01234567".to_owned()]);
    let senders = store.senders(&c.id, &asked).await.expect("senders");
    assert_eq!(
        senders,
        ids.iter().map(|id| (id.clone(), a.clone())).collect(),
        "only the chat's own messages, with their senders"
    );
    assert_eq!(
        store
            .mark_delivered(&ids[2..4], &b)
            .await
            .expect("delivered"),
        Marked {
            count: 2,
            firsts: firsts(&ids[2..4])
        }
    );
    assert_eq!(
        store
            .mark_delivered(&ids[2..4], &b)
            .await
            .expect("delivered"),
        Marked::default(),
        "idempotent"
    );
    assert_eq!(
        store
            .mark_delivered(&ids[1..4], &b)
            .await
            .expect("delivered"),
        Marked {
            count: 1,
            firsts: firsts(&ids[1..2])
        },
        "only the one that lacked it"
    );
    let m = store
        .get_message(&ids[3])
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(m.delivered_to, vec![b.clone()]);
    assert!(m.read_by.is_empty());
    let first = store
        .get_message(&ids[0])
        .await
        .expect("get")
        .expect("exists");
    assert!(first.delivered_to.is_empty(), "not named, not marked");
    assert_eq!(
        store
            .get_message(&ids[0])
            .await
            .expect("get")
            .expect("exists")
            .read_by,
        vec![b]
    );
}

async fn deleting_a_chat_deletes_its_messages(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let g = chat(ChatType::Group, vec![a.clone(), b]);
    store.insert_chat(&g).await.expect("insert");
    let Inserted::New(m) = store
        .insert_message(message(&g.id, &a, "d0", "bye"))
        .await
        .expect("insert")
    else {
        panic!("new")
    };
    assert!(store.delete_chat(&g.id).await.expect("delete"));
    assert!(!store.delete_chat(&g.id).await.expect("delete"));
    assert_eq!(store.get_message(&m.id).await.expect("get"), None);
    assert!(
        store
            .messages_before(&g.id, None, 10)
            .await
            .expect("page")
            .is_empty()
    );
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

/// Reads issued together (one coalesced read on MongoDB) each get their own chat, or none.
async fn concurrent_chat_reads_each_get_their_own_chat(store: Arc<dyn ChatStore>) {
    let (a, b, c) = (user(), user(), user());
    let chats = [
        chat(ChatType::Direct, vec![a.clone(), b.clone()]),
        chat(ChatType::Direct, vec![a.clone(), c.clone()]),
        chat(ChatType::Group, vec![b.clone(), c.clone()]),
    ];
    for ch in &chats {
        store.insert_chat(ch).await.expect("insert");
    }
    let missing = new_object_id();
    let ids = [
        &chats[0].id,
        &chats[1].id,
        &missing,
        &chats[2].id,
        &chats[0].id,
    ];
    let read = futures::future::join_all(ids.iter().map(|id| store.get_chat(id))).await;
    let read: Vec<Option<ChatRecord>> = read.into_iter().map(|r| r.expect("get")).collect();
    assert_eq!(
        read,
        vec![
            Some(chats[0].clone()),
            Some(chats[1].clone()),
            None,
            Some(chats[2].clone()),
            Some(chats[0].clone()),
        ]
    );
    // Nothing is cached: a change is seen by the next read.
    store
        .add_participants(&chats[2].id, std::slice::from_ref(&a))
        .await
        .expect("add");
    let again =
        futures::future::join_all([store.get_chat(&chats[2].id), store.get_chat("not an id")])
            .await;
    assert!(
        again[0]
            .as_ref()
            .expect("get")
            .as_ref()
            .expect("exists")
            .is_member(&a)
    );
    assert_eq!(again[1].as_ref().expect("get"), &None);
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
