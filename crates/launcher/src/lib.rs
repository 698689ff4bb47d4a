//! The one-command local run (`bash scripts/dev.sh`): auth-api, realtime and the built PWA in one
//! process, on one origin, on embedded backends.
//!
//! Both services are built exactly as their own binaries build them, from their own `Config`, and
//! share one in-process `Kv`, so a logout in auth-api reaches realtime's revocation listener as it
//! would through Redis. Their routers are chained on one listener: auth-api first, then realtime,
//! then the PWA's static files (with `index.html` for client-side routes). One origin means no
//! CORS and a same-site session cookie. This is a developer convenience; production runs the two
//! services as separate containers behind a load balancer (see README, "Deploy").

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Response, header};
use axum::response::{Html, IntoResponse};
use common::config::Env;
use common::kv::{MemoryKv, SharedKv};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// The PWA's Content Security Policy, its Socket.IO connection to one of `sockets` (`ws://` and
/// the page's host with its port), also set by `deploy/nginx/batiyoun.conf` (keep them the same). The page holds the
/// user's private key, so only its own scripts may run: no inline script or style, nothing from
/// another origin, no plugin, no `<base>`, no framing. Images may be `blob:` (attachments opened
/// in the page) or `data:`. The Socket.IO connection is named besides `'self'`: CSP 3 has
/// `'self'` match `ws:` to the page's host, but Safari long did not.
pub fn content_security_policy(sockets: &[String]) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         connect-src 'self' {}; worker-src 'self'; manifest-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        sockets.join(" ")
    )
}

/// realtime's limits an operator of the single node may set in the launcher's environment, as
/// realtime's own (see `.env.example`); the services' other settings are the launcher's.
pub const REALTIME_LIMITS: [&str; 11] = [
    "MAX_PAYLOAD_BYTES",
    "SOCKET_RATE_BURST",
    "SOCKET_RATE_PER_SEC",
    "SOCKET_SEND_BUFFER",
    "UPLOAD_BYTES_PER_HOUR",
    "UPLOAD_TIMEOUT_SECS",
    "DOWNLOAD_TIMEOUT_SECS",
    "ATTACHMENT_BYTES_PER_USER",
    "SYNC_LOOKBACK_SECS",
    "CHAT_CHANGES_PER_MINUTE",
    "JOIN_FAILURES_PER_HOUR",
];

/// auth-api's limits an operator of the single node may set in the launcher's environment, as
/// auth-api's own (see `.env.example`).
pub const AUTH_LIMITS: [&str; 8] = [
    "LOGIN_MAX_FAILURES_PER_ACCOUNT",
    "LOGIN_MAX_FAILURES_PER_IP",
    "LOGIN_FAILURE_WINDOW_SECS",
    "OTP_MAX_PER_EMAIL_PER_HOUR",
    "OTP_MAX_PER_IP_PER_HOUR",
    "OTP_RESEND_COOLDOWN_SECS",
    "PROFILE_MAX_CHANGES_PER_HOUR",
    "KEY_MAX_CHANGES_PER_HOUR",
];

/// Google sign-in, as auth-api's own settings (see `.env.example`): the single node offers
/// "Continue with Google" once `GOOGLE_CLIENT_ID` is set (and the client registered at Google
/// with the redirect `<the launcher's URL>/api/auth/google/callback`, or `GOOGLE_REDIRECT_URL`).
pub const AUTH_GOOGLE: [&str; 7] = [
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_AUTH_URL",
    "GOOGLE_TOKEN_URL",
    "GOOGLE_JWKS_URL",
    "GOOGLE_ISSUER",
    "GOOGLE_REDIRECT_URL",
];

/// What the launcher needs to know; everything else is the services' embedded defaults.
#[derive(Debug, Clone)]
pub struct LaunchConfig {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub web_dir: PathBuf,
    /// Those of [`REALTIME_LIMITS`] set, with their values (realtime checks them).
    pub realtime_limits: Vec<(String, String)>,
    /// Those of [`AUTH_LIMITS`] and [`AUTH_GOOGLE`] set, with their values (auth-api checks
    /// them).
    pub auth_settings: Vec<(String, String)>,
}

/// The variables of `names` that `env` sets, with their values.
fn set_in(env: &Env, names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .filter_map(|name| Some((name.to_string(), env.raw(name)?)))
        .collect()
}

impl LaunchConfig {
    pub fn from_env(env: &Env) -> Result<Self, common::config::ConfigError> {
        Ok(Self {
            host: env.or("HOST", "127.0.0.1".to_owned())?,
            port: env.or("PORT", 3000)?,
            data_dir: PathBuf::from(env.or("DATA_DIR", "./data".to_owned())?),
            web_dir: PathBuf::from(env.or("WEB_DIR", "web/dist".to_owned())?),
            realtime_limits: set_in(env, &REALTIME_LIMITS),
            auth_settings: [set_in(env, &AUTH_LIMITS), set_in(env, &AUTH_GOOGLE)].concat(),
        })
    }
}

/// The bound listener and the combined router.
pub struct Launched {
    pub listener: TcpListener,
    pub addr: SocketAddr,
    pub router: Router,
}

impl Launched {
    /// The URL to open (`localhost` so the browser treats it as a secure context for the service
    /// worker, whatever the bound loopback address).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Binds the listener, builds both services for its origin, and chains their routers.
pub async fn launch(config: &LaunchConfig) -> anyhow::Result<Launched> {
    let listener = common::server::bind(&config.host, config.port)
        .await
        .with_context(|| format!("binding {}:{}", config.host, config.port))?;
    let addr = listener.local_addr()?;
    let origin = format!("http://{addr}");
    let origins = format!(
        "{origin},http://localhost:{port},http://127.0.0.1:{port}",
        port = addr.port()
    );
    // The hosts the page may be opened at, as ALLOWED_ORIGINS has them.
    let mut sockets = vec![format!("ws://{addr}")];
    for host in ["localhost", "127.0.0.1"] {
        let socket = format!("ws://{host}:{}", addr.port());
        if !sockets.contains(&socket) {
            sockets.push(socket);
        }
    }
    let policy = HeaderValue::from_str(&content_security_policy(&sockets))?;
    let data_dir = config.data_dir.display().to_string();
    let kv: SharedKv = Arc::new(MemoryKv::new());

    // Each service binds an unused loopback port of its own; requests come through ours.
    let auth_env = Env::from_pairs(
        [
            ("HOST", "127.0.0.1".to_owned()),
            ("PORT", "0".to_owned()),
            ("DATA_DIR", data_dir.clone()),
            ("PUBLIC_URL", origin.clone()),
            ("APP_URL", origin.clone()),
            ("ALLOWED_ORIGINS", origins.clone()),
        ]
        .map(|(name, value)| (name.to_owned(), value))
        .into_iter()
        .chain(config.auth_settings.iter().cloned()),
    );
    let auth =
        auth_api::Application::build_with_kv(auth_api::Config::from_env(&auth_env)?, kv.clone())
            .await
            .context("building auth-api")?;

    let realtime_env = Env::from_pairs(
        [
            ("HOST", "127.0.0.1".to_owned()),
            ("PORT", "0".to_owned()),
            ("DATA_DIR", data_dir),
            ("ALLOWED_ORIGINS", origins),
            ("AUTH_JWKS_URL", format!("{origin}/.well-known/jwks.json")),
        ]
        .map(|(name, value)| (name.to_owned(), value))
        .into_iter()
        .chain(config.realtime_limits.iter().cloned()),
    );
    let realtime =
        realtime::Application::build_with_kv(realtime::Config::from_env(&realtime_env)?, kv)
            .await
            .context("building realtime")?;

    // realtime's Socket.IO layer wraps its router's fallback, so its router is called as a whole
    // for its paths rather than given another fallback.
    let (realtime_router, files) = (realtime.router(), static_files(&config.web_dir, policy));
    let router = auth.router().fallback(move |req: Request| {
        let target = if is_realtime_path(req.uri().path()) {
            realtime_router.clone()
        } else {
            files.clone()
        };
        async move { target.oneshot(req).await.into_response() }
    });
    // The services' own listeners are dropped here: their routers are served on ours.
    drop((auth, realtime));
    Ok(Launched {
        listener,
        addr,
        router,
    })
}

/// Paths realtime serves (auth-api's routes matched first, so `/api/…` left over is realtime's).
fn is_realtime_path(path: &str) -> bool {
    path.starts_with("/socket.io/") || path.starts_with("/api/")
}

/// The built PWA, or a page explaining how to build it.
///
/// Any path that is not a file gets `index.html` (client routes), except under `/assets/`: the
/// build's hashed files. One missing there is a 404, never the page: a service worker installing
/// a new build while the server lacks one of its files must fail and try again, not cache the
/// page as the script (the app would then break on its next load).
///
/// Caching, as `deploy/nginx/batiyoun.conf`: the hashed files never change under their name, so
/// browsers keep them a year (`immutable`, on success only: a 404 is not kept); everything else
/// (`index.html`, `sw.js`, the manifest, icons) is `no-cache`, asked again each time (a 304 when
/// unchanged). Without it a browser may heuristically reuse an old `index.html` for hours after
/// a deploy, and "Reload" into a new version would load the old page.
///
/// Every file also carries `policy` (see [`content_security_policy`]), `nosniff`, no referrer
/// and no framing.
fn static_files(web_dir: &Path, policy: HeaderValue) -> Router {
    let index = web_dir.join("index.html");
    if index.is_file() {
        let hashed = ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                |res: &Response<_>| {
                    res.status()
                        .is_success()
                        .then(|| HeaderValue::from_static("public, max-age=31536000, immutable"))
                },
            ))
            .service(ServeDir::new(web_dir.join("assets")));
        let others = ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            ))
            .service(ServeDir::new(web_dir).fallback(ServeFile::new(index)));
        let fixed = [
            (header::CONTENT_SECURITY_POLICY, policy),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        ];
        let router = Router::new()
            .nest_service("/assets", hashed)
            .fallback_service(others);
        fixed.into_iter().fold(router, |router, (name, value)| {
            router.layer(SetResponseHeaderLayer::overriding(name, value))
        })
    } else {
        tracing::warn!(dir = %web_dir.display(), "the PWA is not built; run `bash scripts/dev.sh`");
        Router::new().fallback(|| async {
            Html("<h1>Batiyoun</h1><p>The PWA is not built yet: run <code>bash scripts/dev.sh</code> \
                  (or <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>).</p>")
        })
    }
}
