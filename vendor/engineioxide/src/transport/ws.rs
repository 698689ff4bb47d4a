//! The ws transport module is responsible for handling websocket connections
//! The only public function is [`new_req`] which is used to upgrade a http request to a websocket connection
//!
//! Batiyoun patch (see `PATCHES.md`): one task per websocket. Upstream ran three tasks per
//! connection over a split stream: a reader, a writer and the socket's heartbeat. Here a single task
//! first opens the connection (HTTP upgrade, then the engine.io handshake or the polling → websocket
//! upgrade probe; boxed, so that this one-off state does not size the long-lived future) and then
//! drives reading, writing and — for sockets opened directly over websocket — the heartbeat from one
//! poll loop over the unsplit [`WebSocketStream`]. Sockets upgraded from polling keep the heartbeat
//! task spawned when their polling session opened.

use std::{
    future::{Future, poll_fn},
    pin::pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode, request::Parts};
use hyper_util::rt::TokioIo;
use smallvec::smallvec;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    time::Instant,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        self, Message,
        handshake::derive_accept_key,
        protocol::{Role, WebSocketConfig},
    },
};
use tokio_util::future::FutureExt as _;

use engineioxide_core::{Packet, ProtocolVersion, Sid, Str, TransportType};

use crate::{
    DisconnectReason, Socket, body::ResponseBody, config::EngineIoConfig, engine::EngineIo,
    errors::Error, handler::EngineIoHandler, transport::make_open_packet,
};

/// Create a response for websocket upgrade
fn ws_response<B>(ws_key: &HeaderValue) -> Response<ResponseBody<B>> {
    let derived = derive_accept_key(ws_key.as_bytes());
    let sec = derived.parse::<HeaderValue>().unwrap();
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::UPGRADE, HeaderValue::from_static("websocket"))
        .header(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        )
        .header(http::header::SEC_WEBSOCKET_ACCEPT, sec)
        .body(ResponseBody::empty_response())
        .unwrap() // we are only using constants
}

/// Upgrade a websocket request to create a websocket connection.
///
/// If a sid is provided in the query it means that is is upgraded from an existing HTTP polling request.
/// In this case the http polling request is closed and the SID is kept for the websocket
pub fn new_req<R: Send + 'static, B, H: EngineIoHandler>(
    engine: Arc<EngineIo<H>>,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req: Request<R>,
) -> Result<Response<ResponseBody<B>>, Error> {
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts.clone(), body);

    let ws_key = parts
        .headers
        .get("Sec-WebSocket-Key")
        .ok_or(Error::InvalidWebSocketKey)?
        .clone();

    tokio::spawn(async move {
        match open(engine.clone(), req, protocol, sid, parts).await {
            Ok(Some((socket, ws, heartbeat))) => {
                // The connection loop gets a task of its own, sized for the loop alone: the state
                // of this one (request, upgrade, handshake) is freed when it ends, here.
                tokio::spawn(run(engine, socket, ws, heartbeat));
            }
            Ok(None) => {}
            Err(Error::MultipleWebsocketRequests) => {}
            Err(_e) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(?sid, "ws closed with error: {_e}");
                if let Some(sid) = sid {
                    engine.close_session(sid, DisconnectReason::TransportError);
                }
            }
        }
    });

    Ok(ws_response(&ws_key))
}

/// A websocket connection ready for [`run`]: its socket, its stream and who runs its heartbeat.
type Opened<D, S> = (Arc<Socket<D>>, WebSocketStream<S>, Heartbeat);

/// Waits for the HTTP upgrade, then opens the engine.io connection over it ([`on_init`]).
/// `Ok(None)` if the HTTP upgrade failed.
async fn open<H: EngineIoHandler, R>(
    engine: Arc<EngineIo<H>>,
    req: Request<R>,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    parts: Parts,
) -> Result<Option<Opened<H::Data, TokioIo<hyper::upgrade::Upgraded>>>, Error> {
    let conn = match hyper::upgrade::on(req).await {
        Ok(conn) => TokioIo::new(conn),
        Err(_e) => {
            #[cfg(feature = "tracing")]
            tracing::debug!("ws upgrade error: {}", _e);
            return Ok(None);
        }
    };
    handshake(engine, conn, protocol, sid, parts)
        .await
        .map(Some)
}

/// Handle a websocket connection over an already upgraded stream: [`handshake`], then [`run`]
/// until the connection closes.
pub async fn on_init<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    conn: S,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req_data: Parts,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Boxed for the same reason as in `new_req`.
    let (socket, ws, heartbeat) =
        Box::pin(handshake(engine.clone(), conn, protocol, sid, req_data)).await?;
    run(engine, socket, ws, heartbeat).await;
    Ok(())
}

/// Opens the engine.io connection over a websocket stream.
///
/// Sends an open packet if it is not an upgrade from a polling request, or runs the upgrade probe
/// handshake if it is. The connection itself is then driven by [`run`].
#[cfg_attr(
    feature = "tracing",
    tracing::instrument(level = "trace", name = "init_websocket", skip(engine, conn, req_data))
)]
async fn handshake<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    conn: S,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req_data: Parts,
) -> Result<Opened<H::Data, S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(engine.config.ws_read_buffer_size)
        .max_message_size(Some(engine.config.ws_max_message_size))
        .max_frame_size(Some(engine.config.ws_max_frame_size));

    let ws_init = move || WebSocketStream::from_raw_socket(conn, Role::Server, Some(ws_config));
    if let Some(sid) = sid {
        match engine.get_socket(sid) {
            None => Err(Error::UnknownSessionID(sid)),
            Some(socket) if socket.is_ws() => Err(Error::MultipleWebsocketRequests),
            Some(socket) => {
                let mut ws = ws_init().await;

                let upgrade_fut = upgrade_handshake::<H, S>(&socket, &mut ws);
                match tokio::time::timeout(engine.config.upgrade_timeout, upgrade_fut)
                    .with_cancellation_token(&socket.cancellation_token)
                    .await
                {
                    Some(Ok(res)) => res?,
                    Some(Err(_)) => {
                        #[cfg(feature = "tracing")]
                        tracing::debug!(?sid, "ws upgrade timed out, closing session");
                        engine.close_session(socket.id, DisconnectReason::TransportError);
                        return Err(Error::Upgrade);
                    }
                    None => {
                        #[cfg(feature = "tracing")]
                        tracing::debug!(?sid, "socket is being closed");
                        return Err(Error::Upgrade);
                    }
                }
                // The heartbeat task spawned when the polling session opened keeps running.
                Ok((socket, ws, Heartbeat::Task))
            }
        }
    } else {
        let socket = engine.create_session(protocol, TransportType::Websocket, req_data, false);

        #[cfg(feature = "tracing")]
        tracing::debug!("new websocket connection");

        let mut ws = ws_init().await;
        if let Err(e) = init_handshake(socket.id, &mut ws, &engine.config).await {
            // Upstream left the new session registered here until another timeout closed it.
            engine.close_session(socket.id, DisconnectReason::TransportError);
            return Err(e);
        }
        let heartbeat = Heartbeat::Inline(InlineHeartbeat::new(
            socket.protocol,
            engine.config.ping_interval,
            engine.config.ping_timeout,
        ));
        Ok((socket, ws, heartbeat))
    }
}

/// Who runs the heartbeat of a websocket connection.
#[derive(Debug)]
enum Heartbeat {
    /// The socket's own task ([`Socket::spawn_heartbeat`]), spawned when its polling session opened;
    /// the connection forwards the client's pings and pongs to it.
    Task,
    /// The connection loop itself, for sockets opened directly over websocket.
    Inline(InlineHeartbeat),
}

/// The heartbeat of [`Socket::spawn_heartbeat`] as a state machine driven by the connection loop:
/// same schedule, same replies through the socket's queue, same timeout.
#[derive(Debug)]
struct InlineHeartbeat {
    #[cfg_attr(not(feature = "v3"), allow(dead_code))]
    protocol: ProtocolVersion,
    interval: Duration,
    timeout: Duration,
    /// v4: when the next ping is due. The schedule is the one of `tokio::time::interval`: the first
    /// ping right away, then every `interval` from the start, late ticks firing at once.
    next_ping: Option<Instant>,
    /// v4: a ping was sent and its pong has not arrived.
    awaiting_pong: bool,
    /// v4: a pong arrived while none was awaited. It answers the next ping, as it did when it
    /// waited in the one-slot channel of upstream's heartbeat task.
    spare_pong: bool,
}

impl InlineHeartbeat {
    fn new(protocol: ProtocolVersion, interval: Duration, timeout: Duration) -> Self {
        Self {
            protocol,
            interval,
            timeout,
            next_ping: None,
            awaiting_pong: false,
            spare_pong: false,
        }
    }

    fn is_v3(&self) -> bool {
        #[cfg(feature = "v3")]
        return self.protocol == ProtocolVersion::V3;
        #[cfg(not(feature = "v3"))]
        return false;
    }

    /// The first deadline: the first ping (v4), or the latest time for the client's first ping (v3).
    fn start(&mut self, now: Instant) -> Instant {
        if self.is_v3() {
            now + self.interval + self.timeout
        } else {
            self.next_ping = Some(now);
            now
        }
    }

    /// The client sent a ping or a pong. Returns the new deadline, if it changed.
    fn on_signal<D>(&mut self, socket: &Socket<D>, now: Instant) -> Result<Option<Instant>, Error>
    where
        D: Default + Send + Sync + 'static,
    {
        if self.is_v3() {
            #[cfg(feature = "tracing")]
            tracing::trace!(sid = ?socket.id, "ping received, sending pong");
            socket
                .queue
                .try_send_one(Packet::Pong)
                .map_err(|_| Error::HeartbeatTimeout)?;
            return Ok(Some(now + self.interval + self.timeout));
        }
        if !self.awaiting_pong {
            self.spare_pong = true;
            return Ok(None);
        }
        #[cfg(feature = "tracing")]
        tracing::trace!(sid = ?socket.id, "pong received");
        self.awaiting_pong = false;
        Ok(Some(self.schedule_next_ping(now)))
    }

    /// The deadline passed: send the next ping (v4), or give up on a silent client.
    fn on_deadline<D>(&mut self, socket: &Socket<D>, now: Instant) -> Result<Instant, Error>
    where
        D: Default + Send + Sync + 'static,
    {
        if self.is_v3() || self.awaiting_pong {
            return Err(Error::HeartbeatTimeout);
        }
        #[cfg(feature = "tracing")]
        tracing::trace!(sid = ?socket.id, "emitting ping");
        socket
            .queue
            .try_send_one(Packet::Ping)
            .map_err(|_| Error::HeartbeatTimeout)?;
        if std::mem::take(&mut self.spare_pong) {
            return Ok(self.schedule_next_ping(now));
        }
        self.awaiting_pong = true;
        Ok(now + self.timeout)
    }

    fn schedule_next_ping(&mut self, now: Instant) -> Instant {
        let next = self.next_ping.unwrap_or(now) + self.interval;
        self.next_ping = Some(next);
        next
    }
}

impl Heartbeat {
    fn start(&mut self, now: Instant) -> Option<Instant> {
        match self {
            Heartbeat::Task => None,
            Heartbeat::Inline(heartbeat) => Some(heartbeat.start(now)),
        }
    }

    fn on_signal<D>(&mut self, socket: &Socket<D>) -> Result<Option<Instant>, Error>
    where
        D: Default + Send + Sync + 'static,
    {
        match self {
            Heartbeat::Task => {
                // A pending signal means that the client is already known to be alive.
                socket.heartbeat.notify_one();
                Ok(None)
            }
            Heartbeat::Inline(heartbeat) => heartbeat.on_signal(socket, Instant::now()),
        }
    }
}

/// What woke the connection loop.
enum Event {
    Cancelled,
    Received(Option<Result<Message, tungstenite::Error>>),
    HeartbeatDeadline,
}

/// What to do after a message from the client.
enum Flow {
    Continue,
    /// The heartbeat has a new deadline.
    Deadline(Instant),
    /// The session was closed.
    Stop,
}

/// Drives one websocket connection until its session closes: reads the client's packets and
/// hands them to the handler, writes the socket's queued packets (flushing once the queue is
/// drained, as upstream's writer task did), and runs the inline heartbeat if there is one.
/// Then writes what is still queued (e.g. the close packet of [`Socket::close`]) and closes the
/// websocket.
///
/// Written as a function returning an `async move` block rather than an `async fn`: the block
/// uses its captured arguments in place, where an `async fn` would also keep a moved copy of each
/// (the stream included) in the future for the connection's whole life.
#[allow(clippy::manual_async_fn)] // deliberate, see above
fn run<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    socket: Arc<Socket<H::Data>>,
    mut ws: WebSocketStream<S>,
    mut heartbeat: Heartbeat,
) -> impl Future<Output = ()> + Send + 'static
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async move {
        // A polling request that was in progress during the upgrade may still hold the lock
        // (boxed: waiting is rare, and the wait's state would otherwise stay in this future).
        let _internal_rx = match socket.internal_rx.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                let lock = Box::pin(
                    socket
                        .internal_rx
                        .lock()
                        .with_cancellation_token_owned(socket.cancellation_token.clone()),
                );
                match lock.await {
                    Some(guard) => guard,
                    None => {
                        #[cfg(feature = "tracing")]
                        tracing::debug!(sid = %socket.id, "session closed before starting the ws connection");
                        return;
                    }
                }
            }
        };

        let mut cancelled = pin!(socket.cancellation_token.cancelled());
        let mut cancel_registered = false;
        let first_deadline = heartbeat.start(Instant::now());
        let mut deadline = pin!(tokio::time::sleep_until(
            first_deadline.unwrap_or_else(Instant::now)
        ));
        let mut writer = Writer::default();

        loop {
            let event = poll_fn(|cx| {
                // Once `cancelled` has been polled it stays registered, and `Socket::cancel`
                // sets the flag before waking it: after the first poll the flag is enough.
                if socket.is_closing() {
                    return Poll::Ready(Event::Cancelled);
                }
                if !cancel_registered {
                    if cancelled.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Event::Cancelled);
                    }
                    cancel_registered = true;
                }
                writer.poll_write(cx, &mut ws, &socket);
                if let Poll::Ready(msg) = ws.poll_next_unpin(cx) {
                    return Poll::Ready(Event::Received(msg));
                }
                if first_deadline.is_some() && deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::HeartbeatDeadline);
                }
                Poll::Pending
            })
            .await;

            let flow = match event {
                Event::Cancelled => {
                    #[cfg(feature = "tracing")]
                    tracing::debug!(sid = %socket.id, "socket is closing");
                    break;
                }
                Event::Received(None) => {
                    #[cfg(feature = "tracing")]
                    tracing::debug!(sid = %socket.id, "ws transport was closed");
                    engine.close_session(socket.id, DisconnectReason::TransportClose);
                    break;
                }
                Event::Received(Some(msg)) => msg
                    .map_err(Error::from)
                    .and_then(|msg| on_message(&engine, &socket, &mut heartbeat, msg)),
                Event::HeartbeatDeadline => match &mut heartbeat {
                    Heartbeat::Inline(heartbeat) => heartbeat
                        .on_deadline(&socket, Instant::now())
                        .map(Flow::Deadline),
                    Heartbeat::Task => Ok(Flow::Continue),
                },
            };
            match flow {
                Ok(Flow::Continue) => {}
                Ok(Flow::Deadline(at)) => deadline.as_mut().reset(at),
                Ok(Flow::Stop) => break,
                Err(e) => {
                    let reason = Option::<DisconnectReason>::from(&e)
                        .unwrap_or(DisconnectReason::TransportError);
                    #[cfg(feature = "tracing")]
                    tracing::debug!(sid = %socket.id, "error when handling packet: {:?}", e);
                    if reason == DisconnectReason::HeartbeatTimeout {
                        // As upstream's heartbeat task: try to tell the client, then close.
                        socket.close(reason);
                    } else {
                        engine.close_session(socket.id, reason);
                    }
                    break;
                }
            }
        }

        // Boxed: it runs once, at the end; its state must not size the connection's future.
        Box::pin(close(&socket, &mut ws, engine.config.ping_timeout)).await;
        #[cfg(feature = "tracing")]
        tracing::debug!(sid = %socket.id, "ws closed");
    }
}

/// Writes what is still queued (e.g. the close packet of [`Socket::close`]), flushes and closes
/// the websocket. Bounded by `timeout`: a client that stopped reading must not keep the task and
/// its socket alive. Skipped when the session was closed for a full send buffer: that client
/// does not read, so the connection is just dropped.
async fn close<S, D>(socket: &Socket<D>, ws: &mut WebSocketStream<S>, timeout: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Default + Send + Sync + 'static,
{
    if socket.overflowed() {
        return;
    }
    let closing = async {
        #[cfg(feature = "tracing")]
        tracing::trace!(sid = %socket.id, "ws closing flush");
        while let Some(packets) = socket.queue.try_recv() {
            for packet in packets {
                if let Some(msg) = to_message(packet, socket.protocol) {
                    ws.feed(msg).await.ok();
                }
            }
        }
        ws.flush().await.ok();
        ws.close(None).await.ok();
    };
    tokio::time::timeout(timeout, closing).await.ok();
}

/// Handles one message from the client.
fn on_message<H: EngineIoHandler>(
    engine: &Arc<EngineIo<H>>,
    socket: &Arc<Socket<H::Data>>,
    heartbeat: &mut Heartbeat,
    msg: Message,
) -> Result<Flow, Error> {
    match msg {
        Message::Text(msg) => match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
            Packet::Close => {
                #[cfg(feature = "tracing")]
                tracing::debug!("[sid={}] closing session", socket.id);
                engine.close_session(socket.id, DisconnectReason::TransportClose);
                Ok(Flow::Stop)
            }
            Packet::Pong | Packet::Ping => Ok(heartbeat
                .on_signal(socket)?
                .map_or(Flow::Continue, Flow::Deadline)),
            Packet::Message(msg) => {
                engine.handler.on_message(msg, socket.clone());
                Ok(Flow::Continue)
            }
            p => Err(Error::BadPacket(p)),
        },
        Message::Binary(mut data) => {
            if socket.protocol == ProtocolVersion::V3 && !data.is_empty() {
                // The first byte is the message type, which we don't need.
                data = data.split_off(1);
            }
            engine.handler.on_binary(data, socket.clone());
            Ok(Flow::Continue)
        }
        Message::Close(_) => {
            #[cfg(feature = "tracing")]
            tracing::debug!("websocket closed, closing session");
            engine.close_session(socket.id, DisconnectReason::TransportClose);
            Ok(Flow::Stop)
        }
        _ => {
            #[cfg(feature = "tracing")]
            tracing::debug!(sid = ?socket.id, "unexpected ws message");
            Ok(Flow::Continue)
        }
    }
}

/// Moves the socket's queued packets into the websocket.
#[derive(Debug, Default)]
struct Writer {
    /// Messages were written to the websocket's buffer since its last flush.
    unflushed: bool,
}

impl Writer {
    /// Writes every queued packet the websocket accepts, then flushes once the queue is drained.
    /// Registers for a wake-up on new packets (or on the websocket becoming writable again).
    fn poll_write<S, D>(
        &mut self,
        cx: &mut Context<'_>,
        ws: &mut WebSocketStream<S>,
        socket: &Socket<D>,
    ) where
        S: AsyncRead + AsyncWrite + Unpin,
        D: Default + Send + Sync + 'static,
    {
        loop {
            match ws.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_e)) => {
                    // As upstream's writer: a packet that cannot be written is dropped.
                    #[cfg(feature = "tracing")]
                    tracing::debug!("[sid={}] error sending packet: {}", socket.id, _e);
                    match socket.queue.poll_recv(cx) {
                        Poll::Ready(Some(_)) => continue,
                        Poll::Ready(None) | Poll::Pending => break,
                    }
                }
                // Still writing out earlier messages; woken when the websocket is writable.
                Poll::Pending => return,
            }
            match socket.queue.poll_recv(cx) {
                Poll::Ready(Some(packets)) => {
                    for packet in packets {
                        if let Some(msg) = to_message(packet, socket.protocol) {
                            if let Err(_e) = ws.start_send_unpin(msg) {
                                #[cfg(feature = "tracing")]
                                tracing::debug!("[sid={}] error sending packet: {}", socket.id, _e);
                            }
                            self.unflushed = true;
                        }
                    }
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        if self.unflushed {
            #[cfg(feature = "tracing")]
            tracing::trace!(sid = %socket.id, "ws flush");
            if let Poll::Ready(_res) = ws.poll_flush_unpin(cx) {
                self.unflushed = false;
            }
        }
    }
}

/// Maps a packet to a websocket message; `None` for packets that are not sent over websocket.
fn to_message(packet: Packet, protocol: ProtocolVersion) -> Option<Message> {
    match packet {
        Packet::Binary(bin) | Packet::BinaryV3(bin) => {
            if protocol == ProtocolVersion::V3 {
                // v3 protocol requires packet type as the first byte.
                // This requires a new buffer. This is OK as it is only for the V3 protocol.
                let mut buff = Vec::with_capacity(bin.len() + 1);
                buff.push(0x04);
                buff.extend(bin);
                Some(Message::Binary(buff.into()))
            } else {
                Some(Message::Binary(bin))
            }
        }
        // A Noop Packet maybe sent by the server to upgrade from a polling connection
        // In the case that the packet was not poll in time it will remain in the buffer and therefore
        // it should be discarded here
        Packet::Noop => None,
        packet => Some(Message::Text(String::from(packet).into())),
    }
}

/// Send a Engine.IO [`OpenPacket`] to initiate a websocket connection
async fn init_handshake<S>(
    sid: Sid,
    ws: &mut WebSocketStream<S>,
    config: &EngineIoConfig,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let packet = Packet::Open(make_open_packet(TransportType::Websocket, sid, config));
    let packet: String = packet.into();
    ws.send(Message::Text(packet.into())).await?;
    Ok(())
}

/// Upgrade a session from a polling request to a websocket request.
///
/// Before upgrading the session the server should send a NOOP packet to any pending polling request.
///
/// ## Handshake :
/// ```text
/// CLIENT                                                 SERVER
///│                                                      │
///│   GET /engine.io/?EIO=4&transport=websocket&sid=...  │
///│ ───────────────────────────────────────────────────► │
///│  ◄─────────────────────────────────────────────────┘ │
///│            HTTP 101 (WebSocket handshake)            │
///│                                                      │
///│            -----  WebSocket frames -----             │
///│  ─────────────────────────────────────────────────►  │
///│                         2probe                       │ (ping packet)
///│  ◄─────────────────────────────────────────────────  │
///│                         3probe                       │ (pong packet)
///│  ─────────────────────────────────────────────────►  │
///│                         5                            │ (upgrade packet)
///│                                                      │
///│            -----  WebSocket frames -----             │
/// ```
#[cfg_attr(
    feature = "tracing",
    tracing::instrument(level = "trace", skip(socket, ws))
)]
async fn upgrade_handshake<H: EngineIoHandler, S>(
    socket: &Arc<Socket<H::Data>>,
    ws: &mut WebSocketStream<S>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    #[cfg(feature = "tracing")]
    tracing::debug!("starting websocket connection upgrade");

    // The socket is upgrading, from now on all polling
    // request will return a `Packet::Noop`
    socket.start_upgrade();

    // We send a last Noop request to close a potential waiting polling request.
    socket
        .queue
        .send(smallvec![Packet::Noop])
        .await
        .map_err(|_| Error::Upgrade)?;

    // wait for any current polling connection to finish by waiting for the socket to be unlocked
    // All other polling connection will be immediately closed with a NOOP packet.
    let _lock = socket.internal_rx.lock().await;

    // Fetch the next packet from the ws stream, it should be a PingUpgrade packet
    let msg = match ws.next().await {
        Some(Ok(Message::Text(d))) => d,
        _ => Err(Error::Upgrade)?,
    };
    match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
        Packet::PingUpgrade => {
            #[cfg(feature = "tracing")]
            tracing::debug!("received first ping upgrade");
            // Respond with a PongUpgrade packet
            ws.send(Message::Text(String::from(Packet::PongUpgrade).into()))
                .await?;
        }
        p => Err(Error::BadPacket(p))?,
    };

    // Fetch the next packet from the ws stream, it should be an Upgrade packet
    let msg = match ws.next().await {
        Some(Ok(Message::Text(d))) => d,
        Some(Ok(Message::Close(_))) => {
            #[cfg(feature = "tracing")]
            tracing::debug!("ws stream closed before upgrade");
            Err(Error::Upgrade)?
        }
        _ => {
            #[cfg(feature = "tracing")]
            tracing::debug!("unexpected ws message before upgrade");
            Err(Error::Upgrade)?
        }
    };
    match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
        Packet::Upgrade => {
            #[cfg(feature = "tracing")]
            tracing::debug!("ws upgraded successfully")
        }
        p => Err(Error::BadPacket(p))?,
    };

    socket.upgrade_to_websocket();
    Ok(())
}

fn ws_bytes_to_str(bytes: tungstenite::Utf8Bytes) -> Str {
    // SAFETY: the bytes are guaranteed to be valid UTF-8 by the tungstenite parser
    unsafe { Str::from_bytes_unchecked(bytes.into()) }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use futures_util::StreamExt;
    use http::Request;
    use tokio::{io::DuplexStream, sync::mpsc};

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(1);

    #[derive(Debug)]
    struct RecordingHandler {
        disconnects: mpsc::UnboundedSender<DisconnectReason>,
    }
    impl EngineIoHandler for RecordingHandler {
        type Data = ();
        fn on_connect(self: Arc<Self>, _: Arc<Socket<()>>) {}
        fn on_disconnect(&self, _: Arc<Socket<()>>, reason: DisconnectReason) {
            self.disconnects.send(reason).ok();
        }
        fn on_message(self: &Arc<Self>, _: Str, _: Arc<Socket<()>>) {}
        fn on_binary(self: &Arc<Self>, _: Bytes, _: Arc<Socket<()>>) {}
    }

    fn engine(
        config: EngineIoConfig,
    ) -> (
        Arc<EngineIo<RecordingHandler>>,
        mpsc::UnboundedReceiver<DisconnectReason>,
    ) {
        let (disconnects, rx) = mpsc::unbounded_channel();
        let handler = Arc::new(RecordingHandler { disconnects });
        (Arc::new(EngineIo::new(handler, config)), rx)
    }

    fn ws_session(engine: &Arc<EngineIo<RecordingHandler>>) -> Arc<Socket<()>> {
        engine.create_session(
            ProtocolVersion::V4,
            TransportType::Websocket,
            Request::<()>::default().into_parts().0,
            false,
        )
    }

    async fn ws_pair() -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
        let (server, client) = tokio::io::duplex(1024);
        (
            WebSocketStream::from_raw_socket(server, Role::Server, None).await,
            WebSocketStream::from_raw_socket(client, Role::Client, None).await,
        )
    }

    async fn next_text(client: &mut WebSocketStream<DuplexStream>) -> String {
        let msg = tokio::time::timeout(TIMEOUT, client.next())
            .await
            .expect("a message in time")
            .expect("an open stream")
            .expect("a valid message");
        match msg {
            Message::Text(text) => text.to_string(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    fn inline_heartbeat(config: &EngineIoConfig) -> Heartbeat {
        Heartbeat::Inline(InlineHeartbeat::new(
            ProtocolVersion::V4,
            config.ping_interval,
            config.ping_timeout,
        ))
    }

    /// The connection's future lives as long as the connection, once per socket: the one-off
    /// states (lock wait, closing) are boxed out of it and its arguments are not stored twice.
    /// 632 bytes over a `DuplexStream` when written (1,632 before those changes).
    #[tokio::test]
    async fn connection_future_stays_small() {
        let (engine, _disconnects) = engine(EngineIoConfig::default());
        let socket = ws_session(&engine);
        let (server, _client) = ws_pair().await;
        let stream = std::mem::size_of_val(&server);
        let fut = run(engine.clone(), socket.clone(), server, Heartbeat::Task);
        let size = std::mem::size_of_val(&fut);
        assert!(
            size <= stream + 512,
            "run future: {size} bytes (stream: {stream})"
        );
    }

    /// A polling request can still hold the lock at the end of an upgrade.
    #[tokio::test]
    async fn connection_waits_for_the_lock_of_a_polling_request() {
        let (engine, _disconnects) = engine(EngineIoConfig::default());
        let socket = ws_session(&engine);
        let (server, mut client) = ws_pair().await;

        let polling = socket.internal_rx.lock().await;
        let conn = tokio::spawn(run(engine.clone(), socket.clone(), server, Heartbeat::Task));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !conn.is_finished(),
            "the connection should wait for the lock"
        );

        drop(polling);
        socket.emit(Str::from("hello")).unwrap();
        assert_eq!(next_text(&mut client).await, "4hello");
    }

    #[tokio::test]
    async fn connection_waiting_for_the_lock_stops_with_the_session() {
        let (engine, _disconnects) = engine(EngineIoConfig::default());
        let socket = ws_session(&engine);
        let (server, _client) = ws_pair().await;

        let _polling = socket.internal_rx.lock().await;
        let conn = tokio::spawn(run(engine.clone(), socket.clone(), server, Heartbeat::Task));
        tokio::time::sleep(Duration::from_millis(20)).await;

        socket.cancel();
        tokio::time::timeout(TIMEOUT, conn)
            .await
            .expect("the connection should stop")
            .unwrap();
    }

    /// A connection that has been running for a while (woken by packets many times since it
    /// first polled the token) stops when the session is closed on the server's side: after its
    /// first poll the loop checks `Socket::is_closing`, which `Socket::cancel` sets.
    #[tokio::test]
    async fn running_connection_stops_when_the_session_is_closed() {
        let (engine, mut disconnects) = engine(EngineIoConfig::default());
        let socket = ws_session(&engine);
        let (server, mut client) = ws_pair().await;
        let conn = tokio::spawn(run(engine.clone(), socket.clone(), server, Heartbeat::Task));
        for i in 0..20 {
            socket.emit(format!("{i}")).unwrap();
            assert_eq!(next_text(&mut client).await, format!("4{i}"));
        }

        engine.close_session(socket.id, DisconnectReason::ClosingServer);
        tokio::time::timeout(TIMEOUT, conn)
            .await
            .expect("the connection should stop")
            .unwrap();
        let reason = tokio::time::timeout(TIMEOUT, disconnects.recv())
            .await
            .expect("the session is closed")
            .expect("a reason");
        assert_eq!(reason, DisconnectReason::ClosingServer);
    }

    /// The inline heartbeat pings right away, then closes a client that does not answer within
    /// `ping_timeout`, with the close packet and a websocket close frame.
    #[tokio::test]
    async fn heartbeat_timeout_closes_a_silent_client() {
        let config = EngineIoConfig::builder()
            .ping_interval(Duration::from_millis(50))
            .ping_timeout(Duration::from_millis(50))
            .build();
        let (engine, mut disconnects) = engine(config.clone());
        let socket = ws_session(&engine);
        let (server, mut client) = ws_pair().await;
        let conn = tokio::spawn(run(
            engine.clone(),
            socket.clone(),
            server,
            inline_heartbeat(&config),
        ));

        assert_eq!(next_text(&mut client).await, "2", "the first ping");
        let reason = tokio::time::timeout(TIMEOUT, disconnects.recv())
            .await
            .expect("the silent client is disconnected")
            .expect("a reason");
        assert_eq!(reason, DisconnectReason::HeartbeatTimeout);
        assert_eq!(next_text(&mut client).await, "1", "the close packet");
        let frame = tokio::time::timeout(TIMEOUT, client.next())
            .await
            .expect("a close frame in time");
        assert!(
            matches!(frame, Some(Ok(Message::Close(_))) | None),
            "expected the websocket to close, got {frame:?}"
        );
        tokio::time::timeout(TIMEOUT, conn)
            .await
            .expect("the connection task ends")
            .unwrap();
        assert!(socket.is_closed());
    }

    /// v3: the client pings, the server answers with a pong; a client that stops pinging is
    /// closed after `ping_interval + ping_timeout`.
    #[cfg(feature = "v3")]
    #[tokio::test]
    async fn v3_heartbeat_answers_pings_then_times_out() {
        let config = EngineIoConfig::builder()
            .ping_interval(Duration::from_millis(40))
            .ping_timeout(Duration::from_millis(40))
            .build();
        let (engine, mut disconnects) = engine(config.clone());
        let socket = engine.create_session(
            ProtocolVersion::V3,
            TransportType::Websocket,
            Request::<()>::default().into_parts().0,
            false,
        );
        let (server, mut client) = ws_pair().await;
        let heartbeat = Heartbeat::Inline(InlineHeartbeat::new(
            ProtocolVersion::V3,
            config.ping_interval,
            config.ping_timeout,
        ));
        tokio::spawn(run(engine.clone(), socket.clone(), server, heartbeat));

        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            client.send(Message::text("2")).await.unwrap();
            assert_eq!(next_text(&mut client).await, "3");
        }
        assert!(disconnects.try_recv().is_err(), "a pinging client stays");
        let reason = tokio::time::timeout(TIMEOUT, disconnects.recv())
            .await
            .expect("the silent client is disconnected")
            .expect("a reason");
        assert_eq!(reason, DisconnectReason::HeartbeatTimeout);
    }

    /// A client answering every ping stays connected across several intervals.
    #[tokio::test]
    async fn heartbeat_keeps_an_answering_client() {
        let config = EngineIoConfig::builder()
            .ping_interval(Duration::from_millis(30))
            .ping_timeout(Duration::from_millis(30))
            .build();
        let (engine, mut disconnects) = engine(config.clone());
        let socket = ws_session(&engine);
        let (server, mut client) = ws_pair().await;
        tokio::spawn(run(
            engine.clone(),
            socket.clone(),
            server,
            inline_heartbeat(&config),
        ));

        let started = Instant::now();
        for _ in 0..5 {
            assert_eq!(next_text(&mut client).await, "2");
            client.send(Message::text("3")).await.unwrap();
        }
        // Five pings at the interval's schedule: the first at once, then every 30 ms.
        assert!(started.elapsed() >= Duration::from_millis(4 * 30));
        assert!(
            disconnects.try_recv().is_err(),
            "the client is still connected"
        );
        assert!(!socket.is_closed());
    }

    /// Packets queued in a burst arrive in order, all of them (the connection flushes once the
    /// queue is drained).
    #[tokio::test]
    async fn queued_packets_are_written_in_order_and_flushed() {
        let (engine, _disconnects) = engine(EngineIoConfig::default());
        let socket = ws_session(&engine);
        let (server, mut client) = ws_pair().await;

        // Queued before the connection runs, and more while it runs.
        for i in 0..50 {
            socket.emit(format!("early {i}")).unwrap();
        }
        tokio::spawn(run(engine.clone(), socket.clone(), server, Heartbeat::Task));
        for i in 0..50 {
            let permit = socket.reserve().unwrap();
            permit.emit_many(
                format!("late {i}").into(),
                [Bytes::from_static(b"bin")].into(),
            );
        }
        for i in 0..50 {
            assert_eq!(next_text(&mut client).await, format!("4early {i}"));
        }
        for i in 0..50 {
            assert_eq!(next_text(&mut client).await, format!("4late {i}"));
            let bin = tokio::time::timeout(TIMEOUT, client.next()).await.unwrap();
            assert!(matches!(bin, Some(Ok(Message::Binary(b))) if b == "bin"));
        }
    }

    /// The socket's buffer is bounded by `max_buffer_size`: once full, emits fail with `Full`
    /// and give the message back.
    #[tokio::test]
    async fn full_buffer_fails_emits() {
        let config = EngineIoConfig::builder().max_buffer_size(3).build();
        let (engine, _disconnects) = engine(config);
        let socket = ws_session(&engine);
        for i in 0..3 {
            socket.emit(format!("{i}")).unwrap();
        }
        match socket.emit("overflow") {
            Err(tokio::sync::mpsc::error::TrySendError::Full(msg)) => assert_eq!(msg, "overflow"),
            other => panic!("expected a full buffer, got {other:?}"),
        }
        assert!(matches!(
            socket.reserve(),
            Err(tokio::sync::mpsc::error::TrySendError::Full(()))
        ));
    }

    /// A volatile packet goes out after the buffered ones, and only the latest is kept.
    #[tokio::test]
    async fn volatile_packets_follow_the_buffered_ones() {
        let (engine, _disconnects) = engine(EngineIoConfig::default());
        let socket = ws_session(&engine);
        let (server, mut client) = ws_pair().await;
        assert!(socket.emit_volatile("dropped"));
        socket.emit("buffered").unwrap();
        assert!(socket.emit_volatile("kept"));
        tokio::spawn(run(engine.clone(), socket.clone(), server, Heartbeat::Task));
        assert_eq!(next_text(&mut client).await, "4buffered");
        assert_eq!(next_text(&mut client).await, "4kept");
    }

    /// The client closing the websocket closes the session with `TransportClose`.
    #[tokio::test]
    async fn client_close_closes_the_session() {
        let (engine, mut disconnects) = engine(EngineIoConfig::default());
        let socket = ws_session(&engine);
        let (server, mut client) = ws_pair().await;
        let conn = tokio::spawn(run(engine.clone(), socket.clone(), server, Heartbeat::Task));
        client.close(None).await.unwrap();
        let reason = tokio::time::timeout(TIMEOUT, disconnects.recv())
            .await
            .expect("the session is closed")
            .expect("a reason");
        assert_eq!(reason, DisconnectReason::TransportClose);
        tokio::time::timeout(TIMEOUT, conn)
            .await
            .expect("the connection task ends")
            .unwrap();
    }
}
