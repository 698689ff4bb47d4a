//! Direct messages end to end: send, receive, ack, history, receipts, idempotency, sync.

use serde_json::{Value, json};

use std::collections::BTreeSet;
use std::time::Duration;

use crate::helpers::{Backend, TestSocket, User, cmid, code, ok, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    a_direct_message_reaches_the_recipient_and_history_and_the_read_receipt_reaches_the_sender,
    a_resent_client_msg_id_returns_the_original_and_stores_no_duplicate,
    the_senders_other_device_receives_the_message_too,
    delivery_is_reported_to_the_sender,
    many_deliveries_go_in_one_event,
    a_read_receipt_reaches_the_senders_and_the_readers_devices_only,
    a_messages_details_name_who_received_and_read_it_for_members_only,
    an_offline_user_catches_up_through_sync_after_reconnecting,
    the_chat_list_orders_by_activity_and_counts_unread_messages,
);

async fn a_direct_message_reaches_the_recipient_and_history_and_the_read_receipt_reaches_the_sender(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    assert_eq!(
        app.direct_chat(&b, &a).await,
        chat,
        "one direct chat per pair"
    );
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);

    let ack = sa
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": cmid(), "content": "hello", "encrypted": false}),
        )
        .await;
    assert!(ok(&ack), "{ack}");
    let stored = &ack["message"];
    assert_eq!(stored["content"], "hello");
    assert_eq!(stored["senderId"], a.id.as_str());
    assert_eq!(stored["chatId"], chat.as_str());

    let received = sb.next("new_message").await;
    assert_eq!(
        &received, stored,
        "the recipient gets exactly the stored message"
    );

    let history = app
        .get_json(&b, &format!("/api/chats/{chat}/messages?limit=10"))
        .await;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(&history["messages"][0], stored);

    let read = sb
        .ack(
            "read_receipt",
            json!({"chatId": chat, "messageId": stored["id"]}),
        )
        .await;
    assert!(ok(&read), "{read}");
    let receipt = sa.next("message_read").await;
    assert_eq!(
        receipt,
        json!({"chatId": chat, "messageId": stored["id"], "userId": b.id})
    );
    let history = app
        .get_json(&a, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(history["messages"][0]["readBy"], json!([b.id]));
}

async fn a_resent_client_msg_id_returns_the_original_and_stores_no_duplicate(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let sa = app.socket(&a).await;
    let id = cmid();
    let first = sa
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": id, "content": "once", "encrypted": false}),
        )
        .await;
    let again = sa
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": id, "content": "once", "encrypted": false}),
        )
        .await;
    assert!(ok(&first) && ok(&again), "{first} {again}");
    assert_eq!(first["message"], again["message"]);
    let history = app
        .get_json(&a, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(1));
}

async fn the_senders_other_device_receives_the_message_too(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (phone, laptop) = (app.socket(&a).await, app.socket(&a.other_device()).await);
    let ack = phone.ack("send_message", json!({"chatId": chat, "clientMsgId": cmid(), "content": "sync me", "encrypted": false})).await;
    assert!(ok(&ack), "{ack}");
    assert_eq!(laptop.next("new_message").await, ack["message"]);
}

async fn delivery_is_reported_to_the_sender(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let ack = sa
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": cmid(), "content": "hi", "encrypted": false}),
        )
        .await;
    let msg = sb.next("new_message").await;
    let d = sb
        .ack("delivered", json!({"chatId": chat, "messageId": msg["id"]}))
        .await;
    assert!(ok(&d), "{d}");
    let event = sa.next("message_delivered").await;
    assert_eq!(
        event,
        json!({"chatId": chat, "messageId": ack["message"]["id"], "userId": b.id})
    );
}

/// Sends `text` to `chat`; the stored message's id.
async fn send(s: &TestSocket, chat: &str, text: &str) -> String {
    s.send_text(chat, text).await["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// A client catching up names what it received a hundred at a time, not one event each.
async fn many_deliveries_go_in_one_event(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let mut from_a = BTreeSet::new();
    for i in 0..3 {
        from_a.insert(send(&sa, &chat, &format!("a{i}")).await);
    }
    let own = send(&sb, &chat, "b0").await;
    let mut named: Vec<_> = from_a.iter().cloned().collect();
    named.push(own.clone());
    let d = sb
        .ack("delivered", json!({"chatId": chat, "messageIds": named}))
        .await;
    assert!(ok(&d), "{d}");
    let mut told = BTreeSet::new();
    for _ in 0..3 {
        let e = sa.next("message_delivered").await;
        assert_eq!((&e["chatId"], &e["userId"]), (&json!(chat), &json!(b.id)));
        told.insert(e["messageId"].as_str().expect("id").to_owned());
    }
    assert_eq!(told, from_a, "each of a's messages, once; not b's own");
    let delivered_to = |history: &Value, id: &str| {
        history["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .find(|m| m["id"] == id)
            .map(|m| m["deliveredTo"].clone())
    };
    let history = app
        .get_json(&a, &format!("/api/chats/{chat}/messages"))
        .await;
    for id in &from_a {
        assert_eq!(delivered_to(&history, id), Some(json!([b.id])), "{history}");
    }
    assert_eq!(delivered_to(&history, &own), Some(json!([])));

    let again = sb
        .ack("delivered", json!({"chatId": chat, "messageIds": named}))
        .await;
    assert!(ok(&again), "{again}");
    assert_eq!(
        sa.try_next("message_delivered", Duration::from_millis(300))
            .await,
        None,
        "nothing changed, nobody told"
    );

    let fresh = send(&sa, &chat, "a3").await;
    let elsewhere = app.direct_chat(&a, &User::new()).await;
    let foreign = send(&sa, &elsewhere, "x").await;
    let mixed = sb
        .ack(
            "delivered",
            json!({"chatId": chat, "messageIds": [fresh, foreign]}),
        )
        .await;
    assert_eq!(code(&mixed), "not_found", "{mixed}");
    let history = app
        .get_json(&a, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(
        delivered_to(&history, &fresh),
        Some(json!([])),
        "nothing recorded"
    );

    let too_many: Vec<String> = (0..101).map(|_| fresh.clone()).collect();
    for bad in [
        json!({"chatId": chat, "messageIds": too_many}),
        json!({"chatId": chat, "messageId": fresh, "messageIds": [fresh]}),
        json!({"chatId": chat}),
        json!({"chatId": chat, "messageIds": ["nope"]}),
    ] {
        let r = sb.ack("delivered", bad.clone()).await;
        assert_eq!(code(&r), "validation_failed", "{bad} → {r}");
    }
}

/// In a group of 1,000, a read told to every member would be 1,000 events per reader, and each
/// sender told of every member's read or delivery 999 events per message: a sender hears of a
/// message's first read and first delivery, which is all it shows.
async fn a_read_receipt_reaches_the_senders_and_the_readers_devices_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, c, d) = (User::new(), User::new(), User::new(), User::new());
    let group = app.group(&a, "Readers", &[&b, &c, &d]).await;
    let chat = group["id"].as_str().expect("id").to_owned();
    let (sa, sb, sd) = (
        app.socket(&a).await,
        app.socket(&b).await,
        app.socket(&d).await,
    );
    let (phone, laptop) = (app.socket(&c).await, app.socket(&c.other_device()).await);
    send(&sa, &chat, "from a").await;
    let newest = send(&sb, &chat, "from b").await;
    let read = phone
        .ack("read_receipt", json!({"chatId": chat, "messageId": newest}))
        .await;
    assert!(ok(&read), "{read}");
    let event = json!({"chatId": chat, "messageId": newest, "userId": c.id});
    assert_eq!(sa.next("message_read").await, event, "a sender");
    assert_eq!(sb.next("message_read").await, event, "a sender");
    assert_eq!(
        laptop.next("message_read").await,
        event,
        "the reader's other device"
    );
    let quiet = Duration::from_millis(300);
    assert_eq!(
        sd.try_next("message_read", quiet).await,
        None,
        "not a sender"
    );
    assert_eq!(
        phone.try_next("message_read", quiet).await,
        None,
        "the reading socket"
    );

    // Read again, nothing changes: only the reader's other devices hear it.
    let again = phone
        .ack("read_receipt", json!({"chatId": chat, "messageId": newest}))
        .await;
    assert!(ok(&again), "{again}");
    assert_eq!(laptop.next("message_read").await, event);
    assert_eq!(sa.try_next("message_read", quiet).await, None);

    // Dave reads them too: not the first, so the senders are not told again.
    let second = sd
        .ack("read_receipt", json!({"chatId": chat, "messageId": newest}))
        .await;
    assert!(ok(&second), "{second}");
    assert_eq!(sa.try_next("message_read", quiet).await, None);
    assert_eq!(sb.try_next("message_read", quiet).await, None);

    // Deliveries likewise: Bob hears of the first only; the second is recorded all the same.
    let delivered = json!({"chatId": chat, "messageIds": [newest]});
    let first = sd.ack("delivered", delivered.clone()).await;
    assert!(ok(&first), "{first}");
    assert_eq!(
        sb.next("message_delivered").await,
        json!({"chatId": chat, "messageId": newest, "userId": d.id})
    );
    let second = phone.ack("delivered", delivered).await;
    assert!(ok(&second), "{second}");
    assert_eq!(sb.try_next("message_delivered", quiet).await, None);
    let history = app
        .get_json(&b, &format!("/api/chats/{chat}/messages"))
        .await;
    let stored = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["id"] == newest.as_str())
        .expect("the newest");
    assert_eq!(stored["deliveredTo"], json!([d.id, c.id]));
}

/// `GET /api/chats/{id}/messages/{messageId}`: the message as stored, with everyone who received
/// and read it (the sender was told of the first of each only), for the chat's members.
async fn a_messages_details_name_who_received_and_read_it_for_members_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, c, d, outsider) = (
        User::new(),
        User::new(),
        User::new(),
        User::new(),
        User::new(),
    );
    let group = app.group(&a, "Details", &[&b, &c, &d]).await;
    let chat = group["id"].as_str().expect("id").to_owned();
    let (sa, sb, sc) = (
        app.socket(&a).await,
        app.socket(&b).await,
        app.socket(&c).await,
    );
    let id = send(&sa, &chat, "who saw this?").await;
    let path = format!("/api/chats/{chat}/messages/{id}");
    let before = app.get_json(&a, &path).await;
    assert_eq!(
        (
            &before["id"],
            &before["content"],
            &before["readBy"],
            &before["deliveredTo"]
        ),
        (&json!(id), &json!("who saw this?"), &json!([]), &json!([]))
    );

    let delivered = sb
        .ack("delivered", json!({"chatId": chat, "messageIds": [id]}))
        .await;
    assert!(ok(&delivered), "{delivered}");
    let read = sc
        .ack("read_receipt", json!({"chatId": chat, "messageId": id}))
        .await;
    assert!(ok(&read), "{read}");
    // Any member reads the details, not only the sender.
    for member in [&a, &d] {
        let details = app.get_json(member, &path).await;
        assert_eq!(details["readBy"], json!([c.id]), "{details}");
        let delivered: BTreeSet<&str> = details["deliveredTo"]
            .as_array()
            .expect("deliveredTo")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(delivered.contains(b.id.as_str()), "{details}");
    }

    let refused = app.get(&outsider, &path).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(code(&refused.json().await.expect("json")), "not_a_member");
    // A message of another chat, an id of no message, and something not an id: not found.
    let direct = app.direct_chat(&a, &b).await;
    let elsewhere = send(&sa, &direct, "not in the group").await;
    for path in [
        format!("/api/chats/{chat}/messages/{elsewhere}"),
        format!("/api/chats/{chat}/messages/{}", "0".repeat(24)),
        format!("/api/chats/{chat}/messages/nope"),
    ] {
        let missing = app.get(&a, &path).await;
        assert_eq!(missing.status(), 404, "{path}");
        assert_eq!(
            code(&missing.json().await.expect("json")),
            "not_found",
            "{path}"
        );
    }
}

async fn an_offline_user_catches_up_through_sync_after_reconnecting(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let first = sa
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": cmid(), "content": "m0", "encrypted": false}),
        )
        .await;
    let seen = sb.next("new_message").await;
    assert_eq!(seen, first["message"]);
    sb.disconnect().await;

    let mut sent = Vec::new();
    for i in 1..=5 {
        let ack = sa.ack("send_message", json!({"chatId": chat, "clientMsgId": cmid(), "content": format!("m{i}"), "encrypted": false})).await;
        assert!(ok(&ack), "{ack}");
        sent.push(ack["message"]["id"].clone());
    }

    let sb = app.socket(&b).await;
    let cursor = seen["id"].as_str().expect("id").to_owned();
    let mut resume = Value::Null;
    let mut got = Vec::new();
    for _ in 0..10 {
        let page = sb
            .ack(
                "sync",
                json!({"cursors": {chat.clone(): cursor}, "resume": resume, "limit": 2}),
            )
            .await;
        assert!(ok(&page), "{page}");
        let msgs = page["messages"].as_array().expect("messages").clone();
        got.extend(msgs.into_iter().map(|m| m["id"].clone()));
        if page["hasMore"] != json!(true) {
            assert!(page.get("resume").is_none(), "{page}");
            break;
        }
        resume = page["resume"].clone();
    }
    // The look-back (a few seconds before the cursor) repeats the message b has, first.
    assert_eq!(got.first(), Some(&seen["id"]), "{got:?}");
    got.remove(0);
    assert_eq!(got, sent, "every missed message, in order, exactly once");
}

async fn the_chat_list_orders_by_activity_and_counts_unread_messages(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, c) = (User::new(), User::new(), User::new());
    let ab = app.direct_chat(&a, &b).await;
    let ac = app.direct_chat(&a, &c).await;
    let (sb, sc) = (app.socket(&b).await, app.socket(&c).await);
    for text in ["one", "two"] {
        let ack = sb
            .ack(
                "send_message",
                json!({"chatId": ab, "clientMsgId": cmid(), "content": text, "encrypted": false}),
            )
            .await;
        assert!(ok(&ack), "{ack}");
    }
    let last = sc
        .ack(
            "send_message",
            json!({"chatId": ac, "clientMsgId": cmid(), "content": "three", "encrypted": false}),
        )
        .await;
    let list = app.get_json(&a, "/api/chats").await;
    let chats = list["chats"].as_array().expect("chats");
    assert_eq!(chats.len(), 2);
    assert_eq!(chats[0]["id"], ac.as_str(), "most recent activity first");
    assert_eq!(chats[0]["unreadCount"], 1);
    assert_eq!(chats[0]["lastMessage"]["id"], last["message"]["id"]);
    assert_eq!(chats[1]["unreadCount"], 2);
    let list = app.get_json(&b, "/api/chats").await;
    assert_eq!(
        list["chats"][0]["unreadCount"], 0,
        "own messages are never unread"
    );
    // One chat read on its own counts as in the list, for whoever reads it.
    let one = app.get_json(&a, &format!("/api/chats/{ab}")).await;
    assert_eq!(one["unreadCount"], 2, "{one}");
    let theirs = app.get_json(&b, &format!("/api/chats/{ab}")).await;
    assert_eq!(theirs["unreadCount"], 0, "{theirs}");
}
