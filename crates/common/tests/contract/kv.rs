//! The `Kv` contract suite: every test body runs against the in-process adapter and against real
//! Redis (`TEST_REDIS_URL`), so the embedded default and production behave the same.

use std::sync::Arc;
use std::time::Duration;

use common::kv::{Followed, Kv, MemoryKv, RedisKv, SharedKv, follow};
use common::testing::{Relay, backend_url, unique_name};
use futures::StreamExt;

async fn adapters(test: &str) -> Vec<Box<dyn Kv>> {
    let mut all: Vec<Box<dyn Kv>> = vec![Box::new(MemoryKv::new())];
    if let Some(url) = backend_url("TEST_REDIS_URL") {
        let prefix = format!("{}:", unique_name(test));
        all.push(Box::new(
            RedisKv::connect(&url, &prefix)
                .await
                .expect("connect to TEST_REDIS_URL"),
        ));
    }
    all
}

/// Polls `check` until it holds or `deadline` passes.
async fn eventually<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn set_get_del_round_trip() {
    for kv in adapters("set_get_del").await {
        let b = kv.backend();
        kv.ping().await.unwrap();
        assert_eq!(kv.get("a").await.unwrap(), None, "{b}");
        kv.set("a", "1", None).await.unwrap();
        assert_eq!(kv.get("a").await.unwrap().as_deref(), Some("1"), "{b}");
        assert_eq!(kv.ttl("a").await.unwrap(), None, "{b}: no expiry");
        assert!(kv.del("a").await.unwrap(), "{b}");
        assert!(!kv.del("a").await.unwrap(), "{b}");
        assert_eq!(kv.get("a").await.unwrap(), None, "{b}");
    }
}

#[tokio::test]
async fn get_many_answers_in_key_order_with_gaps_for_missing_keys() {
    for kv in adapters("get_many").await {
        let b = kv.backend();
        assert_eq!(
            kv.get_many(&[]).await.unwrap(),
            Vec::<Option<String>>::new(),
            "{b}"
        );
        kv.set("one", "1", None).await.unwrap();
        kv.set("three", "3", Some(Duration::from_secs(60)))
            .await
            .unwrap();
        let keys = ["one", "two", "three"].map(String::from);
        let got = kv.get_many(&keys).await.unwrap();
        assert_eq!(
            got,
            [Some("1".to_owned()), None, Some("3".to_owned())],
            "{b}"
        );
        assert_eq!(
            kv.get_many(&keys[..1]).await.unwrap(),
            [Some("1".to_owned())],
            "{b}: one key"
        );
    }
}

#[tokio::test]
async fn values_expire_after_their_ttl() {
    for kv in adapters("expire").await {
        let b = kv.backend();
        kv.set("k", "v", Some(Duration::from_millis(150)))
            .await
            .unwrap();
        let ttl = kv.ttl("k").await.unwrap().expect("has a ttl");
        assert!(ttl <= Duration::from_millis(150), "{b}");
        assert!(
            eventually(Duration::from_secs(3), || async {
                kv.get("k").await.unwrap().is_none()
            })
            .await,
            "{b}"
        );
        assert!(
            !kv.expire("k", Duration::from_secs(5)).await.unwrap(),
            "{b}: expire of a missing key"
        );
        kv.set("k2", "v", Some(Duration::from_millis(100)))
            .await
            .unwrap();
        assert!(
            kv.expire("k2", Duration::from_secs(60)).await.unwrap(),
            "{b}"
        );
        assert!(
            kv.ttl("k2").await.unwrap().unwrap() > Duration::from_secs(30),
            "{b}"
        );
    }
}

#[tokio::test]
async fn set_nx_sets_only_when_absent_or_expired() {
    for kv in adapters("set_nx").await {
        let b = kv.backend();
        assert!(
            kv.set_nx("lock", "first", Duration::from_millis(150))
                .await
                .unwrap(),
            "{b}"
        );
        assert!(
            !kv.set_nx("lock", "second", Duration::from_secs(1))
                .await
                .unwrap(),
            "{b}"
        );
        assert_eq!(
            kv.get("lock").await.unwrap().as_deref(),
            Some("first"),
            "{b}"
        );
        assert!(
            eventually(Duration::from_secs(3), || async {
                kv.set_nx("lock", "third", Duration::from_secs(5))
                    .await
                    .unwrap()
            })
            .await,
            "{b}: settable again after expiry"
        );
        assert_eq!(
            kv.get("lock").await.unwrap().as_deref(),
            Some("third"),
            "{b}"
        );
    }
}

#[tokio::test]
async fn take_reads_and_deletes_exactly_once() {
    for kv in adapters("take").await {
        let b = kv.backend();
        kv.set("state", "xyz", Some(Duration::from_secs(60)))
            .await
            .unwrap();
        let (first, second) = tokio::join!(kv.take("state"), kv.take("state"));
        let got: Vec<_> = [first.unwrap(), second.unwrap()]
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(got, ["xyz"], "{b}: single use");
        assert_eq!(kv.take("missing").await.unwrap(), None, "{b}");
    }
}

#[tokio::test]
async fn incr_counts_within_a_fixed_window() {
    for kv in adapters("incr").await {
        let b = kv.backend();
        assert_eq!(
            kv.incr("n", 1, Duration::from_millis(300)).await.unwrap(),
            1,
            "{b}"
        );
        assert_eq!(
            kv.incr("n", 2, Duration::from_secs(60)).await.unwrap(),
            3,
            "{b}"
        );
        assert_eq!(
            kv.incr("n", -1, Duration::from_secs(60)).await.unwrap(),
            2,
            "{b}"
        );
        let ttl = kv.ttl("n").await.unwrap().expect("window ttl");
        assert!(
            ttl <= Duration::from_millis(300),
            "{b}: later hits must not extend the window"
        );
        assert!(
            eventually(Duration::from_secs(3), || async {
                kv.get("n").await.unwrap().is_none()
            })
            .await,
            "{b}: window ends"
        );
        assert_eq!(
            kv.incr("n", 1, Duration::from_secs(60)).await.unwrap(),
            1,
            "{b}: new window"
        );
        kv.set("text", "abc", None).await.unwrap();
        assert!(
            kv.incr("text", 1, Duration::from_secs(1)).await.is_err(),
            "{b}: not an integer"
        );
    }
}

#[tokio::test]
async fn many_keys_are_renewed_at_once_and_none_is_created() {
    for kv in adapters("expire_many").await {
        let b = kv.backend();
        let keys: Vec<String> = (0..3).map(|i| format!("k{i}")).collect();
        for key in &keys[..2] {
            kv.set(key, "1", Some(Duration::from_millis(300)))
                .await
                .unwrap();
        }
        kv.set("lasting", "1", None).await.unwrap();
        assert_eq!(
            kv.expire_many(&[], Duration::from_secs(1)).await.unwrap(),
            0
        );
        assert_eq!(
            kv.expire_many(&keys, Duration::from_secs(60))
                .await
                .unwrap(),
            2,
            "{b}: the absent key is not counted"
        );
        for key in &keys[..2] {
            let left = kv.ttl(key).await.unwrap().unwrap();
            assert!(left > Duration::from_secs(30), "{b}: {key} renewed");
        }
        assert_eq!(kv.get("k2").await.unwrap(), None, "{b}: not created");
        assert_eq!(
            kv.expire_many(&["lasting".to_owned()], Duration::from_millis(100))
                .await
                .unwrap(),
            1
        );
        assert!(
            eventually(Duration::from_secs(5), || async {
                kv.get("lasting").await.unwrap().is_none()
            })
            .await,
            "{b}: a key without expiry gets one"
        );
    }
}

#[tokio::test]
async fn hash_fields_count_and_vanish_at_zero() {
    for kv in adapters("hash").await {
        let b = kv.backend();
        assert!(kv.hash_all("h").await.unwrap().is_empty(), "{b}");
        assert_eq!(kv.hash_incr("h", "x", 2).await.unwrap(), 2, "{b}");
        assert_eq!(kv.hash_incr("h", "y", 1).await.unwrap(), 1, "{b}");
        assert_eq!(kv.hash_incr("h", "x", -1).await.unwrap(), 1, "{b}");
        let mut all = kv.hash_all("h").await.unwrap();
        all.sort();
        assert_eq!(all, [("x".to_owned(), 1), ("y".to_owned(), 1)], "{b}");
        assert_eq!(kv.hash_incr("h", "y", -1).await.unwrap(), 0, "{b}");
        assert_eq!(
            kv.hash_incr("h", "z", -2).await.unwrap(),
            -2,
            "{b}: the new value, not kept"
        );
        assert_eq!(
            kv.hash_all("h").await.unwrap(),
            [("x".to_owned(), 1)],
            "{b}: fields at 0 or below are gone"
        );
        assert!(kv.del("h").await.unwrap(), "{b}: del deletes a hash");
        assert!(kv.hash_all("h").await.unwrap().is_empty(), "{b}");
        assert_eq!(kv.hash_incr("h", "x", -1).await.unwrap(), -1, "{b}");
        assert!(!kv.del("h").await.unwrap(), "{b}: an emptied hash is gone");
    }
}

#[tokio::test]
async fn hash_fields_are_removed_one_by_one() {
    for kv in adapters("hash_del").await {
        let b = kv.backend();
        assert!(!kv.hash_del("h", "x").await.unwrap(), "{b}: no hash");
        kv.hash_incr("h", "x", 1_800_000_000_000).await.unwrap();
        kv.hash_incr("h", "y", 5).await.unwrap();
        assert!(kv.hash_del("h", "x").await.unwrap(), "{b}");
        assert!(!kv.hash_del("h", "x").await.unwrap(), "{b}: gone already");
        assert!(!kv.hash_del("h", "z").await.unwrap(), "{b}: never there");
        assert_eq!(
            kv.hash_all("h").await.unwrap(),
            [("y".to_owned(), 5)],
            "{b}"
        );
        assert!(kv.hash_del("h", "y").await.unwrap(), "{b}");
        assert!(!kv.del("h").await.unwrap(), "{b}: an emptied hash is gone");
    }
}

#[tokio::test]
async fn published_messages_reach_every_subscriber() {
    for kv in adapters("pubsub").await {
        let b = kv.backend();
        let mut one = kv.subscribe("revoked").await.unwrap();
        let mut two = kv.subscribe("revoked").await.unwrap();
        let mut other = kv.subscribe("elsewhere").await.unwrap();
        // A Redis SUBSCRIBE is confirmed before `subscribe` returns, so publishing now is seen.
        kv.publish("revoked", "session-1").await.unwrap();
        kv.publish("revoked", "session-2").await.unwrap();
        for sub in [&mut one, &mut two] {
            let got: Vec<String> =
                tokio::time::timeout(Duration::from_secs(5), sub.by_ref().take(2).collect())
                    .await
                    .unwrap_or_else(|_| panic!("{b}: messages not delivered"));
            assert_eq!(got, ["session-1", "session-2"], "{b}");
        }
        let nothing = tokio::time::timeout(Duration::from_millis(200), other.next()).await;
        assert!(nothing.is_err(), "{b}: other channels stay quiet");
        kv.publish("nobody-listens", "x").await.unwrap();
    }
}

#[tokio::test]
async fn keys_of_different_prefixes_do_not_collide() {
    let Some(url) = backend_url("TEST_REDIS_URL") else {
        return;
    };
    let a = RedisKv::connect(&url, &format!("{}:", unique_name("a")))
        .await
        .unwrap();
    let b = RedisKv::connect(&url, &format!("{}:", unique_name("b")))
        .await
        .unwrap();
    a.set("same", "a", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(b.get("same").await.unwrap(), None);
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_not_a_hang() {
    let started = std::time::Instant::now();
    let result = RedisKv::connect("redis://127.0.0.1:9", "x:").await;
    assert!(result.is_err());
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn a_followed_channel_subscribes_again_after_its_connection_drops() {
    let Some(url) = backend_url("TEST_REDIS_URL") else {
        return;
    };
    let relay = Relay::start(&url).await;
    let prefix = format!("{}:", unique_name("follow"));
    let through: SharedKv = Arc::new(RedisKv::connect(&relay.url, &prefix).await.unwrap());
    let direct = RedisKv::connect(&url, &prefix).await.unwrap();
    let mut followed = follow(through, "changes", Duration::from_millis(50));
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), followed.next())
            .await
            .expect("an event within 5 s")
            .expect("the stream goes on")
    };
    assert_eq!(next().await, Followed::Up);
    direct.publish("changes", "one").await.unwrap();
    assert_eq!(next().await, Followed::Message("one".into()));

    relay.cut();
    assert_eq!(next().await, Followed::Down, "the drop is reported");
    assert_eq!(next().await, Followed::Up, "and the channel followed again");
    direct.publish("changes", "two").await.unwrap();
    assert_eq!(next().await, Followed::Message("two".into()));
}
