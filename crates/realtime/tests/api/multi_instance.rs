//! Two realtime instances on different ports sharing MongoDB and Redis, as behind a load
//! balancer: messages, receipts, typing, presence and revocations cross between them.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Auth, Backend, Setup, TestApp, User, cmid, ok, spawn_with};

async fn two_instances() -> Option<(TestApp, TestApp)> {
    let auth = Auth::start().await;
    let first = Setup {
        auth: Some(auth.clone()),
        ..Setup::new(Backend::Real)
    };
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
        sb.next("user_online").await["userId"],
        a.id.as_str(),
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

    // A second socket of `a` on the other instance: offline only when both are gone.
    let sa2 = two.socket(&a.other_device()).await;
    sa.disconnect().await;
    assert!(
        sb.try_next("user_offline", Duration::from_millis(500))
            .await
            .is_none()
    );
    sa2.disconnect().await;
    assert_eq!(sb.next("user_offline").await["userId"], a.id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_disconnects_the_session_on_every_instance() {
    let Some((one, two)) = two_instances().await else {
        return;
    };
    let u = User::new();
    let (s1, s2) = (one.socket(&u).await, two.socket(&u).await);
    one.kv
        .publish(realtime::app::SESSION_REVOKED_CHANNEL, &u.sid)
        .await
        .expect("publish");
    assert!(s1.closed(Duration::from_secs(5)).await);
    assert!(s2.closed(Duration::from_secs(5)).await);
}
