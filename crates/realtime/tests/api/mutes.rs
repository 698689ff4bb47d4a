//! Muting a chat (`PUT` / `DELETE /api/chats/{id}/mute`): the caller's own setting, shown in
//! their chat list and told to all their devices, never to the other members; messages still
//! arrive and count as unread; members only.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, User, cmid, ok, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    a_member_mutes_a_chat_for_themself_and_their_devices_hear_it,
    only_members_mute_a_chat,
);

fn mute_path(chat: &str) -> String {
    format!("/api/chats/{chat}/mute")
}

/// Whether `user`'s chat list and the chat read alone say `chat` is muted (both must agree).
async fn muted_for(app: &TestApp, user: &User, chat: &str) -> bool {
    let list = app.get_json(user, "/api/chats").await;
    let listed = list["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .find(|c| c["id"] == chat)
        .expect("the chat is listed")
        .clone();
    let alone = app.get_json(user, &format!("/api/chats/{chat}")).await;
    assert_eq!(
        listed.get("muted"),
        alone.get("muted"),
        "{listed} / {alone}"
    );
    match listed.get("muted") {
        None => false,
        Some(Value::Bool(true)) => true,
        Some(other) => panic!("`muted` is left out when false, not {other}"),
    }
}

async fn a_member_mutes_a_chat_for_themself_and_their_devices_hear_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (ann, ben) = (User::new(), User::new());
    let chat = app.direct_chat(&ann, &ben).await;
    let group = app.group(&ann, "Walkers", &[&ben]).await;
    let group = group["id"].as_str().expect("id").to_owned();
    let (phone, laptop, other) = (
        app.socket(&ann).await,
        app.socket(&ann.other_device()).await,
        app.socket(&ben).await,
    );

    let r = app.put(&ann, &mute_path(&chat)).await;
    assert_eq!(r.status(), 204);
    let told = json!({"chatId": chat, "muted": true});
    assert_eq!(phone.next("chat_muted").await, told, "this device");
    assert_eq!(laptop.next("chat_muted").await, told, "the other device");
    assert!(
        other
            .try_next("chat_muted", Duration::from_millis(300))
            .await
            .is_none(),
        "the other member is not told"
    );
    assert!(muted_for(&app, &ann, &chat).await);
    assert!(!muted_for(&app, &ann, &group).await, "that chat only");
    assert!(!muted_for(&app, &ben, &chat).await, "Ann's, not Ben's");
    assert_eq!(
        app.put(&ann, &mute_path(&chat)).await.status(),
        204,
        "again"
    );
    assert!(muted_for(&app, &ann, &chat).await);
    assert!(
        laptop
            .try_next("chat_muted", Duration::from_millis(300))
            .await
            .is_none(),
        "nothing changed, nobody told"
    );

    // Muted, a chat still gets its messages, which count as unread.
    let ack = other
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": cmid(), "content": "hush", "encrypted": false}),
        )
        .await;
    assert!(ok(&ack), "{ack}");
    assert_eq!(phone.next("new_message").await["content"], "hush");
    let alone = app.get_json(&ann, &format!("/api/chats/{chat}")).await;
    assert_eq!(
        (alone["unreadCount"].as_u64(), &alone["muted"]),
        (Some(1), &json!(true))
    );

    let r = app.delete(&ann, &mute_path(&chat)).await;
    assert_eq!(r.status(), 204);
    let told = json!({"chatId": chat, "muted": false});
    assert_eq!(laptop.next("chat_muted").await, told);
    assert!(!muted_for(&app, &ann, &chat).await);
    assert_eq!(
        app.delete(&ann, &mute_path(&chat)).await.status(),
        204,
        "again"
    );
}

async fn only_members_mute_a_chat(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (ann, ben, cat) = (User::new(), User::new(), User::new());
    let chat = app.direct_chat(&ann, &ben).await;
    let refused = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let body: Value = r.json().await.expect("json");
        (
            status,
            body["error"]["code"].as_str().unwrap_or("").to_owned(),
        )
    };
    let not_a_member = (403, "not_a_member".to_owned());
    let not_found = (404, "not_found".to_owned());
    assert_eq!(
        refused(app.put(&cat, &mute_path(&chat)).await).await,
        not_a_member
    );
    assert_eq!(
        refused(app.delete(&cat, &mute_path(&chat)).await).await,
        not_a_member
    );
    let nowhere = realtime::domain::new_object_id();
    assert_eq!(
        refused(app.put(&ann, &mute_path(&nowhere)).await).await,
        not_found
    );
    assert_eq!(
        refused(app.put(&ann, &mute_path("not-an-id")).await).await,
        not_found
    );
    let r = app
        .http
        .put(app.url(&mute_path(&chat)))
        .send()
        .await
        .expect("request");
    assert_eq!(refused(r).await, (401, "unauthorized".to_owned()));
    assert!(!muted_for(&app, &ann, &chat).await, "nothing was muted");
}
