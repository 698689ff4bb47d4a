//! Managing one's own account: the display name, changing and resetting the password, and the
//! sessions signed in to it.

use common::contracts::auth::PROFILE_CHANGED_CHANNEL;
use common::jwt::Verifier;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backends, PASSWORD, Reply, TestApp, spawn_app, spawn_app_with};

both!(
    the_display_name_is_changed_kept_and_cleared,
    profile_changes_are_rate_limited,
    changing_the_password_signs_out_every_other_session,
    a_wrong_current_password_is_refused_and_counted_with_failed_logins,
    resetting_the_password_with_a_mailed_code_signs_in_and_everyone_else_out,
    sessions_are_listed_and_signed_out,
    a_session_the_index_missed_is_cut_off_at_its_next_refresh,
);

const NEW_PASSWORD: &str = "harbour-quartz-58-meadow";

async fn sid(app: &TestApp, access: &str) -> String {
    let jwks = app.get("/.well-known/jwks.json", None).await;
    let set = serde_json::from_value(jwks.body).expect("a JWK set");
    Verifier::from_jwks(&set, &app.config.jwt_issuer, &app.config.jwt_audience)
        .verify_access(access)
        .expect("a valid access token")
        .sid
}

async fn login(app: &TestApp, email: &str, password: &str, user_agent: &str) -> Reply {
    app.call(
        Method::POST,
        "/api/auth/login",
        None,
        Some(&json!({"login": email, "password": password})),
        Some(user_agent),
    )
    .await
}

async fn refresh(app: &TestApp, cookie: &str) -> Reply {
    app.post_with_cookie("/api/auth/refresh", cookie, Some(&app.origin))
        .await
}

/// A mail's text with quoted-printable soft line breaks (the SMTP path's) joined.
fn unfolded(mail: String) -> String {
    mail.replace("=\r\n", "").replace("=\n", "")
}

async fn patch_me(app: &TestApp, token: &str, body: Value) -> Reply {
    app.call(
        Method::PATCH,
        "/api/users/me",
        Some(token),
        Some(&body),
        None,
    )
    .await
}

async fn sessions(app: &TestApp, access: &str) -> Vec<Value> {
    let r = app.get("/api/auth/sessions", Some(access)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["sessions"].as_array().expect("sessions").clone()
}

async fn change_password(app: &TestApp, access: &str, current: &str, new: &str) -> Reply {
    let body = json!({"currentPassword": current, "newPassword": new});
    app.call(
        Method::POST,
        "/api/auth/password",
        Some(access),
        Some(&body),
        None,
    )
    .await
}

async fn the_display_name_is_changed_kept_and_cleared(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, me) = app.verified_user("profile").await;
    let token = me.access_token();
    let id = me.body["user"]["id"].as_str().unwrap().to_owned();
    let patch = |body: Value| patch_me(&app, &token, body);

    let mut announced = app
        .kv
        .subscribe(PROFILE_CHANGED_CHANNEL)
        .await
        .expect("subscribe");
    let r = patch(json!({"displayName": "  Ada Lovelace "})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["displayName"], "Ada Lovelace", "trimmed");
    let heard = tokio::time::timeout(std::time::Duration::from_secs(5), announced.next())
        .await
        .expect("announced within 5 s")
        .expect("a message");
    let heard: Value = serde_json::from_str(&heard).expect("JSON");
    assert_eq!(
        heard,
        json!({"id": id, "username": me.body["user"]["username"], "displayName": "Ada Lovelace", "avatar": null}),
        "the public profile, for realtime to pass on (no email)"
    );
    assert_eq!(r.body["user"]["id"], id.as_str());
    let public = app.get(&format!("/api/users/{id}"), None).await;
    assert_eq!(public.body["displayName"], "Ada Lovelace", "others see it");
    let own = app.get("/api/users/me", Some(&token)).await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["user"]["displayName"], "Ada Lovelace");

    let r = patch(json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["user"]["displayName"], "Ada Lovelace",
        "absent is kept"
    );
    let r = patch(json!({ "displayName": null })).await;
    assert!(
        r.body["user"]["displayName"].is_null(),
        "cleared: {}",
        r.body
    );
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), announced.next())
        .await
        .expect("announced within 5 s")
        .expect("a message");
    assert!(
        next.contains(r#""displayName":null"#),
        "the empty update announced nothing; the clearing did: {next}"
    );
    patch(json!({"displayName": "Ada Lovelace"})).await;

    for bad in ["", "   ", "bell\u{7}", &"x".repeat(65)] {
        let r = patch(json!({ "displayName": bad })).await;
        assert_eq!(r.status, 422, "{bad:?}: {}", r.body);
        assert_eq!(r.code(), "validation_failed");
        assert!(
            r.body["error"]["fields"]["displayName"].is_array(),
            "{}",
            r.body
        );
    }
    let r = patch(json!({"displayName": 7})).await;
    assert_eq!((r.status, r.code()), (400, "invalid_json"), "{}", r.body);
    let r = patch(json!({"displayName": "x".repeat(64)})).await;
    assert_eq!(r.status, 200, "64 characters are allowed: {}", r.body);

    let r = patch(json!({ "displayName": null })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["user"]["displayName"].is_null(),
        "cleared: {}",
        r.body
    );
    let public = app.get(&format!("/api/users/{id}"), None).await;
    assert!(public.body["displayName"].is_null());

    let anonymous = app
        .call(
            Method::PATCH,
            "/api/users/me",
            None,
            Some(&json!({"displayName": "X"})),
            None,
        )
        .await;
    assert_eq!((anonymous.status, anonymous.code()), (401, "unauthorized"));
    // The cookie alone, from another site, is refused (the CSRF check covers PATCH).
    let cookie = me.session_cookie().unwrap();
    let forged = app
        .client
        .patch(format!("{}/api/users/me", app.base))
        .header("cookie", format!("{}={cookie}", app.cookie_name()))
        .header("origin", "https://evil.example")
        .json(&json!({"displayName": "Pwned"}))
        .send()
        .await
        .expect("request");
    assert_eq!(forged.status(), 403);
    let public = app.get(&format!("/api/users/{id}"), None).await;
    assert!(public.body["displayName"].is_null(), "unchanged");
}

async fn profile_changes_are_rate_limited(b: Backends) {
    let Some(app) = spawn_app_with(b, |c| c.limits.profile_changes_per_hour = 3).await else {
        return;
    };
    let (_, me) = app.verified_user("profilerl").await;
    let token = me.access_token();
    let patch = |body: Value| patch_me(&app, &token, body);
    for name in ["One", "Two", "Three"] {
        let r = patch(json!({ "displayName": name })).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
    }
    let r = patch(json!({"displayName": "Four"})).await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"), "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    let r = patch(json!({})).await;
    assert_eq!(r.status, 200, "changing nothing is not counted: {}", r.body);
    assert_eq!(r.body["user"]["displayName"], "Three");
}

async fn changing_the_password_signs_out_every_other_session(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (email, first) = app.verified_user("chpw").await;
    let here = first.access_token();
    let here_cookie = first.session_cookie().unwrap();
    let phone = login(&app, &email, PASSWORD, "Phone/1").await;
    let laptop = login(&app, &email, PASSWORD, "Laptop/1").await;
    assert_eq!((phone.status, laptop.status), (200, 200));
    let phone_sid = sid(&app, &phone.access_token()).await;

    for (new, why) in [("short-one", "too short"), ("123456789012", "too common")] {
        let r = change_password(&app, &here, PASSWORD, new).await;
        assert_eq!(r.status, 422, "{why}: {}", r.body);
        assert!(
            r.body["error"]["fields"]["newPassword"].is_array(),
            "{}",
            r.body
        );
    }
    assert_eq!(
        sessions(&app, &here).await.len(),
        3,
        "nothing signed out yet"
    );

    let r = change_password(&app, &here, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["revoked"], 2);

    // The others are out: refresh and access tokens refused, revocation recorded for realtime.
    for other in [&phone, &laptop] {
        let r = refresh(&app, &other.session_cookie().unwrap()).await;
        assert_eq!(r.status, 401);
        let r = app
            .get("/api/auth/verify-me", Some(&other.access_token()))
            .await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    assert!(
        common::sessions::is_revoked(&*app.kv, &phone_sid)
            .await
            .unwrap()
    );
    // This one stays.
    assert_eq!(
        app.get("/api/auth/verify-me", Some(&here)).await.status,
        200
    );
    assert_eq!(refresh(&app, &here_cookie).await.status, 200);
    assert_eq!(sessions(&app, &here).await.len(), 1);

    let old = login(&app, &email, PASSWORD, "X").await;
    assert_eq!((old.status, old.code()), (401, "invalid_credentials"));
    let new = login(&app, &email, NEW_PASSWORD, "X").await;
    assert_eq!(new.status, 200, "{}", new.body);

    let notice = unfolded(app.next_mail(&email).await);
    assert!(notice.contains("password was changed"), "{notice}");
    assert!(notice.contains("with your current password"), "{notice}");
}

async fn a_wrong_current_password_is_refused_and_counted_with_failed_logins(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (email, first) = app.verified_user("wrongpw").await;
    let here = first.access_token();
    let other = login(&app, &email, PASSWORD, "Other/1").await;
    let limit = app.config.limits.login_failures_per_account;
    for _ in 0..limit {
        let r = change_password(&app, &here, "not-the-password-1", NEW_PASSWORD).await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_credentials"),
            "{}",
            r.body
        );
    }
    let r = change_password(&app, &here, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(
        r.status, 429,
        "the budget is spent, right password or not: {}",
        r.body
    );
    assert_eq!(r.code(), "rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    let r = login(&app, &email, PASSWORD, "X").await;
    assert_eq!(r.status, 429, "shared with logins by email: {}", r.body);
    // Nothing changed: the other session lives and the password is the old one.
    assert_eq!(
        refresh(&app, &other.session_cookie().unwrap()).await.status,
        200
    );
    assert_eq!(
        app.get("/api/auth/verify-me", Some(&here)).await.status,
        200
    );
}

async fn resetting_the_password_with_a_mailed_code_signs_in_and_everyone_else_out(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (email, first) = app.verified_user("reset").await;
    let other = login(&app, &email, PASSWORD, "Other/1").await;
    // Locked out by wrong guesses; the reset lifts that.
    let limit = app.config.limits.login_failures_per_account;
    for _ in 0..limit {
        login(&app, &email, "wrong-wrong-wrong", "X").await;
    }
    assert_eq!(login(&app, &email, PASSWORD, "X").await.status, 429);

    let r = app
        .post("/api/auth/request-otp", &json!({ "email": email }))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let code = app.next_code(&email).await;
    let reset = |code: String, new: &'static str| {
        let app = &app;
        let email = email.clone();
        async move {
            app.call(
                Method::POST,
                "/api/auth/reset-password",
                None,
                Some(&json!({"email": email, "code": code, "newPassword": new})),
                Some("Recovered/1"),
            )
            .await
        }
    };
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = reset(wrong.to_owned(), NEW_PASSWORD).await;
    assert_eq!((r.status, r.code()), (400, "invalid_otp"), "{}", r.body);
    let r = reset(code.clone(), "123456789012").await;
    assert_eq!(r.status, 422, "too common: {}", r.body);
    assert!(r.body["error"]["fields"]["newPassword"].is_array());

    let r = reset(code.clone(), NEW_PASSWORD).await;
    assert_eq!(
        r.status, 200,
        "the code survived the refused password: {}",
        r.body
    );
    assert_eq!(r.body["user"]["email"], email.as_str());
    let cookie = r.session_cookie().expect("signed in");
    let token = r.access_token();
    let listed = sessions(&app, &token).await;
    assert_eq!(listed.len(), 1, "every earlier session is out: {listed:?}");
    assert_eq!(listed[0]["userAgent"], "Recovered/1");
    for earlier in [&first, &other] {
        assert_eq!(
            refresh(&app, &earlier.session_cookie().unwrap())
                .await
                .status,
            401
        );
    }
    assert_eq!(refresh(&app, &cookie).await.status, 200);

    let again = reset(code, "another-password-93-x").await;
    assert_eq!(again.code(), "invalid_otp", "a code works once");
    assert_eq!(login(&app, &email, PASSWORD, "X").await.status, 401);
    let r = login(&app, &email, NEW_PASSWORD, "X").await;
    assert_eq!(r.status, 200, "the lock-out is lifted: {}", r.body);
    let notice = unfolded(app.next_mail(&email).await);
    assert!(
        notice.contains("with a code sent to this address"),
        "{notice}"
    );

    let r = reset("123456".to_owned(), NEW_PASSWORD).await;
    assert_eq!(r.code(), "invalid_otp", "no code was requested");
}

async fn sessions_are_listed_and_signed_out(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (email, _) = app.verified_user("sessions").await;
    let a = login(&app, &email, PASSWORD, "Agent-A").await;
    let long_agent = format!("Agent-B {}", "x".repeat(400));
    let b2 = login(&app, &email, PASSWORD, &long_agent).await;
    let (a_token, b_token) = (a.access_token(), b2.access_token());
    let (a_sid, b_sid) = (sid(&app, &a_token).await, sid(&app, &b_token).await);

    let listed = sessions(&app, &a_token).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(listed[0]["id"], b_sid.as_str(), "the newest first");
    assert_eq!(
        listed[0]["userAgent"].as_str().unwrap().chars().count(),
        256
    );
    let mine: Vec<&Value> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], a_sid.as_str());
    assert_eq!(mine[0]["userAgent"], "Agent-A");
    // One width of RFC 3339, so the strings order as the instants do.
    let (created, active) = (&mine[0]["createdAt"], &mine[0]["lastActiveAt"]);
    assert!(
        created.as_str().unwrap() <= active.as_str().unwrap(),
        "{created} {active}"
    );

    // A refresh makes a session the most recently active.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        refresh(&app, &a.session_cookie().unwrap()).await.status,
        200
    );
    let listed = sessions(&app, &b_token).await;
    assert_eq!(listed[0]["id"], a_sid.as_str(), "{listed:?}");
    assert_eq!(listed[0]["current"], false, "current is the caller's, B");

    // Another user cannot see or end them.
    let (_, stranger) = app.verified_user("stranger").await;
    let stranger_token = stranger.access_token();
    assert_eq!(sessions(&app, &stranger_token).await.len(), 1);
    let path = |id: &str| format!("/api/auth/sessions/{id}");
    for id in [a_sid.as_str(), "no-such-session", "bad!id"] {
        let r = app
            .call(Method::DELETE, &path(id), Some(&stranger_token), None, None)
            .await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{id}: {}", r.body);
    }
    assert_eq!(
        app.get("/api/auth/verify-me", Some(&a_token)).await.status,
        200
    );

    // One by one.
    let r = app
        .call(Method::DELETE, &path(&b_sid), Some(&a_token), None, None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(
        !r.set_cookie_header().contains("Max-Age=0"),
        "not the caller's own"
    );
    assert_eq!(
        refresh(&app, &b2.session_cookie().unwrap()).await.status,
        401
    );
    assert!(
        common::sessions::is_revoked(&*app.kv, &b_sid)
            .await
            .unwrap()
    );
    assert_eq!(sessions(&app, &a_token).await.len(), 2);

    // An expired session is not listed (and leaves the index).
    let c = login(&app, &email, PASSWORD, "Agent-C").await;
    let c_sid = sid(&app, &c.access_token()).await;
    app.kv.del(&format!("session:{c_sid}")).await.unwrap();
    let ids: Vec<Value> = sessions(&app, &a_token)
        .await
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert!(!ids.contains(&json!(c_sid)), "{ids:?}");

    // All the others at once.
    login(&app, &email, PASSWORD, "Agent-D").await;
    let r = app
        .call(
            Method::DELETE,
            "/api/auth/sessions",
            Some(&a_token),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["revoked"], 2, "the signup's session and D");
    let listed = sessions(&app, &a_token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], a_sid.as_str());

    // Ending the current one is logging out.
    let r = app
        .call(Method::DELETE, &path(&a_sid), Some(&a_token), None, None)
        .await;
    assert_eq!(r.status, 204);
    assert!(
        r.set_cookie_header().contains("Max-Age=0"),
        "the cookie is cleared"
    );
    assert_eq!(
        app.get("/api/auth/verify-me", Some(&a_token)).await.status,
        401
    );
}

async fn a_session_the_index_missed_is_cut_off_at_its_next_refresh(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (email, first) = app.verified_user("cutoff").await;
    let here = first.access_token();
    let here_sid = sid(&app, &here).await;
    let late = login(&app, &email, PASSWORD, "Late/1").await;
    let late_sid = sid(&app, &late.access_token()).await;
    let user_id = first.body["user"]["id"].as_str().unwrap();
    // As if it had signed in while the others were being signed out, or before sessions were
    // indexed: the index does not know it.
    app.kv
        .hash_incr(&format!("sessions_of:{user_id}"), &late_sid, -1)
        .await
        .unwrap();
    let r = app
        .call(
            Method::DELETE,
            "/api/auth/sessions",
            Some(&here),
            None,
            None,
        )
        .await;
    assert_eq!(r.body["revoked"], 0, "{}", r.body);
    let r = refresh(&app, &late.session_cookie().unwrap()).await;
    assert_eq!(r.status, 401, "cut off: {}", r.body);
    assert!(
        common::sessions::is_revoked(&*app.kv, &late_sid)
            .await
            .unwrap()
    );
    let r = refresh(&app, &first.session_cookie().unwrap()).await;
    assert_eq!(r.status, 200, "the session kept is not: {}", r.body);
    // A session signed in after the cutoff is not either.
    let after = login(&app, &email, PASSWORD, "After/1").await;
    assert_eq!(
        refresh(&app, &after.session_cookie().unwrap()).await.status,
        200
    );
    assert_ne!(here_sid, late_sid);
}
