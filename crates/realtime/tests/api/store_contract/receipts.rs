//! Receipts and unread counts: reads, deliveries, and who is told of them (the firsts).

use std::sync::Arc;

use common::contracts::chat::ChatType;
use realtime::ports::{ChatStore, Inserted, Marked};

use super::{chat, message, mongo, sqlite, user};

contract!(
    receipts_of_several_members_are_each_counted_once,
    receipts_and_unread_counts_follow_reads,
);

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
