//! MongoDB stops: sends fail with `unavailable` (never `ok:true`) and nothing is broadcast; the
//! client may resend later with the same `clientMsgId`. Sends in flight when it stops are each
//! answered (stored, or `Unavailable`), never left hanging in a batch.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use common::contracts::chat::{ChatType, MessageType};
use realtime::adapters::{MongoStore, Patience};
use realtime::domain::new_object_id;
use realtime::ports::{ChatRecord, ChatStore, Inserted, NewMessage, StoreError};
use serde_json::json;
use tokio::sync::Notify;

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

/// nx-27017 is killed while batches of sends are being written: every send still gets an answer,
/// and that answer is either "stored" or `Unavailable` (the client resends later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_mongodb_killed_mid_batch_every_pending_send_is_answered() {
    let Some((mut mongo, url)) = start_nx27017().await else {
        return;
    };
    let (store, chat, a) = store_with_chat(&url, "killed", Duration::from_secs(10)).await;
    let store: Arc<dyn ChatStore> = Arc::new(store);
    // Told once the first 100 sends are stored: the writer is busy with the batches behind them.
    let (stored, busy) = (Arc::new(AtomicUsize::new(0)), Arc::new(Notify::new()));
    let send = |n: usize| {
        let (store, stored, busy) = (store.clone(), stored.clone(), busy.clone());
        let m = message(&chat, &a, &format!("k{n}"));
        tokio::spawn(async move {
            let r = store.insert_message(m).await;
            if r.is_ok() && stored.fetch_add(1, Ordering::SeqCst) + 1 == 100 {
                busy.notify_one();
            }
            r
        })
    };

    let in_flight: Vec<_> = (0..3000).map(send).collect();
    tokio::time::timeout(WAIT, busy.notified())
        .await
        .expect("the first sends are stored");
    mongo.0.kill().await.expect("stop nx-27017");
    let after: Vec<_> = (3000..3050).map(send).collect();
    let (in_flight, after) = tokio::time::timeout(
        WAIT,
        futures::future::join(
            futures::future::join_all(in_flight),
            futures::future::join_all(after),
        ),
    )
    .await
    .expect("every pending send is answered, none hangs");
    let mut refused = 0;
    for answer in in_flight {
        match answer.expect("task") {
            Ok(Inserted::New(_)) => {}
            Err(StoreError::Unavailable(_)) => refused += 1,
            other => panic!("a send is stored or unavailable, not {other:?}"),
        }
    }
    assert!(refused > 0, "sends still queued at the kill are refused");
    for answer in after {
        let answer = answer.expect("task");
        assert!(
            matches!(answer, Err(StoreError::Unavailable(_))),
            "{answer:?}"
        );
    }
    let late = store.get_chat(&chat.id).await;
    assert!(matches!(late, Err(StoreError::Unavailable(_))), "{late:?}");
}

/// Sends a signal to the nx-27017 child (`STOP` pauses it: connections stay open, nothing
/// answers — a hung server, as opposed to a dead one).
fn signal(mongo: &Mongo, name: &str) {
    let pid = mongo.0.id().expect("nx-27017 is running");
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// A hung MongoDB (paused, connections open) does not hang the sender: the send is refused
/// `unavailable` once the answer deadline passes. Resumed, the same send is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_mongodb_hung_a_send_is_refused_in_time_and_stored_once_after() {
    let Some((mongo, url)) = start_nx27017().await else {
        return;
    };
    let mut setup = Setup::new(Backend::Real);
    setup.mongodb_url = Some(url);
    setup.tweak = Box::new(|c| {
        c.mongodb_timeout = Duration::from_millis(1500);
        c.mongodb_answer_timeout = Duration::from_millis(1500);
    });
    let Some(app) = spawn_with(setup).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let (sa, sb) = (app.socket(&a).await, app.socket(&b).await);
    let send = |id: &str| json!({"chatId": chat, "clientMsgId": id, "content": "hello", "encrypted": false});

    signal(&mongo, "STOP");
    let id = cmid();
    let hung = tokio::time::timeout(WAIT, sa.ack("send_message", send(&id)))
        .await
        .expect("answered while MongoDB hangs");
    assert_eq!(code(&hung), "unavailable", "{hung}");
    assert!(!sb.received("new_message").await, "nothing was broadcast");

    signal(&mongo, "CONT");
    let deadline = tokio::time::Instant::now() + WAIT;
    let stored = loop {
        let answer = sa.ack("send_message", send(&id)).await;
        if ok(&answer) {
            break answer;
        }
        assert_eq!(code(&answer), "unavailable", "{answer}");
        assert!(tokio::time::Instant::now() < deadline, "{answer}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let got = sb.next("new_message").await;
    assert_eq!(got["id"], stored["message"]["id"], "{got}");
    let history = app
        .get_json(&b, &format!("/api/chats/{chat}/messages"))
        .await;
    let copies = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["clientMsgId"] == id.as_str())
        .count();
    assert_eq!(copies, 1, "{history}");
}

/// The batch writer itself gives up on a hung server: a send answered `Unavailable`, then the
/// writer recovers once the server does; a resend of the timed-out send finds at most one copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_writer_gives_up_on_a_hung_mongodb_and_recovers() {
    let Some((mongo, url)) = start_nx27017().await else {
        return;
    };
    let (store, chat, sender) = store_with_chat(&url, "hung", Duration::from_millis(1500)).await;
    let message = |client_msg_id: &str| message(&chat, &sender, client_msg_id);

    signal(&mongo, "STOP");
    let hung = tokio::time::timeout(WAIT, store.insert_message(message("h1")))
        .await
        .expect("the writer answers while MongoDB hangs");
    assert!(matches!(hung, Err(StoreError::Unavailable(_))), "{hung:?}");

    signal(&mongo, "CONT");
    let deadline = tokio::time::Instant::now() + WAIT;
    for id in ["h1", "h2"] {
        loop {
            match store.insert_message(message(id)).await {
                Ok(_) => break,
                Err(StoreError::Unavailable(e)) => {
                    assert!(tokio::time::Instant::now() < deadline, "{e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
    }
    let stored = store
        .messages_after(&chat.id, None, 10)
        .await
        .expect("history");
    let ids: Vec<&str> = stored.iter().map(|m| m.client_msg_id.as_str()).collect();
    assert_eq!(ids, ["h1", "h2"], "each send stored once");
}

/// A store on `url` (database `db`) whose batches get `answer` to be written, with a group chat
/// of two in it; returns the store, the chat and the first member.
async fn store_with_chat(
    url: &str,
    db: &str,
    answer: Duration,
) -> (MongoStore, ChatRecord, String) {
    let patience = Patience {
        connect: Duration::from_millis(1500),
        answer,
    };
    let store = MongoStore::connect(url, db, "majority", patience)
        .await
        .expect("connect");
    let (a, b) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let chat = ChatRecord {
        id: new_object_id(),
        kind: ChatType::Group,
        participants: vec![a.clone(), b],
        name: Some(db.into()),
        admins: vec![a.clone()],
        passcode_hash: None,
        created_at: Utc::now().trunc_subsecs(3),
        revision: 0,
        closed: false,
        topic: None,
        picture: None,
        pins: Vec::new(),
    };
    store.insert_chat(&chat).await.expect("insert chat");
    (store, chat, a)
}

/// A text message from `sender` in `chat`.
fn message(chat: &ChatRecord, sender: &str, client_msg_id: &str) -> NewMessage {
    NewMessage {
        id: new_object_id(),
        chat_id: chat.id.clone(),
        sender_id: sender.to_owned(),
        client_msg_id: client_msg_id.to_owned(),
        content: format!("message {client_msg_id}"),
        iv: None,
        encrypted: false,
        kind: MessageType::Text,
        metadata: None,
        reply_to: None,
        timestamp: Utc::now().trunc_subsecs(3),
    }
}
