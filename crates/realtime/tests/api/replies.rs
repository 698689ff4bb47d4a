//! Replies end to end: a message names the message it answers (`replyTo`), one of its own chat,
//! and carries it wherever it goes (the ack, every member's sockets, history, `sync`), through
//! an edit and a resend; a tombstone loses it.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestSocket, User, cmid, code, ok, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    a_reply_names_a_message_of_its_chat_and_goes_everywhere_its_message_goes,
    a_reply_to_another_chats_or_no_message_is_refused,
);

fn reply(chat: &str, text: &str, to: &Value) -> Value {
    json!({
        "chatId": chat, "clientMsgId": cmid(), "content": text, "encrypted": false,
        "replyTo": to,
    })
}

async fn sent(s: &TestSocket, payload: Value) -> Value {
    let ack = s.ack("send_message", payload).await;
    assert!(ok(&ack), "{ack}");
    ack["message"].clone()
}

async fn a_reply_names_a_message_of_its_chat_and_goes_everywhere_its_message_goes(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let question = sent(
        &sa,
        json!({"chatId": chat, "clientMsgId": cmid(), "content": "lunch?", "encrypted": false}),
    )
    .await;
    sb.next("new_message").await;

    // Named in upper case, stored as every id is.
    let id = question["id"].as_str().expect("id");
    let payload = reply(&chat, "yes", &json!(id.to_uppercase()));
    let answer = sent(&sb, payload.clone()).await;
    assert_eq!(answer["replyTo"], id, "{answer}");
    assert_eq!(
        sa.next("new_message").await,
        answer,
        "the other member's sockets"
    );
    let resent = sent(&sb, payload).await;
    assert_eq!(resent, answer, "a resend answers the original");

    let history = app
        .get_json(&a, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(history["messages"][0], answer);
    let synced = sa
        .ack("sync", json!({"cursors": {&chat: question["id"]}}))
        .await;
    assert!(ok(&synced), "{synced}");
    let found = synced["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["id"] == answer["id"])
        .cloned();
    assert_eq!(found, Some(answer.clone()), "sync carries it");
    assert!(
        question.get("replyTo").is_none(),
        "a message that answers nothing has none: {question}"
    );

    // An edit keeps it; a deletion takes it with the rest.
    let edited = sb
        .ack(
            "edit_message",
            json!({"chatId": chat, "messageId": answer["id"], "content": "yes!"}),
        )
        .await;
    assert_eq!(edited["message"]["replyTo"], id, "{edited}");
    let deleted = sb
        .ack(
            "delete_message",
            json!({"chatId": chat, "messageId": answer["id"]}),
        )
        .await;
    assert!(ok(&deleted), "{deleted}");
    assert!(deleted["message"].get("replyTo").is_none(), "{deleted}");

    // The message answered may be deleted, before or after.
    let tombstone = sa
        .ack(
            "delete_message",
            json!({"chatId": chat, "messageId": question["id"]}),
        )
        .await;
    assert!(ok(&tombstone), "{tombstone}");
    let late = sent(&sb, reply(&chat, "too late?", &question["id"])).await;
    assert_eq!(late["replyTo"], id);
}

async fn a_reply_to_another_chats_or_no_message_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, c) = (User::new(), User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let elsewhere = app.direct_chat(&a, &c).await;
    let sa = app.socket(&a).await;
    let private = sent(
        &sa,
        json!({"chatId": elsewhere, "clientMsgId": cmid(), "content": "between a and c", "encrypted": false}),
    )
    .await;
    for to in [private["id"].clone(), json!("0".repeat(24)), json!("nope")] {
        let ack = sa.ack("send_message", reply(&chat, "hm", &to)).await;
        assert_eq!(code(&ack), "validation_failed", "{to}: {ack}");
        assert!(ack["error"]["fields"]["replyTo"].is_array(), "{ack}");
    }
    let history = app
        .get_json(&b, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(history["messages"], json!([]), "nothing was stored");
}
