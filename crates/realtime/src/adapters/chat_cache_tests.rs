//! The chat cache's unit tests (kept apart: the cache itself is long enough).

use chrono::Utc;
use common::contracts::chat::ChatType;
use common::kv::MemoryKv;

use super::*;
use crate::adapters::SqliteStore;

fn group(id: usize, members: usize) -> ChatRecord {
    ChatRecord {
        id: format!("{id:024x}"),
        kind: ChatType::Group,
        participants: (0..members).map(|m| format!("user-{m}")).collect(),
        name: None,
        admins: vec![],
        passcode_hash: None,
        created_at: Utc::now(),
        revision: 0,
        closed: false,
        topic: None,
        picture: None,
        pins: Vec::new(),
    }
}

#[test]
fn the_cache_never_holds_more_than_its_weight() {
    let mut cached = Cached::default();
    for id in 0..3_000 {
        cached.insert(&group(id, 999));
        assert!(cached.weight <= MAX_WEIGHT, "weight {}", cached.weight);
        assert_eq!(
            cached.weight,
            cached.chats.values().map(|(c, _)| weight(c)).sum::<usize>()
        );
    }
    assert!(!cached.chats.is_empty());
}

#[test]
fn a_full_cache_keeps_the_chats_read_last() {
    let mut cached = Cached::default();
    let capacity = MAX_WEIGHT / weight(&group(0, 999));
    for id in 0..capacity * 3 {
        cached.insert(&group(id, 999));
        if id >= capacity {
            // Emptied when full, it would hold this chat alone.
            assert!(
                cached.chats.len() >= capacity / 2,
                "{} chats held after chat {id}",
                cached.chats.len()
            );
            assert!(cached.chats.contains_key(&group(id - 1, 0).id));
        }
    }
    assert!(
        !cached.chats.contains_key(&group(0, 0).id),
        "the oldest went"
    );
}

/// A cache over the real SQLite store and the in-process Kv, once its subscription is up.
async fn cache_over_sqlite() -> (ChatCache, Arc<SqliteStore>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(common::testing::unique_name("chat-cache"));
    let store = Arc::new(SqliteStore::open(&dir).await.expect("open sqlite"));
    let (cache, _listener) = ChatCache::new(store.clone(), Arc::new(MemoryKv::new()));
    for _ in 0..200 {
        if cache.entries.live.load(Ordering::Acquire) {
            return (cache, store, dir);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the cache's subscription never came up");
}

fn names(chats: &[ChatRecord]) -> Vec<Option<&str>> {
    chats.iter().map(|c| c.name.as_deref()).collect()
}

#[tokio::test]
async fn a_users_chats_come_from_memory_but_their_own_membership_from_the_store() {
    let (cache, store, dir) = cache_over_sqlite().await;
    let mut chat = group(1, 3);
    chat.name = Some("first".into());
    store.insert_chat(&chat).await.expect("insert");
    let member = chat.participants[0].clone();
    assert_eq!(
        names(&cache.chats_of(&member).await.expect("chats")),
        [Some("first")]
    );

    // Changed behind the cache's back, as by an instance whose invalidation is still on
    // its way: the cached chat is served.
    store
        .set_details(
            &chat.id,
            &Details {
                name: Some("second"),
                topic: None,
            },
        )
        .await
        .expect("rename");
    assert_eq!(
        names(&cache.chats_of(&member).await.expect("chats")),
        [Some("first")],
        "served from memory"
    );

    // Someone who joined since is not missing from it: the cached copy does not list them,
    // so it is read again (and kept).
    let newcomer = "newcomer".to_owned();
    store
        .add_participants(&chat.id, std::slice::from_ref(&newcomer))
        .await
        .expect("add");
    let theirs = cache.chats_of(&newcomer).await.expect("chats");
    assert_eq!(names(&theirs), [Some("second")]);
    assert!(theirs[0].is_member(&newcomer));
    assert_eq!(
        names(&cache.chats_of(&member).await.expect("chats")),
        [Some("second")],
        "the fresh copy was kept"
    );

    // Someone who left is not given the chat, cached or not.
    store
        .remove_participant(&chat.id, &member)
        .await
        .expect("remove");
    assert!(cache.chats_of(&member).await.expect("chats").is_empty());
    let any = cache
        .chats_of_any(&[member.clone(), newcomer.clone(), "stranger".into()])
        .await
        .expect("chats");
    assert_eq!(names(&any), [Some("second")]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn reads_are_served_only_while_live_and_not_across_an_invalidation() {
    let entries = Entries::default();
    let chat = group(1, 3);
    entries.keep(&chat, 0);
    assert_eq!(
        entries.fresh(&chat.id),
        None,
        "nothing is kept while not live"
    );

    entries.forget_all(true);
    let started = entries.generation.load(Ordering::Acquire);
    entries.keep(&chat, started);
    assert_eq!(entries.fresh(&chat.id), Some(chat.clone()));

    // A read that started before an invalidation is not kept.
    let before = entries.generation.load(Ordering::Acquire);
    entries.forget(&chat.id);
    entries.keep(&chat, before);
    assert_eq!(entries.fresh(&chat.id), None);

    entries.keep(&chat, entries.generation.load(Ordering::Acquire));
    entries.forget_all(false);
    assert_eq!(entries.fresh(&chat.id), None, "down: the cache is off");
}
