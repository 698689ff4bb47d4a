//! MongoDB stops: sends fail with `unavailable` (never `ok:true`) and nothing is broadcast; the
//! client may resend later with the same `clientMsgId`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::helpers::{Backend, Setup, User, WAIT, cmid, code, ok, spawn_with};

/// A private nx-27017 child process and its data directory (both gone when dropped).
struct Mongo(tokio::process::Child, std::path::PathBuf);

impl Drop for Mongo {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

async fn start_nx27017() -> Option<(Mongo, String)> {
    let bin = common::testing::backend_url("NX27017_BIN")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let dir = std::env::temp_dir().join(common::testing::unique_name("nx"));
    std::fs::create_dir_all(&dir).ok()?;
    let child = tokio::process::Command::new(bin)
        .args(["--host", "127.0.0.1", "-p", &port.to_string(), "--data-dir"])
        .arg(&dir)
        .arg("--log-file")
        .arg(dir.join("nx.log"))
        .arg("--pid-file")
        .arg(dir.join("nx.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start nx-27017");
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nx-27017 did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some((Mongo(child, dir), format!("mongodb://127.0.0.1:{port}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_mongodb_stopped_a_send_is_refused_unavailable_and_nothing_is_broadcast() {
    let Some((mut mongo, url)) = start_nx27017().await else {
        return;
    };
    let mut setup = Setup::new(Backend::Real);
    setup.mongodb_url = Some(url);
    setup.tweak = Box::new(|c| c.mongodb_timeout = Duration::from_millis(1500));
    let Some(app) = spawn_with(setup).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let before = sa
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": cmid(), "content": "up", "encrypted": false}),
        )
        .await;
    assert!(ok(&before), "{before}");
    sb.next("new_message").await;

    mongo.0.kill().await.expect("stop nx-27017");
    let id = cmid();
    let down = sa
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": id, "content": "down", "encrypted": false}),
        )
        .await;
    assert!(!ok(&down), "no ok:true while MongoDB is down: {down}");
    assert_eq!(code(&down), "unavailable", "{down}");
    assert!(!sb.received("new_message").await, "nothing was broadcast");
    let ready = app.http.get(app.url("/readyz")).send().await.expect("GET");
    assert_eq!(ready.status(), 503);
}
