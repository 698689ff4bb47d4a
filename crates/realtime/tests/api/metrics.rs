//! `/metrics` after traffic: request counts by route, connected sockets, accepted and delivered
//! messages, store-write and fan-out latency histograms.

use common::testing::metric_sum;
use serde_json::json;

use crate::helpers::{Backend, User, cmid, ok, spawn_app};
use crate::on_both_backends;

on_both_backends!(metrics_move_after_messaging_traffic);

async fn metrics_move_after_messaging_traffic(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let scrape = || async {
        reqwest::get(app.url("/metrics"))
            .await
            .expect("scrape")
            .text()
            .await
            .expect("text")
    };
    let before = scrape().await;
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let sent = sa
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": cmid(), "content": "hi", "encrypted": false}),
        )
        .await;
    assert!(ok(&sent), "{sent}");
    let got = sb.next("new_message").await;
    let delivered = sb
        .ack("delivered", json!({"chatId": chat, "messageId": got["id"]}))
        .await;
    assert!(ok(&delivered), "{delivered}");
    let after = scrape().await;

    // One recorder per test process, shared by parallel tests: compare deltas, never totals.
    let delta = |prefix: &str, needles: &[&str]| {
        metric_sum(&after, prefix, needles) - metric_sum(&before, prefix, needles)
    };
    assert!(
        delta("realtime_messages_accepted_total", &[]) >= 1.0,
        "{after}"
    );
    assert!(
        delta("realtime_messages_delivered_total", &[]) >= 1.0,
        "{after}"
    );
    assert!(
        delta("realtime_store_write_seconds_count", &[]) >= 1.0,
        "{after}"
    );
    assert!(
        delta("realtime_fanout_seconds_count", &[]) >= 1.0,
        "{after}"
    );
    assert!(
        delta(
            "http_requests_total",
            &["route=\"/api/chats\"", "method=\"POST\""]
        ) >= 1.0,
        "{after}"
    );
    assert!(
        after
            .lines()
            .any(|l| l.starts_with("realtime_connected_sockets")),
        "{after}"
    );
    drop((sa, sb));
}
