//! A group's admins: an admin makes members admins or not (`PUT` / `DELETE
//! /api/chats/{id}/admins/{userId}`), members hear it, and a group keeps an admin.

use std::time::Duration;

use common::contracts::chat::MAX_GROUP_ADMINS;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, User, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    an_admin_makes_a_member_admin_and_members_hear_it,
    the_last_admin_cannot_step_down,
    a_group_has_at_most_fifty_admins,
    only_admins_of_a_group_name_admins,
);

async fn status_and_body(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

fn admin_path(chat: &str, user: &User) -> String {
    format!("/api/chats/{chat}/admins/{}", user.id)
}

async fn make_admin(app: &TestApp, by: &User, chat: &str, user: &User) -> (u16, Value) {
    status_and_body(app.put(by, &admin_path(chat, user)).await).await
}

async fn remove_admin(app: &TestApp, by: &User, chat: &str, user: &User) -> (u16, Value) {
    status_and_body(app.delete(by, &admin_path(chat, user)).await).await
}

async fn an_admin_makes_a_member_admin_and_members_hear_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (erin, frank, gina) = (User::new(), User::new(), User::new());
    let group = app.group(&erin, "Book club", &[&frank, &gina]).await;
    let chat = group["id"].as_str().expect("id").to_owned();
    let revision = group["revision"].as_u64().expect("revision");
    let (sf, sg) = (app.socket(&frank).await, app.socket(&gina).await);

    let (status, body) = make_admin(&app, &erin, &chat, &frank).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["admins"], json!([erin.id, frank.id]));
    let heard = json!({"chatId": chat, "revision": revision + 1, "admins": [erin.id, frank.id]});
    assert_eq!(sf.next("chat_changed").await, heard);
    assert_eq!(sg.next("chat_changed").await, heard);

    // Already an admin: the chat as it is, and nobody told.
    let (status, body) = make_admin(&app, &erin, &chat, &frank).await;
    assert_eq!((status, &body["revision"]), (200, &json!(revision + 1)));
    assert_eq!(
        sg.try_next("chat_changed", Duration::from_millis(300))
            .await,
        None
    );

    // Now an admin, Frank may do what admins do, and make Erin a member only.
    let renamed = app
        .patch(
            &frank,
            &format!("/api/chats/{chat}"),
            json!({"name": "Frank's club"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let (status, body) = remove_admin(&app, &frank, &chat, &erin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["admins"], json!([frank.id]));
    let renamed = app
        .patch(
            &erin,
            &format!("/api/chats/{chat}"),
            json!({"name": "Erin's club"}),
        )
        .await;
    let (status, body) = status_and_body(renamed).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("not_an_admin"))
    );
    let stored = app.get_json(&gina, &format!("/api/chats/{chat}")).await;
    assert_eq!(stored["admins"], json!([frank.id]));
}

async fn the_last_admin_cannot_step_down(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (erin, frank) = (User::new(), User::new());
    let group = app.group(&erin, "Alone at the top", &[&frank]).await;
    let chat = group["id"].as_str().expect("id").to_owned();
    let (status, body) = remove_admin(&app, &erin, &chat, &erin).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("conflict")),
        "{body}"
    );
    // With another admin, she may.
    assert_eq!(make_admin(&app, &erin, &chat, &frank).await.0, 200);
    let (status, body) = remove_admin(&app, &erin, &chat, &erin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["admins"], json!([frank.id]));
    // A member only now, she may not ask again; an admin asking gets the chat unchanged.
    let (status, body) = remove_admin(&app, &erin, &chat, &erin).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("not_an_admin"))
    );
    let (status, body) = remove_admin(&app, &frank, &chat, &erin).await;
    assert_eq!(
        (status, &body["admins"]),
        (200, &json!([frank.id])),
        "{body}"
    );
}

async fn only_admins_of_a_group_name_admins(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (erin, frank, gina, stranger) = (User::new(), User::new(), User::new(), User::new());
    let group = app.group(&erin, "Rules", &[&frank, &gina]).await;
    let chat = group["id"].as_str().expect("id").to_owned();
    let code = |(status, body): (u16, Value)| (status, body["error"]["code"].clone());

    let by_member = make_admin(&app, &frank, &chat, &gina).await;
    assert_eq!(code(by_member), (403, json!("not_an_admin")));
    let by_stranger = make_admin(&app, &stranger, &chat, &stranger).await;
    assert_eq!(code(by_stranger), (403, json!("not_a_member")));
    let of_stranger = make_admin(&app, &erin, &chat, &stranger).await;
    assert_eq!(code(of_stranger), (404, json!("not_found")));
    let not_a_uuid = status_and_body(
        app.put(&erin, &format!("/api/chats/{chat}/admins/nope"))
            .await,
    )
    .await;
    assert_eq!(code(not_a_uuid), (422, json!("validation_failed")));
    let direct = app.direct_chat(&erin, &frank).await;
    let in_direct = make_admin(&app, &erin, &direct, &frank).await;
    assert_eq!(code(in_direct), (403, json!("forbidden")));
    let stored = app.get_json(&gina, &format!("/api/chats/{chat}")).await;
    assert_eq!(stored["admins"], json!([erin.id]), "nothing changed");
}

async fn a_group_has_at_most_fifty_admins(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let erin = User::new();
    let members: Vec<User> = (0..MAX_GROUP_ADMINS).map(|_| User::new()).collect();
    let group = app
        .group(&erin, "Many hands", &members.iter().collect::<Vec<_>>())
        .await;
    let chat = group["id"].as_str().expect("id").to_owned();
    for m in &members[..MAX_GROUP_ADMINS - 1] {
        let (status, body) = make_admin(&app, &erin, &chat, m).await;
        assert_eq!(status, 200, "{body}");
    }
    let last = &members[MAX_GROUP_ADMINS - 1];
    let (status, body) = make_admin(&app, &erin, &chat, last).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("conflict")),
        "{body}"
    );
    let stored = app.get_json(&erin, &format!("/api/chats/{chat}")).await;
    assert_eq!(
        stored["admins"].as_array().map(Vec::len),
        Some(MAX_GROUP_ADMINS)
    );
    // One stepping down makes room.
    assert_eq!(remove_admin(&app, &erin, &chat, &members[0]).await.0, 200);
    assert_eq!(make_admin(&app, &erin, &chat, last).await.0, 200);
}
