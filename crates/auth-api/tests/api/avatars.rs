//! Profile pictures: set with the raw bytes of a PNG, JPEG or WebP image, named by a versioned URL
//! in the profile, served to anyone with their own type, replaced, removed, gone with the
//! account; anything else refused with its code and nothing stored.

use std::time::Duration;

use base64::Engine;
use common::contracts::account::MAX_AVATAR_BYTES;
use common::contracts::auth::PROFILE_CHANGED_CHANNEL;
use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backends, PASSWORD, Reply, TestApp, spawn_app, spawn_app_with};

both!(
    a_picture_is_set_served_replaced_and_removed,
    what_is_not_a_picture_is_refused_and_nothing_stored,
    pictures_count_as_profile_changes,
    a_deleted_accounts_picture_goes_with_it,
);

/// A 1×1 PNG.
fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
        .unwrap()
}

/// The start of a WebP file (a RIFF container of `WEBP`); the server checks no further.
fn webp() -> Vec<u8> {
    let mut bytes =
        b"RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0\x2f\0\0\0\x10\x07\x10\x11\x11\x88\x88\xfe\x07\0"
            .to_vec();
    bytes.push(0);
    bytes
}

async fn put(
    app: &TestApp,
    token: Option<&str>,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> Reply {
    let mut req = app
        .client
        .put(format!("{}/api/users/me/avatar", app.base))
        .header("origin", &app.origin)
        .body(bytes);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(t) = content_type {
        req = req.header("content-type", t);
    }
    TestApp::reply(req.send().await.expect("request")).await
}

async fn remove(app: &TestApp, token: &str) -> Reply {
    app.call(
        Method::DELETE,
        "/api/users/me/avatar",
        Some(token),
        None,
        None,
    )
    .await
}

/// The picture at `url` as anyone fetches it: status, headers and bytes.
async fn fetch(
    app: &TestApp,
    url: &str,
    if_none_match: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(format!("{}{url}", app.base));
    if let Some(tag) = if_none_match {
        req = req.header("if-none-match", tag);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

/// The next profile announced to realtime.
async fn heard(announced: &mut BoxStream<'static, String>) -> Value {
    let text = tokio::time::timeout(Duration::from_secs(5), announced.next())
        .await
        .expect("announced within 5 s")
        .expect("a message");
    serde_json::from_str(&text).unwrap()
}

fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn a_picture_is_set_served_replaced_and_removed(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, me) = app.verified_user("avatar").await;
    let token = me.access_token();
    let id = me.body["user"]["id"].as_str().unwrap().to_owned();
    assert!(me.body["user"]["avatar"].is_null());
    let mut announced = app.kv.subscribe(PROFILE_CHANGED_CHANNEL).await.unwrap();
    let r = put(&app, Some(&token), Some("image/png"), png()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let url = r.body["user"]["avatar"].as_str().expect("a URL").to_owned();
    let prefix = format!("/api/users/{id}/avatar?v=");
    let version = url.strip_prefix(&prefix).expect("the user's picture URL");
    assert!(
        version.len() == 16 && version.bytes().all(|b| b.is_ascii_hexdigit()),
        "{url}"
    );
    assert_eq!(
        heard(&mut announced).await["avatar"],
        url.as_str(),
        "contacts are told"
    );
    let public = app.get(&format!("/api/users/{id}"), None).await;
    assert_eq!(public.body["avatar"], url.as_str(), "in the public profile");
    let listed = app.get(&format!("/api/users?ids={id}"), Some(&token)).await;
    assert_eq!(
        listed.body["users"][0]["avatar"],
        url.as_str(),
        "{}",
        listed.body
    );

    // Served to anyone, as an image and nothing else, kept for good under its version.
    let (status, headers, bytes) = fetch(&app, &url, None).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, png());
    assert_eq!(header(&headers, "content-type"), "image/png");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(header(&headers, "content-security-policy").contains("sandbox"));
    assert_eq!(
        header(&headers, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let etag = header(&headers, "etag").to_owned();
    assert_eq!(etag, format!("\"{version}\""));
    let (status, headers, _) = fetch(&app, &format!("/api/users/{id}/avatar"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "cache-control"),
        "no-cache",
        "unversioned: asked again"
    );
    let (status, _, bytes) = fetch(&app, &url, Some(&etag)).await;
    assert_eq!((status, bytes.len()), (304, 0), "unchanged");

    // Replaced: a new URL; the old one names what is now there, but not for keeps.
    let r = put(&app, Some(&token), Some("image/webp"), webp()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let newer = r.body["user"]["avatar"].as_str().unwrap().to_owned();
    assert_ne!(newer, url);
    assert_eq!(heard(&mut announced).await["avatar"], newer.as_str());
    let (status, headers, bytes) = fetch(&app, &newer, None).await;
    assert_eq!((status, bytes), (200, webp()));
    assert_eq!(header(&headers, "content-type"), "image/webp");
    let (status, headers, bytes) = fetch(&app, &url, Some(&etag)).await;
    assert_eq!((status, bytes), (200, webp()), "the old tag does not match");
    assert_eq!(header(&headers, "cache-control"), "no-cache");
    let again = put(&app, Some(&token), Some("image/webp"), webp()).await;
    assert_eq!(
        again.body["user"]["avatar"],
        newer.as_str(),
        "the same bytes, the same URL"
    );
    heard(&mut announced).await;

    // Removed: the profile names none, and there is none to fetch.
    let r = remove(&app, &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["user"]["avatar"].is_null());
    assert!(
        heard(&mut announced).await["avatar"].is_null(),
        "contacts are told"
    );
    assert!(app.get(&format!("/api/users/{id}"), None).await.body["avatar"].is_null());
    let (status, _, body) = fetch(&app, &newer, None).await;
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"],
        "not_found"
    );
    let r = remove(&app, &token).await;
    assert_eq!(r.status, 200, "none to remove is not an error: {}", r.body);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), announced.next())
            .await
            .is_err(),
        "nothing changed, nothing announced"
    );
}

async fn what_is_not_a_picture_is_refused_and_nothing_stored(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, me) = app.verified_user("badavatar").await;
    let token = me.access_token();
    let id = me.body["user"]["id"].as_str().unwrap().to_owned();
    let refused = |content_type: Option<&'static str>, bytes: Vec<u8>| {
        let app = &app;
        let token = token.clone();
        async move {
            let r = put(app, Some(&token), content_type, bytes).await;
            (r.status, r.code().to_owned())
        }
    };
    let unsupported = (415, "unsupported_media_type".to_owned());
    assert_eq!(
        refused(Some("image/png"), b"just some text".to_vec()).await,
        unsupported
    );
    assert_eq!(
        refused(Some("image/jpeg"), png()).await,
        unsupported,
        "not what it says"
    );
    assert_eq!(refused(None, png()).await, unsupported, "no type");
    assert_eq!(
        refused(
            Some("image/svg+xml"),
            br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#.to_vec()
        )
        .await,
        unsupported,
        "scriptable"
    );
    assert_eq!(
        refused(Some("image/gif"), b"GIF89a\x01\0\x01\0".to_vec()).await,
        unsupported
    );
    assert_eq!(
        refused(Some("image/png"), Vec::new()).await,
        (422, "validation_failed".to_owned())
    );
    let mut big = png();
    big.resize(MAX_AVATAR_BYTES + 1, 0);
    assert_eq!(
        refused(Some("image/png"), big.clone()).await,
        (413, "payload_too_large".to_owned())
    );
    let r = put(&app, None, Some("image/png"), png()).await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"));
    // With the session cookie from another site: the Origin check stops it.
    let cookie = me.session_cookie().expect("a session cookie");
    let r = TestApp::reply(
        app.client
            .put(format!("{}/api/users/me/avatar", app.base))
            .header("cookie", format!("{}={cookie}", app.cookie_name()))
            .header("origin", "https://evil.example")
            .header("content-type", "image/png")
            .body(png())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "origin_not_allowed"));

    assert!(app.get(&format!("/api/users/{id}"), None).await.body["avatar"].is_null());
    let (status, _, _) = fetch(&app, &format!("/api/users/{id}/avatar"), None).await;
    assert_eq!(status, 404, "nothing stored");
    for nobody in [uuid::Uuid::new_v4().to_string(), "not-an-id".to_owned()] {
        let (status, _, _) = fetch(&app, &format!("/api/users/{nobody}/avatar"), None).await;
        assert_eq!(status, 404, "{nobody}");
    }

    // The largest allowed is taken.
    big.truncate(MAX_AVATAR_BYTES);
    let r = put(&app, Some(&token), Some("image/png"), big).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn pictures_count_as_profile_changes(b: Backends) {
    let Some(app) = spawn_app_with(b, |c| c.limits.profile_changes_per_hour = 3).await else {
        return;
    };
    let (_, me) = app.verified_user("avatarrl").await;
    let token = me.access_token();
    let r = app
        .call(
            Method::PATCH,
            "/api/users/me",
            Some(&token),
            Some(&json!({"displayName": "One"})),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        put(&app, Some(&token), Some("image/png"), png())
            .await
            .status,
        200
    );
    assert_eq!(remove(&app, &token).await.status, 200);
    let r = put(&app, Some(&token), Some("image/webp"), webp()).await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"), "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    let r = put(&app, Some(&token), Some("image/png"), b"not one".to_vec()).await;
    assert_eq!(
        r.code(),
        "unsupported_media_type",
        "checked before it is counted"
    );
    let r = remove(&app, &token).await;
    assert_eq!(r.status, 200, "removing none is not counted: {}", r.body);
}

async fn a_deleted_accounts_picture_goes_with_it(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let (_, me) = app.verified_user("avatardel").await;
    let token = me.access_token();
    let r = put(&app, Some(&token), Some("image/png"), png()).await;
    let url = r.body["user"]["avatar"].as_str().unwrap().to_owned();
    assert_eq!(fetch(&app, &url, None).await.0, 200);
    let r = app
        .call(
            Method::POST,
            "/api/auth/delete-account",
            Some(&token),
            Some(&json!({"password": PASSWORD})),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(fetch(&app, &url, None).await.0, 404);
}
