//! Google sign-in against the local OpenID provider (`tests/node/oauth/provider.mjs`, at
//! `TEST_OAUTH_URL`). The test plays the browser: it follows the redirects by hand, which also
//! lets it tamper with them the way an attacker would.

use common::testing::backend_url;
use serde_json::json;

use crate::both;
use crate::helpers::{
    Backends, PASSWORD, Reply, TestApp, spawn_app, spawn_app_with, unique_email, unique_username,
};

both!(
    google_sign_in_sets_a_session_and_returns_to_the_app,
    google_links_an_existing_account_only_when_the_email_is_verified,
    a_callback_without_state_is_refused,
    a_reused_state_is_refused,
    an_id_token_with_the_wrong_nonce_is_refused,
    an_id_token_for_another_audience_is_refused,
);

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Starts the flow and lets the provider authorize `email`; `tamper` may rewrite the authorize
/// URL. Returns our callback URL (with `code` and `state`).
async fn authorize(
    app: &TestApp,
    email: &str,
    tamper: impl FnOnce(url::Url) -> url::Url,
) -> String {
    let start = app
        .client
        .get(format!("{}/api/auth/google?returnTo=/chats", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let mut url = url::Url::parse(&location(&start)).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    for p in ["state", "nonce", "code_challenge", "redirect_uri"] {
        assert!(q.contains_key(p), "{p} in {url}");
    }
    url.query_pairs_mut().append_pair("login_hint", email);
    let at_provider = app.client.get(tamper(url)).send().await.unwrap();
    assert_eq!(at_provider.status(), 302, "the provider redirects back");
    location(&at_provider)
}

async fn callback(app: &TestApp, url: &str) -> (u16, String, Reply) {
    let resp = app.client.get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (
        status,
        loc,
        Reply {
            status,
            headers,
            body,
        },
    )
}

async fn signed_in_email(app: &TestApp, reply: &Reply) -> String {
    let cookie = reply.session_cookie().expect("a session cookie");
    let r = app
        .post_with_cookie("/api/auth/refresh", &cookie, Some(&app.origin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let me = app
        .get("/api/auth/verify-me", r.body["accessToken"].as_str())
        .await;
    me.body["user"]["email"].as_str().unwrap().to_owned()
}

async fn google_sign_in_sets_a_session_and_returns_to_the_app(b: Backends) {
    if backend_url("TEST_OAUTH_URL").is_none() {
        return;
    }
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let email = unique_email("g");
    let url = authorize(&app, &email, |u| u).await;
    let (status, loc, reply) = callback(&app, &url).await;
    assert_eq!(status, 302, "{}", reply.body);
    assert_eq!(loc, "http://localhost:3000/chats");
    assert_eq!(signed_in_email(&app, &reply).await, email);

    // Signing in again reaches the same account (keyed by `sub`).
    let url = authorize(&app, &email, |u| u).await;
    let (status, _, again) = callback(&app, &url).await;
    assert_eq!(status, 302);
    assert_eq!(signed_in_email(&app, &again).await, email);
}

async fn google_links_an_existing_account_only_when_the_email_is_verified(b: Backends) {
    if backend_url("TEST_OAUTH_URL").is_none() {
        return;
    }
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let email = unique_email("link");
    let r = app
        .post(
            "/api/auth/signup",
            &json!({"email": email, "username": unique_username("link"), "password": PASSWORD}),
        )
        .await;
    let id = r.body["user"]["id"].as_str().unwrap().to_owned();
    let url = authorize(&app, &email, |u| u).await;
    let (status, _, reply) = callback(&app, &url).await;
    assert_eq!(status, 302, "{}", reply.body);
    let cookie = reply.session_cookie().unwrap();
    let token = app
        .post_with_cookie("/api/auth/refresh", &cookie, Some(&app.origin))
        .await;
    let me = app
        .get("/api/auth/verify-me", token.body["accessToken"].as_str())
        .await;
    assert_eq!(
        me.body["user"]["id"],
        id.as_str(),
        "linked to the existing account"
    );
    assert_eq!(me.body["user"]["verified"], true);

    let unverified = format!("unverified.{}", unique_email("link2"));
    app.signup(&unverified, &unique_username("link2")).await;
    let url = authorize(&app, &unverified, |u| u).await;
    let (status, _, reply) = callback(&app, &url).await;
    assert_eq!((status, reply.code()), (400, "oauth_failed"));
}

async fn a_callback_without_state_is_refused(b: Backends) {
    if backend_url("TEST_OAUTH_URL").is_none() {
        return;
    }
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let url = authorize(&app, &unique_email("nostate"), |u| u).await;
    let mut stripped = url::Url::parse(&url).unwrap();
    let kept: Vec<(String, String)> = stripped
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "state")
        .collect();
    stripped.query_pairs_mut().clear().extend_pairs(kept);
    let (status, _, reply) = callback(&app, stripped.as_str()).await;
    assert_eq!((status, reply.code()), (400, "oauth_failed"));
}

async fn a_reused_state_is_refused(b: Backends) {
    if backend_url("TEST_OAUTH_URL").is_none() {
        return;
    }
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let url = authorize(&app, &unique_email("replay"), |u| u).await;
    assert_eq!(callback(&app, &url).await.0, 302);
    let (status, _, reply) = callback(&app, &url).await;
    assert_eq!((status, reply.code()), (400, "oauth_failed"));
}

async fn an_id_token_with_the_wrong_nonce_is_refused(b: Backends) {
    if backend_url("TEST_OAUTH_URL").is_none() {
        return;
    }
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let url = authorize(&app, &unique_email("nonce"), |mut u| {
        let kept: Vec<(String, String)> = u
            .query_pairs()
            .into_owned()
            .map(|(k, v)| {
                if k == "nonce" {
                    (k, "forged-nonce".into())
                } else {
                    (k, v)
                }
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(kept);
        u
    })
    .await;
    let (status, _, reply) = callback(&app, &url).await;
    assert_eq!((status, reply.code()), (400, "oauth_failed"));
    assert!(reply.session_cookie().is_none());
}

async fn an_id_token_for_another_audience_is_refused(b: Backends) {
    if backend_url("TEST_OAUTH_URL").is_none() {
        return;
    }
    // The provider answers this client id with `aud: "someone-else"`.
    let Some(app) = spawn_app_with(b, |c| {
        if let Some(g) = c.google.as_mut() {
            g.client_id = "wrong-aud-client".into();
        }
    })
    .await
    else {
        return;
    };
    let url = authorize(&app, &unique_email("aud"), |u| u).await;
    let (status, _, reply) = callback(&app, &url).await;
    assert_eq!((status, reply.code()), (400, "oauth_failed"));
}
