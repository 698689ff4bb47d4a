//! `Application`: wires config → adapters → domain → transports, binds the listener, and serves
//! until a shutdown future resolves. Tests build the very same application on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use common::jwt::JwksVerifier;
use common::kv::{Followed, SharedKv};
use futures::StreamExt;
use futures::future::BoxFuture;
use socketioxide::SocketIo;
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide_redis::drivers::redis::redis_client;
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::adapters::{ChatCache, Deadline, MongoStore, Patience, SqliteStore};
use crate::config::Config;
use crate::domain::{
    AttachmentService, Budgets, ChatService, MessageService, Presence, Revocations,
};
use crate::http::{self, AppState};
use crate::ports::{ChatStore, Fanout};
use crate::socket::redis_driver::ReconnectingDriver;
use crate::socket::{self, FanoutHealth, Services, SocketFanout};

/// The channel auth-api publishes revoked session ids on (bare id strings).
pub use common::contracts::auth::SESSION_REVOKED_CHANNEL;

/// Each WebSocket's read buffer (socketioxide's default is 4 KiB), zero-filled on every read and
/// the most one read takes. Client events are a few hundred bytes, and a larger frame still arrives
/// whole (the buffer grows for it). The patched tungstenite (`vendor/tungstenite`) releases it
/// while the connection waits, so an idle socket holds none, whatever it grew to.
const WS_READ_BUFFER: usize = 512;

/// Wait before subscribing again to a Kv channel whose subscription ended.
const RESUBSCRIBE: std::time::Duration = std::time::Duration::from_secs(1);
/// How long start-up waits for the revocation subscription.
const SUBSCRIBE_AT_START: std::time::Duration = std::time::Duration::from_secs(10);

type Closer = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    close_sockets: Closer,
    presence: Presence,
    tasks: Vec<JoinHandle<()>>,
}

impl Application {
    /// Builds with the key-value store named by `REDIS_URL` (in-process when unset).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let redis = config.redis_url.as_ref().map(|s| s.expose().to_owned());
        let kv = common::kv::connect(redis.as_deref(), &config.redis_prefix)
            .await
            .context("connecting to Redis (REDIS_URL)")?;
        Self::build_with_kv(config, kv).await
    }

    /// Builds with an injected key-value store (the one-process dev mode shares one with auth-api).
    /// Fan-out uses Redis when `REDIS_URL` is set, the in-process adapter otherwise.
    pub async fn build_with_kv(config: Config, kv: SharedKv) -> anyhow::Result<Self> {
        // Before the services below take their metric handles (a handle taken earlier is a no-op).
        let _ = common::observability::prometheus();
        let backend: Arc<dyn ChatStore> = match &config.mongodb_url {
            Some(url) => {
                let patience = Patience {
                    connect: config.mongodb_timeout,
                    answer: config.mongodb_answer_timeout,
                };
                let mongo = MongoStore::connect(
                    url.expose(),
                    &config.mongodb_db,
                    &config.mongodb_write_concern,
                    patience,
                )
                .await
                .context("connecting to MongoDB (MONGODB_URL)")?;
                Arc::new(Deadline::new(mongo, patience.answer))
            }
            None => Arc::new(
                SqliteStore::open(&config.data_dir)
                    .await
                    .context("opening the embedded SQLite store")?,
            ),
        };
        let (cache, cache_listener) = ChatCache::new(backend, kv.clone());
        let store: Arc<dyn ChatStore> = Arc::new(cache);
        let chats = ChatService::new(store.clone());
        let presence = Presence::new(kv.clone(), config.limits.clone());
        let fanout_health = Arc::new(FanoutHealth::default());
        let services = Arc::new(Services {
            messages: MessageService::new(
                store.clone(),
                chats.clone(),
                config.limits.sync_lookback,
            ),
            attachments: AttachmentService::new(
                store.clone(),
                chats.clone(),
                kv.clone(),
                &config.limits,
            ),
            chats,
            budgets: Budgets::new(kv.clone(), &config.limits),
            presence: presence.clone(),
            presence_changes: Default::default(),
            revocations: Revocations::new(kv.clone()),
            verifier: Arc::new(JwksVerifier::new(
                &config.auth_jwks_url,
                &config.jwt_issuer,
                &config.jwt_audience,
            )),
            allowed_origins: config.allowed_origins.clone(),
            limits: config.limits.clone(),
            fanout_health: fanout_health.clone(),
        });
        let builder = SocketIo::builder()
            .req_path("/socket.io")
            // `max_payload` bounds polling bodies only; WebSocket messages have their own limits
            // (64 MiB by default), so both are set to the same bound.
            .max_payload(config.limits.max_payload)
            .ws_max_message_size(usize::try_from(config.limits.max_payload).unwrap_or(usize::MAX))
            .ws_max_frame_size(usize::try_from(config.limits.max_payload).unwrap_or(usize::MAX))
            .ws_read_buffer_size(WS_READ_BUFFER)
            // Past `send_buffer` packets waiting, the client is not keeping up, and the patched
            // engineioxide closes the session rather than drop the packet
            // (`vendor/engineioxide/PATCHES.md`): the client reconnects and catches up with `sync`
            // and the presence snapshot. socketioxide's default is 128; ours (1,024) is large
            // enough that a burst to a healthy client never reaches it, and the queue is
            // allocated only while packets wait, so an idle socket pays nothing for it.
            .max_buffer_size(config.limits.send_buffer)
            .with_state(services.clone());
        let mut recovery = None;
        let (socket_layer, fanout, close_sockets): (Router, Arc<dyn Fanout>, Closer) =
            match &config.redis_url {
                Some(url) => {
                    let client =
                        redis_client::Client::open(resp3(url.expose())).context("REDIS_URL")?;
                    let adapter_config = RedisAdapterConfig::new()
                        .with_prefix(format!("{}socket.io", config.redis_prefix));
                    // Our driver, not the crate's own: its connection never reconnects.
                    let driver = ReconnectingDriver::connect(client, fanout_health.clone())
                        .await
                        .context("connecting the Socket.IO Redis adapter (Redis 7+, RESP3)")?;
                    let adapter = RedisAdapterCtr::new_with_driver(driver.clone(), adapter_config);
                    let (layer, io) = builder
                        .with_adapter::<CustomRedisAdapter<_, ReconnectingDriver>>(adapter)
                        .build_layer();
                    io.ns("/", socket::on_connect.with(socket::authenticate))
                        .await
                        .map_err(|e| {
                            anyhow::anyhow!("initialising the Socket.IO Redis adapter: {e}")
                        })?;
                    recovery = Some(socket::spawn_recovery(
                        io.clone(),
                        fanout_health.clone(),
                        driver,
                    ));
                    finish(layer, io, fanout_health.clone())
                }
                None => {
                    let (layer, io) = builder.with_adapter::<LocalAdapter>(()).build_layer();
                    io.ns("/", socket::on_connect.with(socket::authenticate));
                    finish(layer, io, fanout_health.clone())
                }
            };
        tracing::info!(
            store = store.backend(),
            kv = kv.backend(),
            fanout = if config.redis_url.is_some() {
                "redis"
            } else {
                "in-process"
            },
            "realtime backends: store={}, kv={}, fan-out={}",
            store.backend(),
            kv.backend(),
            if config.redis_url.is_some() {
                "redis"
            } else {
                "in-process"
            },
        );

        // Followed, not merely subscribed: a Redis subscription ends for good when its
        // connection drops, and revocations would then stop reaching this instance.
        let mut revoked = common::kv::follow(kv.clone(), SESSION_REVOKED_CHANNEL, RESUBSCRIBE);
        // Subscribed before serving, so no revocation published from now on is missed; a Kv
        // that will not subscribe stops start-up, as a plain subscribe did.
        match tokio::time::timeout(SUBSCRIBE_AT_START, revoked.next()).await {
            Ok(Some(Followed::Up)) => {}
            _ => anyhow::bail!(
                "subscribing to session revocations: no subscription within {SUBSCRIBE_AT_START:?}"
            ),
        }
        // Before any socket is counted under this instance's id (see `domain::presence`).
        presence
            .register()
            .await
            .context("registering this instance for presence")?;
        let revoker = fanout.clone();
        let mut tasks = Vec::from(socket::spawn_instance_watch(
            services.clone(),
            fanout.clone(),
        ));
        tasks.extend([
            tokio::spawn(async move {
                while let Some(event) = revoked.next().await {
                    match event {
                        Followed::Message(sid) => {
                            tracing::info!("session revoked; disconnecting its sockets");
                            revoker.disconnect_session_local(sid.trim()).await;
                        }
                        Followed::Down => tracing::warn!(
                            "revocation subscription lost; revocations published until it is back are missed"
                        ),
                        Followed::Up => tracing::info!("revocation subscription back"),
                    }
                }
            }),
            presence.spawn_refresh(),
            services.attachments.clone().spawn_sweeper(),
            services.chats.spawn_mute_sweeper(),
            socket::spawn_key_changes(services.clone(), fanout.clone(), kv.clone(), RESUBSCRIBE),
            socket::spawn_profile_changes(services.clone(), fanout.clone(), kv.clone(), RESUBSCRIBE),
            cache_listener,
        ]);
        tasks.extend(recovery);

        let state = AppState {
            services,
            fanout,
            store,
            kv,
        };
        tasks.push(socket::spawn_account_deletions(
            state.clone(),
            RESUBSCRIBE,
            config.limits.deleted_users_sweep,
        ));
        // Request ids, per-request spans and route metrics (`GET /metrics`) come from common;
        // the Socket.IO layer stays outermost of the merged routers so it sees `/socket.io/`.
        let router = common::observability::instrument(http::router(state))
            .merge(socket_layer)
            .layer(cors(&config.allowed_origins));
        let listener = common::server::bind(&config.host, config.port)
            .await
            .with_context(|| format!("binding {}:{}", config.host, config.port))?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            router,
            close_sockets,
            presence,
            tasks,
        })
    }

    /// Every route: `/api/…`, `/socket.io/`, `/healthz`, `/readyz`.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until ctrl-c / SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_with_shutdown(common::server::shutdown_signal())
            .await
    }

    /// Serves until `shutdown` resolves, then hands what this instance holds of presence to the
    /// others (`Presence::leave`), closes every socket and drains HTTP requests.
    pub async fn run_with_shutdown(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            addr,
            router,
            close_sockets,
            presence,
            tasks,
        } = self;
        tracing::info!("listening on http://{addr}");
        let shutdown = async move {
            shutdown.await;
            // First: the disconnects that closing the sockets sets off would announce through
            // an adapter that is closing, and need not all run before the process ends.
            if let Err(e) = presence.leave().await {
                tracing::warn!(error = %e, "cannot give up this instance's presence key");
            }
            close_sockets().await;
        };
        let served = common::server::serve(listener, router, shutdown).await;
        for t in tasks {
            t.abort();
        }
        served.context("serving HTTP")
    }
}

/// The Socket.IO layer on a router of its own (it answers `/socket.io/` before any route), the
/// fan-out port, and a way to close every socket at shutdown.
fn finish<A: Adapter>(
    layer: SocketIoLayer<A>,
    io: SocketIo<A>,
    health: Arc<FanoutHealth>,
) -> (Router, Arc<dyn Fanout>, Closer) {
    let router = Router::new()
        .layer(layer)
        .layer(tower::util::MapRequestLayer::new(only_the_upgrade_handle));
    let fanout: Arc<dyn Fanout> = Arc::new(SocketFanout::new(io.clone(), health));
    let close: Closer = Arc::new(move || {
        let io = io.clone();
        Box::pin(async move { io.close().await })
    });
    (router, fanout, close)
}

/// Empties a request's extensions but for hyper's upgrade handle, before the Socket.IO layer.
/// A socket keeps its request's head for its life (`SocketRef::req_parts`), extensions included,
/// and routing leaves axum's there (the fallback route's URL parameters and the like, ~300 bytes
/// per idle socket in heaptrack), which nothing reads. The upgrade handle is what the WebSocket
/// upgrade takes; the Socket.IO layer drops it once spent.
fn only_the_upgrade_handle(mut req: axum::extract::Request) -> axum::extract::Request {
    let upgrade = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>();
    req.extensions_mut().clear();
    if let Some(upgrade) = upgrade {
        req.extensions_mut().insert(upgrade);
    }
    req
}

/// The socketioxide Redis driver speaks RESP3 (Redis 7+); ask for it unless the URL already does.
fn resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}

fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderValue, Method, header};
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    tower_http::cors::CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .allow_credentials(true)
}

#[cfg(test)]
mod tests {
    use super::only_the_upgrade_handle;

    /// Whatever routing or the server put in a request's extensions is not kept with a socket
    /// (that the upgrade handle stays is proven by every WebSocket test: none would connect).
    #[test]
    fn a_socket_request_keeps_no_extensions() {
        let mut req = axum::extract::Request::new(axum::body::Body::empty());
        req.extensions_mut().insert(7_u32);
        req.extensions_mut().insert("routing state");
        assert!(only_the_upgrade_handle(req).extensions().is_empty());
    }
}
