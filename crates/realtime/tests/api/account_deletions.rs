//! An account deleted in auth-api leaves every group it was in, once, whoever hears of it; its
//! contacts are told; its direct chats stay. Work whose announcement was missed is found by the
//! sweep.

use std::time::Duration;

use common::contracts::auth::{DELETED_USERS_PENDING_KEY, USER_DELETED_CHANNEL};
use serde_json::{Value, json};

use crate::helpers::{Backend, Setup, TestApp, User, spawn_app, spawn_with};
use crate::on_both_backends;

on_both_backends!(
    a_deleted_account_leaves_its_groups_and_its_contacts_are_told,
    a_deletion_whose_announcement_was_missed_is_found_by_the_sweep,
);

/// What auth-api does when an account is deleted: the work recorded, then announced.
async fn record(app: &TestApp, user: &User) {
    app.kv
        .hash_incr(DELETED_USERS_PENDING_KEY, &user.id, 1_800_000_000_000)
        .await
        .expect("kv");
}

async fn pending(app: &TestApp) -> Vec<String> {
    let all = app.kv.hash_all(DELETED_USERS_PENDING_KEY).await.unwrap();
    all.into_iter().map(|(user, _)| user).collect()
}

async fn chat(app: &TestApp, user: &User, id: &str) -> Value {
    app.get_json(user, &format!("/api/chats/{id}")).await
}

fn ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v
        .as_array()
        .expect("an array")
        .iter()
        .map(|m| m.as_str().expect("an id").to_owned())
        .collect();
    ids.sort();
    ids
}

async fn a_deleted_account_leaves_its_groups_and_its_contacts_are_told(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (gone, b, c, stranger) = (User::new(), User::new(), User::new(), User::new());
    // `gone` made the first group, so is its only admin; b made the second.
    let first = app.group(&gone, "first", &[&b, &c]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = app.group(&b, "second", &[&gone]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let direct = app.direct_chat(&gone, &c).await;
    let (sb, sc, ss) = (
        app.socket(&b).await,
        app.socket(&c).await,
        app.socket(&stranger).await,
    );
    record(&app, &gone).await;

    let heard = app
        .publish_until_heard(USER_DELETED_CHANNEL, &gone.id, &sc, "user_deleted")
        .await;
    let told = json!({"userId": gone.id});
    assert_eq!(
        heard.as_ref(),
        Some(&told),
        "a contact by a direct chat is told"
    );
    assert_eq!(
        sb.next("user_deleted").await,
        told,
        "a contact by a group too"
    );
    assert!(
        ss.try_next("user_deleted", Duration::from_millis(300))
            .await
            .is_none(),
        "someone sharing no chat with them is not"
    );

    let mut b_heard = Vec::new();
    while let Some(change) = sb
        .try_next("chat_changed", Duration::from_millis(1500))
        .await
    {
        b_heard.push(change);
    }
    let removed_from = |chat: &str| {
        b_heard
            .iter()
            .filter(|e| e["chatId"] == chat && e["removed"] == json!([gone.id]))
            .count()
    };
    assert_eq!(
        removed_from(&first),
        1,
        "told once, whatever was published: {b_heard:?}"
    );
    assert_eq!(removed_from(&second), 1, "{b_heard:?}");
    assert!(
        b_heard
            .iter()
            .any(|e| e["chatId"] == first && e["admins"] == json!([b.id])),
        "the longest-standing member is the first group's admin now: {b_heard:?}"
    );

    let now = chat(&app, &b, &first).await;
    assert_eq!(ids(&now["participants"]), {
        let mut v = vec![b.id.clone(), c.id.clone()];
        v.sort();
        v
    });
    assert_eq!(now["admins"], json!([b.id]));
    assert_eq!(
        chat(&app, &b, &second).await["participants"],
        json!([b.id]),
        "out of the group someone else made too"
    );
    assert_eq!(
        ids(&chat(&app, &c, &direct).await["participants"]),
        {
            let mut v = vec![gone.id.clone(), c.id.clone()];
            v.sort();
            v
        },
        "the direct chat stays, with its history"
    );
    assert!(pending(&app).await.is_empty(), "the work is done");
}

async fn a_deletion_whose_announcement_was_missed_is_found_by_the_sweep(backend: Backend) {
    let Some(app) = spawn_with(Setup {
        tweak: Box::new(|c| c.limits.deleted_users_sweep = Duration::from_millis(300)),
        ..Setup::new(backend)
    })
    .await
    else {
        return;
    };
    let (gone, b) = (User::new(), User::new());
    let group = app.group(&b, "group", &[&gone]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sb = app.socket(&b).await;
    // Recorded, never announced (auth-api's publish lost); and a field that is no user's.
    record(&app, &gone).await;
    app.kv
        .hash_incr(DELETED_USERS_PENDING_KEY, "not-a-user", 1)
        .await
        .unwrap();

    let removed = sb.next("chat_changed").await;
    assert_eq!(removed["chatId"], group.as_str());
    assert_eq!(removed["removed"], json!([gone.id]));
    assert_eq!(sb.next("user_deleted").await, json!({"userId": gone.id}));
    assert_eq!(chat(&app, &b, &group).await["participants"], json!([b.id]));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !pending(&app).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pending work is cleared: {:?}",
            pending(&app).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
