//! Serving plumbing shared by both binaries: binding from config, graceful shutdown, and the
//! liveness route.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

/// Binds `host:port` (port 0 picks a free port; read it back with `local_addr`).
pub async fn bind(host: &str, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind((host, port)).await
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; draining connections");
}

/// The `GET /healthz` body: `{"status":"ok"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Liveness {
    /// Always `"ok"`.
    pub status: String,
}

/// `GET /healthz`: the process is alive (no backend is consulted).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    responses((status = 200, description = "The process is alive", body = Liveness)),
)]
pub async fn healthz() -> axum::Json<Liveness> {
    axum::Json(Liveness {
        status: "ok".to_owned(),
    })
}

/// The router serving [`healthz`].
pub fn liveness() -> Router {
    Router::new().route("/healthz", get(healthz))
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Outside the router: routing records the URI (`OriginalUri`), which must be the copy.
    let service = tower::ServiceBuilder::new()
        .map_request(detach_upgrade_head)
        .service(router);
    // No Nagle: a socket's frames (an ack, then a `new_message`) go out as written. With Nagle a
    // second small write waits for the peer to ACK the first, which a delayed-ACK client holds
    // back up to 40 ms over a real network.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
        }
    });
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(service),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Gives an upgrade request (a WebSocket handshake) a head of its own that holds only
/// [`KEPT_ON_UPGRADE`]; other requests pass through untouched.
///
/// hyper parses the URI and header values as slices of the connection's read buffer, and the
/// Socket.IO layer keeps each socket's request head (`SocketRef::req_parts`) for as long as the
/// socket lives. Without the copy every idle socket pinned hyper's read buffers (16 KiB per
/// connection, measured with massif); with it they are freed at the upgrade. Headers nothing
/// reads after the upgrade are not copied: a browser sends a dozen (cookies, user agent, accept
/// lists), and each idle socket would carry them.
pub fn detach_upgrade_head(req: Request) -> Request {
    if !req.headers().contains_key(header::UPGRADE) {
        return req;
    }
    let (mut parts, body) = req.into_parts();
    parts.headers = parts
        .headers
        .iter()
        .filter(|(name, _)| KEPT_ON_UPGRADE.contains(name))
        .map(|(name, value)| (name.clone(), copied(value)))
        .collect::<HeaderMap>();
    if let Ok(uri) = Uri::try_from(parts.uri.to_string().as_str()) {
        parts.uri = uri;
    }
    Request::from_parts(parts, body)
}

/// What an upgrade request's head keeps ([`detach_upgrade_head`]): the headers the WebSocket
/// handshake reads (the Socket.IO layer answers it after routing), and `Origin`, which realtime
/// checks when a socket connects. A header a socket handler should read must be added here.
pub const KEPT_ON_UPGRADE: [header::HeaderName; 7] = [
    header::CONNECTION,
    header::UPGRADE,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
    header::SEC_WEBSOCKET_PROTOCOL,
    header::SEC_WEBSOCKET_EXTENSIONS,
    header::ORIGIN,
];

/// `value` in an allocation of its own (`HeaderValue::clone` would share the original's).
fn copied(value: &HeaderValue) -> HeaderValue {
    match HeaderValue::from_bytes(value.as_bytes()) {
        Ok(mut copy) => {
            copy.set_sensitive(value.is_sensitive());
            copy
        }
        Err(_) => value.clone(),
    }
}

/// Whether the process was started as `<binary> --healthcheck` (the Docker `HEALTHCHECK`).
pub fn healthcheck_requested() -> bool {
    std::env::args().skip(1).any(|a| a == "--healthcheck")
}

/// Probes `GET http://127.0.0.1:{port}/healthz` once; success when it answers 200 within 3 s.
/// Lets the runtime image stay free of curl/wget.
pub async fn healthcheck(port: u16) -> std::process::ExitCode {
    let url = format!("http://127.0.0.1:{port}/healthz");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build();
    let ok = match client {
        Ok(c) => c
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        Err(_) => false,
    };
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// The body of both services' `main`: answers `--healthcheck` (probing `PORT`, default
/// `default_port`), otherwise initialises tracing and runs `serve` with the process environment,
/// turning a start-up or serving error into a logged message and a failing exit code.
pub async fn run_service<F, Fut>(name: &str, default_port: u16, serve: F) -> std::process::ExitCode
where
    F: FnOnce(crate::config::Env) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let env = crate::config::Env::process();
    if healthcheck_requested() {
        return healthcheck(env.or("PORT", default_port).unwrap_or(default_port)).await;
    }
    crate::telemetry::init();
    match serve(env).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{name} stopped: {e:#}");
            eprintln!("{name}: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A request's body, up to `limit` bytes: past it, `too_large()` as soon as it is passed (the
/// rest is not read). An upload's body is read this way, not with axum's `Bytes`, whose limit
/// is the router's (small) `DefaultBodyLimit`.
pub async fn read_body(
    body: axum::body::Body,
    limit: usize,
    too_large: impl Fn() -> crate::ApiError,
) -> Result<Vec<u8>, crate::ApiError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| crate::ApiError::field("body", format!("cannot be read: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
