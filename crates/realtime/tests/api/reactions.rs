//! Reactions end to end: added and taken back by any member, sent to every member's sockets as
//! the message is now, shown by history and the chat list, bounded in kinds, refused on a deleted
//! message, and learnt by a member who was away through `sync_changes`.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestSocket, User, code, ok, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    reactions_reach_every_member_grouped_by_emoji_and_any_member_may_react,
    reactions_are_validated_bounded_and_gone_with_a_deletion,
    a_member_away_learns_of_reactions_through_sync_changes,
);

async fn react(s: &TestSocket, m: &Value, emoji: &str, add: bool) -> Value {
    s.ack(
        "react_message",
        json!({"chatId": m["chatId"], "messageId": m["id"], "emoji": emoji, "add": add}),
    )
    .await
}

/// The message a successful reaction's ack answers.
async fn reacted(s: &TestSocket, m: &Value, emoji: &str, add: bool) -> Value {
    let ack = react(s, m, emoji, add).await;
    assert!(ok(&ack), "{ack}");
    ack["message"].clone()
}

async fn reactions_reach_every_member_grouped_by_emoji_and_any_member_may_react(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sa2, sb) = (
        app.socket(&a).await,
        app.socket(&a.other_device()).await,
        app.socket(&b).await,
    );
    let m = sa.send_text(&chat, "lunch?").await;
    sb.next("new_message").await;

    let first = reacted(&sb, &m, "👍", true).await;
    assert_eq!(
        first["reactions"],
        json!([{"emoji": "👍", "users": [b.id]}])
    );
    assert_eq!(first["revision"], 1);
    assert!(first["updatedAt"].is_string(), "{first}");
    assert!(first.get("editedAt").is_none(), "not an edit: {first}");
    assert_eq!((&first["content"], &first["id"]), (&m["content"], &m["id"]));
    for s in [&sa, &sa2] {
        assert_eq!(
            &s.next("message_updated").await,
            &first,
            "every member's sockets"
        );
    }

    // The sender reacts too, to their own message; a repeat changes nothing but the revision.
    reacted(&sa, &m, "👍", true).await;
    reacted(&sa, &m, "❤️", true).await;
    let repeat = reacted(&sa, &m, "❤️", true).await;
    let both = json!([
        {"emoji": "👍", "users": [b.id, a.id]},
        {"emoji": "❤️", "users": [a.id]},
    ]);
    assert_eq!(repeat["reactions"], both);
    assert_eq!(repeat["revision"], 4);
    let mut seen = Value::Null;
    for _ in 0..3 {
        seen = sb.next("message_updated").await;
    }
    assert_eq!(seen, repeat, "b's socket saw each of a's reactions");

    let history = app
        .get_json(&b, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(history["messages"][0], repeat);
    let listed = app.get_json(&b, &format!("/api/chats/{chat}")).await;
    assert_eq!(listed["lastMessage"], repeat, "the chat list's copy");

    // Taken back: b's thumb, then a's (so the emoji goes).
    let fewer = reacted(&sb, &m, "👍", false).await;
    assert_eq!(
        fewer["reactions"][0],
        json!({"emoji": "👍", "users": [a.id]})
    );
    let fewer = reacted(&sa, &m, "👍", false).await;
    assert_eq!(
        fewer["reactions"],
        json!([{"emoji": "❤️", "users": [a.id]}])
    );
    assert_eq!(fewer["revision"], 6);
}

async fn reactions_are_validated_bounded_and_gone_with_a_deletion(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, outsider) = (User::new(), User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let m = sa.send_text(&chat, "react to me").await;

    for bad in ["", "x", ":thumbsup:", "👍👍", "👍 ", &"👍".repeat(20)] {
        let ack = react(&sb, &m, bad, true).await;
        assert_eq!(code(&ack), "validation_failed", "{bad:?}: {ack}");
        assert!(ack["error"]["fields"]["emoji"].is_array(), "{ack}");
    }
    let bad_id = sb
        .ack(
            "react_message",
            json!({"chatId": chat, "messageId": "nope", "emoji": "👍", "add": true}),
        )
        .await;
    assert_eq!(code(&bad_id), "validation_failed", "{bad_id}");
    let no_add = sb
        .ack(
            "react_message",
            json!({"chatId": chat, "messageId": m["id"], "emoji": "👍"}),
        )
        .await;
    assert_eq!(code(&no_add), "invalid_json", "{no_add}");
    let intruder = app.socket(&outsider).await;
    assert_eq!(
        code(&react(&intruder, &m, "👍", true).await),
        "not_a_member"
    );
    let unknown = json!({"chatId": chat, "id": "0".repeat(24)});
    assert_eq!(code(&react(&sb, &unknown, "👍", true).await), "not_found");

    // Twenty different emoji (skin tones are different ones), then no new one; more users
    // with one already there are fine.
    let kinds = [
        "👍", "👍🏽", "❤️", "😂", "🎉", "😮", "😢", "🙏", "🔥", "👀", "✅", "🚀", "💯", "🤔", "👏",
        "😍", "🙌", "🥳", "😅", "👋",
    ];
    for emoji in kinds {
        reacted(&sb, &m, emoji, true).await;
    }
    let full = react(&sb, &m, "🍕", true).await;
    assert_eq!(code(&full), "conflict", "{full}");
    let more = reacted(&sa, &m, "🚀", true).await;
    assert_eq!(more["reactions"].as_array().map(Vec::len), Some(20));
    assert_eq!(more["reactions"][11]["users"], json!([b.id, a.id]));

    let tombstone = sa
        .ack(
            "delete_message",
            json!({"chatId": chat, "messageId": m["id"]}),
        )
        .await;
    assert!(ok(&tombstone), "{tombstone}");
    assert!(
        tombstone["message"].get("reactions").is_none(),
        "a tombstone keeps none: {tombstone}"
    );
    assert_eq!(code(&react(&sb, &m, "👍", false).await), "conflict");
}

async fn a_member_away_learns_of_reactions_through_sync_changes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let sa = app.socket(&a).await;
    let (m0, m1) = (
        sa.send_text(&chat, "one").await,
        sa.send_text(&chat, "two").await,
    );
    let sb = app.socket(&b).await;
    let start = sb.ack("sync_changes", json!({})).await;
    let since = start["until"].clone();
    sb.disconnect().await;

    reacted(&sa, &m1, "🎉", true).await;
    let edited = sa
        .ack(
            "edit_message",
            json!({"chatId": chat, "messageId": m0["id"], "content": "one, edited"}),
        )
        .await;
    assert!(ok(&edited), "{edited}");
    let now = reacted(&sa, &m0, "👀", true).await;

    let sb = app.socket(&b).await;
    let page = sb
        .ack("sync_changes", json!({"since": since, "limit": 10}))
        .await;
    assert!(ok(&page), "{page}");
    let got = page["messages"].as_array().expect("messages");
    let summary: Vec<(&Value, &Value, &Value)> = got
        .iter()
        .map(|m| (&m["id"], &m["content"], &m["reactions"]))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                &m1["id"],
                &json!("two"),
                &json!([{"emoji": "🎉", "users": [a.id]}])
            ),
            (
                &m0["id"],
                &json!("one, edited"),
                &json!([{"emoji": "👀", "users": [a.id]}])
            ),
        ],
        "oldest change first, each as it is now"
    );
    assert_eq!(got[1], now);
    assert_eq!(now["revision"], 2, "an edit and a reaction");
}
