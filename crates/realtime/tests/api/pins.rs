//! Pinned messages: any member pins a message of the chat or unpins one; the chat lists them
//! newest first, counts each change in its revision and tells its members the whole list; a
//! deleted message is unpinned with it; what is not a pin of this chat is refused.

use common::contracts::chat::MAX_PINS;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestSocket, User, code, ok, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    members_pin_and_unpin_messages_and_everyone_sees_the_list,
    a_deleted_message_is_unpinned_with_it,
    what_is_not_a_pin_of_the_chat_is_refused,
);

/// Sends `text` to `chat`; the stored message's id.
async fn send(s: &TestSocket, chat: &str, text: &str) -> String {
    s.send_text(chat, text).await["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// The status and body of a pin (`pinned`) or unpin of `message` in `chat` by `user`.
async fn pin(app: &TestApp, user: &User, chat: &str, message: &str, pinned: bool) -> (u16, Value) {
    let path = format!("/api/chats/{chat}/pins/{message}");
    let r = if pinned {
        app.put(user, &path).await
    } else {
        app.delete(user, &path).await
    };
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn members_pin_and_unpin_messages_and_everyone_sees_the_list(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (admin, member) = (User::new(), User::new());
    let group = app.group(&admin, "Walkers", &[&member]).await;
    let id = group["id"].as_str().expect("id").to_owned();
    let (sa, sm) = (app.socket(&admin).await, app.socket(&member).await);
    let first = send(&sa, &id, "Meet at the station").await;
    let second = send(&sm, &id, "Bring water").await;

    // A member who is not an admin pins: the chat answers with it, members hear the list.
    let (status, chat) = pin(&app, &member, &id, &first, true).await;
    assert_eq!(status, 200, "{chat}");
    assert_eq!(
        (&chat["pins"], &chat["revision"]),
        (&json!([first]), &json!(1))
    );
    let told = json!({"chatId": id, "revision": 1, "pins": [first]});
    assert_eq!(sa.next("chat_changed").await, told);
    assert_eq!(sm.next("chat_changed").await, told);

    // The newest pin first; again changes nothing and tells nobody.
    let (status, chat) = pin(&app, &admin, &id, &second, true).await;
    assert_eq!((status, &chat["pins"]), (200, &json!([second, first])));
    assert_eq!(
        sm.next("chat_changed").await,
        json!({"chatId": id, "revision": 2, "pins": [second, first]})
    );
    let (status, chat) = pin(&app, &admin, &id, &first, true).await;
    assert_eq!((status, &chat["revision"]), (200, &json!(2)));
    assert!(
        sm.try_next("chat_changed", std::time::Duration::from_millis(300))
            .await
            .is_none(),
        "pinned again: nobody told"
    );
    let read = app.get_json(&member, &format!("/api/chats/{id}")).await;
    assert_eq!(read["pins"], json!([second, first]));
    let list = app.get_json(&admin, "/api/chats").await;
    assert_eq!(list["chats"][0]["pins"], json!([second, first]));

    // Any member unpins; the last unpinned is told as [] and the chat has none.
    let (status, chat) = pin(&app, &admin, &id, &second, false).await;
    assert_eq!((status, &chat["pins"]), (200, &json!([first])));
    assert_eq!(sm.next("chat_changed").await["pins"], json!([first]));
    let (status, chat) = pin(&app, &member, &id, &first, false).await;
    assert_eq!(status, 200, "{chat}");
    assert!(chat.get("pins").is_none(), "{chat}");
    assert_eq!(
        sm.next("chat_changed").await,
        json!({"chatId": id, "revision": 4, "pins": []})
    );
    let (status, chat) = pin(&app, &member, &id, &first, false).await;
    assert_eq!(
        (status, &chat["revision"]),
        (200, &json!(4)),
        "not pinned: unchanged"
    );

    // In a direct chat too.
    let direct = app.direct_chat(&admin, &member).await;
    let hello = send(&sa, &direct, "hello").await;
    let (status, chat) = pin(&app, &member, &direct, &hello, true).await;
    assert_eq!((status, &chat["pins"]), (200, &json!([hello])));
}

async fn a_deleted_message_is_unpinned_with_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let kept = send(&sa, &chat, "kept").await;
    let gone = send(&sa, &chat, "gone").await;
    for m in [&kept, &gone] {
        assert_eq!(pin(&app, &b, &chat, m, true).await.0, 200);
    }
    while sb
        .try_next("chat_changed", std::time::Duration::from_millis(300))
        .await
        .is_some()
    {}

    let ack = sa
        .ack("delete_message", json!({"chatId": chat, "messageId": gone}))
        .await;
    assert!(ok(&ack), "{ack}");
    assert_eq!(sb.next("message_updated").await["id"], gone.as_str());
    assert_eq!(
        sb.next("chat_changed").await,
        json!({"chatId": chat, "revision": 3, "pins": [kept]})
    );
    let read = app.get_json(&b, &format!("/api/chats/{chat}")).await;
    assert_eq!(read["pins"], json!([kept]));

    // Deleting it again (a retry) unpins nothing more; a deleted message cannot be pinned.
    let again = sa
        .ack("delete_message", json!({"chatId": chat, "messageId": gone}))
        .await;
    assert!(ok(&again), "{again}");
    assert_eq!(
        app.get_json(&b, &format!("/api/chats/{chat}")).await["revision"],
        3
    );
    let (status, body) = pin(&app, &b, &chat, &gone, true).await;
    assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
}

async fn what_is_not_a_pin_of_the_chat_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, stranger) = (User::new(), User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let other = app.direct_chat(&a, &stranger).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let elsewhere = send(&sa, &other, "not in this chat").await;
    let here = send(&sa, &chat, "here").await;

    let (status, body) = pin(&app, &a, &chat, &elsewhere, true).await;
    assert_eq!(
        (status, code(&body)),
        (404, "not_found"),
        "another chat's message: {body}"
    );
    let (status, body) = pin(&app, &a, &chat, "0123456789abcdef01234567", true).await;
    assert_eq!((status, code(&body)), (404, "not_found"), "{body}");
    let (status, body) = pin(&app, &a, &chat, "not-an-id", true).await;
    assert_eq!((status, code(&body)), (404, "not_found"), "{body}");
    let (status, body) = pin(&app, &stranger, &chat, &here, true).await;
    assert_eq!((status, code(&body)), (403, "not_a_member"), "{body}");
    let r = app
        .http
        .put(app.url(&format!("/api/chats/{chat}/pins/{here}")))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), 401);

    // At most MAX_PINS: the next is refused, and the list stays.
    let mut pinned = Vec::new();
    for k in 0..MAX_PINS {
        // Sent and pinned by both members in turn, so no one socket's rate limit or user's
        // budget of changes runs out.
        let (by, socket) = if k % 2 == 0 { (&a, &sa) } else { (&b, &sb) };
        let m = send(socket, &chat, &format!("note {k}")).await;
        let (status, body) = pin(&app, by, &chat, &m, true).await;
        assert_eq!(status, 200, "{body}");
        pinned.push(m);
    }
    let (status, body) = pin(&app, &b, &chat, &here, true).await;
    assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
    let read = app.get_json(&a, &format!("/api/chats/{chat}")).await;
    assert_eq!(read["pins"].as_array().map(Vec::len), Some(MAX_PINS));
    assert_eq!(
        read["pins"][0],
        pinned[MAX_PINS - 1].as_str(),
        "the newest first"
    );
    assert_eq!(read["revision"], MAX_PINS, "nothing refused was counted");
}
