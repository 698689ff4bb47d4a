//! A group's topic (`PATCH /api/chats/{id} {topic}`): set and cleared by its admins, with or
//! without a new name, each change counted in the revision and told to the members alone.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, User, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    admins_set_and_clear_a_groups_topic_and_members_hear_it,
    what_is_not_a_topic_change_is_refused,
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

    // A new name and a new topic at once: two changes, told in order.
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
        (&json!("Readers"), &json!("Fiction only"), &json!(3))
    );
    assert_eq!(
        sm.next("chat_changed").await,
        json!({"chatId": id, "revision": 2, "name": "Readers"})
    );
    assert_eq!(
        sm.next("chat_changed").await,
        json!({"chatId": id, "revision": 3, "topic": "Fiction only"})
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
    assert_eq!(read["name"], "Readers", "the name stays");
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
