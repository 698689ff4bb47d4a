//! Presence: online with the first socket, offline only when the last one goes.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use crate::helpers::{Backend, User, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    a_user_with_two_sockets_goes_offline_only_when_both_are_gone,
    a_new_socket_is_told_which_contacts_are_already_online,
    the_snapshot_lists_every_online_member_of_a_large_group,
    a_snapshot_past_one_event_comes_in_parts_and_is_complete
);

async fn a_new_socket_is_told_which_contacts_are_already_online(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, stranger) = (User::new(), User::new(), User::new());
    app.direct_chat(&a, &b).await;
    let _sb = app.socket(&b).await;
    let _s_stranger = app.socket(&stranger).await;
    let sa = app.socket(&a).await;
    let snapshot = sa.next("presence_snapshot").await;
    assert_eq!(
        snapshot["online"],
        json!([b.id]),
        "b shares a chat with a and is online; the stranger and a itself are not reported"
    );
    assert!(
        !sa.received("user_online").await,
        "the contacts already online come in the snapshot, not one event each"
    );

    let lonely = User::new();
    let s_lonely = app.socket(&lonely).await;
    assert_eq!(
        s_lonely.next("presence_snapshot").await["online"],
        json!([]),
        "an empty snapshot still comes, so a reconnecting client drops what it last knew"
    );
}

/// More contacts online than a socket's send buffer holds packets (socketioxide's default, 128):
/// sent one `user_online` each, the snapshot lost everything past the buffer's first 128.
async fn the_snapshot_lists_every_online_member_of_a_large_group(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = User::new();
    let members: Vec<User> = (0..199).map(|_| User::new()).collect();
    app.group(&admin, "everyone", &members.iter().collect::<Vec<_>>())
        .await;
    // A few handshakes at a time: the test client's polling handshake fails with 199 at once
    // when the rest of the suite runs beside it.
    let _sockets: Vec<_> = futures::stream::iter(&members)
        .map(|m| app.socket(m))
        .buffer_unordered(16)
        .collect()
        .await;
    let s_admin = app.socket(&admin).await;
    let snapshot = s_admin.next("presence_snapshot").await;
    let mut online: Vec<&str> = snapshot["online"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    online.sort_unstable();
    let mut expected: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(online, expected);
}

/// More contacts online than one event carries (1,000): the snapshot comes in parts, the last
/// with `more: false`. Until the seventeenth session it covered only the first 1,000 contacts,
/// and the PWA then took the others for offline.
async fn a_snapshot_past_one_event_comes_in_parts_and_is_complete(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = User::new();
    let members: Vec<User> = (0..1400).map(|_| User::new()).collect();
    for (i, half) in members.chunks(700).enumerate() {
        app.group(
            &admin,
            &format!("half {i}"),
            &half.iter().collect::<Vec<_>>(),
        )
        .await;
    }
    // Online as far as presence goes: what the snapshot reads (1,400 sockets would be slow).
    for m in &members {
        app.kv
            .set(
                &format!("user:online:{}", m.id),
                "1",
                Some(Duration::from_secs(60)),
            )
            .await
            .expect("kv");
    }
    let s_admin = app.socket(&admin).await;
    let mut online = Vec::new();
    let mut parts = Vec::new();
    loop {
        let part = s_admin.next("presence_snapshot").await;
        let ids = part["online"].as_array().expect("a list").clone();
        parts.push(ids.len());
        online.extend(ids.into_iter().map(|v| v.as_str().expect("id").to_owned()));
        if part["more"] == json!(false) {
            break;
        }
        assert_eq!(part["more"], json!(true), "{part}");
    }
    assert_eq!(parts, [1000, 400]);
    online.sort_unstable();
    let mut expected: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    expected.sort_unstable();
    assert_eq!(online, expected);
}

async fn a_user_with_two_sockets_goes_offline_only_when_both_are_gone(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    app.direct_chat(&a, &b).await;
    let sb = app.socket(&b).await;
    let first = app.socket(&a).await;
    let online = sb.next("user_online").await;
    assert_eq!(online["userId"], a.id.as_str());
    let key = format!("user:online:{}", a.id);
    assert!(app.kv.get(&key).await.expect("kv").is_some());
    let ttl = app.kv.ttl(&key).await.expect("kv").expect("has a TTL");
    assert!(
        ttl <= Duration::from_secs(300) && ttl > Duration::from_secs(200),
        "{ttl:?}"
    );

    let second = app.socket(&a.other_device()).await;
    assert!(
        !sb.received("user_online").await,
        "a second socket is not a new arrival"
    );
    first.disconnect().await;
    assert!(
        sb.try_next("user_offline", Duration::from_millis(500))
            .await
            .is_none(),
        "still online on the second socket"
    );
    assert!(app.kv.get(&key).await.expect("kv").is_some());
    second.disconnect().await;
    let offline = sb.next("user_offline").await;
    assert_eq!(offline["userId"], a.id.as_str());
    assert!(offline["lastSeen"].is_string(), "{offline}");
    assert!(app.kv.get(&key).await.expect("kv").is_none());
}
