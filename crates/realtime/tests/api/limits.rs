//! Abuse limits: payload size, event rate, typing throttle and expiry.

use std::time::Duration;

use common::contracts::events::MAX_CIPHERTEXT_CHARS;
use serde_json::json;

use crate::helpers::{Backend, Setup, User, WAIT, cmid, code, ok, spawn_app, spawn_with};
use crate::on_both_backends;

on_both_backends!(
    the_largest_sealed_message_is_stored_and_delivered_whole,
    an_oversize_payload_closes_the_socket_and_stores_nothing,
    events_beyond_the_rate_limit_are_answered_rate_limited,
    typing_reaches_joined_members_is_throttled_and_expires,
    a_client_that_stops_reading_is_disconnected_not_silently_skipped,
    a_websocket_client_that_stops_reading_is_disconnected,
);

/// The PWA's largest envelope (a group of 100 around 5,000 four-byte characters) fits every limit
/// on its way: the event's validation, the socket's payload, the store and the fan-out.
async fn the_largest_sealed_message_is_stored_and_delivered_whole(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let sealed = |chars: usize| json!({"chatId": chat, "clientMsgId": cmid(), "content": "A".repeat(chars), "encrypted": true, "iv": "AAECAwQFBgcICQoL"});
    let ack = sa.ack("send_message", sealed(MAX_CIPHERTEXT_CHARS)).await;
    assert!(ok(&ack), "{}", code(&ack));
    let received = sb.next("new_message").await;
    assert_eq!(
        received["content"].as_str().map(str::len),
        Some(MAX_CIPHERTEXT_CHARS)
    );
    assert_eq!(received, ack["message"]);

    let ack = sa
        .ack("send_message", sealed(MAX_CIPHERTEXT_CHARS + 4))
        .await;
    assert_eq!(code(&ack), "validation_failed");
    let history = app
        .get_json(&a, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(1));
}

async fn an_oversize_payload_closes_the_socket_and_stores_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let sa = app.socket(&a).await;
    let huge = "A".repeat(100 * 1024);
    let sent = sa
        .client
        .emit("send_message", json!({"chatId": chat, "clientMsgId": cmid(), "content": huge, "encrypted": true, "iv": "AAAAAAAAAAAAAAAA"}))
        .await;
    // The server drops the connection (over WebSocket the frame limit closes it; over polling the
    // body limit closes the session). Observed server-side, whatever the client transport noticed:
    // the user's only socket is gone.
    if sent.is_ok() {
        let key = format!("user:online:{}", a.id);
        let deadline = tokio::time::Instant::now() + WAIT;
        while app.kv.get(&key).await.expect("kv").is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "an oversize payload did not end the connection"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let history = app
        .get_json(&a, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(history["messages"], json!([]));
}

async fn events_beyond_the_rate_limit_are_answered_rate_limited(backend: Backend) {
    let mut setup = Setup::new(backend);
    setup.tweak = Box::new(|c| {
        c.limits.rate_burst = 5;
        c.limits.rate_per_sec = 0.5;
    });
    let Some(app) = spawn_with(setup).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let sa = app.socket(&a).await;
    let mut codes = Vec::new();
    for _ in 0..8 {
        let ack = sa.ack("join_chat", json!({"chatId": chat})).await;
        codes.push(if ok(&ack) {
            "ok".to_owned()
        } else {
            // Half a token a second, none left: the next one is 1-2 s away.
            let wait = ack["error"]["retryAfter"].as_u64();
            assert!(matches!(wait, Some(1..=2)), "{ack}");
            code(&ack).to_owned()
        });
    }
    assert_eq!(codes.iter().filter(|c| *c == "ok").count(), 5, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| *c == "rate_limited").count(),
        3,
        "{codes:?}"
    );

    // Messages have a budget of their own: what the events above spent does not hold them up.
    let send = || {
        sa.ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": cmid(), "content": "hi", "encrypted": false}),
        )
    };
    for i in 0..5 {
        let ack = send().await;
        assert!(ok(&ack), "message {i}: {ack}");
    }
    let over = send().await;
    assert_eq!(code(&over), "rate_limited", "{over}");
    assert!(
        matches!(over["error"]["retryAfter"].as_u64(), Some(1..=2)),
        "{over}"
    );
    let history = app
        .get_json(&a, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(
        history["messages"].as_array().map(Vec::len),
        Some(5),
        "a refused message is not stored"
    );
}

async fn typing_reaches_joined_members_is_throttled_and_expires(backend: Backend) {
    let mut setup = Setup::new(backend);
    setup.tweak = Box::new(|c| {
        c.limits.typing_ttl = Duration::from_millis(600);
        c.limits.typing_throttle = Duration::from_millis(400);
    });
    let Some(app) = spawn_with(setup).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    assert!(ok(&sb.ack("join_chat", json!({"chatId": chat})).await));
    assert!(ok(&sa.ack("typing", json!({"chatId": chat})).await));
    assert_eq!(
        sb.next("user_typing").await,
        json!({"chatId": chat, "userId": a.id})
    );
    assert!(ok(&sa.ack("typing", json!({"chatId": chat})).await));
    assert!(
        !sb.received("user_typing").await,
        "a second keystroke within the throttle is not rebroadcast"
    );
    assert!(
        !sa.received("user_typing").await,
        "the typist is not told about themself"
    );

    let key = format!("chat:{chat}:typing:{}", a.id);
    assert!(
        app.kv.get(&key).await.expect("kv").is_some(),
        "typing state is in the shared store"
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.kv.get(&key).await.expect("kv").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "typing never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // After expiry (and the throttle window) a new keystroke is broadcast again.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(ok(&sa.ack("typing", json!({"chatId": chat})).await));
        if sb
            .try_next("user_typing", Duration::from_millis(200))
            .await
            .is_some()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "typing was never broadcast again"
        );
    }
}

/// A client that stops reading fills its socket's send buffer. socketioxide's own behaviour was
/// to drop every packet past it and keep the connection up, so the client missed messages with
/// nothing telling it to catch up; now its session is closed, and a reconnecting client syncs.
/// The client here polls once for its CONNECT answer and never again, so what is sent to it waits
/// in the buffer (over WebSocket the kernel's socket buffers would take megabytes first).
async fn a_client_that_stops_reading_is_disconnected_not_silently_skipped(backend: Backend) {
    let mut setup = Setup::new(backend);
    setup.tweak = Box::new(|c| c.limits.send_buffer = 8);
    let Some(app) = spawn_with(setup).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let poll = app.url("/socket.io/?EIO=4&transport=polling");
    let open = app.http.get(&poll).send().await.expect("open");
    let open = open.text().await.expect("open packet");
    let open: serde_json::Value =
        serde_json::from_str(open.strip_prefix('0').expect("an open packet")).expect("json");
    let session = format!("{poll}&sid={}", open["sid"].as_str().expect("sid"));
    let connect = app
        .http
        .post(&session)
        .body(format!(r#"40{{"token":"{}"}}"#, app.auth.token(&b)))
        .send()
        .await
        .expect("CONNECT");
    assert!(connect.status().is_success());
    // Polls until the CONNECT answer (a poll's packets are separated by 0x1e; the first poll
    // may hold only the heartbeat's ping).
    let mut polled = String::new();
    for _ in 0..5 {
        let answer = app.http.get(&session).send().await.expect("poll");
        polled = answer.text().await.expect("body");
        if polled.split('\x1e').any(|p| p.starts_with("40")) {
            break;
        }
    }
    assert!(
        polled.split('\x1e').any(|p| p.starts_with("40")),
        "no CONNECT answer: {polled}"
    );

    let sa = app.socket(&a).await;
    for i in 0..12 {
        let ack = sa
            .ack(
                "send_message",
                json!({"chatId": chat, "clientMsgId": cmid(), "content": format!("m{i}"), "encrypted": false}),
            )
            .await;
        assert!(ok(&ack), "{ack}");
    }
    let after = app.http.get(&session).send().await.expect("poll");
    let status = after.status();
    let body = after.text().await.expect("body");
    assert_eq!(
        status, 400,
        "the session of the client that stopped reading is closed, not kept with packets dropped: {body}"
    );
    let history = app
        .get_json(&b, &format!("/api/chats/{chat}/messages"))
        .await;
    assert_eq!(
        history["messages"].as_array().map(Vec::len),
        Some(12),
        "every message is stored for the client to catch up on"
    );
}

/// The same over WebSocket, where what a client does not read fills the kernel's socket buffers
/// first (so large messages, and a small receive buffer on the client's side), then the send
/// queue, and then the session is closed.
async fn a_websocket_client_that_stops_reading_is_disconnected(backend: Backend) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Ws;

    let mut setup = Setup::new(backend);
    setup.tweak = Box::new(|c| {
        c.limits.send_buffer = 8;
        c.limits.rate_burst = 100_000;
        c.limits.rate_per_sec = 100_000.0;
    });
    let Some(app) = spawn_with(setup).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
    tcp.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let tcp = tcp.connect(app.addr).await.expect("connect");
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", app.addr);
    let (mut ws, _) = tokio_tungstenite::client_async(url, tcp)
        .await
        .expect("websocket");
    let open = ws.next().await.expect("open").expect("open");
    assert!(open.to_text().is_ok_and(|t| t.starts_with('0')), "{open:?}");
    ws.send(Ws::text(format!(
        r#"40{{"token":"{}"}}"#,
        app.auth.token(&b)
    )))
    .await
    .expect("CONNECT");
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a CONNECT answer")
            .expect("open")
            .expect("a frame");
        if frame.to_text().is_ok_and(|t| t.starts_with("40")) {
            break;
        }
    }
    // From here on, b reads nothing.

    let online = format!("user:online:{}", b.id);
    assert!(app.kv.get(&online).await.expect("kv").is_some());
    let sa = app.socket(&a).await;
    let big = "A".repeat(26_000);
    let mut sent = 0;
    while app.kv.get(&online).await.expect("kv").is_some() {
        assert!(
            sent < 2_000,
            "2,000 messages of 26 kB later, the client that stopped reading is still connected"
        );
        let ack = sa
            .ack(
                "send_message",
                json!({"chatId": chat, "clientMsgId": cmid(), "content": big, "encrypted": true, "iv": "AAAAAAAAAAAAAAAA"}),
            )
            .await;
        assert!(ok(&ack), "{ack}");
        sent += 1;
    }
    drop(ws);
    assert!(
        sent > 8,
        "closed only once its buffers were full ({sent} messages)"
    );
}
