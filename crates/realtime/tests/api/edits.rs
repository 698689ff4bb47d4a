//! Editing and deleting messages end to end: who may, what every member's sockets are sent, what
//! history and the chat list show after, the file of a deleted file message, and how a member who
//! was offline learns of it (`sync_changes`).

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestSocket, User, cmid, code, ok, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    an_edit_reaches_every_member_and_history_and_only_the_sender_may_edit,
    a_deleted_message_stays_a_tombstone_and_its_file_is_gone,
    group_admins_delete_any_message_and_members_only_their_own,
    an_offline_member_learns_of_edits_and_deletions_through_sync_changes,
);

async fn edit(s: &TestSocket, m: &Value, content: Value) -> Value {
    let mut req = json!({"chatId": m["chatId"], "messageId": m["id"]});
    for (k, v) in content.as_object().expect("fields") {
        req[k] = v.clone();
    }
    s.ack("edit_message", req).await
}

async fn delete(s: &TestSocket, m: &Value) -> Value {
    s.ack(
        "delete_message",
        json!({"chatId": m["chatId"], "messageId": m["id"]}),
    )
    .await
}

async fn last_message(app: &TestApp, user: &User, chat: &str) -> Value {
    app.get_json(user, &format!("/api/chats/{chat}")).await["lastMessage"].clone()
}

/// The chat's `unreadCount` in `user`'s chat list.
async fn unread(app: &TestApp, user: &User, chat: &str) -> Value {
    let list = app.get_json(user, "/api/chats").await;
    let chats = list
        .as_array()
        .or(list["chats"].as_array())
        .expect("chats")
        .clone();
    let listed = chats.iter().find(|c| c["id"] == chat).expect("listed");
    listed["unreadCount"].clone()
}

async fn an_edit_reaches_every_member_and_history_and_only_the_sender_may_edit(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, outsider) = (User::new(), User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sa2, sb) = (
        app.socket(&a).await,
        app.socket(&a.other_device()).await,
        app.socket(&b).await,
    );
    let m = sa.send_text(&chat, "hello wrold").await;
    sb.next("new_message").await;

    let ack = edit(&sa, &m, json!({"content": "hello world"})).await;
    assert!(ok(&ack), "{ack}");
    let edited = &ack["message"];
    assert_eq!(edited["content"], "hello world");
    assert_eq!(
        (&edited["id"], &edited["timestamp"]),
        (&m["id"], &m["timestamp"])
    );
    assert!(edited["editedAt"].is_string(), "{edited}");
    assert!(edited.get("deletedAt").is_none(), "{edited}");
    for s in [&sb, &sa2] {
        assert_eq!(
            &s.next("message_updated").await,
            edited,
            "every member's sockets"
        );
    }
    let history = app
        .get_json(&b, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(&history["messages"][0], edited);
    assert_eq!(
        last_message(&app, &b, &chat).await["content"],
        "hello world"
    );

    // Sealed content needs its iv, as a send does; an encrypted edit replaces both.
    let ack = edit(&sa, &m, json!({"content": "c2VhbGVk", "encrypted": true})).await;
    assert_eq!(code(&ack), "validation_failed", "{ack}");
    let ack = edit(
        &sa,
        &m,
        json!({"content": "c2VhbGVk", "encrypted": true, "iv": "aXY="}),
    )
    .await;
    assert!(ok(&ack), "{ack}");
    assert_eq!(
        (&ack["message"]["encrypted"], &ack["message"]["iv"]),
        (&json!(true), &json!("aXY="))
    );

    // Not the sender's, not a member's, not a message of the chat, not content.
    let theirs = sb.send_text(&chat, "mine").await;
    assert_eq!(
        code(&edit(&sa, &theirs, json!({"content": "x"})).await),
        "forbidden"
    );
    let intruder = app.socket(&outsider).await;
    assert_eq!(
        code(&edit(&intruder, &m, json!({"content": "x"})).await),
        "not_a_member"
    );
    let unknown = json!({"chatId": chat, "id": "0".repeat(24)});
    assert_eq!(
        code(&edit(&sa, &unknown, json!({"content": "x"})).await),
        "not_found"
    );
    assert_eq!(
        code(&edit(&sa, &m, json!({"content": "  "})).await),
        "validation_failed"
    );
    let long = "x".repeat(5001);
    assert_eq!(
        code(&edit(&sa, &m, json!({"content": long})).await),
        "validation_failed"
    );
    let bad = sa
        .ack(
            "edit_message",
            json!({"chatId": chat, "messageId": "nope", "content": "x"}),
        )
        .await;
    assert_eq!(code(&bad), "validation_failed", "{bad}");
    let shapeless = sa.ack("edit_message", json!({"chatId": chat})).await;
    assert_eq!(code(&shapeless), "invalid_json", "{shapeless}");
}

async fn a_deleted_message_stays_a_tombstone_and_its_file_is_gone(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let upload = app.upload(&a, &chat, vec![7u8; 1000]).await;
    assert_eq!(upload.status(), 201);
    let attachment = upload.json::<Value>().await.expect("json")["id"].clone();
    let sent = sa
        .ack(
            "send_message",
            json!({
                "chatId": chat, "clientMsgId": cmid(), "type": "file", "encrypted": true,
                "content": "c2VhbGVk", "iv": "aXY=",
                "metadata": {"attachmentId": attachment, "fileSize": 1000}
            }),
        )
        .await;
    assert!(ok(&sent), "{sent}");
    let m = sent["message"].clone();
    sb.next("new_message").await;
    let file = format!(
        "/api/chats/{chat}/attachments/{}",
        attachment.as_str().expect("id")
    );
    assert_eq!(app.get(&b, &file).await.status(), 200);

    assert_eq!(unread(&app, &b, &chat).await, 1);
    assert_eq!(code(&delete(&sb, &m).await), "forbidden", "not b's message");
    let ack = delete(&sa, &m).await;
    assert!(ok(&ack), "{ack}");
    let tombstone = ack["message"].clone();
    assert_eq!(tombstone["content"], "");
    assert_eq!(tombstone["type"], "file");
    assert_eq!(tombstone["encrypted"], false);
    for gone in ["iv", "metadata", "editedAt"] {
        assert!(tombstone.get(gone).is_none(), "{gone}: {tombstone}");
    }
    assert!(tombstone["deletedAt"].is_string(), "{tombstone}");
    assert_eq!(tombstone["deletedBy"], a.id.as_str(), "{tombstone}");
    assert_eq!(sb.next("message_updated").await, tombstone);
    assert_eq!(
        app.get(&b, &file).await.status(),
        404,
        "the file went with it"
    );

    let history = app
        .get_json(&b, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(history["messages"][0], tombstone, "it keeps its place");
    assert_eq!(last_message(&app, &a, &chat).await, tombstone);
    assert_eq!(
        unread(&app, &b, &chat).await,
        0,
        "a deleted message is nothing to read"
    );
    assert_eq!(
        code(&edit(&sa, &m, json!({"content": "back"})).await),
        "conflict"
    );
    // A retry (its ack lost) answers the same tombstone, and announces it again.
    let again = delete(&sa, &m).await;
    assert_eq!(again["message"], tombstone, "{again}");
    assert_eq!(sb.next("message_updated").await, tombstone);
}

async fn group_admins_delete_any_message_and_members_only_their_own(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (admin, b, c) = (User::new(), User::new(), User::new());
    let group = app.group(&admin, "Moderated", &[&b, &c]).await;
    let group = group["id"].as_str().expect("id").to_owned();
    let (sadmin, sb, sc) = (
        app.socket(&admin).await,
        app.socket(&b).await,
        app.socket(&c).await,
    );
    let by_admin = sadmin.send_text(&group, "rules").await;
    let by_b = sb.send_text(&group, "spam").await;
    assert_eq!(code(&delete(&sc, &by_admin).await), "forbidden");
    assert_eq!(code(&delete(&sc, &by_b).await), "forbidden");
    let ack = delete(&sadmin, &by_b).await;
    assert!(ok(&ack), "{ack}");
    assert_eq!(
        ack["message"]["senderId"],
        b.id.as_str(),
        "still b's, deleted"
    );
    assert_eq!(
        ack["message"]["deletedBy"],
        admin.id.as_str(),
        "by the admin"
    );
    let seen = loop {
        let m = sc.next("message_updated").await;
        if m["id"] == by_b["id"] {
            break m;
        }
    };
    assert!(seen["deletedAt"].is_string());
    // An admin edits nobody else's message.
    let edited = edit(&sadmin, &by_admin, json!({"content": "rules v2"})).await;
    assert!(ok(&edited));
    let also_by_b = sb.send_text(&group, "hello").await;
    let refused = edit(&sadmin, &also_by_b, json!({"content": "x"})).await;
    assert_eq!(code(&refused), "forbidden");

    // In a direct chat nobody is an admin: each deletes their own only.
    let direct = app.direct_chat(&b, &c).await;
    let by_c = sc.send_text(&direct, "hi").await;
    assert_eq!(code(&delete(&sb, &by_c).await), "forbidden");
    assert!(ok(&delete(&sc, &by_c).await));
}

/// Every page of one `sync_changes`: the messages in answer order, and the first page's `until`.
async fn changes(s: &TestSocket, since: &Value, limit: u32) -> (Vec<Value>, Value) {
    let mut resume = Value::Null;
    let (mut got, mut until) = (Vec::new(), Value::Null);
    for _ in 0..20 {
        let page = s
            .ack(
                "sync_changes",
                json!({"since": since, "resume": resume, "limit": limit}),
            )
            .await;
        assert!(ok(&page), "{page}");
        assert!(page["messages"].as_array().expect("messages").len() <= limit as usize);
        if until.is_null() {
            until = page["until"].clone();
        }
        got.extend(
            page["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .cloned(),
        );
        if page["hasMore"] != json!(true) {
            assert!(page.get("resume").is_none(), "{page}");
            return (got, until);
        }
        resume = page["resume"].clone();
    }
    panic!("sync_changes never finished");
}

async fn an_offline_member_learns_of_edits_and_deletions_through_sync_changes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, outsider) = (User::new(), User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let elsewhere = app.direct_chat(&a, &outsider).await;
    let sa = app.socket(&a).await;
    let sent: Vec<Value> = {
        let mut sent = Vec::new();
        for i in 0..4 {
            sent.push(sa.send_text(&chat, &format!("m{i}")).await);
        }
        sent
    };
    let not_bs = sa.send_text(&elsewhere, "private").await;

    // b starts from an answer without `since`: no messages, only where to start.
    let sb = app.socket(&b).await;
    let start = sb.ack("sync_changes", json!({})).await;
    assert!(ok(&start), "{start}");
    assert_eq!(start["messages"], json!([]));
    assert_eq!(start["hasMore"], false);
    let since = start["until"].clone();
    assert!(since.is_string(), "{start}");
    sb.disconnect().await;

    // While b is away: two edits (one message twice), a deletion, a change b may not see.
    for (m, text) in [
        (&sent[2], "m2 edited"),
        (&sent[0], "m0 edited"),
        (&sent[2], "m2 again"),
    ] {
        let ack = edit(&sa, m, json!({"content": text})).await;
        assert!(ok(&ack), "{ack}");
    }
    assert!(ok(&delete(&sa, &sent[1]).await));
    assert!(ok(
        &edit(&sa, &not_bs, json!({"content": "still private"})).await
    ));

    let sb = app.socket(&b).await;
    for limit in [500, 1] {
        let (got, until) = changes(&sb, &since, limit).await;
        let summary: Vec<(Value, Value)> = got
            .iter()
            .map(|m| (m["id"].clone(), m["content"].clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (sent[0]["id"].clone(), json!("m0 edited")),
                (sent[2]["id"].clone(), json!("m2 again")),
                (sent[1]["id"].clone(), json!("")),
            ],
            "each changed message once, as it is now, oldest change first (limit {limit})"
        );
        assert!(got[2]["deletedAt"].is_string());
        assert!(until.as_str() >= since.as_str(), "{until} after {since}");
    }
    let bad = sb
        .ack(
            "sync_changes",
            json!({"resume": {"at": since, "messageId": sent[0]["id"]}}),
        )
        .await;
    assert_eq!(
        code(&bad),
        "validation_failed",
        "a resumed page needs its since: {bad}"
    );
    let bad = sb
        .ack("sync_changes", json!({"since": since, "limit": 0}))
        .await;
    assert_eq!(code(&bad), "validation_failed", "{bad}");
}
