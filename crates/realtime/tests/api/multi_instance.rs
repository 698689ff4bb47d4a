//! Two realtime instances on different ports sharing MongoDB and Redis, as behind a load
//! balancer: messages, receipts, typing, presence, changes to messages and revocations cross
//! between them.

use std::time::Duration;

use serde_json::json;

use common::testing::Relay;

use crate::helpers::{Auth, Backend, Setup, TestApp, User, cmid, code, ok, real_urls, spawn_with};

async fn two_instances() -> Option<(TestApp, TestApp)> {
    pair(None).await
}

/// Two instances, the first reaching the Socket.IO adapter's Redis through a [`Relay`] (its Kv
/// goes to Redis directly).
async fn two_instances_one_through_a_relay() -> Option<(Relay, TestApp, TestApp)> {
    let (_, redis_url) = real_urls()?;
    let relay = Relay::start(&redis_url).await;
    let (one, two) = pair(Some(relay.url.clone())).await?;
    Some((relay, one, two))
}

/// Two instances sharing MongoDB, Redis and auth; the first's adapter at `first_redis` if given.
async fn pair(first_redis: Option<String>) -> Option<(TestApp, TestApp)> {
    let auth = Auth::start().await;
    let mut first = Setup {
        auth: Some(auth.clone()),
        ..Setup::new(Backend::Real)
    };
    if let Some(url) = first_redis {
        first.tweak = Box::new(move |c| c.redis_url = Some(common::config::Secret::new(url)));
    }
    let name = first.name.clone();
    let one = spawn_with(first).await?;
    let two = spawn_with(Setup {
        auth: Some(auth),
        name,
        ..Setup::new(Backend::Real)
    })
    .await?;
    assert_ne!(one.addr, two.addr);
    Some((one, two))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_different_instances_exchange_messages_receipts_typing_and_presence() {
    let Some((one, two)) = two_instances().await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = one.direct_chat(&a, &b).await;
    let sb = two.socket(&b).await;
    let sa = one.socket(&a).await;
    assert_eq!(
        sb.presence_of(&a.id).await["online"],
        true,
        "presence crosses instances"
    );

    let ack = sa
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": cmid(), "content": "across", "encrypted": false}),
        )
        .await;
    assert!(ok(&ack), "{ack}");
    assert_eq!(sb.next("new_message").await, ack["message"]);

    let read = sb
        .ack(
            "read_receipt",
            json!({"chatId": chat, "messageId": ack["message"]["id"]}),
        )
        .await;
    assert!(ok(&read), "{read}");
    assert_eq!(sa.next("message_read").await["userId"], b.id.as_str());

    assert!(ok(&sb.ack("join_chat", json!({"chatId": chat})).await));
    assert!(ok(&sa.ack("typing", json!({"chatId": chat})).await));
    assert_eq!(
        sb.next("user_typing").await,
        json!({"chatId": chat, "userId": a.id})
    );

    // Changes to a message, and a reply to it, cross too.
    let m = &ack["message"];
    let reacted = sb
        .ack(
            "react_message",
            json!({"chatId": chat, "messageId": m["id"], "emoji": "👍", "add": true}),
        )
        .await;
    assert!(ok(&reacted), "{reacted}");
    assert_eq!(sa.next("message_updated").await, reacted["message"]);
    let edited = sa
        .ack(
            "edit_message",
            json!({"chatId": chat, "messageId": m["id"], "content": "across, edited"}),
        )
        .await;
    assert!(ok(&edited), "{edited}");
    assert_eq!(sb.next("message_updated").await, edited["message"]);
    assert_eq!(edited["message"]["revision"], 2, "{edited}");
    let reply = sb
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": cmid(), "content": "ok", "replyTo": m["id"]}),
        )
        .await;
    assert!(ok(&reply), "{reply}");
    assert_eq!(sa.next("new_message").await["replyTo"], m["id"]);

    // A second socket of `a` on the other instance: offline only when both are gone.
    let sa2 = two.socket(&a.other_device()).await;
    sa.disconnect().await;
    assert!(
        sb.try_presence_of(&a.id, Duration::from_millis(1500))
            .await
            .is_none()
    );
    sa2.disconnect().await;
    assert_eq!(sb.presence_of(&a.id).await["online"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_disconnects_the_session_on_every_instance() {
    let Some((one, two)) = two_instances().await else {
        return;
    };
    let u = User::new();
    let (s1, s2) = (one.socket(&u).await, two.socket(&u).await);
    common::sessions::revoke(&*one.kv, &u.sid)
        .await
        .expect("revoke");
    assert!(s1.closed(Duration::from_secs(5)).await);
    assert!(s2.closed(Duration::from_secs(5)).await);
    // The other instance refuses the revoked session too.
    let refused = two.refused(&u).await;
    assert!(refused.contains("unauthorized"), "{refused}");
}

/// A deleted account is announced to every instance, and one of them does the work: the group's
/// members hear of the removal, and of the deletion, once, on whichever instance they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_leaves_its_groups_once_with_two_instances() {
    use common::contracts::auth::{DELETED_USERS_PENDING_KEY, USER_DELETED_CHANNEL};
    let Some((one, two)) = two_instances().await else {
        return;
    };
    let (gone, b, c) = (User::new(), User::new(), User::new());
    let group = one.group(&b, "g", &[&gone, &c]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let direct = one.direct_chat(&c, &gone).await;
    let (sb, sc) = (one.socket(&b).await, two.socket(&c).await);
    let send =
        || json!({"chatId": direct, "clientMsgId": cmid(), "content": "hi", "encrypted": false});
    // Instance two reads the direct chat (and caches it) for c's send.
    let before = sc.ack("send_message", send()).await;
    assert!(ok(&before), "{before}");
    one.kv
        .hash_incr(DELETED_USERS_PENDING_KEY, &gone.id, 1)
        .await
        .expect("kv");
    let heard = one
        .publish_until_heard(USER_DELETED_CHANNEL, &gone.id, &sb, "user_deleted")
        .await;
    assert_eq!(heard, Some(json!({"userId": gone.id})));
    for (who, socket) in [("b", &sb), ("c", &sc)] {
        let (mut removals, mut closings) = (0, 0);
        while let Some(e) = socket
            .try_next("chat_changed", Duration::from_millis(1500))
            .await
        {
            if e["chatId"] == direct.as_str() {
                assert_eq!(e["closed"], json!(true), "{who}: {e}");
                closings += 1;
                continue;
            }
            assert_eq!(e["chatId"], group.as_str());
            assert_eq!(e["removed"], json!([gone.id]), "{who}: {e}");
            removals += 1;
        }
        assert_eq!(removals, 1, "{who} hears of the removal once");
        let expected = usize::from(who == "c");
        assert_eq!(closings, expected, "{who}: the direct chat's closing, once");
    }
    assert_eq!(sc.next("user_deleted").await, json!({"userId": gone.id}));
    assert!(
        sc.try_next("user_deleted", Duration::from_millis(500))
            .await
            .is_none(),
        "and of the deletion once"
    );
    // Whichever instance closed it, the other's cached copy went with the change.
    let refused = sc.ack("send_message", send()).await;
    assert_eq!(code(&refused), "account_deleted", "{refused}");
}

/// Chats are cached per instance (`adapters::chat_cache`): a member removed through one instance
/// is refused by the other well before the cache's TTL, and one added there is let in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_change_on_one_instance_holds_on_the_other_at_once() {
    let Some((one, two)) = two_instances().await else {
        return;
    };
    let (admin, m, newcomer) = (User::new(), User::new(), User::new());
    let group = one.group(&admin, "Cached", &[&m]).await;
    let id = group["id"].as_str().expect("id").to_owned();
    let send = |text: &str| json!({"chatId": id, "clientMsgId": cmid(), "content": text, "encrypted": false});

    // Instance two reads the chat (and caches it) for m's sends; the newcomer is refused there.
    let (sm, sn) = (two.socket(&m).await, two.socket(&newcomer).await);
    for text in ["one", "two"] {
        let ack = sm.ack("send_message", send(text)).await;
        assert!(ok(&ack), "{ack}");
    }
    let refused = sn.ack("send_message", send("let me in")).await;
    assert_eq!(code(&refused), "not_a_member", "{refused}");

    let added = one.add_members(&admin, &id, &[&newcomer]).await;
    assert_eq!(added.status(), 200);
    let kick = one
        .delete(&admin, &format!("/api/chats/{id}/members/{}", m.id))
        .await;
    assert_eq!(kick.status(), 200);

    // The change reaches instance two over Redis in about a millisecond; the cache's TTL is
    // 10 s. Polled (a few tries), never slept.
    let mut answer = serde_json::Value::Null;
    for _ in 0..20 {
        answer = sm.ack("send_message", send("still in?")).await;
        if code(&answer) == "not_a_member" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(code(&answer), "not_a_member", "{answer}");
    let welcome = sn.ack("send_message", send("hello")).await;
    assert!(ok(&welcome), "the added member may send at once: {welcome}");

    // The sockets on instance two heard of both changes made on instance one: the newcomer got
    // the chat whole, the member the change alone, and then each their removal's change.
    let whole = sn.next("chat_updated").await;
    assert_eq!(whole["chat"]["revision"], 1);
    assert_eq!(
        sm.next("chat_changed").await,
        json!({"chatId": id, "revision": 1, "added": [newcomer.id], "memberCount": 3})
    );
    let removal = json!({"chatId": id, "revision": 2, "removed": [m.id], "memberCount": 2});
    assert_eq!(sm.next("chat_changed").await, removal);
    assert_eq!(sn.next("chat_changed").await, removal);
}

/// A dropped Redis connection (a restart, a network blip) must not end fan-out between
/// instances: instance one reaches Redis through a relay whose connections are cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_between_instances_survives_a_dropped_redis_connection() {
    let Some((relay, one, two)) = two_instances_one_through_a_relay().await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = one.direct_chat(&a, &b).await;
    let (sa, sb) = (one.socket(&a).await, two.socket(&b).await);
    let send = |text: &str| json!({"chatId": chat, "clientMsgId": cmid(), "content": text, "encrypted": false});
    let ack = sa.ack("send_message", send("before")).await;
    assert!(ok(&ack), "{ack}");
    assert_eq!(sb.next("new_message").await["content"], "before");

    relay.cut();
    // Each direction is tried until a message gets through (the reconnection takes a moment);
    // with a connection that never comes back, none ever does.
    for (from, to, way) in [(&sa, &sb, "one → two"), (&sb, &sa, "two → one")] {
        let mut through = false;
        for attempt in 0..40 {
            let text = format!("{way} #{attempt}");
            let ack = from.ack("send_message", send(&text)).await;
            assert!(ok(&ack), "the message is stored either way: {ack}");
            if let Some(m) = to.try_next("new_message", Duration::from_millis(250)).await {
                assert!(
                    m["content"].as_str().is_some_and(|c| c.starts_with(way)),
                    "{m}"
                );
                through = true;
                break;
            }
        }
        assert!(
            through,
            "{way}: fan-out never resumed after the Redis connection dropped"
        );
        // What queued while cut may arrive late: drain it.
        while to
            .try_next("new_message", Duration::from_millis(200))
            .await
            .is_some()
        {}
    }
}

/// An instance stopped gracefully gives up its presence key as it goes (`Presence::leave`), so
/// the other takes what it held off presence at its next watch, not once the key's 30 s have
/// run out, and takes each socket off once: a user who still has a socket on the other instance
/// stays online.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instances_sockets_are_taken_off_presence_by_the_other() {
    let auth = Auth::start().await;
    let first = Setup {
        auth: Some(auth.clone()),
        ..Setup::new(Backend::Real)
    };
    let name = first.name.clone();
    let Some(mut one) = spawn_with(first).await else {
        return;
    };
    let registry = one.kv.hash_all("realtime:instances").await.expect("kv");
    assert_eq!(registry.len(), 1, "{registry:?}");
    let one_key = format!("realtime:instance:{}", registry[0].0);
    // Two watches every second.
    let Some(two) = spawn_with(Setup {
        auth: Some(auth),
        name,
        tweak: Box::new(|c| c.limits.instance_ttl = Duration::from_secs(3)),
        ..Setup::new(Backend::Real)
    })
    .await
    else {
        return;
    };
    let (a, b, c) = (User::new(), User::new(), User::new());
    one.direct_chat(&a, &b).await;
    one.direct_chat(&c, &b).await;
    let sb = two.socket(&b).await;
    // a is on both instances, c on the one that stops.
    let _sa = one.socket(&a).await;
    let sa2 = two.socket(&a.other_device()).await;
    let _sc = one.socket(&c).await;
    assert_eq!(sb.presence_of(&a.id).await["online"], true);
    assert_eq!(sb.presence_of(&c.id).await["online"], true);

    one.stop().await;
    assert!(
        two.kv.get(&one_key).await.expect("kv").is_none(),
        "the stopped instance gave up its key"
    );
    let offline = sb.presence_of(&c.id).await;
    assert_eq!(offline["online"], false, "c's only socket was there");
    assert!(
        sb.try_presence_of(&a.id, Duration::from_secs(2))
            .await
            .is_none(),
        "a still has a socket on two"
    );
    assert!(
        !two.kv
            .hash_all("realtime:instances")
            .await
            .expect("kv")
            .iter()
            .any(|(id, _)| one_key.ends_with(id.as_str())),
        "the stopped instance is struck off"
    );
    sa2.disconnect().await;
    assert_eq!(sb.presence_of(&a.id).await["online"], false);
}

/// While an instance cannot reach Redis, its own sockets still get each other's events live: the
/// adapter's broadcast publishes first and, when that failed, never reached the local sockets.
/// What the other instance's sockets missed meanwhile they are told to catch up on (`resync`)
/// once Redis is back, though their connections never dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_out_an_instances_own_sockets_still_hear_each_other() {
    let Some((relay, one, two)) = two_instances_one_through_a_relay().await else {
        return;
    };
    let (a, b, c) = (User::new(), User::new(), User::new());
    let group = one.group(&a, "outage", &[&b, &c]).await;
    let chat = group["id"].as_str().expect("id").to_owned();
    let (sa, sb, sc) = (
        one.socket(&a).await,
        one.socket(&b).await,
        two.socket(&c).await,
    );
    let send = |text: &str| json!({"chatId": chat, "clientMsgId": cmid(), "content": text, "encrypted": false});
    let before = sa.ack("send_message", send("before")).await;
    assert!(ok(&before), "{before}");
    assert_eq!(sc.next("new_message").await["content"], "before");
    assert_eq!(sb.next("new_message").await["content"], "before");

    relay.hold();
    let during = sa.ack("send_message", send("during")).await;
    assert!(ok(&during), "stored either way: {during}");
    assert_eq!(
        sb.next("new_message").await["content"],
        "during",
        "a socket on the same instance hears it live"
    );
    assert!(
        sc.try_next("new_message", Duration::from_millis(500))
            .await
            .is_none(),
        "the other instance cannot hear of it"
    );

    relay.release();
    sc.next("resync").await;
    sb.next("resync").await;
    let before_id = before["message"]["id"].as_str().expect("id");
    let synced = sc
        .ack("sync", json!({"after": {chat.clone(): before_id}}))
        .await;
    assert!(ok(&synced), "{synced}");
    let texts: Vec<&str> = synced["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(texts, ["during"], "{synced}");
}

/// A key change announced once reaches a contact's sockets on either instance once each: every
/// instance tells its own sockets, none relays it through the adapter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_change_reaches_each_socket_once_whichever_instance_holds_it() {
    use common::contracts::auth::KEY_CHANGED_CHANNEL;
    let Some((one, two)) = two_instances().await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    one.direct_chat(&a, &b).await;
    let (on_one, on_two) = (one.socket(&b.other_device()).await, two.socket(&b).await);
    // Until both instances follow the channel (they subscribe as they start): announced until
    // both sockets heard, then what is still on its way is let pass.
    let told = json!({"userId": a.id});
    let (mut heard_one, mut heard_two) = (false, false);
    for _ in 0..50 {
        one.kv
            .publish(KEY_CHANGED_CHANNEL, &a.id)
            .await
            .expect("publish");
        heard_one |= on_one
            .try_next("key_changed", Duration::from_millis(200))
            .await
            .is_some();
        heard_two |= on_two
            .try_next("key_changed", Duration::from_millis(200))
            .await
            .is_some();
        if heard_one && heard_two {
            break;
        }
    }
    assert!(heard_one && heard_two, "both instances tell their sockets");
    for socket in [&on_one, &on_two] {
        while socket
            .try_next("key_changed", Duration::from_millis(500))
            .await
            .is_some()
        {}
    }

    one.kv
        .publish(KEY_CHANGED_CHANNEL, &a.id)
        .await
        .expect("publish");
    for (name, socket) in [("on the first", &on_one), ("on the second", &on_two)] {
        assert_eq!(socket.next("key_changed").await, told, "{name}");
        assert!(
            socket
                .try_next("key_changed", Duration::from_millis(700))
                .await
                .is_none(),
            "told once {name}"
        );
    }
}

/// A user's budget of changes is one, whichever instance each request reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_budget_of_changes_is_shared_by_the_instances() {
    let auth = Auth::start().await;
    let few = |c: &mut realtime::config::Config| c.limits.chat_changes_per_minute = 2;
    let first = Setup {
        auth: Some(auth.clone()),
        tweak: Box::new(few),
        ..Setup::new(Backend::Real)
    };
    let name = first.name.clone();
    let Some(one) = spawn_with(first).await else {
        return;
    };
    let two = spawn_with(Setup {
        auth: Some(auth),
        name,
        tweak: Box::new(few),
        ..Setup::new(Backend::Real)
    })
    .await
    .expect("the second instance");
    let (a, b) = (User::new(), User::new());
    let group = json!({"type": "group", "name": "g", "memberIds": [b.id]});
    assert_eq!(
        one.post(&a, "/api/chats", group.clone()).await.status(),
        201
    );
    assert_eq!(
        two.post(&a, "/api/chats", group.clone()).await.status(),
        201
    );
    for app in [&one, &two] {
        let r = app.post(&a, "/api/chats", group.clone()).await;
        assert_eq!(r.status(), 429, "the third, on either instance");
    }
}
