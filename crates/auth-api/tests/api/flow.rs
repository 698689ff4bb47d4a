//! The whole path, from signup to logout, and what sessions promise along the way.

use common::contracts::auth::SESSION_REVOKED_CHANNEL;
use common::jwt::Verifier;
use futures::StreamExt;
use serde_json::json;

use crate::both;
use crate::helpers::{Backends, PASSWORD, TestApp, spawn_app, unique_email, unique_username};

both!(
    signup_verify_login_refresh_and_logout_work_end_to_end,
    jwks_verifies_the_minted_access_tokens,
    logout_publishes_the_revoked_session_id,
    reusing_an_old_refresh_token_revokes_the_session,
);

async fn verifier(app: &TestApp) -> Verifier {
    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, 200);
    let set = serde_json::from_value(jwks.body).expect("a JWK set");
    Verifier::from_jwks(&set, &app.config.jwt_issuer, &app.config.jwt_audience)
}

async fn signup_verify_login_refresh_and_logout_work_end_to_end(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let email = unique_email("flow");
    let username = unique_username("flow");

    let r = app.post("/api/auth/signup", &json!({"email": email.to_uppercase(), "username": username, "password": PASSWORD, "displayName": "Flow"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["user"]["email"],
        email.as_str(),
        "email is stored lower-cased"
    );
    assert_eq!(r.body["user"]["verified"], false);

    let code = app.next_code(&email).await;
    let r = app
        .post(
            "/api/auth/verify-otp",
            &json!({"email": email, "code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["verified"], true);
    assert!(r.session_cookie().is_some());

    let r = app
        .post(
            "/api/auth/login",
            &json!({"login": username, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let access = r.body["accessToken"].as_str().unwrap().to_owned();
    assert!(r.body["expiresIn"].as_u64().unwrap() <= 900);
    let cookie = r.session_cookie().expect("session cookie");

    let me = app.get("/api/auth/verify-me", Some(&access)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["user"]["username"], username.as_str());

    let r = app
        .post_with_cookie("/api/auth/refresh", &cookie, Some(&app.origin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["accessToken"].is_string());
    let rotated = r.session_cookie().expect("a rotated cookie");
    assert_ne!(rotated, cookie);

    let r = app
        .post_with_cookie("/api/auth/logout", &rotated, Some(&app.origin))
        .await;
    assert_eq!(r.status, 204);
    assert!(
        r.set_cookie_header().contains("Max-Age=0"),
        "logout clears the cookie"
    );

    let r = app
        .post_with_cookie("/api/auth/refresh", &rotated, Some(&app.origin))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "unauthorized");
    let me = app.get("/api/auth/verify-me", Some(&access)).await;
    assert_eq!(
        me.status, 401,
        "an access token of a revoked session stops working"
    );
}

async fn jwks_verifies_the_minted_access_tokens(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, r) = app.verified_user("jwks").await;
    let token = r.body["accessToken"].as_str().unwrap();
    let claims = verifier(&app)
        .await
        .verify_access(token)
        .expect("the published keys verify our tokens");
    assert_eq!(claims.sub, r.body["user"]["id"].as_str().unwrap());
    assert!(claims.exp - claims.iat <= 900);
}

async fn logout_publishes_the_revoked_session_id(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let mut revoked = app
        .kv
        .subscribe(SESSION_REVOKED_CHANNEL)
        .await
        .expect("subscribe");
    let (_, r) = app.verified_user("pub").await;
    let sid = verifier(&app)
        .await
        .verify_access(r.body["accessToken"].as_str().unwrap())
        .unwrap()
        .sid;
    let cookie = r.session_cookie().unwrap();
    let out = app
        .post_with_cookie("/api/auth/logout", &cookie, Some(&app.origin))
        .await;
    assert_eq!(out.status, 204);
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), revoked.next())
        .await
        .expect("a revocation within 5 s");
    assert_eq!(got.as_deref(), Some(sid.as_str()));
    assert!(
        common::sessions::is_revoked(&*app.kv, &sid)
            .await
            .expect("kv"),
        "recorded for realtime, which refuses the session's access tokens from now on"
    );
}

async fn reusing_an_old_refresh_token_revokes_the_session(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, r) = app.verified_user("reuse").await;
    let first = r.session_cookie().unwrap();
    let r = app
        .post_with_cookie("/api/auth/refresh", &first, Some(&app.origin))
        .await;
    assert_eq!(r.status, 200);
    let second = r.session_cookie().unwrap();

    let replay = app
        .post_with_cookie("/api/auth/refresh", &first, Some(&app.origin))
        .await;
    assert_eq!(replay.status, 401, "a retired refresh token is refused");
    let legit = app
        .post_with_cookie("/api/auth/refresh", &second, Some(&app.origin))
        .await;
    assert_eq!(
        legit.status, 401,
        "and the whole session is gone, so the current token is refused too"
    );
}
