//! Presence: online with the first socket, offline only when the last one goes.

use std::time::Duration;

use crate::helpers::{Backend, User, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    a_user_with_two_sockets_goes_offline_only_when_both_are_gone,
    a_new_socket_is_told_which_contacts_are_already_online
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
    let snapshot = sa.next("user_online").await;
    assert_eq!(
        snapshot["userId"],
        b.id.as_str(),
        "b shares a chat with a and is online"
    );
    assert!(
        sa.try_next("user_online", Duration::from_millis(500))
            .await
            .is_none(),
        "only contacts are reported, and the user is not told about itself"
    );
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
