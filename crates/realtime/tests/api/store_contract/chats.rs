//! Chats and their members: round trips, membership, admins, concurrent reads, deletion.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::contracts::chat::{ChatType, MAX_PINS};
use realtime::domain::new_object_id;
use realtime::ports::{
    ChatMute, ChatPicture, ChatRecord, ChatStore, Details, Inserted, StoreError,
};

use super::{chat, message, mongo, sqlite, user};

contract!(
    chats_round_trip_and_duplicate_ids_are_refused,
    the_chats_of_any_of_several_users_come_each_once,
    membership_changes_are_persisted,
    a_group_without_admins_gets_its_longest_standing_member,
    members_are_made_admins_and_back_each_once,
    concurrent_chat_reads_each_get_their_own_chat,
    deleting_a_chat_deletes_its_messages,
    direct_chats_are_closed_once_and_groups_never,
    deleted_users_are_remembered,
    mutes_are_each_users_own_and_go_with_the_chat,
    mutes_that_ended_are_swept_and_no_other,
    pins_are_kept_newest_first_bounded_and_counted,
    a_topic_is_set_cleared_and_counted,
    a_picture_is_set_replaced_removed_and_goes_with_the_chat,
);

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
        .set_details(&g.id, &named("new name"))
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

async fn direct_chats_are_closed_once_and_groups_never(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let direct = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    let group = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    for c in [&direct, &group] {
        store.insert_chat(c).await.expect("insert");
    }
    let closed = store.close_chat(&direct.id).await.expect("close");
    let closed = closed.expect("an open direct chat is closed");
    assert!(closed.closed);
    assert_eq!(closed.revision, direct.revision + 1, "closing counts");
    assert_eq!(closed.participants, direct.participants, "both stay");
    let read = store.get_chat(&direct.id).await.expect("get");
    assert_eq!(read, Some(closed.clone()), "stored closed");
    assert_eq!(store.close_chat(&direct.id).await.expect("again"), None);
    assert_eq!(store.close_chat(&group.id).await.expect("group"), None);
    let group_read = store
        .get_chat(&group.id)
        .await
        .expect("get")
        .expect("group");
    assert!(!group_read.closed);
    assert_eq!(
        store.close_chat(&new_object_id()).await.expect("none"),
        None
    );
    let listed = store.chats_of(&b).await.expect("list");
    let listed = listed.iter().find(|c| c.id == direct.id).expect("listed");
    assert!(listed.closed, "a chat list reads it closed too");
    // Another change to a closed chat leaves it closed.
    let renamed = store
        .set_details(&direct.id, &named("x"))
        .await
        .expect("write");
    assert!(renamed.is_some_and(|c| c.closed));
}

async fn deleted_users_are_remembered(store: Arc<dyn ChatStore>) {
    let (gone, kept, other) = (user(), user(), user());
    assert!(
        store
            .deleted_users_among(&[gone.clone(), kept.clone()])
            .await
            .expect("none yet")
            .is_empty()
    );
    store
        .record_deleted_user(&gone, chrono::Utc::now())
        .await
        .expect("record");
    store
        .record_deleted_user(&gone, chrono::Utc::now())
        .await
        .expect("recording again changes nothing");
    store
        .record_deleted_user(&other, chrono::Utc::now())
        .await
        .expect("record");
    let found = store
        .deleted_users_among(&[kept.clone(), gone.clone()])
        .await
        .expect("read");
    assert_eq!(found, vec![gone]);
    assert!(
        store
            .deleted_users_among(&[])
            .await
            .expect("empty")
            .is_empty()
    );
}

async fn pins_are_kept_newest_first_bounded_and_counted(store: Arc<dyn ChatStore>) {
    let group = chat(ChatType::Group, vec![user(), user()]);
    store.insert_chat(&group).await.expect("insert");
    let (first, second) = (new_object_id(), new_object_id());
    let pinned = |chat: Option<ChatRecord>| chat.map(|c| (c.pins, c.revision));
    let pin = |m: String, on: bool| {
        let (store, id) = (store.clone(), group.id.clone());
        async move { store.set_pinned(&id, &m, on).await.expect("write") }
    };
    assert_eq!(
        pinned(pin(first.clone(), true).await),
        Some((vec![first.clone()], 1))
    );
    assert_eq!(
        pinned(pin(second.clone(), true).await),
        Some((vec![second.clone(), first.clone()], 2)),
        "the newest first"
    );
    assert_eq!(pin(first.clone(), true).await, None, "pinned already");
    let read = store.get_chat(&group.id).await.expect("get").expect("kept");
    assert_eq!(
        (read.pins, read.revision),
        (vec![second.clone(), first.clone()], 2)
    );
    assert_eq!(
        pinned(pin(second.clone(), false).await),
        Some((vec![first.clone()], 3))
    );
    assert_eq!(pin(second.clone(), false).await, None, "not pinned");
    // Full at MAX_PINS: one more changes nothing.
    for _ in 1..MAX_PINS {
        assert!(pin(new_object_id(), true).await.is_some());
    }
    assert_eq!(pin(new_object_id(), true).await, None, "full");
    let read = store.get_chat(&group.id).await.expect("get").expect("kept");
    assert_eq!(
        (read.pins.len(), read.revision),
        (MAX_PINS, 2 + MAX_PINS as u64)
    );
    let listed = store.chats_of(&group.participants[0]).await.expect("list");
    assert_eq!(listed[0].pins.len(), MAX_PINS);
    assert_eq!(
        store
            .set_pinned(&new_object_id(), &first, true)
            .await
            .expect("none"),
        None
    );
}

async fn mutes_that_ended_are_swept_and_no_other(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let group = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    store.insert_chat(&group).await.expect("insert");
    let other = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    store.insert_chat(&other).await.expect("insert");
    let at = |ms: i64| DateTime::from_timestamp_millis(Utc::now().timestamp_millis() + ms);
    // a's mute of the group ended a second ago; b's ends in an hour; a's of the other chat, never.
    assert!(
        store
            .mute_chat(&group.id, &a, at(-1_000))
            .await
            .expect("mute")
    );
    let in_an_hour = at(3_600_000);
    assert!(
        store
            .mute_chat(&group.id, &b, in_an_hour)
            .await
            .expect("mute")
    );
    assert!(store.mute_chat(&other.id, &a, None).await.expect("mute"));

    let swept = store.delete_lapsed_mutes(Utc::now()).await.expect("sweep");
    assert!(
        swept >= 1,
        "a's ended mute at least (other tests may share the store)"
    );
    assert_eq!(store.mute_of(&group.id, &a).await.expect("read"), None);
    let kept = store.mute_of(&group.id, &b).await.expect("read");
    assert_eq!(
        kept.map(|m| m.until),
        Some(in_an_hour),
        "a mute still running stays"
    );
    assert_eq!(
        store.mute_of(&other.id, &a).await.expect("read"),
        Some(ChatMute {
            chat_id: other.id.clone(),
            until: None
        }),
        "a mute until unmuted stays"
    );
}

async fn mutes_are_each_users_own_and_go_with_the_chat(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let direct = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    let group = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    for ch in [&direct, &group] {
        store.insert_chat(ch).await.expect("insert");
    }
    let muted = |u: String| {
        let store = store.clone();
        async move {
            let mut mutes = store.muted_chats(&u).await.expect("muted chats");
            mutes.sort_by(|x, y| x.chat_id.cmp(&y.chat_id));
            mutes
        }
    };
    let mute = |chat: &ChatRecord, until| ChatMute {
        chat_id: chat.id.clone(),
        until,
    };
    assert!(muted(a.clone()).await.is_empty());
    assert!(store.mute_chat(&direct.id, &a, None).await.expect("mute"));
    assert!(
        !store
            .mute_chat(&direct.id, &a, None)
            .await
            .expect("again: nothing")
    );
    // Stored to the millisecond, as the contract's times are sent.
    let later =
        DateTime::from_timestamp_millis(Utc::now().timestamp_millis() + 3_600_000).expect("a time");
    assert!(
        store
            .mute_chat(&group.id, &a, Some(later))
            .await
            .expect("mute")
    );
    assert!(
        !store
            .mute_chat(&group.id, &a, Some(later))
            .await
            .expect("the same end again: nothing")
    );
    let mut both = vec![mute(&direct, None), mute(&group, Some(later))];
    both.sort_by(|x, y| x.chat_id.cmp(&y.chat_id));
    assert_eq!(muted(a.clone()).await, both);
    assert!(muted(b.clone()).await.is_empty(), "a's own, not b's");
    assert_eq!(
        store.mute_of(&group.id, &a).await.expect("read"),
        Some(mute(&group, Some(later)))
    );
    assert_eq!(store.mute_of(&group.id, &b).await.expect("read"), None);

    // Another end, or none, replaces it.
    assert!(
        store
            .mute_chat(&direct.id, &a, Some(later))
            .await
            .expect("an end")
    );
    assert!(store.mute_chat(&group.id, &a, None).await.expect("no end"));
    let mut both = vec![mute(&direct, Some(later)), mute(&group, None)];
    both.sort_by(|x, y| x.chat_id.cmp(&y.chat_id));
    assert_eq!(muted(a.clone()).await, both);

    // A lapsed mute is kept as it was (readers compare it with the time), and can be undone.
    let past =
        DateTime::from_timestamp_millis(Utc::now().timestamp_millis() - 1_000).expect("a time");
    assert!(
        store
            .mute_chat(&direct.id, &a, Some(past))
            .await
            .expect("mute")
    );
    let lapsed = store
        .mute_of(&direct.id, &a)
        .await
        .expect("read")
        .expect("kept");
    assert!(!lapsed.holds_at(Utc::now()));
    assert!(store.unmute_chat(&direct.id, &a).await.expect("unmute"));
    assert!(
        !store
            .unmute_chat(&direct.id, &a)
            .await
            .expect("again: nothing")
    );
    assert_eq!(muted(a.clone()).await, vec![mute(&group, None)]);
    assert!(store.mute_chat(&group.id, &b, None).await.expect("mute"));
    assert!(store.delete_chat(&group.id).await.expect("delete"));
    assert!(muted(a.clone()).await.is_empty(), "gone with the chat");
    assert!(muted(b.clone()).await.is_empty(), "gone with the chat");
}

fn named(name: &str) -> Details<'_> {
    Details {
        name: Some(name),
        topic: None,
    }
}

fn topic(topic: Option<&str>) -> Details<'_> {
    Details {
        name: None,
        topic: Some(topic),
    }
}

async fn a_topic_is_set_cleared_and_counted(store: Arc<dyn ChatStore>) {
    let group = chat(ChatType::Group, vec![user(), user()]);
    store.insert_chat(&group).await.expect("insert");
    let set = store
        .set_details(&group.id, &topic(Some("Walks on Sundays")))
        .await
        .expect("set")
        .expect("the chat");
    assert_eq!(
        (set.topic.as_deref(), set.revision),
        (Some("Walks on Sundays"), 1)
    );
    let read = store.get_chat(&group.id).await.expect("get").expect("kept");
    assert_eq!(read.topic.as_deref(), Some("Walks on Sundays"));
    let renamed = store
        .set_details(&group.id, &named("Walkers"))
        .await
        .expect("rename")
        .expect("the chat");
    assert_eq!(
        (renamed.topic.as_deref(), renamed.revision),
        (Some("Walks on Sundays"), 2),
        "a rename keeps the topic"
    );
    let both = Details {
        name: Some("Sunday walkers"),
        topic: Some(Some("Walks, and lunch after")),
    };
    let both = store
        .set_details(&group.id, &both)
        .await
        .expect("both")
        .expect("the chat");
    assert_eq!(
        (both.name.as_deref(), both.topic.as_deref(), both.revision),
        (Some("Sunday walkers"), Some("Walks, and lunch after"), 3),
        "both in one change"
    );
    let cleared = store
        .set_details(&group.id, &topic(None))
        .await
        .expect("clear")
        .expect("the chat");
    assert_eq!(
        (cleared.name.as_deref(), cleared.topic, cleared.revision),
        (Some("Sunday walkers"), None, 4)
    );
    let listed = store.chats_of(&group.participants[0]).await.expect("list");
    assert_eq!(listed[0].topic, None);
    assert_eq!(
        store
            .set_details(&new_object_id(), &topic(Some("x")))
            .await
            .expect("none"),
        None
    );
}

async fn a_picture_is_set_replaced_removed_and_goes_with_the_chat(store: Arc<dyn ChatStore>) {
    let group = chat(ChatType::Group, vec![user(), user()]);
    store.insert_chat(&group).await.expect("insert");
    let picture = |fill: u8, version: &str| ChatPicture {
        content_type: "image/webp".to_owned(),
        bytes: vec![fill; 3_000],
        version: version.to_owned(),
    };
    assert_eq!(store.chat_picture(&group.id).await.expect("read"), None);

    let first = picture(1, "0123456789abcdef");
    let set = store
        .set_chat_picture(&group.id, Some(&first))
        .await
        .expect("set")
        .expect("the chat");
    assert_eq!(
        (set.picture.as_deref(), set.revision),
        (Some("0123456789abcdef"), 1)
    );
    assert_eq!(store.get_chat(&group.id).await.expect("get"), Some(set));
    assert_eq!(
        store.chat_picture(&group.id).await.expect("read"),
        Some(first)
    );

    let second = picture(2, "fedcba9876543210");
    let replaced = store
        .set_chat_picture(&group.id, Some(&second))
        .await
        .expect("replace")
        .expect("the chat");
    assert_eq!(
        (replaced.picture.as_deref(), replaced.revision),
        (Some("fedcba9876543210"), 2)
    );
    assert_eq!(
        store.chat_picture(&group.id).await.expect("read"),
        Some(second.clone())
    );

    let removed = store
        .set_chat_picture(&group.id, None)
        .await
        .expect("remove")
        .expect("the chat");
    assert_eq!((removed.picture, removed.revision), (None, 3));
    assert_eq!(store.chat_picture(&group.id).await.expect("read"), None);

    let nowhere = new_object_id();
    assert_eq!(
        store
            .set_chat_picture(&nowhere, Some(&second))
            .await
            .expect("no such chat"),
        None
    );
    assert_eq!(
        store.chat_picture(&nowhere).await.expect("read"),
        None,
        "nothing stored"
    );

    store
        .set_chat_picture(&group.id, Some(&second))
        .await
        .expect("set");
    assert!(store.delete_chat(&group.id).await.expect("delete"));
    assert_eq!(
        store.chat_picture(&group.id).await.expect("read"),
        None,
        "gone with the chat"
    );
}
