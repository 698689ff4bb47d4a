//! One Socket.IO v4 client over a raw WebSocket (Engine.IO v4, websocket transport only), cheap
//! enough that one process holds tens of thousands: a task per connection, no polling upgrade,
//! no JSON parsing on the delivery path (the benchmark's own `content` is scanned for).
//!
//! Wire format used: open `0{…}`, CONNECT `40{"token":…}` → `40{"sid":…}` or `44{"message":…}`,
//! event `42[…]`, emit with ack `42<id>[…]` → `43<id>[…]`, ping `2` → pong `3`.
//! Message `content` is `"<msg>:<sent_us>"`: a global message number and the send time in
//! microseconds since the recorder's epoch (one clock: loopback, one process).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Everything a scenario measures, shared by its connections.
pub struct Recorder {
    pub epoch: Instant,
    /// `(receiving connection, message, latency µs)` per `new_message` of ours.
    pub deliveries: Mutex<Vec<(u32, u32, u32)>>,
    /// `(message, latency µs)` per positive ack.
    pub acks: Mutex<Vec<(u32, u32)>>,
    /// Every other event received (e.g. `chat_updated` when rooms are created): `drain` waits
    /// for these too, so a phase does not start while the previous one's traffic is still
    /// being written.
    pub other_events: AtomicU64,
    /// `(receiving connection, user)` per user a connection was told is online, by `user_online`,
    /// in a `presence_update` or in a `presence_snapshot` (each event counted once in
    /// `other_events` too).
    pub online: Mutex<Vec<(u32, u32)>>,
    pub nacks: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub disconnects: AtomicU64,
    /// Next message number (closed-loop senders take theirs here).
    pub next_msg: AtomicU32,
}

impl Recorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            deliveries: Mutex::new(Vec::new()),
            acks: Mutex::new(Vec::new()),
            other_events: AtomicU64::new(0),
            online: Mutex::new(Vec::new()),
            nacks: AtomicU64::new(0),
            protocol_errors: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            next_msg: AtomicU32::new(0),
        })
    }

    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// The `send_message` frame for message `msg` in `chat`, stamped now.
    pub fn send_frame(&self, msg: u32, chat: &str) -> String {
        format!(
            r#"42{msg}["send_message",{{"chatId":"{chat}","clientMsgId":"m{msg}","content":"{msg}:{}","encrypted":false}}]"#,
            self.now_us()
        )
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn take_deliveries(&self) -> Vec<(u32, u32, u32)> {
        std::mem::take(&mut *Self::lock(&self.deliveries))
    }

    pub fn take_acks(&self) -> Vec<(u32, u32)> {
        std::mem::take(&mut *Self::lock(&self.acks))
    }

    pub fn take_online(&self) -> Vec<(u32, u32)> {
        std::mem::take(&mut *Self::lock(&self.online))
    }
}

/// After each ack, the connection sends the next message itself until `until` (durable-send
/// scenario; the driver sends each connection's first message).
pub struct ClosedLoop {
    pub chat_id: String,
    pub until: Instant,
}

/// A live connection: frames sent through `tx` go out as WebSocket text.
pub struct Conn {
    pub tx: mpsc::UnboundedSender<String>,
}

/// Connects from `local` to `server` (`127.0.0.1:port`), authenticates with `token`, and resolves
/// once the namespace CONNECT is answered. The connection then lives in its own task until the
/// server closes it or every `Conn` handle is dropped.
pub async fn connect(
    idx: u32,
    local: IpAddr,
    server: SocketAddr,
    token: &str,
    rec: Arc<Recorder>,
    closed_loop: Option<ClosedLoop>,
) -> Result<Conn, String> {
    let sock = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    // The source port is chosen at connect(), for this destination. A bind() to port 0 would
    // pick one no socket on `local` holds, whatever its peer: a search the kernel makes longer
    // with every socket in TIME_WAIT, and a scenario that closes its connections leaves tens of
    // thousands. Connecting the next scenario's 10,000 then spent ~90% of the load generator's
    // core in that search (`inet_csk_get_port`), ~20 s, with the server idle.
    nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::IpBindAddressNoPort, &true)
        .map_err(|e| format!("IP_BIND_ADDRESS_NO_PORT: {e}"))?;
    sock.bind(SocketAddr::new(local, 0))
        .map_err(|e| format!("bind {local}: {e}"))?;
    let stream = sock
        .connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let url = format!("ws://{server}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))
        .await
        .map_err(|e| format!("websocket: {e}"))?;
    // Engine.IO open packet, then the Socket.IO CONNECT with auth.
    match ws.next().await {
        Some(Ok(Ws::Text(t))) if t.starts_with('0') => {}
        other => return Err(format!("no open packet: {other:?}")),
    }
    ws.send(Ws::text(format!(r#"40{{"token":"{token}"}}"#)))
        .await
        .map_err(|e| format!("send connect: {e}"))?;
    loop {
        match ws.next().await {
            Some(Ok(Ws::Text(t))) if t.starts_with("40") => break,
            Some(Ok(Ws::Text(t))) if t.starts_with("44") => return Err(format!("refused: {t}")),
            Some(Ok(Ws::Text(t))) if t.as_str() == "2" => {
                let _ = ws.send(Ws::text("3")).await;
            }
            Some(Ok(_)) => {}
            other => return Err(format!("no connect answer: {other:?}")),
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let (ready_tx, ready_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = ready_tx.send(());
        let (mut sink, mut stream) = ws.split();
        loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(frame) => if sink.send(Ws::text(frame)).await.is_err() { break },
                    None => break,
                },
                inc = stream.next() => {
                    let text = match inc {
                        Some(Ok(Ws::Text(t))) => t,
                        Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => {
                            rec.disconnects.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Some(Ok(_)) => continue,
                    };
                    let reply = on_text(idx, text.as_str(), &rec, closed_loop.as_ref());
                    if let Some(frame) = reply
                        && sink.send(Ws::text(frame)).await.is_err()
                    {
                        rec.disconnects.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(1), ready_rx).await;
    Ok(Conn { tx })
}

/// Handles one incoming frame; returns a frame to send back (pong, next closed-loop message).
fn on_text(idx: u32, t: &str, rec: &Recorder, cl: Option<&ClosedLoop>) -> Option<String> {
    if t == "2" {
        return Some("3".to_owned());
    }
    if let Some(body) = t.strip_prefix("42") {
        if body.starts_with(r#"["new_message""#) {
            match stamp(body) {
                Some((msg, sent)) => {
                    let lat = rec.now_us().saturating_sub(sent).min(u32::MAX as u64) as u32;
                    Recorder::lock(&rec.deliveries).push((idx, msg, lat));
                }
                None => {
                    rec.protocol_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else {
            let told = if body.starts_with(r#"["user_online""#) {
                Some(online_user(body).map(|u| vec![u]))
            } else if body.starts_with(r#"["presence_update""#)
                || body.starts_with(r#"["presence_snapshot""#)
            {
                Some(online_users(body))
            } else {
                None
            };
            match told {
                Some(Some(users)) => {
                    Recorder::lock(&rec.online).extend(users.into_iter().map(|u| (idx, u)));
                }
                Some(None) => {
                    rec.protocol_errors.fetch_add(1, Ordering::Relaxed);
                }
                None => {}
            }
            rec.other_events.fetch_add(1, Ordering::Relaxed);
        }
        return None;
    }
    if let Some(body) = t.strip_prefix("43") {
        let ok = body.contains(r#"[{"ok":true"#);
        match (ok, stamp(body)) {
            (true, Some((msg, sent))) => {
                let lat = rec.now_us().saturating_sub(sent).min(u32::MAX as u64) as u32;
                Recorder::lock(&rec.acks).push((msg, lat));
            }
            _ => {
                rec.nacks.fetch_add(1, Ordering::Relaxed);
            }
        }
        let cl = cl?;
        if Instant::now() >= cl.until {
            return None;
        }
        let msg = rec.next_msg.fetch_add(1, Ordering::Relaxed);
        return Some(rec.send_frame(msg, &cl.chat_id));
    }
    None
}

/// The `(message, sent_us)` stamp in a frame's `"content":"<msg>:<sent_us>"`.
fn stamp(body: &str) -> Option<(u32, u64)> {
    const KEY: &str = r#""content":""#;
    let start = body.find(KEY)? + KEY.len();
    let rest = &body[start..];
    let end = rest.find('"')?;
    let (msg, sent) = rest[..end].split_once(':')?;
    Some((msg.parse().ok()?, sent.parse().ok()?))
}

/// The user number in a `user_online` frame's `"userId"` (see `harness::user_id`: the number is
/// the UUID's last 12 hex digits).
fn online_user(body: &str) -> Option<u32> {
    const KEY: &str = r#""userId":""#;
    let start = body.find(KEY)? + KEY.len();
    let id = body.get(start..start + 36)?;
    u32::from_str_radix(id.get(24..)?, 16).ok()
}

/// The user numbers in a `presence_snapshot` or `presence_update` frame's `"online":[…]`.
fn online_users(body: &str) -> Option<Vec<u32>> {
    const KEY: &str = r#""online":["#;
    let start = body.find(KEY)? + KEY.len();
    let list = &body[start..start + body[start..].find(']')?];
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|id| u32::from_str_radix(id.trim_matches('"').get(24..)?, 16).ok())
        .collect()
}

/// tungstenite zero-fills `read_buffer_size` bytes (128 KiB by default) before every read, also
/// before a read that finds nothing: with tens of thousands of sockets receiving ~100-byte frames
/// that `memset` was 39% of the load generator's CPU, on the core it shares with the Mongo-wire
/// server. Frames larger than this are still read whole (the buffer grows), in several reads.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(8 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_reads_the_benchmark_content() {
        let f = r#"["new_message",{"id":"x","content":"17:123456","encrypted":false}]"#;
        assert_eq!(stamp(f), Some((17, 123_456)));
        assert_eq!(stamp(r#"["new_message",{"content":"hello"}]"#), None);
    }

    #[test]
    fn online_users_reads_the_user_numbers() {
        let id = crate::harness::user_id(1234);
        let f = format!(r#"["user_online",{{"userId":"{id}"}}]"#);
        assert_eq!(online_user(&f), Some(1234));
        assert_eq!(online_user(r#"["user_online",{"userId":"short"}]"#), None);
        let (a, b) = (crate::harness::user_id(7), crate::harness::user_id(300));
        let f = format!(r#"["presence_snapshot",{{"online":["{a}","{b}"]}}]"#);
        assert_eq!(online_users(&f), Some(vec![7, 300]));
        let f = format!(
            r#"["presence_update",{{"online":["{b}"],"offline":[{{"userId":"{a}","lastSeen":"2026-12-06T05:00:00Z"}}]}}]"#
        );
        assert_eq!(online_users(&f), Some(vec![300]));
        assert_eq!(
            online_users(r#"["presence_snapshot",{"online":[]}]"#),
            Some(vec![])
        );
        assert_eq!(
            online_users(r#"["presence_snapshot",{"online":["x"]}]"#),
            None
        );
    }

    #[test]
    fn a_ping_is_answered_with_a_pong() {
        let rec = Recorder::new();
        assert_eq!(on_text(0, "2", &rec, None).as_deref(), Some("3"));
    }
}
