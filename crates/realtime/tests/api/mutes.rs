//! Muting a chat (`PUT` / `DELETE /api/chats/{id}/mute`): the caller's own setting, shown in
//! their chat list and told to all their devices, never to the other members; messages still
//! arrive and count as unread; members only. A mute for a while (`until`) ends by itself.

use std::time::Duration;

use chrono::{DateTime, Duration as Span, SubsecRound, Utc};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestSocket, User, cmid, ok, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    a_member_mutes_a_chat_for_themself_and_their_devices_hear_it,
    only_members_mute_a_chat,
    a_mute_for_a_while_ends_by_itself,
    a_mutes_end_must_be_in_the_coming_year,
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

/// When `user`'s mute of `chat` ends, as their chat list and the chat read alone say (both must
/// agree); `None` when it does not end by itself, or the chat is not muted.
async fn muted_until(app: &TestApp, user: &User, chat: &str) -> Option<DateTime<Utc>> {
    let list = app.get_json(user, "/api/chats").await;
    let listed = list["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .find(|c| c["id"] == chat)
        .expect("the chat is listed")
        .clone();
    let alone = app.get_json(user, &format!("/api/chats/{chat}")).await;
    assert_eq!(listed.get("mutedUntil"), alone.get("mutedUntil"));
    listed
        .get("mutedUntil")
        .map(|t| t.as_str().expect("a time").parse().expect("RFC 3339"))
}

/// Whether `socket` hears no `chat_muted` for a while.
async fn quiet(socket: &TestSocket) -> bool {
    socket
        .try_next("chat_muted", Duration::from_millis(300))
        .await
        .is_none()
}

/// The `until` of a `chat_muted` event, parsed.
fn until_of(event: &Value) -> Option<DateTime<Utc>> {
    event
        .get("until")
        .map(|t| t.as_str().expect("a time").parse().expect("RFC 3339"))
}

async fn a_mute_for_a_while_ends_by_itself(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (ann, ben) = (User::new(), User::new());
    let chat = app.direct_chat(&ann, &ben).await;
    let (phone, laptop) = (
        app.socket(&ann).await,
        app.socket(&ann.other_device()).await,
    );

    // For an hour: told with its end, which the list and the chat show.
    let hour = (Utc::now() + Span::hours(1)).trunc_subsecs(3);
    let r = app
        .put_json(&ann, &mute_path(&chat), json!({"until": hour}))
        .await;
    assert_eq!(r.status(), 204);
    for device in [&phone, &laptop] {
        let told = device.next("chat_muted").await;
        assert_eq!(
            (&told["chatId"], &told["muted"]),
            (&json!(chat), &json!(true))
        );
        assert_eq!(until_of(&told), Some(hour));
    }
    assert!(muted_for(&app, &ann, &chat).await);
    assert_eq!(muted_until(&app, &ann, &chat).await, Some(hour));
    assert_eq!(muted_until(&app, &ben, &chat).await, None, "Ann's alone");

    // The same again changes nothing; another end, or none, is told.
    let r = app
        .put_json(&ann, &mute_path(&chat), json!({"until": hour}))
        .await;
    assert_eq!(r.status(), 204);
    assert!(quiet(&phone).await, "the same mute again is not told");
    let r = app.put(&ann, &mute_path(&chat)).await;
    assert_eq!(r.status(), 204);
    let told = phone.next("chat_muted").await;
    assert_eq!(
        told,
        json!({"chatId": chat, "muted": true}),
        "until unmuted"
    );
    assert!(muted_for(&app, &ann, &chat).await);
    assert_eq!(muted_until(&app, &ann, &chat).await, None);
    let r = app
        .put_json(&ann, &mute_path(&chat), json!({"until": null}))
        .await;
    assert_eq!(r.status(), 204);
    assert!(quiet(&phone).await, "`null` is until unmuted, as it was");

    // A mute that ends soon: muted until then, not after, with nothing sent when it ends.
    let soon = (Utc::now() + Span::milliseconds(1500)).trunc_subsecs(3);
    let r = app
        .put_json(&ann, &mute_path(&chat), json!({"until": soon}))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(until_of(&phone.next("chat_muted").await), Some(soon));
    assert!(muted_for(&app, &ann, &chat).await);
    let left = soon - Utc::now();
    tokio::time::sleep(left.to_std().unwrap_or_default() + Duration::from_millis(100)).await;
    assert!(!muted_for(&app, &ann, &chat).await, "its end has passed");
    assert_eq!(muted_until(&app, &ann, &chat).await, None);
    assert!(quiet(&phone).await, "its end is not told: devices knew it");

    // Muted again after it ended: a change, told.
    let r = app.put(&ann, &mute_path(&chat)).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        phone.next("chat_muted").await,
        json!({"chatId": chat, "muted": true})
    );
    assert!(muted_for(&app, &ann, &chat).await);
}

async fn a_mutes_end_must_be_in_the_coming_year(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (ann, ben) = (User::new(), User::new());
    let chat = app.direct_chat(&ann, &ben).await;
    let phone = app.socket(&ann).await;
    let refused = |body: Value| {
        let (app, ann, chat) = (&app, &ann, &chat);
        async move {
            let r = app.put_json(ann, &mute_path(chat), body).await;
            let status = r.status().as_u16();
            let body: Value = r.json().await.expect("json");
            (
                status,
                body["error"]["code"].as_str().unwrap_or("").to_owned(),
                body,
            )
        }
    };
    for (body, why) in [
        (json!({"until": Utc::now() - Span::minutes(1)}), "past"),
        (
            json!({"until": Utc::now() + Span::days(367)}),
            "more than a year away",
        ),
    ] {
        let (status, code, answer) = refused(body).await;
        assert_eq!((status, code.as_str()), (422, "validation_failed"), "{why}");
        assert!(
            answer["error"]["fields"].get("until").is_some(),
            "{why}: {answer}"
        );
    }
    for body in [
        json!({"until": "tomorrow"}),
        json!({"until": 12}),
        json!({"until": "2026-13-45T00:00:00Z"}),
    ] {
        let (status, code, _) = refused(body.clone()).await;
        assert_eq!((status, code.as_str()), (400, "invalid_json"), "{body}");
    }
    // 365 days is taken.
    let r = app
        .put_json(
            &ann,
            &mute_path(&chat),
            json!({"until": Utc::now() + Span::days(365)}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let told = phone.next("chat_muted").await;
    assert!(until_of(&told).is_some(), "{told}");
    assert!(
        quiet(&phone).await,
        "nothing refused above was muted or told"
    );
}
