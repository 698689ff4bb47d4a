//! Deleting one's own account: proven by the password or a mailed code; the account, its key and
//! every session go at once, realtime is told (durably, then on the channel), the address hears
//! of it and is free again.

use std::time::Duration;

use common::contracts::auth::{DELETED_USERS_PENDING_KEY, USER_DELETED_CHANNEL};
use common::jwt::Verifier;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backends, PASSWORD, Reply, TestApp, spawn_app, unique_username};

both!(
    deleting_with_the_password_ends_the_account_and_every_session,
    deleting_with_a_mailed_code_and_what_is_refused,
);

async fn delete(app: &TestApp, access: &str, body: Value) -> Reply {
    app.call(
        Method::POST,
        "/api/auth/delete-account",
        Some(access),
        Some(&body),
        None,
    )
    .await
}

async fn login(app: &TestApp, email: &str) -> Reply {
    app.post(
        "/api/auth/login",
        &json!({"login": email, "password": PASSWORD}),
    )
    .await
}

async fn pending(app: &TestApp) -> Vec<String> {
    let all = app.kv.hash_all(DELETED_USERS_PENDING_KEY).await.unwrap();
    all.into_iter().map(|(user, _)| user).collect()
}

async fn deleting_with_the_password_ends_the_account_and_every_session(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (email, me) = app.verified_user("delete").await;
    let token = me.access_token();
    let here = me.session_cookie().unwrap();
    let id = me.body["user"]["id"].as_str().unwrap().to_owned();
    let username = me.body["user"]["username"].as_str().unwrap().to_owned();
    let other = login(&app, &email).await;
    assert_eq!(other.status, 200, "{}", other.body);
    let jwk: Value = serde_json::from_str(
        &p256::SecretKey::random(&mut rand::rngs::OsRng)
            .public_key()
            .to_jwk_string(),
    )
    .unwrap();
    let r = app
        .client
        .put(format!("{}/api/users/me/keys", app.base))
        .bearer_auth(&token)
        .json(&json!({"publicKey": jwk}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut announced = app.kv.subscribe(USER_DELETED_CHANNEL).await.unwrap();

    let r = delete(&app, &token, json!({"password": "not-the-password-at-all"})).await;
    assert_eq!(
        (r.status, r.code()),
        (401, "invalid_credentials"),
        "{}",
        r.body
    );
    assert_eq!(
        app.get(&format!("/api/users/{id}"), None).await.status,
        200,
        "a wrong password deletes nothing"
    );
    assert!(pending(&app).await.is_empty(), "and records nothing");

    let r = delete(&app, &token, json!({"password": PASSWORD})).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(
        r.set_cookie_header().contains("Max-Age=0"),
        "the cookie is cleared: {}",
        r.set_cookie_header()
    );
    assert_eq!(
        pending(&app).await,
        [id.as_str()],
        "realtime's work recorded"
    );
    let heard = tokio::time::timeout(Duration::from_secs(5), announced.next())
        .await
        .expect("announced within 5 s")
        .expect("a message");
    assert_eq!(heard, id, "and announced");

    for cookie in [&here, &other.session_cookie().unwrap()] {
        let r = app
            .post_with_cookie("/api/auth/refresh", cookie, Some(&app.origin))
            .await;
        assert_eq!(r.status, 401, "every session is signed out: {}", r.body);
    }
    let jwks = app.get("/.well-known/jwks.json", None).await;
    let set = serde_json::from_value(jwks.body).expect("a JWK set");
    let sid = Verifier::from_jwks(&set, &app.config.jwt_issuer, &app.config.jwt_audience)
        .verify_access(&token)
        .expect("a valid access token")
        .sid;
    assert!(
        common::sessions::is_revoked(&*app.kv, &sid).await.unwrap(),
        "the revocations are recorded for realtime"
    );
    let r = app.get("/api/auth/verify-me", Some(&token)).await;
    assert_eq!(
        r.status, 401,
        "the access token finds no account: {}",
        r.body
    );
    let r = login(&app, &email).await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));
    let r = app.get(&format!("/api/users/{id}"), None).await;
    assert_eq!(
        (r.status, r.code()),
        (404, "not_found"),
        "the profile is gone"
    );
    let r = app.get(&format!("/api/users/{id}/keys"), None).await;
    assert_eq!(r.status, 404, "the key is gone: {}", r.body);

    let notice = app.next_mail(&email).await;
    assert!(
        notice.contains("was deleted") && notice.contains(&username),
        "{notice}"
    );
    let r = app.signup(&email, &username).await;
    assert_eq!(
        r.status, 201,
        "the address and username are free again: {}",
        r.body
    );
    assert_ne!(r.body["user"]["id"], id.as_str(), "a new account");
}

async fn deleting_with_a_mailed_code_and_what_is_refused(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (email, me) = app.verified_user("delcode").await;
    let token = me.access_token();
    let id = me.body["user"]["id"].as_str().unwrap().to_owned();

    for bad in [
        json!({}),
        json!({"password": PASSWORD, "code": "123456"}),
        json!({"password": ""}),
        json!({"code": "12345"}),
        json!({"code": "abcdef"}),
    ] {
        let r = delete(&app, &token, bad.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (422, "validation_failed"),
            "{bad}: {}",
            r.body
        );
    }
    let r = app
        .call(
            Method::POST,
            "/api/auth/delete-account",
            None,
            Some(&json!({"password": PASSWORD})),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"), "anonymous");
    // The cookie alone, from another site, is refused (the CSRF check covers it).
    let r = app
        .client
        .post(format!("{}/api/auth/delete-account", app.base))
        .header("origin", "https://evil.example")
        .header(
            "cookie",
            format!("{}={}", app.cookie_name(), me.session_cookie().unwrap()),
        )
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let r = app
        .post("/api/auth/request-otp", &json!({"email": email}))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let code = app.next_code(&email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = delete(&app, &token, json!({"code": wrong})).await;
    assert_eq!((r.status, r.code()), (400, "invalid_otp"), "{}", r.body);
    // Someone else's code is not this account's.
    let (stranger_email, _) = app.verified_user("delcode-other").await;
    app.post("/api/auth/request-otp", &json!({"email": stranger_email}))
        .await;
    let theirs = app.next_code(&stranger_email).await;
    if theirs != code {
        let r = delete(&app, &token, json!({"code": theirs})).await;
        assert_eq!(r.code(), "invalid_otp", "{}", r.body);
    }
    assert_eq!(app.get(&format!("/api/users/{id}"), None).await.status, 200);

    let r = delete(&app, &token, json!({"code": code})).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(app.get(&format!("/api/users/{id}"), None).await.status, 404);
    let r = delete(&app, &token, json!({"code": code})).await;
    assert_eq!(r.status, 401, "nothing left to delete: {}", r.body);
    let r = app.signup(&email, &unique_username("delcode")).await;
    assert_eq!(r.status, 201, "{}", r.body);
}
