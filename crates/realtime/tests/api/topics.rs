//! A group's topic: given at its creation, or set and cleared by its admins
//! (`PATCH /api/chats/{id} {topic}`), with or without a new name, each change counted once in
//! the revision and told to the members alone.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, User, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    admins_set_and_clear_a_groups_topic_and_members_hear_it,
    what_is_not_a_topic_change_is_refused,
    a_group_is_created_with_its_topic,
);

async fn patch(app: &TestApp, user: &User, chat: &str, body: Value) -> (u16, Value) {
    let r = app.patch(user, &format!("/api/chats/{chat}"), body).await;
    (r.status().as_u16(), r.json().await.expect("json"))
}

async fn admins_set_and_clear_a_groups_topic_and_members_hear_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (admin, member) = (User::new(), User::new());
    let group = app.group(&admin, "Book club", &[&member]).await;
    let id = group["id"].as_str().expect("id").to_owned();
    assert!(group.get("topic").is_none(), "none at first: {group}");
    let (sa, sm) = (app.socket(&admin).await, app.socket(&member).await);

    let (status, body) = patch(&app, &admin, &id, json!({"topic": "  Weekly book talk "})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["topic"], &body["revision"]),
        (&json!("Weekly book talk"), &json!(1))
    );
    let heard = json!({"chatId": id, "revision": 1, "topic": "Weekly book talk"});
    assert_eq!(sm.next("chat_changed").await, heard);
    assert_eq!(sa.next("chat_changed").await, heard);
    let read = app.get_json(&member, &format!("/api/chats/{id}")).await;
    assert_eq!(read["topic"], "Weekly book talk");
    let list = app.get_json(&member, "/api/chats").await;
    assert_eq!(list["chats"][0]["topic"], "Weekly book talk");

    // A new name and a new topic at once: one change, told once.
    let (status, body) = patch(
        &app,
        &admin,
        &id,
        json!({"name": "Readers", "topic": "Fiction only"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["name"], &body["topic"], &body["revision"]),
        (&json!("Readers"), &json!("Fiction only"), &json!(2))
    );
    let both = json!({"chatId": id, "revision": 2, "name": "Readers", "topic": "Fiction only"});
    assert_eq!(sm.next("chat_changed").await, both);
    assert_eq!(sa.next("chat_changed").await, both);

    // A new name alone keeps the topic, and says nothing of it.
    let (status, body) = patch(&app, &admin, &id, json!({"name": "The readers"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["topic"], "Fiction only");
    assert_eq!(
        sm.next("chat_changed").await,
        json!({"chatId": id, "revision": 3, "name": "The readers"})
    );

    // Cleared: told as "", and the chat has none.
    let (status, body) = patch(&app, &admin, &id, json!({"topic": null})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("topic").is_none(), "{body}");
    assert_eq!(
        sm.next("chat_changed").await,
        json!({"chatId": id, "revision": 4, "topic": ""})
    );
    let read = app.get_json(&member, &format!("/api/chats/{id}")).await;
    assert!(read.get("topic").is_none(), "{read}");
    assert_eq!(read["name"], "The readers", "the name stays");
}

async fn what_is_not_a_topic_change_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (admin, member) = (User::new(), User::new());
    let group = app.group(&admin, "Book club", &[&member]).await;
    let id = group["id"].as_str().expect("id").to_owned();
    let code = |body: &Value| body["error"]["code"].as_str().unwrap_or("").to_owned();

    let (status, body) = patch(&app, &member, &id, json!({"topic": "Mine"})).await;
    assert_eq!((status, code(&body)), (403, "not_an_admin".to_owned()));
    let (status, body) = patch(&app, &admin, &id, json!({})).await;
    assert_eq!((status, code(&body)), (422, "validation_failed".to_owned()));
    for bad in ["x".repeat(251), "bell\u{7}".to_owned()] {
        let (status, body) = patch(&app, &admin, &id, json!({"topic": bad})).await;
        assert_eq!((status, code(&body)), (422, "validation_failed".to_owned()));
        assert!(body["error"]["fields"]["topic"].is_array(), "{body}");
    }
    let (status, body) = patch(&app, &admin, &id, json!({"topic": "é".repeat(250)})).await;
    assert_eq!(status, 200, "250 characters, not bytes: {body}");
    let direct = app.direct_chat(&admin, &member).await;
    let (status, body) = patch(&app, &admin, &direct, json!({"topic": "Us"})).await;
    assert_eq!(
        (status, code(&body)),
        (403, "forbidden".to_owned()),
        "{body}"
    );
    let read = app.get_json(&admin, &format!("/api/chats/{id}")).await;
    assert_eq!(
        read["revision"], 1,
        "only the valid change was made: {read}"
    );
}

async fn a_group_is_created_with_its_topic(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (admin, member) = (User::new(), User::new());
    let sm = app.socket(&member).await;
    let create = |topic: Value| json!({"type": "group", "name": "Walkers", "memberIds": [member.id], "topic": topic});
    let r = app
        .post(&admin, "/api/chats", create(json!("  Walks on Sundays ")))
        .await;
    assert_eq!(r.status(), 201);
    let chat: Value = r.json().await.expect("json");
    assert_eq!(
        (&chat["topic"], &chat["revision"]),
        (&json!("Walks on Sundays"), &json!(0))
    );
    let gained = sm.next("chat_updated").await;
    assert_eq!(gained["chat"]["topic"], "Walks on Sundays", "{gained}");
    let id = chat["id"].as_str().expect("id");
    let read = app.get_json(&member, &format!("/api/chats/{id}")).await;
    assert_eq!(read["topic"], "Walks on Sundays");

    // Blank or null: none.
    for none in [json!("   "), Value::Null] {
        let r = app.post(&admin, "/api/chats", create(none)).await;
        assert_eq!(r.status(), 201);
        let chat: Value = r.json().await.expect("json");
        assert!(chat.get("topic").is_none(), "{chat}");
    }

    // Too long, or not printable: refused, and no group made.
    let before = app.get_json(&admin, "/api/chats").await["chats"]
        .as_array()
        .expect("chats")
        .len();
    for bad in [json!("x".repeat(251)), json!("bell\u{7}"), json!(7)] {
        let r = app.post(&admin, "/api/chats", create(bad.clone())).await;
        let status = r.status().as_u16();
        let body: Value = r.json().await.expect("json");
        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
        if bad.is_number() {
            assert_eq!((status, code.as_str()), (400, "invalid_json"), "{body}");
        } else {
            assert_eq!(
                (status, code.as_str()),
                (422, "validation_failed"),
                "{body}"
            );
            assert!(body["error"]["fields"]["topic"].is_array(), "{body}");
        }
    }
    let after = app.get_json(&admin, "/api/chats").await["chats"]
        .as_array()
        .expect("chats")
        .len();
    assert_eq!(before, after, "nothing created");
}
