//! Every refusal on the account paths, with its status and stable code.

use std::time::Duration;

use serde_json::json;

use crate::both;
use crate::helpers::{
    Backends, PASSWORD, spawn_app, spawn_app_with, unique_email, unique_username,
};

both!(
    duplicate_email_or_username_is_refused_with_409,
    invalid_signup_fields_get_422_with_per_field_messages,
    an_expired_code_is_refused,
    a_code_works_only_once,
    five_wrong_codes_burn_the_code,
    request_otp_answers_the_same_for_unknown_emails,
    wrong_password_and_unknown_user_get_the_same_response,
    login_before_verifying_the_email_is_refused_with_403,
);

async fn duplicate_email_or_username_is_refused_with_409(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (email, username) = (unique_email("dup"), unique_username("dup"));
    assert_eq!(app.signup(&email, &username).await.status, 201);
    let r = app
        .signup(&email.to_uppercase(), &unique_username("other"))
        .await;
    assert_eq!((r.status, r.code()), (409, "email_taken"), "{}", r.body);
    let r = app.signup(&unique_email("other"), &username).await;
    assert_eq!((r.status, r.code()), (409, "username_taken"), "{}", r.body);
}

async fn invalid_signup_fields_get_422_with_per_field_messages(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let r = app
        .post(
            "/api/auth/signup",
            &json!({"email": "not-an-email", "username": "No Spaces!", "password": "short"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "validation_failed"),
        "{}",
        r.body
    );
    for field in ["email", "username", "password"] {
        assert!(
            r.body["error"]["fields"][field].is_array(),
            "{field} is named: {}",
            r.body
        );
    }
    let r = app.post("/api/auth/signup", &json!({"email": unique_email("common"), "username": unique_username("common"), "password": "Password1234"})).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "validation_failed"),
        "common passwords are refused: {}",
        r.body
    );
    assert!(r.body["error"]["fields"]["password"].is_array());

    let resp = app
        .client
        .post(format!("{}/api/auth/signup", app.base))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    // The fields in order, as an array: serde would take them for the struct; not an object.
    let r = app
        .post("/api/auth/login", &json!(["someone", PASSWORD]))
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_json"), "{}", r.body);

    let huge = "x".repeat(100 * 1024);
    let r = app
        .post(
            "/api/auth/login",
            &json!({"login": huge, "password": PASSWORD}),
        )
        .await;
    assert_eq!((r.status, r.code()), (413, "payload_too_large"));
}

async fn an_expired_code_is_refused(b: Backends) {
    let Some(app) = spawn_app_with(b, |c| c.otp_ttl = Duration::from_secs(1)).await else {
        return;
    };
    let email = unique_email("exp");
    assert_eq!(
        app.signup(&email, &unique_username("exp")).await.status,
        201
    );
    let code = app.next_code(&email).await;
    // Waiting out the code's lifetime is the behaviour under test, not a readiness wait.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = app
        .post(
            "/api/auth/verify-otp",
            &json!({"email": email, "code": code}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_otp"));
}

async fn a_code_works_only_once(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let email = unique_email("once");
    assert_eq!(
        app.signup(&email, &unique_username("once")).await.status,
        201
    );
    let code = app.next_code(&email).await;
    let body = json!({"email": email, "code": code});
    assert_eq!(app.post("/api/auth/verify-otp", &body).await.status, 200);
    let r = app.post("/api/auth/verify-otp", &body).await;
    assert_eq!((r.status, r.code()), (400, "invalid_otp"));
}

async fn five_wrong_codes_burn_the_code(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let email = unique_email("burn");
    assert_eq!(
        app.signup(&email, &unique_username("burn")).await.status,
        201
    );
    let code = app.next_code(&email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let r = app
            .post(
                "/api/auth/verify-otp",
                &json!({"email": email, "code": wrong}),
            )
            .await;
        assert_eq!(r.code(), "invalid_otp");
    }
    let r = app
        .post(
            "/api/auth/verify-otp",
            &json!({"email": email, "code": code}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "invalid_otp"),
        "the right code no longer works"
    );
}

async fn request_otp_answers_the_same_for_unknown_emails(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let email = unique_email("known");
    assert_eq!(
        app.signup(&email, &unique_username("known")).await.status,
        201
    );
    let known = app
        .post("/api/auth/request-otp", &json!({"email": email}))
        .await;
    let unknown = app
        .post(
            "/api/auth/request-otp",
            &json!({"email": unique_email("ghost")}),
        )
        .await;
    assert_eq!(known.status, 202);
    assert_eq!((unknown.status, &unknown.body), (known.status, &known.body));
    // The known address really got a second code.
    app.next_code(&email).await;
    let second = app.next_code(&email).await;
    assert_eq!(second.len(), 6);
}

async fn wrong_password_and_unknown_user_get_the_same_response(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (email, _) = app.verified_user("wrong").await;
    let wrong = app
        .post(
            "/api/auth/login",
            &json!({"login": email, "password": "not-the-password-at-all"}),
        )
        .await;
    let unknown = app
        .post(
            "/api/auth/login",
            &json!({"login": unique_email("nobody"), "password": "not-the-password-at-all"}),
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (401, "invalid_credentials"));
    assert_eq!((unknown.status, &unknown.body), (wrong.status, &wrong.body));
}

async fn login_before_verifying_the_email_is_refused_with_403(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let email = unique_email("unv");
    assert_eq!(
        app.signup(&email, &unique_username("unv")).await.status,
        201
    );
    let r = app
        .post(
            "/api/auth/login",
            &json!({"login": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "email_not_verified"));
}
