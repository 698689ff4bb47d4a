//! An account deleted in auth-api leaves every group it was in, once, whoever hears of it; its
//! contacts are told; its direct chats stay, closed: readable, but they take no new messages, and
//! nobody starts a chat with it or adds it to one again. Work whose announcement was missed is
//! found by the sweep, and work cut short tells every contact all the same.

use std::time::Duration;

use common::contracts::auth::{DELETED_USERS_PENDING_KEY, USER_DELETED_CHANNEL};
use serde_json::{Value, json};

use crate::helpers::{Backend, Setup, TestApp, User, cmid, code, ok, spawn_app, spawn_with};
use crate::on_both_backends;

on_both_backends!(
    a_deleted_account_leaves_its_groups_and_its_contacts_are_told,
    a_deletion_whose_announcement_was_missed_is_found_by_the_sweep,
    a_deleted_accounts_direct_chats_are_closed_and_it_is_added_nowhere,
);

/// The embedded store only: its database takes a trigger that fails every chat write after the
/// first, so the work stops half-way (MongoDB has no such hook).
#[tokio::test]
async fn work_cut_short_after_leaving_a_group_still_tells_that_groups_members() {
    let setup = Setup::new(Backend::Embedded);
    let database = std::env::temp_dir().join(&setup.name).join("realtime.db");
    let app = spawn_with(setup).await.expect("the embedded app");
    let (gone, a, b) = (User::new(), User::new(), User::new());
    // Neither group is `gone`'s, so leaving one writes that chat once (no admin to replace).
    let groups = [
        app.group(&a, "with a", &[&gone]).await,
        app.group(&b, "with b", &[&gone]).await,
    ]
    .map(|g| g["id"].as_str().expect("an id").to_owned());
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);

    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", database.display()))
        .await
        .expect("the embedded database");
    for statement in [
        "CREATE TABLE chat_writes (n INTEGER)",
        "CREATE TRIGGER count_chat_writes AFTER UPDATE ON chats BEGIN
           INSERT INTO chat_writes VALUES (1); END",
        "CREATE TRIGGER fail_later_chat_writes BEFORE UPDATE ON chats
           WHEN (SELECT count(*) FROM chat_writes) > 0
           BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    ] {
        sqlx::query(statement).execute(&db).await.expect(statement);
    }
    record(&app, &gone).await;
    app.kv
        .publish(USER_DELETED_CHANNEL, &gone.id)
        .await
        .expect("publish");

    // One group left, the other not: the work stopped half-way and is still pending.
    let removed = |e: &Value| e["removed"] == json!([gone.id]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let first_left = loop {
        assert!(tokio::time::Instant::now() < deadline, "no group left");
        let short = Duration::from_millis(50);
        if let Some(e) = sa.try_next("chat_changed", short).await {
            break (0, e);
        }
        if let Some(e) = sb.try_next("chat_changed", short).await {
            break (1, e);
        }
    };
    assert!(removed(&first_left.1), "{first_left:?}");
    assert_eq!(first_left.1["chatId"], groups[first_left.0].as_str());
    let (other, other_socket) = match first_left.0 {
        0 => (&groups[1], &sb),
        _ => (&groups[0], &sa),
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        pending(&app).await,
        vec![gone.id.clone()],
        "kept for a later try"
    );
    let owner = if first_left.0 == 0 { &b } else { &a };
    assert!(
        ids(&chat(&app, owner, other).await["participants"]).contains(&gone.id),
        "the other group not left"
    );

    // The store mended, the next try finishes.
    for statement in [
        "DROP TRIGGER fail_later_chat_writes",
        "DROP TRIGGER count_chat_writes",
    ] {
        sqlx::query(statement).execute(&db).await.expect(statement);
    }
    let heard = app
        .publish_until_heard(USER_DELETED_CHANNEL, &gone.id, other_socket, "chat_changed")
        .await
        .expect("the other group left");
    assert!(removed(&heard), "{heard:?}");
    assert_eq!(heard["chatId"], other.as_str());

    // Both groups' members were told, the one whose group was left before the failure too.
    let told = json!({"userId": gone.id});
    assert_eq!(sa.next("user_deleted").await, told, "a, of the first group");
    assert_eq!(
        sb.next("user_deleted").await,
        told,
        "b, of the second group"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !pending(&app).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the work is done");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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

async fn a_deleted_accounts_direct_chats_are_closed_and_it_is_added_nowhere(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (gone, c, d) = (User::new(), User::new(), User::new());
    let direct = app.direct_chat(&c, &gone).await;
    let group = app.group(&d, "group", &[&c]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sc = app.socket(&c).await;
    let send = |content: &'static str| json!({"chatId": direct, "clientMsgId": cmid(), "content": content, "encrypted": false});
    let before = sc.ack("send_message", send("before")).await;
    assert!(ok(&before), "{before}");
    record(&app, &gone).await;
    app.publish_until_heard(USER_DELETED_CHANNEL, &gone.id, &sc, "user_deleted")
        .await
        .expect("c is told");

    let closed = sc.next("chat_changed").await;
    assert_eq!(closed["chatId"], json!(direct), "{closed}");
    assert_eq!(closed["closed"], json!(true), "{closed}");
    let now = chat(&app, &c, &direct).await;
    assert_eq!(now["closed"], json!(true), "{now}");
    assert_eq!(now["revision"], closed["revision"]);
    assert_eq!(now["lastMessage"]["content"], "before", "its history stays");
    assert_eq!(now["participants"].as_array().map(Vec::len), Some(2));
    let listed = app.get_json(&c, "/api/chats").await;
    let listed = listed["chats"].as_array().expect("chats");
    let listed = listed
        .iter()
        .find(|l| l["id"] == json!(direct))
        .expect("listed");
    assert_eq!(listed["closed"], json!(true));

    let refused = sc.ack("send_message", send("after")).await;
    assert_eq!(code(&refused), "account_deleted", "{refused}");
    let upload = app.upload(&c, &direct, vec![1_u8; 16]).await;
    assert_eq!(upload.status(), 410, "no file either");
    let history = app
        .get_json(&c, &format!("/api/chats/{direct}/messages"))
        .await;
    assert_eq!(
        history["messages"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );

    // Asking for the chat again gives it as it is; nobody starts a new one or adds them.
    let again = app
        .post(
            &c,
            "/api/chats",
            json!({"type": "direct", "userId": gone.id}),
        )
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["closed"], json!(true));
    let refusal = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let body: Value = r.json().await.expect("json");
        (
            status,
            body["error"]["code"].as_str().unwrap_or("").to_owned(),
        )
    };
    let gone_code = (410, "account_deleted".to_owned());
    let new_direct = app
        .post(
            &d,
            "/api/chats",
            json!({"type": "direct", "userId": gone.id}),
        )
        .await;
    assert_eq!(refusal(new_direct).await, gone_code, "a new direct chat");
    let new_group = app
        .post(
            &d,
            "/api/chats",
            json!({"type": "group", "name": "g", "memberIds": [c.id, gone.id]}),
        )
        .await;
    assert_eq!(refusal(new_group).await, gone_code, "a new group");
    let added = app.add_members(&d, &group, &[&gone]).await;
    assert_eq!(refusal(added).await, gone_code, "an existing group");
    assert_eq!(
        chat(&app, &d, &group).await["memberCount"],
        json!(2),
        "nobody was added"
    );
}
