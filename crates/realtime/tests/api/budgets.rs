//! What one user may do to chats over REST in a while (`domain::budgets`): so many changes a
//! minute, so many wrong passcodes an hour; past either, `429 rate_limited` with `Retry-After`,
//! and nothing done. Counted in the `Kv`, so shared by every instance (see multi_instance.rs).

use serde_json::{Value, json};

use crate::helpers::{Backend, Setup, TestApp, User, code, spawn_with};
use crate::on_both_backends;

on_both_backends!(
    changes_past_the_minutes_budget_are_refused_and_not_made,
    wrong_passcodes_past_the_hours_budget_refuse_joins,
);

async fn status_and_body(r: reqwest::Response) -> (u16, Option<u64>, Value) {
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

async fn chats_of(app: &TestApp, user: &User) -> usize {
    app.get_json(user, "/api/chats").await["chats"]
        .as_array()
        .map_or(0, Vec::len)
}

async fn changes_past_the_minutes_budget_are_refused_and_not_made(backend: Backend) {
    let Some(app) = spawn_with(Setup {
        tweak: Box::new(|c| c.limits.chat_changes_per_minute = 4),
        ..Setup::new(backend)
    })
    .await
    else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let group = |name: &str| json!({"type": "group", "name": name, "memberIds": [b.id]});
    // Four changes of four kinds: a group made, renamed, muted, and its picture removed.
    let made = app.post(&a, "/api/chats", group("first")).await;
    assert_eq!(made.status(), 201);
    let id = made.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let chat = format!("/api/chats/{id}");
    let renamed = app.patch(&a, &chat, json!({"name": "renamed"})).await;
    assert_eq!(renamed.status(), 200);
    assert_eq!(app.put(&a, &format!("{chat}/mute")).await.status(), 204);
    assert_eq!(
        app.delete(&a, &format!("{chat}/picture")).await.status(),
        200
    );
    // Reads are not changes.
    for _ in 0..5 {
        app.get_json(&a, &chat).await;
    }

    let (status, retry, body) =
        status_and_body(app.post(&a, "/api/chats", group("second")).await).await;
    assert_eq!((status, code(&body)), (429, "rate_limited"), "{body}");
    assert!(
        retry.is_some_and(|s| (1..=60).contains(&s)),
        "Retry-After within the minute: {retry:?}"
    );
    assert_eq!(chats_of(&app, &a).await, 1, "the second group was not made");
    let (status, _, body) =
        status_and_body(app.patch(&a, &chat, json!({"name": "again"})).await).await;
    assert_eq!((status, code(&body)), (429, "rate_limited"), "{body}");
    assert_eq!(
        app.get_json(&a, &chat).await["name"],
        "renamed",
        "not renamed"
    );

    // Each user has their own budget.
    let theirs = app
        .post(&b, "/api/chats", json!({"type": "direct", "userId": a.id}))
        .await;
    assert_eq!(theirs.status(), 201);
}

async fn wrong_passcodes_past_the_hours_budget_refuse_joins(backend: Backend) {
    let Some(app) = spawn_with(Setup {
        tweak: Box::new(|c| c.limits.join_failures_per_hour = 2),
        ..Setup::new(backend)
    })
    .await
    else {
        return;
    };
    let (admin, guesser, friend) = (User::new(), User::new(), User::new());
    let made = app
        .post(
            &admin,
            "/api/chats",
            json!({"type": "group", "name": "Quick", "memberIds": [], "passcode": "open sesame"}),
        )
        .await;
    assert_eq!(made.status(), 201);
    let id = made.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let join = |passcode: &str| json!({"passcode": passcode});
    let path = format!("/api/chats/{id}/join");

    for guess in ["1234", "abcd"] {
        let (status, _, body) = status_and_body(app.post(&guesser, &path, join(guess)).await).await;
        assert_eq!((status, code(&body)), (403, "invalid_passcode"), "{body}");
    }
    // The budget spent, even the right passcode is refused, before it is checked.
    let (status, retry, body) =
        status_and_body(app.post(&guesser, &path, join("open sesame")).await).await;
    assert_eq!((status, code(&body)), (429, "rate_limited"), "{body}");
    assert!(
        retry.is_some_and(|s| (1..=3600).contains(&s)),
        "Retry-After within the hour: {retry:?}"
    );
    let read = app.get(&guesser, &format!("/api/chats/{id}")).await;
    assert_eq!(read.status(), 403, "not a member");

    // Another user's right passcode is taken; right passcodes spend nothing.
    for _ in 0..3 {
        let (status, _, body) =
            status_and_body(app.post(&friend, &path, join("open sesame")).await).await;
        assert_eq!(status, 200, "{body}");
    }
}
