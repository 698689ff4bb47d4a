//! Rate limits: 429 `rate_limited` with `Retry-After`.

use std::time::Duration;

use serde_json::json;

use crate::both;
use crate::helpers::{Backends, Reply, spawn_app_with, unique_email, unique_username};

/// Whether a refusal's message names `what` (each limit says which budget is spent).
fn says(r: &Reply, what: &str) -> bool {
    r.body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains(what))
}

/// The refusal's `Retry-After`, in seconds.
fn retry_after(r: &Reply) -> u64 {
    r.headers
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

both!(
    repeated_login_failures_are_rate_limited,
    a_second_code_within_the_cooldown_is_rate_limited,
    codes_per_email_are_bounded_per_hour
);

async fn repeated_login_failures_are_rate_limited(b: Backends) {
    let Some(app) = spawn_app_with(b, |c| c.limits.login_failures_per_account = 3).await else {
        return;
    };
    let (email, _) = app.verified_user("rl").await;
    for _ in 0..3 {
        let r = app
            .post(
                "/api/auth/login",
                &json!({"login": email, "password": "wrong-password-here"}),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = app
        .post(
            "/api/auth/login",
            &json!({"login": email, "password": "wrong-password-here"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"));
    assert!(says(&r, "wrong passwords"), "says which limit: {}", r.body);
    let retry = retry_after(&r);
    assert!(retry > 0 && retry <= 900);
}

async fn a_second_code_within_the_cooldown_is_rate_limited(b: Backends) {
    let Some(app) = spawn_app_with(b, |c| {
        c.limits.otp_resend_cooldown = Duration::from_secs(60)
    })
    .await
    else {
        return;
    };
    let email = unique_email("cool");
    let first = app
        .post("/api/auth/request-otp", &json!({"email": email}))
        .await;
    assert_eq!(first.status, 202);
    let second = app
        .post("/api/auth/request-otp", &json!({"email": email}))
        .await;
    assert_eq!((second.status, second.code()), (429, "rate_limited"));
    assert!(
        says(&second, "moments ago"),
        "a cooldown, not a spent budget: {}",
        second.body
    );
    let retry = retry_after(&second);
    assert_eq!(
        retry, 60,
        "a minute less the few milliseconds since the first code, rounded up: waiting that long is enough"
    );
    // Another address is not affected.
    assert_eq!(
        app.post(
            "/api/auth/request-otp",
            &json!({"email": unique_email("cool2")})
        )
        .await
        .status,
        202
    );
}

async fn codes_per_email_are_bounded_per_hour(b: Backends) {
    let Some(app) = spawn_app_with(b, |c| c.limits.otp_per_email_hour = 2).await else {
        return;
    };
    let email = unique_email("hour");
    assert_eq!(
        app.signup(&email, &unique_username("hour")).await.status,
        201
    );
    assert_eq!(
        app.post("/api/auth/request-otp", &json!({"email": email}))
            .await
            .status,
        202
    );
    let r = app
        .post("/api/auth/request-otp", &json!({"email": email}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (429, "rate_limited"),
        "signup's code counts against the hourly budget"
    );
}
