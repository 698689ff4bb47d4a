//! Cookie attributes, the Origin check on cookie-authenticated writes, and CORS.

use crate::both;
use crate::helpers::{Backends, spawn_app, spawn_app_with};

both!(
    the_session_cookie_is_httponly_lax_and_host_scoped,
    a_cookie_write_from_a_foreign_origin_is_refused,
    cors_answers_only_allowed_origins,
);

async fn the_session_cookie_is_httponly_lax_and_host_scoped(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, r) = app.verified_user("cookie").await;
    let c = r.set_cookie_header();
    assert!(c.starts_with("batiyoun_session="), "{c}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(c.contains(attr), "{attr} in {c}");
    }
    assert!(
        !c.contains("Secure"),
        "plain-http dev mode (COOKIE_SECURE=false)"
    );

    let Some(secure) = spawn_app_with(b, |c| c.cookie_secure = true).await else {
        return;
    };
    let (_, r) = secure.verified_user("cookie2").await;
    let c = r.set_cookie_header();
    assert!(c.starts_with("__Host-batiyoun_session="), "{c}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(c.contains(attr), "{attr} in {c}");
    }
    assert!(!c.contains("Domain="), "__Host- cookies carry no Domain");
}

async fn a_cookie_write_from_a_foreign_origin_is_refused(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, r) = app.verified_user("csrf").await;
    let cookie = r.session_cookie().unwrap();
    let evil = app
        .post_with_cookie("/api/auth/refresh", &cookie, Some("https://evil.example"))
        .await;
    assert_eq!((evil.status, evil.code()), (403, "origin_not_allowed"));
    let bare = app
        .post_with_cookie("/api/auth/logout", &cookie, None)
        .await;
    assert_eq!(
        (bare.status, bare.code()),
        (403, "origin_not_allowed"),
        "no Origin and no custom header"
    );
    let ok = app
        .post_with_cookie("/api/auth/refresh", &cookie, Some("http://localhost:3000"))
        .await;
    assert_eq!(ok.status, 200, "the app's origin is allowed: {}", ok.body);
}

async fn cors_answers_only_allowed_origins(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/auth/login", app.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("http://localhost:3000").await.unwrap();
    assert_eq!(
        ok.headers().get("access-control-allow-origin").unwrap(),
        "http://localhost:3000"
    );
    assert_eq!(
        ok.headers()
            .get("access-control-allow-credentials")
            .unwrap(),
        "true"
    );
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}
