//! Profiles, username search and the public-key directory.

use common::contracts::auth::KEY_CHANGED_CHANNEL;
use futures::StreamExt;
use serde_json::json;

use crate::both;
use crate::helpers::{Backends, spawn_app, spawn_app_with};

both!(
    search_finds_users_by_username_prefix_when_signed_in,
    profiles_are_public_and_unknown_ids_are_404,
    many_profiles_come_in_one_request_when_signed_in,
    a_valid_p256_key_is_stored_and_an_off_curve_key_refused,
    a_key_backup_is_read_back_by_its_owner_only_and_goes_with_its_key,
    many_keys_come_in_one_request_when_signed_in,
    key_publications_are_rate_limited,
);

/// A key backup as a client would wrap it (the server never opens it).
fn sealed_backup() -> serde_json::Value {
    json!({
        "kdf": "PBKDF2-SHA256",
        "iterations": 600_000,
        "salt": "c2FsdHNhbHRzYWx0c2FsdA==",
        "iv": "AAECAwQFBgcICQoL",
        "ciphertext": "c2VhbGVkIHByaXZhdGUga2V5IGFuZCBpdHMgdGFn",
    })
}

async fn search_finds_users_by_username_prefix_when_signed_in(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, me) = app.verified_user("search").await;
    let token = me.body["accessToken"].as_str().unwrap();
    let username = me.body["user"]["username"].as_str().unwrap();
    let prefix = &username[..5];
    let r = app
        .get(&format!("/api/users/search?q={prefix}"), Some(token))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<&str> = r.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(names.contains(&username));
    assert!(
        r.body["users"][0].get("email").is_none(),
        "search never exposes emails"
    );
    assert_eq!(
        app.get(&format!("/api/users/search?q={prefix}"), None)
            .await
            .status,
        401
    );
    let r = app.get("/api/users/search?q=%25", Some(token)).await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
}

async fn profiles_are_public_and_unknown_ids_are_404(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, me) = app.verified_user("profile").await;
    let id = me.body["user"]["id"].as_str().unwrap();
    let r = app.get(&format!("/api/users/{id}"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["username"], me.body["user"]["username"]);
    assert!(r.body.get("email").is_none());
    assert_eq!(
        app.get("/api/users/not-a-uuid", None).await.code(),
        "not_found"
    );
    assert_eq!(
        app.get(&format!("/api/users/{}", uuid::Uuid::new_v4()), None)
            .await
            .status,
        404
    );
}

async fn many_profiles_come_in_one_request_when_signed_in(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, me) = app.verified_user("many").await;
    let (_, other) = app.verified_user("many").await;
    let token = me.body["accessToken"].as_str().unwrap();
    let (mine, theirs) = (&me.body["user"]["id"], &other.body["user"]["id"]);
    let unknown = uuid::Uuid::new_v4();
    let path = format!(
        "/api/users?ids={},{unknown},{},{}",
        theirs.as_str().unwrap(),
        mine.as_str().unwrap(),
        theirs.as_str().unwrap()
    );
    let r = app.get(&path, Some(token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut found: Vec<(&str, &str)> = r.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_str().unwrap(), u["username"].as_str().unwrap()))
        .collect();
    found.sort_unstable();
    let mut expected = vec![
        (
            mine.as_str().unwrap(),
            me.body["user"]["username"].as_str().unwrap(),
        ),
        (
            theirs.as_str().unwrap(),
            other.body["user"]["username"].as_str().unwrap(),
        ),
    ];
    expected.sort_unstable();
    assert_eq!(
        found, expected,
        "each known user once, the unknown one left out"
    );
    assert!(r.body["users"][0].get("email").is_none());

    assert_eq!(app.get(&path, None).await.status, 401);
    let hundred_and_one: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for bad in ["/api/users", "/api/users?ids=", "/api/users?ids=not-a-uuid"] {
        let r = app.get(bad, Some(token)).await;
        assert_eq!((r.status, r.code()), (422, "validation_failed"), "{bad}");
    }
    let r = app
        .get(
            &format!("/api/users?ids={}", hundred_and_one.join(",")),
            Some(token),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"), "101 ids");
    let hundred = &hundred_and_one[..100];
    let r = app
        .get(
            &format!("/api/users?ids={}", hundred.join(",")),
            Some(token),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["users"]),
        (200, &serde_json::json!([])),
        "100 ids"
    );
}

async fn a_valid_p256_key_is_stored_and_an_off_curve_key_refused(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, me) = app.verified_user("keys").await;
    let token = me.body["accessToken"].as_str().unwrap();
    let id = me.body["user"]["id"].as_str().unwrap();
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let jwk: serde_json::Value =
        serde_json::from_str(&secret.public_key().to_jwk_string()).unwrap();

    let put = |body: serde_json::Value| {
        app.client
            .put(format!("{}/api/users/me/keys", app.base))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let r = put(json!({"publicKey": jwk})).await.unwrap();
    assert_eq!(r.status(), 200);
    let got = app.get(&format!("/api/users/{id}/keys"), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["publicKey"]["x"], jwk["x"]);
    assert!(got.body["publicKey"].get("d").is_none());

    // Flip the last character of y: still 32 bytes, no longer on the curve.
    let mut bad = jwk.clone();
    let y = bad["y"].as_str().unwrap().to_owned();
    let last = if y.ends_with('A') { 'Q' } else { 'A' };
    bad["y"] = json!(format!("{}{last}", &y[..y.len() - 1]));
    let r = put(json!({"publicKey": bad})).await.unwrap();
    assert_eq!(r.status(), 422);
    let r = put(json!({"publicKey": {"kty": "EC", "crv": "P-256", "x": "short", "y": "short"}}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

async fn a_key_backup_is_read_back_by_its_owner_only_and_goes_with_its_key(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let mut announced = app
        .kv
        .subscribe(KEY_CHANGED_CHANNEL)
        .await
        .expect("subscribe");
    let (_, me) = app.verified_user("backup").await;
    let token = me.body["accessToken"].as_str().unwrap();
    let id = me.body["user"]["id"].as_str().unwrap();
    let mut next_announced = async || {
        tokio::time::timeout(std::time::Duration::from_secs(5), announced.next())
            .await
            .expect("a key change announced within 5 s")
    };
    let (_, other) = app.verified_user("snoop").await;
    let other_token = other.body["accessToken"].as_str().unwrap();
    let jwk = |secret: &p256::SecretKey| -> serde_json::Value {
        serde_json::from_str(&secret.public_key().to_jwk_string()).unwrap()
    };
    let key = jwk(&p256::SecretKey::random(&mut rand::rngs::OsRng));
    let backup = sealed_backup();
    let url = format!("{}/api/users/me/key-backup", app.base);
    let put = |token: &str, body: serde_json::Value| {
        app.client.put(&url).bearer_auth(token).json(&body).send()
    };
    let get = |token: &str| app.client.get(&url).bearer_auth(token).send();

    assert_eq!(
        get(token).await.unwrap().status(),
        404,
        "nothing stored yet"
    );
    let r = put(token, json!({"publicKey": key, "backup": backup}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // realtime tells the user's contacts.
    assert_eq!(next_announced().await.as_deref(), Some(id));
    let r = get(token).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["publicKey"]["x"], key["x"]);
    assert_eq!(body["backup"], backup);
    // The directory gives out the key the backup opens.
    let got = app.get(&format!("/api/users/{id}/keys"), None).await;
    assert_eq!(got.body["publicKey"]["x"], key["x"]);

    // Another user reads their own (none), never this one; nobody unauthenticated.
    assert_eq!(get(other_token).await.unwrap().status(), 404);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 401);

    // Malformed backups are refused, each on its field, and change nothing.
    for (field, value) in [
        ("kdf", json!("scrypt")),
        ("iterations", json!(1000)),
        ("salt", json!("c2FsdA==")),
        ("iv", json!("not base64 at all!")),
        ("ciphertext", json!("")),
    ] {
        let mut bad = backup.clone();
        bad[field] = value;
        let r = put(token, json!({"publicKey": key, "backup": bad}))
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{field}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation_failed", "{field}");
        assert!(
            body["error"]["fields"].to_string().contains(field),
            "{field}: {body}"
        );
    }
    let body: serde_json::Value = get(token).await.unwrap().json().await.unwrap();
    assert_eq!(body["backup"], backup);

    // A new key published without a backup: the old key's backup no longer opens it, so it goes.
    let new_key = jwk(&p256::SecretKey::random(&mut rand::rngs::OsRng));
    let r = app
        .client
        .put(format!("{}/api/users/me/keys", app.base))
        .bearer_auth(token)
        .json(&json!({"publicKey": new_key}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(next_announced().await.as_deref(), Some(id), "announced too");
    assert_eq!(get(token).await.unwrap().status(), 404);
}

async fn many_keys_come_in_one_request_when_signed_in(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let mut users = Vec::new();
    for name in ["k1", "k2", "k3"] {
        let (_, u) = app.verified_user(name).await;
        users.push(u);
    }
    let token = users[0].body["accessToken"].as_str().unwrap().to_owned();
    let ids: Vec<String> = users
        .iter()
        .map(|u| u.body["user"]["id"].as_str().unwrap().to_owned())
        .collect();
    // The first two publish keys; the third does not.
    let mut published = Vec::new();
    for u in &users[..2] {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let jwk: serde_json::Value =
            serde_json::from_str(&secret.public_key().to_jwk_string()).unwrap();
        let r = app
            .client
            .put(format!("{}/api/users/me/keys", app.base))
            .bearer_auth(u.body["accessToken"].as_str().unwrap())
            .json(&json!({"publicKey": jwk}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        published.push(jwk["x"].clone());
    }
    let stranger = uuid::Uuid::new_v4().to_string();
    let query = format!("{},{},{},{stranger},{}", ids[0], ids[1], ids[2], ids[0]);
    let r = app
        .get(&format!("/api/users/keys?ids={query}"), Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut got: Vec<(String, serde_json::Value)> = r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["userId"].as_str().unwrap().to_owned(),
                k["publicKey"]["x"].clone(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want = vec![
        (ids[0].clone(), published[0].clone()),
        (ids[1].clone(), published[1].clone()),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want, "keys of those with one, each once");

    assert_eq!(
        app.get(&format!("/api/users/keys?ids={query}"), None)
            .await
            .status,
        401
    );
    let too_many = (0..101)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect::<Vec<_>>()
        .join(",");
    for bad in ["nope", too_many.as_str(), ""] {
        let r = app
            .get(&format!("/api/users/keys?ids={bad}"), Some(&token))
            .await;
        assert_eq!(r.status, 422, "{bad:.40}");
    }
    assert_eq!(app.get("/api/users/keys", Some(&token)).await.status, 422);
}

async fn key_publications_are_rate_limited(b: Backends) {
    let Some(app) = spawn_app_with(b, |c| c.limits.key_changes_per_hour = 3).await else {
        return;
    };
    let (_, me) = app.verified_user("keyrl").await;
    let token = me.body["accessToken"].as_str().unwrap();
    let id = me.body["user"]["id"].as_str().unwrap();
    let (_, other) = app.verified_user("keyrl-other").await;
    let other_token = other.body["accessToken"].as_str().unwrap();
    let mut announced = app
        .kv
        .subscribe(KEY_CHANGED_CHANNEL)
        .await
        .expect("subscribe");
    let jwk = || -> serde_json::Value {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        serde_json::from_str(&secret.public_key().to_jwk_string()).unwrap()
    };
    let backup = sealed_backup();
    let put = |token: &str, path: &str, body: serde_json::Value| {
        app.client
            .put(format!("{}/api/users/me/{path}", app.base))
            .bearer_auth(token)
            .json(&body)
            .send()
    };

    // A malformed key is refused before it counts.
    let bad = json!({"publicKey": {"kty": "EC", "crv": "P-256", "x": "short", "y": "short"}});
    assert_eq!(put(token, "keys", bad).await.unwrap().status(), 422);
    // Both ways of publishing share one budget.
    let last = jwk();
    for (path, body) in [
        ("keys", json!({"publicKey": jwk()})),
        ("key-backup", json!({"publicKey": jwk(), "backup": backup})),
        ("keys", json!({"publicKey": last})),
    ] {
        let r = put(token, path, body).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    for _ in 0..3 {
        tokio::time::timeout(std::time::Duration::from_secs(5), announced.next())
            .await
            .expect("each publication announced");
    }
    for (path, body) in [
        ("keys", json!({"publicKey": jwk()})),
        ("key-backup", json!({"publicKey": jwk(), "backup": backup})),
    ] {
        let r = put(token, path, body).await.unwrap();
        assert_eq!(r.status(), 429, "{path}");
        assert!(r.headers().contains_key("retry-after"), "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limited", "{path}");
    }
    let got = app.get(&format!("/api/users/{id}/keys"), None).await;
    assert_eq!(
        got.body["publicKey"]["x"], last["x"],
        "the refused keys are not stored"
    );
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), announced.next())
            .await
            .is_err(),
        "nor announced"
    );
    // The budget is the user's, not everyone's.
    let r = put(other_token, "keys", json!({"publicKey": jwk()}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
