//! Attachments end to end: uploaded to a chat, read back by its members only, named by the
//! uploader's messages only, bounded in size and by an hourly quota per user.

use common::contracts::chat::MAX_ATTACHMENT_BYTES;
use realtime::domain::attachments::TRANSFERS;
use serde_json::{Value, json};

use crate::helpers::{Backend, Setup, TestApp, User, cmid, code, ok, spawn_app, spawn_with};
use crate::on_both_backends;

on_both_backends!(
    an_attachment_is_read_by_the_chats_members_only,
    only_the_uploader_sends_an_attachment_and_only_to_its_chat,
    uploads_are_bounded_in_size,
    uploads_past_the_hourly_quota_are_rate_limited_and_refused_ones_do_not_count,
    uploads_past_the_storage_quota_are_refused_until_a_chat_is_deleted,
    a_stalled_upload_is_answered_request_timeout,
    a_download_nobody_takes_is_cut_short_and_lets_its_turn_go,
);

/// Every byte value, so no encoding on the way (text, base64, a NUL terminator) goes unseen.
fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Uploads `body` as `user`; the attachment's id.
async fn uploaded(app: &TestApp, user: &User, chat: &str, body: Vec<u8>) -> String {
    let resp = app.upload(user, chat, body).await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.expect("json");
    created["id"].as_str().expect("id").to_owned()
}

async fn refused(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("json error");
    (status, code(&body).to_owned())
}

fn file_message(chat: &str, attachment: &str) -> Value {
    json!({
        "chatId": chat, "clientMsgId": cmid(), "type": "file", "encrypted": false,
        "content": "{\"name\":\"notes.bin\"}",
        "metadata": {"attachmentId": attachment, "fileSize": 3}
    })
}

async fn an_attachment_is_read_by_the_chats_members_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, c, outsider) = (User::new(), User::new(), User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let data = bytes(300_000);
    let resp = app.upload(&a, &chat, data.clone()).await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.expect("json");
    assert_eq!(created["chatId"], chat.as_str());
    assert_eq!(created["size"], 300_000);
    let id = created["id"].as_str().expect("id").to_owned();

    let path = format!("/api/chats/{chat}/attachments/{id}");
    for member in [&a, &b] {
        let got = app.get(member, &path).await;
        assert_eq!(got.status(), 200);
        let headers = got.headers();
        assert_eq!(headers["content-type"], "application/octet-stream");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["content-disposition"], "attachment");
        assert_eq!(got.bytes().await.expect("bytes").as_ref(), data.as_slice());
    }
    assert_eq!(
        refused(app.get(&outsider, &path).await).await,
        (403, "not_a_member".to_owned())
    );
    assert_eq!(
        refused(app.upload(&outsider, &chat, bytes(10)).await).await,
        (403, "not_a_member".to_owned())
    );
    // Through another chat of the same members, an unknown id, or something not an id.
    let group = app.group(&a, "Elsewhere", &[&b, &c]).await;
    let group = group["id"].as_str().expect("id");
    for path in [
        format!("/api/chats/{group}/attachments/{id}"),
        format!("/api/chats/{chat}/attachments/{}", "0".repeat(24)),
        format!("/api/chats/{chat}/attachments/nope"),
    ] {
        assert_eq!(
            refused(app.get(&a, &path).await).await,
            (404, "not_found".to_owned()),
            "{path}"
        );
    }
}

async fn only_the_uploader_sends_an_attachment_and_only_to_its_chat(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, c) = (User::new(), User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let id = uploaded(&app, &a, &chat, b"abc".to_vec()).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);

    // Named in upper case, stored as every id is: lower case.
    let first = file_message(&chat, &id.to_uppercase());
    let ack = sa.ack("send_message", first.clone()).await;
    assert!(ok(&ack), "{ack}");
    assert_eq!(ack["message"]["type"], "file");
    assert_eq!(ack["message"]["metadata"]["attachmentId"], id.as_str());
    let received = sb.next("new_message").await;
    assert_eq!(received, ack["message"]);
    let history = app
        .get_json(&b, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(history["messages"][0], ack["message"]);
    let resent = sa.ack("send_message", first).await;
    assert_eq!(resent["message"], ack["message"], "a resend: {resent}");

    // Bob sending Alice's upload as his, Alice carrying it into another chat, an unknown upload,
    // Alice sending it again in a second message (deleting either would delete the other's file).
    let group = app.group(&a, "Elsewhere", &[&b, &c]).await;
    let group = group["id"].as_str().expect("id");
    for (socket, chat, attachment) in [
        (&sb, chat.as_str(), id.clone()),
        (&sa, group, id.clone()),
        (&sa, chat.as_str(), "0".repeat(24)),
        (&sa, chat.as_str(), id.clone()),
    ] {
        let ack = socket
            .ack("send_message", file_message(chat, &attachment))
            .await;
        assert_eq!(code(&ack), "validation_failed", "{ack}");
        assert!(
            ack["error"]["fields"]["metadata.attachmentId"].is_array(),
            "{ack}"
        );
    }
    // A file message without its upload, and a text naming one, are malformed.
    let mut bare = file_message(&chat, &id);
    bare["metadata"] = json!({"fileSize": 3});
    let mut text = file_message(&chat, &id);
    text["type"] = json!("text");
    for payload in [bare, text] {
        let ack = sa.ack("send_message", payload).await;
        assert_eq!(code(&ack), "validation_failed", "{ack}");
    }
    let history = app
        .get_json(&a, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(1));
}

async fn uploads_are_bounded_in_size(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    assert_eq!(
        refused(app.upload(&a, &chat, Vec::new()).await).await,
        (422, "validation_failed".to_owned())
    );
    assert_eq!(
        refused(app.upload(&a, &chat, bytes(MAX_ATTACHMENT_BYTES + 1)).await).await,
        (413, "payload_too_large".to_owned())
    );
    let id = uploaded(&app, &a, &chat, bytes(MAX_ATTACHMENT_BYTES)).await;
    let got = app
        .get(&b, &format!("/api/chats/{chat}/attachments/{id}"))
        .await;
    assert_eq!(
        got.bytes().await.expect("bytes").len(),
        MAX_ATTACHMENT_BYTES
    );
}

async fn uploads_past_the_hourly_quota_are_rate_limited_and_refused_ones_do_not_count(
    backend: Backend,
) {
    let mut setup = Setup::new(backend);
    setup.tweak = Box::new(|c| c.limits.upload_bytes_per_hour = 1000);
    let Some(app) = spawn_with(setup).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    uploaded(&app, &a, &chat, bytes(600)).await;
    let over = app.upload(&a, &chat, bytes(600)).await;
    let retry: u64 = over.headers()["retry-after"]
        .to_str()
        .expect("retry-after")
        .parse()
        .expect("seconds");
    assert!((1..=3600).contains(&retry), "retry after {retry} s");
    assert_eq!(refused(over).await, (429, "rate_limited".to_owned()));
    // The refused 600 bytes were not counted: 400 more fit the 1,000.
    uploaded(&app, &a, &chat, bytes(400)).await;
    assert_eq!(
        refused(app.upload(&a, &chat, bytes(1)).await).await,
        (429, "rate_limited".to_owned())
    );
    // The quota is the user's: Bob still uploads.
    uploaded(&app, &b, &chat, bytes(1000)).await;
}

/// A user's attachments, in every chat, take at most `attachment_bytes_per_user`: past it
/// `quota_exceeded`, until deleting a chat frees its attachments' bytes.
async fn uploads_past_the_storage_quota_are_refused_until_a_chat_is_deleted(backend: Backend) {
    let mut setup = Setup::new(backend);
    setup.tweak = Box::new(|c| c.limits.attachment_bytes_per_user = 1000);
    let Some(app) = spawn_with(setup).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let dm = app.direct_chat(&a, &b).await;
    let group = app.group(&a, "Files", &[&b]).await;
    let group = group["id"].as_str().expect("group id").to_owned();
    uploaded(&app, &a, &dm, bytes(600)).await;
    uploaded(&app, &a, &group, bytes(300)).await;
    // 900 stored in two chats: 100 more fit, 101 do not.
    let over = app.upload(&a, &group, bytes(101)).await;
    assert_eq!(refused(over).await, (507, "quota_exceeded".to_owned()));
    uploaded(&app, &a, &dm, bytes(100)).await;
    assert_eq!(
        refused(app.upload(&a, &dm, bytes(1)).await).await,
        (507, "quota_exceeded".to_owned())
    );
    // The quota is the user's: Bob still uploads.
    uploaded(&app, &b, &dm, bytes(1000)).await;
    // Deleting the group frees its 300 bytes.
    let deleted = app.delete(&a, &format!("/api/chats/{group}")).await;
    assert!(deleted.status().is_success(), "{}", deleted.status());
    uploaded(&app, &a, &dm, bytes(300)).await;
}

/// An upload whose body stops coming is answered `request_timeout` once `upload_within` passed
/// (it would hold one of the instance's transfer turns for good otherwise). Raw HTTP: the body
/// promises 100 bytes and sends one.
async fn a_stalled_upload_is_answered_request_timeout(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut setup = Setup::new(backend);
    setup.tweak = Box::new(|c| c.limits.upload_within = std::time::Duration::from_secs(1));
    let Some(app) = spawn_with(setup).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let mut conn = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/chats/{chat}/attachments HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\nx",
        app.addr,
        app.auth.token(&a)
    );
    conn.write_all(head.as_bytes()).await.expect("write");
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(15), conn.read(&mut answer))
        .await
        .expect("an answer, not a wait for the rest of the body")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    // Nothing was stored: the chat's uploader can still upload (a turn is free again).
    uploaded(&app, &a, &chat, bytes(1)).await;
}

/// A download whose client stops reading is cut short once `download_within` passed, and lets its
/// turn go (it would hold it for good otherwise: hyper has no write timeout). With every turn
/// held by such clients another member still downloads, and a stalled client reading at last
/// gets fewer bytes than its `Content-Length`, never what would pass for the whole file.
async fn a_download_nobody_takes_is_cut_short_and_lets_its_turn_go(backend: Backend) {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut setup = Setup::new(backend);
    setup.tweak = Box::new(|c| c.limits.download_within = Duration::from_secs(1));
    let Some(app) = spawn_with(setup).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let id = uploaded(&app, &a, &chat, bytes(MAX_ATTACHMENT_BYTES)).await;
    let path = format!("/api/chats/{chat}/attachments/{id}");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
        app.addr,
        app.auth.token(&b)
    );
    // Each takes a turn (its answer has begun) and then reads nothing: 10 MiB is more than the
    // kernel's buffers hold for a receiver whose own is fixed at 64 KiB (the sender's grows to
    // 4 MiB at most here). Not smaller: the end of a stalled answer is read below, and windows
    // of a few KiB make loopback crawl.
    let mut stalled = Vec::new();
    for _ in 0..TRANSFERS {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .set_recv_buffer_size(64 * 1024)
            .expect("receive buffer");
        let mut conn = socket.connect(app.addr).await.expect("connect");
        conn.write_all(request.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut more = [0; 1024];
            let n = conn.read(&mut more).await.expect("read the answer's head");
            assert!(n > 0, "closed before answering");
            answer.extend_from_slice(&more[..n]);
        }
        stalled.push((conn, answer));
    }
    // Every download's deadline has passed by then, with a margin for a busy machine: the last
    // one's turn came before its head was read.
    let all_past_deadline = tokio::time::Instant::now() + Duration::from_secs(3);

    let got = tokio::time::timeout(Duration::from_secs(20), app.get(&a, &path))
        .await
        .expect("a turn let go by a download nobody takes");
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.bytes().await.expect("bytes").len(),
        MAX_ATTACHMENT_BYTES
    );

    // A stalled client reading at last: what the kernel held, then the end, short of the file.
    tokio::time::sleep_until(all_past_deadline).await;
    let (mut conn, mut answer) = stalled.pop().expect("a stalled client");
    tokio::time::timeout(Duration::from_secs(20), conn.read_to_end(&mut answer))
        .await
        .expect("the connection ends")
        .expect("read to the end");
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let head = String::from_utf8_lossy(&answer[..head_end]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains(&format!("content-length: {MAX_ATTACHMENT_BYTES}\r\n")),
        "{head}"
    );
    let body = answer.len() - head_end;
    assert!(body < MAX_ATTACHMENT_BYTES, "{body} bytes: not cut short");
}
