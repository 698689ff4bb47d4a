//! Connect-time authentication and Origin checks, and revocation of live sessions.

use std::time::Duration;

use crate::helpers::{Backend, User, now, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    bad_expired_wrong_audience_and_missing_tokens_are_refused_at_connect,
    a_disallowed_origin_is_refused_and_allowed_or_absent_origins_connect,
    a_revoked_session_loses_its_live_socket_and_other_sessions_stay,
);

async fn bad_expired_wrong_audience_and_missing_tokens_are_refused_at_connect(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let u = User::new();
    let expired = app
        .auth
        .minter
        .mint_access(&u.id, &u.sid, now() - 3600)
        .expect("mint");
    let wrong_aud = app
        .auth
        .wrong_audience
        .mint_access(&u.id, &u.sid, now())
        .expect("mint");
    for (what, token) in [
        ("garbage", Some("not.a.jwt".to_owned())),
        ("expired", Some(expired)),
        ("wrong audience", Some(wrong_aud)),
        ("missing", None),
    ] {
        let refused = app
            .connect(token, None)
            .await
            .err()
            .unwrap_or_else(|| panic!("{what} token was accepted"));
        assert!(refused.contains("unauthorized"), "{what}: {refused}");
    }
    assert!(
        app.connect(Some(app.auth.token(&u)), None).await.is_ok(),
        "a valid token connects"
    );
}

async fn a_disallowed_origin_is_refused_and_allowed_or_absent_origins_connect(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.auth.token(&User::new());
    let refused = app
        .connect(Some(token.clone()), Some("http://evil.example"))
        .await
        .err()
        .expect("evil origin refused");
    assert!(refused.contains("origin_not_allowed"), "{refused}");
    assert!(
        app.connect(Some(token.clone()), Some("http://localhost:3000"))
            .await
            .is_ok()
    );
    assert!(
        app.connect(Some(token), None).await.is_ok(),
        "non-browser clients send no Origin"
    );
}

async fn a_revoked_session_loses_its_live_socket_and_other_sessions_stay(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let laptop = User::new();
    let phone = laptop.other_device();
    let (s_laptop, s_phone) = (app.socket(&laptop).await, app.socket(&phone).await);
    // What auth-api does on logout.
    common::sessions::revoke(&*app.kv, &laptop.sid)
        .await
        .expect("revoke");
    assert!(
        s_laptop.closed(Duration::from_secs(5)).await,
        "the revoked session's socket is disconnected"
    );
    assert!(
        !s_phone.closed(Duration::from_millis(300)).await,
        "the other session stays connected"
    );
    s_phone.settle().await;

    // The revoked session's access token, still unexpired, opens nothing any more.
    let refused = app.refused(&laptop).await;
    assert!(refused.contains("unauthorized"), "{refused}");
    assert_eq!(app.get(&laptop, "/api/chats").await.status(), 401);
    assert!(
        app.connect(Some(app.auth.token(&phone)), None)
            .await
            .is_ok()
    );
    assert_eq!(app.get(&phone, "/api/chats").await.status(), 200);
}
