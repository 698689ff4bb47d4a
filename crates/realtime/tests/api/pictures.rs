//! A group's picture (`PUT|DELETE|GET /api/chats/{id}/picture`): set, replaced and removed by its
//! admins, each a change counted in the revision and told to the members; served to members
//! only, with its type, `nosniff`, an `ETag`, and kept for good only by its current version.

use reqwest::header;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, User, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    admins_set_replace_and_remove_a_groups_picture_and_members_see_it,
    what_is_not_a_group_picture_is_refused_and_nothing_stored,
);

/// A PNG's first bytes and then some: what the picture check reads (the bytes are not decoded).
fn png(fill: u8, len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.resize(len, fill);
    bytes
}

fn picture_path(chat: &str) -> String {
    format!("/api/chats/{chat}/picture")
}

async fn put_picture(
    app: &TestApp,
    user: &User,
    chat: &str,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let mut request = app
        .http
        .put(app.url(&picture_path(chat)))
        .bearer_auth(app.auth.token(user))
        .body(bytes);
    if let Some(t) = content_type {
        request = request.header(header::CONTENT_TYPE, t);
    }
    let r = request.send().await.expect("request");
    (r.status().as_u16(), r.json().await.expect("json"))
}

/// `url` (a chat's `picture`) read as `user`, with `If-None-Match` when given.
async fn fetch(app: &TestApp, user: &User, url: &str, etag: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(app.url(url)).bearer_auth(app.auth.token(user));
    if let Some(tag) = etag {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    request.send().await.expect("request")
}

fn head(r: &reqwest::Response, name: header::HeaderName) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

async fn admins_set_replace_and_remove_a_groups_picture_and_members_see_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (admin, member, stranger) = (User::new(), User::new(), User::new());
    let group = app.group(&admin, "Book club", &[&member]).await;
    let id = group["id"].as_str().expect("id").to_owned();
    assert!(group.get("picture").is_none(), "none at first: {group}");
    let (sa, sm) = (app.socket(&admin).await, app.socket(&member).await);

    // Set: the answer, the members' event, and every read name the same URL.
    let first = png(1, 2_000);
    let (status, body) = put_picture(&app, &admin, &id, Some("image/png"), first.clone()).await;
    assert_eq!(status, 200, "{body}");
    let url = body["picture"].as_str().expect("a URL").to_owned();
    let prefix = format!("/api/chats/{id}/picture?v=");
    let version = url
        .strip_prefix(&prefix)
        .expect("the URL names the version");
    assert_eq!(version.len(), 16, "{url}");
    assert_eq!(body["revision"], 1);
    let heard = json!({"chatId": id, "revision": 1, "picture": url});
    assert_eq!(sm.next("chat_changed").await, heard);
    assert_eq!(sa.next("chat_changed").await, heard);
    assert_eq!(
        app.get_json(&member, &format!("/api/chats/{id}")).await["picture"],
        url
    );
    let list = app.get_json(&member, "/api/chats").await;
    assert_eq!(list["chats"][0]["picture"], url);

    // Served to members: its bytes and type, nosniff, kept privately for good by this version.
    let r = fetch(&app, &member, &url, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(head(&r, header::CONTENT_TYPE), "image/png");
    assert_eq!(head(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(
        head(&r, header::CACHE_CONTROL),
        "private, max-age=31536000, immutable"
    );
    let etag = head(&r, header::ETAG);
    assert_eq!(etag, format!("\"{version}\""));
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), first);
    let r = fetch(&app, &member, &url, Some(&etag)).await;
    assert_eq!(r.status(), 304);
    let r = fetch(&app, &member, &picture_path(&id), None).await;
    assert_eq!(
        head(&r, header::CACHE_CONTROL),
        "private, no-cache",
        "no version asked"
    );
    // Not to others.
    let r = fetch(&app, &stranger, &url, None).await;
    assert_eq!(r.status(), 403);
    let r = app.http.get(app.url(&url)).send().await.expect("request");
    assert_eq!(r.status(), 401);

    // Replaced: a new URL; the old one's version is no longer kept for good.
    let second = png(2, 3_000);
    let (status, body) = put_picture(&app, &admin, &id, Some("image/png"), second.clone()).await;
    assert_eq!(status, 200, "{body}");
    let newer = body["picture"].as_str().expect("a URL").to_owned();
    assert_ne!(newer, url);
    assert_eq!(body["revision"], 2);
    assert_eq!(sm.next("chat_changed").await["picture"], newer);
    let r = fetch(&app, &member, &url, None).await;
    assert_eq!(head(&r, header::CACHE_CONTROL), "private, no-cache");
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), second);

    // Removed: told as "", gone from reads and 404; removing again changes nothing. Answered,
    // as other changes, without the member list when asked so.
    let r = app
        .delete(&admin, &format!("{}?members=direct", picture_path(&id)))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert!(body.get("picture").is_none(), "{body}");
    assert_eq!(
        (&body["membersOmitted"], &body["participants"]),
        (&json!(true), &json!([])),
        "{body}"
    );
    assert_eq!(
        sm.next("chat_changed").await,
        json!({"chatId": id, "revision": 3, "picture": ""})
    );
    assert!(
        app.get_json(&member, &format!("/api/chats/{id}"))
            .await
            .get("picture")
            .is_none()
    );
    let r = fetch(&app, &member, &picture_path(&id), None).await;
    assert_eq!(r.status(), 404);
    let r = app.delete(&admin, &picture_path(&id)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["revision"], 3, "nothing changed");
    assert!(
        sm.try_next("chat_changed", std::time::Duration::from_millis(300))
            .await
            .is_none()
    );

    // Goes with the group.
    put_picture(&app, &admin, &id, Some("image/png"), first).await;
    let r = app.delete(&admin, &format!("/api/chats/{id}")).await;
    assert_eq!(r.status(), 204);
    let r = fetch(&app, &admin, &picture_path(&id), None).await;
    assert_eq!(r.status(), 404);
}

async fn what_is_not_a_group_picture_is_refused_and_nothing_stored(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (admin, member, other) = (User::new(), User::new(), User::new());
    let group = app.group(&admin, "Walkers", &[&member]).await;
    let id = group["id"].as_str().expect("id").to_owned();
    let direct = app.direct_chat(&admin, &other).await;
    let code = |(status, body): (u16, Value)| {
        (
            status,
            body["error"]["code"].as_str().unwrap_or("").to_owned(),
        )
    };
    let refused = [
        (
            Some("text/plain"),
            b"hello".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            Some("image/jpeg"),
            png(0, 100),
            415,
            "unsupported_media_type",
        ),
        (None, png(0, 100), 415, "unsupported_media_type"),
        (
            Some("image/svg+xml"),
            b"<svg onload=alert(1)>".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (Some("image/png"), Vec::new(), 422, "validation_failed"),
        (
            Some("image/png"),
            png(0, 256 * 1024 + 1),
            413,
            "payload_too_large",
        ),
    ];
    for (content_type, bytes, status, expected) in refused {
        assert_eq!(
            code(put_picture(&app, &admin, &id, content_type, bytes).await),
            (status, expected.to_owned()),
            "{content_type:?}"
        );
    }
    assert_eq!(
        code(put_picture(&app, &member, &id, Some("image/png"), png(0, 100)).await),
        (403, "not_an_admin".to_owned())
    );
    assert_eq!(
        code(put_picture(&app, &other, &id, Some("image/png"), png(0, 100)).await),
        (403, "not_a_member".to_owned())
    );
    assert_eq!(
        code(put_picture(&app, &admin, &direct, Some("image/png"), png(0, 100)).await),
        (403, "forbidden".to_owned())
    );
    let nowhere = realtime::domain::new_object_id();
    assert_eq!(
        code(put_picture(&app, &admin, &nowhere, Some("image/png"), png(0, 100)).await),
        (404, "not_found".to_owned())
    );
    let r = app.delete(&member, &picture_path(&id)).await;
    assert_eq!(r.status(), 403);

    // Nothing of that was stored or counted; 256 KiB exactly is taken.
    let read = app.get_json(&admin, &format!("/api/chats/{id}")).await;
    assert!(read.get("picture").is_none(), "{read}");
    assert_eq!(read["revision"], 0);
    let (status, body) =
        put_picture(&app, &admin, &id, Some("image/png"), png(0, 256 * 1024)).await;
    assert_eq!((status, &body["revision"]), (200, &json!(1)), "{body}");
}
