//! Reactions: added and taken back one user and emoji at a time, idempotently, grouped by emoji
//! in the order each was first used; every change counted in `revision` and stamped in
//! `updatedAt`; none kept by a tombstone, and none added to one.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use common::contracts::chat::{ChatType, Message, Reaction};
use realtime::domain::new_object_id;
use realtime::ports::{ChatStore, Inserted, MessageChange};

use super::{chat, message, mongo, sqlite, user};

contract!(
    reactions_are_grouped_by_emoji_in_order_and_every_change_counts,
    a_reaction_is_a_change_edits_keep_and_a_deletion_removes,
);

fn react(user: &str, emoji: &str, add: bool, at: DateTime<Utc>) -> MessageChange {
    MessageChange::React {
        user: user.to_owned(),
        emoji: emoji.to_owned(),
        add,
        at,
    }
}

fn reactions(pairs: &[(&str, &[&String])]) -> Vec<Reaction> {
    pairs
        .iter()
        .map(|(emoji, users)| Reaction {
            emoji: (*emoji).to_owned(),
            users: users.iter().map(|u| (*u).clone()).collect(),
        })
        .collect()
}

async fn sent(store: &Arc<dyn ChatStore>, members: &[String]) -> Message {
    let c = chat(ChatType::Group, members.to_vec());
    store.insert_chat(&c).await.expect("chat");
    let m = message(&c.id, &members[0], &new_object_id(), "hello");
    match store.insert_message(m).await.expect("insert") {
        Inserted::New(m) => m,
        Inserted::Existing(_) => panic!("a fresh message reported as existing"),
    }
}

async fn change(store: &Arc<dyn ChatStore>, m: &Message, change: MessageChange) -> Message {
    store
        .change_message(&m.id, &change)
        .await
        .expect("change")
        .expect("changed")
}

async fn reactions_are_grouped_by_emoji_in_order_and_every_change_counts(
    store: Arc<dyn ChatStore>,
) {
    let (a, b, c) = (user(), user(), user());
    let m = sent(&store, &[a.clone(), b.clone(), c.clone()]).await;
    assert_eq!((m.revision, m.updated_at, m.reactions.len()), (0, None, 0));
    let t0 = Utc::now().trunc_subsecs(3);
    let at = |n: i64| t0 + TimeDelta::milliseconds(n);

    let first = change(&store, &m, react(&b, "👍", true, at(1))).await;
    assert_eq!(first.reactions, reactions(&[("👍", &[&b])]));
    assert_eq!((first.revision, first.updated_at), (1, Some(at(1))));
    assert_eq!(
        (first.content.as_str(), first.edited_at),
        ("hello", None),
        "a reaction is not an edit"
    );
    change(&store, &m, react(&c, "❤️", true, at(2))).await;
    change(&store, &m, react(&a, "👍", true, at(3))).await;
    let again = change(&store, &m, react(&a, "👍", true, at(4))).await;
    assert_eq!(
        again.reactions,
        reactions(&[("👍", &[&b, &a]), ("❤️", &[&c])]),
        "each emoji once, in the order first used; a user once per emoji"
    );
    assert_eq!(again.revision, 4, "a repeat is still a change");

    // Taken back: the emoji goes with its last user, and comes back after the others.
    change(&store, &m, react(&b, "👍", false, at(5))).await;
    change(&store, &m, react(&a, "👍", false, at(6))).await;
    let missing = change(&store, &m, react(&a, "🎉", false, at(7))).await;
    assert_eq!(missing.reactions, reactions(&[("❤️", &[&c])]));
    let back = change(&store, &m, react(&b, "👍", true, at(8))).await;
    assert_eq!(back.reactions, reactions(&[("❤️", &[&c]), ("👍", &[&b])]));
    assert_eq!((back.revision, back.updated_at), (8, Some(at(8))));

    assert_eq!(
        store.get_message(&m.id).await.expect("get"),
        Some(back.clone())
    );
    let last = store.last_messages(std::slice::from_ref(&m.chat_id)).await;
    assert_eq!(
        last.expect("last").get(&m.chat_id),
        Some(&back),
        "the chat list's copy"
    );
    let changed = store
        .changed_messages(std::slice::from_ref(&m.chat_id), t0, None, 10)
        .await
        .expect("changes");
    assert_eq!(changed, vec![back], "a reaction is found as a change");
    let unknown = store
        .change_message(&new_object_id(), &react(&a, "👍", true, at(9)))
        .await;
    assert_eq!(unknown.expect("react"), None);
}

async fn a_reaction_is_a_change_edits_keep_and_a_deletion_removes(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let m = sent(&store, &[a.clone(), b.clone()]).await;
    let t0 = Utc::now().trunc_subsecs(3);
    let at = |n: i64| t0 + TimeDelta::milliseconds(n);
    change(&store, &m, react(&b, "👍🏽", true, at(1))).await;
    let edited = change(
        &store,
        &m,
        MessageChange::Edit {
            sender: a.clone(),
            content: "hello, edited".into(),
            iv: None,
            encrypted: false,
            at: at(2),
        },
    )
    .await;
    assert_eq!(edited.reactions, reactions(&[("👍🏽", &[&b])]), "kept");
    assert_eq!((edited.revision, edited.updated_at), (2, Some(at(2))));

    let tombstone = change(
        &store,
        &m,
        MessageChange::Delete {
            by: a.clone(),
            at: at(3),
        },
    )
    .await;
    assert_eq!(tombstone.reactions, vec![], "a tombstone keeps none");
    assert_eq!(tombstone.revision, 3);
    let refused = store
        .change_message(&m.id, &react(&b, "👍", true, at(4)))
        .await;
    assert_eq!(refused.expect("react"), None, "none on a deleted message");
    assert_eq!(
        store.get_message(&m.id).await.expect("get"),
        Some(tombstone)
    );
}
