//! A `rust_socketio` client that records every event it receives, with ack and wait helpers.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

use super::WAIT;

/// The events that tell a socket of its contacts' presence changes.
pub const PRESENCE_EVENTS: &[&str] = &["user_online", "user_offline", "presence_update"];

/// What the client saw.
#[derive(Debug, Clone)]
pub enum Seen {
    Connected,
    Error(String),
    Closed,
    Event(String, Value),
}

/// A `rust_socketio` client that records every event.
pub struct TestSocket {
    pub client: Client,
    rx: Mutex<mpsc::UnboundedReceiver<Seen>>,
    backlog: Mutex<VecDeque<Seen>>,
    /// Entries of `presence_update`s received and not yet asked for.
    presence: Mutex<VecDeque<Value>>,
}

fn first(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut v) if !v.is_empty() => v.swap_remove(0),
        #[allow(deprecated)]
        Payload::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        _ => Value::Null,
    }
}

impl TestSocket {
    pub async fn connect(
        base: &str,
        token: Option<String>,
        origin: Option<&str>,
    ) -> Result<Self, String> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (t1, t2, t3, t4) = (tx.clone(), tx.clone(), tx.clone(), tx);
        let mut builder = ClientBuilder::new(base)
            .reconnect(false)
            .on(Event::Connect, move |_, _| {
                let _ = t1.send(Seen::Connected);
                async {}.boxed()
            })
            .on(Event::Error, move |p, _| {
                let _ = t2.send(Seen::Error(first(p).to_string()));
                async {}.boxed()
            })
            .on(Event::Close, move |_, _| {
                let _ = t3.send(Seen::Closed);
                async {}.boxed()
            })
            .on_any(move |event, p, _| {
                let _ = t4.send(Seen::Event(String::from(event), first(p)));
                async {}.boxed()
            });
        if let Some(token) = token {
            builder = builder.auth(json!({ "token": token }));
        }
        if let Some(origin) = origin {
            builder = builder.opening_header("Origin", origin);
        }
        let client = builder
            .connect()
            .await
            .map_err(|e| format!("transport: {e}"))?;
        let socket = Self {
            client,
            rx: Mutex::new(rx),
            backlog: Mutex::new(VecDeque::new()),
            presence: Mutex::new(VecDeque::new()),
        };
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let seen = tokio::time::timeout_at(deadline, socket.rx.lock().await.recv())
                .await
                .map_err(|_| "no answer to CONNECT".to_owned())?;
            match seen {
                Some(Seen::Connected) => return Ok(socket),
                Some(Seen::Error(e)) => return Err(e),
                Some(other) => socket.backlog.lock().await.push_back(other),
                None => return Err("closed".into()),
            }
        }
    }

    /// Emits `event` without asking for an ack.
    pub async fn emit(&self, event: &str, payload: Value) {
        self.client.emit(event, payload).await.expect("emit");
    }

    /// Sends the plain text `text` to `chat` (a fresh `clientMsgId`), which must be accepted;
    /// the stored message, as its ack answers it.
    pub async fn send_text(&self, chat: &str, text: &str) -> Value {
        let payload = json!({
            "chatId": chat, "clientMsgId": super::cmid(), "content": text, "encrypted": false
        });
        let ack = self.ack("send_message", payload).await;
        assert_eq!(ack["ok"], true, "{ack}");
        ack["message"].clone()
    }

    /// Emits `event` and waits for its ack.
    pub async fn ack(&self, event: &str, payload: Value) -> Value {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
        let what = format!("{event} {payload}");
        self.client
            .emit_with_ack(event, payload, WAIT, move |p: Payload, _| {
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    // rust_socketio hands an ack's argument list over as one JSON array.
                    let v = match first(p) {
                        serde_json::Value::Array(mut args) if args.len() == 1 => {
                            args.swap_remove(0)
                        }
                        other => other,
                    };
                    let _ = tx.send(v);
                }
                async {}.boxed()
            })
            .await
            .expect("emit");
        match tokio::time::timeout(WAIT, rx).await {
            Ok(Ok(v)) => v,
            _ => panic!("no ack for {what}"),
        }
    }

    /// Waits for the next `event` (other events stay buffered).
    pub async fn next(&self, event: &str) -> Value {
        self.try_next(event, WAIT)
            .await
            .unwrap_or_else(|| panic!("no `{event}` within {WAIT:?}"))
    }

    pub async fn try_next(&self, event: &str, wait: Duration) -> Option<Value> {
        self.try_next_of(&[event], wait).await.map(|(_, v)| v)
    }

    /// The next event named in `events`, with its name.
    pub async fn try_next_of(&self, events: &[&str], wait: Duration) -> Option<(String, Value)> {
        let wanted = |e: &String| events.contains(&e.as_str());
        {
            let mut backlog = self.backlog.lock().await;
            if let Some(i) = backlog
                .iter()
                .position(|s| matches!(s, Seen::Event(e, _) if wanted(e)))
                && let Some(Seen::Event(e, v)) = backlog.remove(i)
            {
                return Some((e, v));
            }
        }
        let deadline = tokio::time::Instant::now() + wait;
        let mut rx = self.rx.lock().await;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Seen::Event(e, v))) if wanted(&e) => return Some((e, v)),
                Ok(Some(other)) => self.backlog.lock().await.push_back(other),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The next presence change of `user` that this socket was told of (by `user_online`,
    /// `user_offline` or an entry of a `presence_update`; others' stay buffered):
    /// `{"userId", "online": true}`, or `{"userId", "online": false, "lastSeen"}`.
    pub async fn presence_of(&self, user: &str) -> Value {
        self.try_presence_of(user, WAIT)
            .await
            .unwrap_or_else(|| panic!("no presence of {user} within {WAIT:?}"))
    }

    pub async fn try_presence_of(&self, user: &str, wait: Duration) -> Option<Value> {
        self.presence_entry(Some(user), wait).await
    }

    /// The next presence change this socket was told of, whoever it names.
    pub async fn try_next_presence(&self, wait: Duration) -> Option<Value> {
        self.presence_entry(None, wait).await
    }

    async fn presence_entry(&self, user: Option<&str>, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            {
                let mut entries = self.presence.lock().await;
                if let Some(i) = entries
                    .iter()
                    .position(|e| user.is_none_or(|u| e["userId"] == u))
                {
                    return entries.remove(i);
                }
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let (event, update) = self.try_next_of(PRESENCE_EVENTS, left).await?;
            let mut entries = self.presence.lock().await;
            match event.as_str() {
                "user_online" => {
                    entries.push_back(json!({ "userId": update["userId"], "online": true }));
                    continue;
                }
                "user_offline" => {
                    let mut entry = update;
                    entry["online"] = json!(false);
                    entries.push_back(entry);
                    continue;
                }
                _ => {}
            }
            for id in update["online"].as_array().into_iter().flatten() {
                entries.push_back(json!({ "userId": id, "online": true }));
            }
            for entry in update["offline"].as_array().into_iter().flatten() {
                let mut entry = entry.clone();
                entry["online"] = json!(false);
                entries.push_back(entry);
            }
        }
    }

    /// Whether an `event` has been received so far (after `settle`, a round trip that flushes
    /// what the server sent before answering it).
    pub async fn received(&self, event: &str) -> bool {
        self.settle().await;
        let mut rx = self.rx.lock().await;
        let mut backlog = self.backlog.lock().await;
        while let Ok(seen) = rx.try_recv() {
            backlog.push_back(seen);
        }
        backlog
            .iter()
            .any(|s| matches!(s, Seen::Event(e, _) if e == event))
    }

    /// A round trip to the server: everything it emitted to us before answering has arrived.
    pub async fn settle(&self) {
        let _ = self.ack("sync", json!({"limit": 1})).await;
    }

    /// Waits until the server closes the connection.
    pub async fn closed(&self, wait: Duration) -> bool {
        if self
            .backlog
            .lock()
            .await
            .iter()
            .any(|s| matches!(s, Seen::Closed))
        {
            return true;
        }
        let deadline = tokio::time::Instant::now() + wait;
        let mut rx = self.rx.lock().await;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Seen::Closed)) | Ok(None) => return true,
                Ok(Some(Seen::Error(_))) => return true,
                Ok(Some(other)) => self.backlog.lock().await.push_back(other),
                Err(_) => return false,
            }
        }
    }

    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
    }
}
