//! Moving an account to another email address: the password and a code mailed to the new address
//! prove it, and the old address is told.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{
    Backends, PASSWORD, Reply, TestApp, spawn_app, unique_email, unique_username,
};

both!(
    the_email_moves_to_an_address_proven_by_its_code,
    an_email_change_needs_the_password_and_a_free_address,
);

async fn request(app: &TestApp, token: &str, new_email: &str, password: &str) -> Reply {
    let body = json!({"newEmail": new_email, "password": password});
    app.call(
        Method::POST,
        "/api/auth/email",
        Some(token),
        Some(&body),
        None,
    )
    .await
}

async fn confirm(app: &TestApp, token: &str, new_email: &str, code: &str) -> Reply {
    let body = json!({"newEmail": new_email, "code": code});
    app.call(
        Method::POST,
        "/api/auth/email/confirm",
        Some(token),
        Some(&body),
        None,
    )
    .await
}

fn other_code(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

async fn the_email_moves_to_an_address_proven_by_its_code(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (old, me) = app.verified_user("emailmove").await;
    let token = me.access_token();
    let new = unique_email("emailnew");
    let r = request(&app, &token, &new.to_uppercase(), PASSWORD).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let code = app.next_code(&new).await;

    let r = confirm(&app, &token, &new, other_code(&code)).await;
    assert_eq!((r.status, r.code()), (400, "invalid_otp"), "{}", r.body);
    let elsewhere = unique_email("elsewhere");
    let r = confirm(&app, &token, &elsewhere, &code).await;
    assert_eq!(r.code(), "invalid_otp", "the code proves that address only");
    // Nor does it sign anyone in.
    let r = app
        .post("/api/auth/verify-otp", &json!({"email": new, "code": code}))
        .await;
    assert_eq!(r.code(), "invalid_otp", "{}", r.body);
    // Another user cannot use it.
    let (_, stranger) = app.verified_user("emailstranger").await;
    let r = confirm(&app, &stranger.access_token(), &new, &code).await;
    assert_eq!(r.code(), "invalid_otp", "{}", r.body);

    let r = confirm(&app, &token, &new, &code).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["email"], new.as_str(), "lower-cased");
    assert_eq!(r.body["user"]["verified"], true);
    let me_now = app.get("/api/auth/verify-me", Some(&token)).await;
    assert_eq!(me_now.body["user"]["email"], new.as_str());
    let r = confirm(&app, &token, &new, &code).await;
    assert_eq!(r.code(), "invalid_otp", "a code works once");

    let login = |login: String| {
        let app = &app;
        async move {
            app.post(
                "/api/auth/login",
                &json!({"login": login, "password": PASSWORD}),
            )
            .await
        }
    };
    assert_eq!(login(new.clone()).await.status, 200);
    assert_eq!(login(old.clone()).await.code(), "invalid_credentials");
    let notice = app
        .next_mail(&old)
        .await
        .replace("=\r\n", "")
        .replace("=\n", "");
    assert!(notice.contains("email address was changed"), "{notice}");
    assert!(
        notice.contains(&new),
        "the old address is told where: {notice}"
    );
    // Codes for the account now go to the new address.
    let r = app
        .post("/api/auth/request-otp", &json!({ "email": new }))
        .await;
    assert_eq!(r.status, 202);
    let code = app.next_code(&new).await;
    let r = app
        .post("/api/auth/verify-otp", &json!({"email": new, "code": code}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn an_email_change_needs_the_password_and_a_free_address(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (mine, me) = app.verified_user("emailrules").await;
    let (theirs, _) = app.verified_user("emailtaken").await;
    let token = me.access_token();
    let new = unique_email("emailfree");

    let r = request(&app, &token, &new, "not-my-password-at-all").await;
    assert_eq!(
        (r.status, r.code()),
        (401, "invalid_credentials"),
        "{}",
        r.body
    );
    let r = request(&app, &token, &mine.to_uppercase(), PASSWORD).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["error"]["fields"]["newEmail"].is_array(),
        "{}",
        r.body
    );
    let r = request(&app, &token, "not-an-address", PASSWORD).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = request(&app, &token, &theirs, PASSWORD).await;
    assert_eq!((r.status, r.code()), (409, "email_taken"), "{}", r.body);
    let anonymous = app
        .call(
            Method::POST,
            "/api/auth/email",
            None,
            Some(&json!({"newEmail": new, "password": PASSWORD})),
            None,
        )
        .await;
    assert_eq!(anonymous.status, 401);

    // Taken between the request and the confirmation: refused, and the account keeps its own.
    let r = request(&app, &token, &new, PASSWORD).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let code = app.next_code(&new).await;
    let r = app.signup(&new, &unique_username("squatter")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = confirm(&app, &token, &new, &code).await;
    assert_eq!((r.status, r.code()), (409, "email_taken"), "{}", r.body);
    let me_now: Value = app.get("/api/auth/verify-me", Some(&token)).await.body;
    assert_eq!(me_now["user"]["email"], mine.as_str());
}
