//! Test harness: a JWKS endpoint standing in for auth-api, the real application on a random
//! port (embedded backends, or MongoDB + Redis with a unique database and prefix), REST helpers
//! and a real Socket.IO client (`rust_socketio`) that records every event it receives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::jwt::{KeyRing, Minter, SigningKey};
use common::kv::{MemoryKv, RedisKv, SharedKv};
use common::testing::{backend_url, unique_name};
use realtime::{Application, Config};
use serde_json::{Value, json};

mod socket;

pub use socket::{PRESENCE_EVENTS, TestSocket};

pub const ISSUER: &str = "batiyoun-auth";
pub const AUDIENCE: &str = "batiyoun";
pub const WAIT: Duration = Duration::from_secs(10);

/// Which adapters the app under test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite under a temporary directory, in-process key-value store and fan-out.
    Embedded,
    /// MongoDB (`TEST_MONGODB_URL`) and Redis (`TEST_REDIS_URL`).
    Real,
}

/// The real-backend URLs, or `None` to skip (locally; under CI a missing one panics).
pub fn real_urls() -> Option<(String, String)> {
    Some((
        backend_url("TEST_MONGODB_URL")?,
        backend_url("TEST_REDIS_URL")?,
    ))
}

/// Stands in for auth-api: a key, a minter and the JWKS served over HTTP.
pub struct Auth {
    pub minter: Minter,
    pub wrong_audience: Minter,
    pub url: String,
}

fn seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&uuid::Uuid::new_v4().as_bytes().repeat(2));
    seed
}

impl Auth {
    pub async fn start() -> Arc<Self> {
        let seed = seed();
        let ttl = Duration::from_secs(600);
        let minter = Minter::new(
            KeyRing::new(SigningKey::from_seed(seed)),
            ISSUER,
            AUDIENCE,
            ttl,
        );
        let wrong_audience = Minter::new(
            KeyRing::new(SigningKey::from_seed(seed)),
            ISSUER,
            "someone-else",
            ttl,
        );
        let jwks = serde_json::to_value(minter.jwks(now())).expect("JWKS serialises");
        let router = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || async move { axum::Json(jwks) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind JWKS server");
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().expect("addr")
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        Arc::new(Self {
            minter,
            wrong_audience,
            url,
        })
    }

    pub fn token(&self, user: &User) -> String {
        self.minter
            .mint_access(&user.id, &user.sid, now())
            .expect("mint")
    }
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A user with one session.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub sid: String,
}

impl User {
    pub fn new() -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            sid: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Another session (device) of the same user.
    pub fn other_device(&self) -> Self {
        Self {
            id: self.id.clone(),
            sid: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// A running application.
pub struct TestApp {
    pub addr: SocketAddr,
    pub auth: Arc<Auth>,
    pub kv: SharedKv,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The embedded store's directory, removed when the app is dropped.
    data_dir: Option<std::path::PathBuf>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Settings a test may change before the app is built.
pub struct Setup {
    pub backend: Backend,
    /// Shared by several instances (same database, prefix and key set).
    pub name: String,
    pub auth: Option<Arc<Auth>>,
    pub mongodb_url: Option<String>,
    pub tweak: Box<dyn FnOnce(&mut Config) + Send>,
}

impl Setup {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            name: unique_name("rt"),
            auth: None,
            mongodb_url: None,
            tweak: Box::new(|_| {}),
        }
    }
}

/// Builds and starts the app; `None` when the real backends are not configured (local skip).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_with(Setup::new(backend)).await
}

pub async fn spawn_with(setup: Setup) -> Option<TestApp> {
    common::telemetry::init();
    let auth = match setup.auth {
        Some(a) => a,
        None => Auth::start().await,
    };
    let mut config = Config::for_tests();
    config.auth_jwks_url = auth.url.clone();
    config.redis_prefix = format!("{}:", setup.name);
    let kv: SharedKv = match setup.backend {
        Backend::Embedded => {
            config.data_dir = std::env::temp_dir().join(&setup.name);
            Arc::new(MemoryKv::new())
        }
        Backend::Real => {
            let (mongo, redis) = real_urls()?;
            config.mongodb_url = Some(common::config::Secret::new(
                setup.mongodb_url.unwrap_or(mongo),
            ));
            config.mongodb_db = setup.name.clone();
            config.redis_url = Some(common::config::Secret::new(redis.clone()));
            Arc::new(
                RedisKv::connect(&redis, &config.redis_prefix)
                    .await
                    .expect("connect Redis"),
            )
        }
    };
    let data_dir = config.data_dir.clone();
    (setup.tweak)(&mut config);
    let app = Application::build_with_kv(config, kv.clone())
        .await
        .expect("application builds");
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = app
            .run_with_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    let http = reqwest::Client::new();
    // Readiness is polled, never slept for.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ok = http
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "app never became ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let data_dir = (setup.backend == Backend::Embedded).then_some(data_dir);
    Some(TestApp {
        addr,
        auth,
        kv,
        http,
        server,
        stop: Some(stop),
        data_dir,
    })
}

impl TestApp {
    /// Stops the app gracefully (as on SIGTERM) and waits until it has stopped serving.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, &mut self.server)
            .await
            .expect("the app stops")
            .expect("the app's task ends without a panic");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, user: &User, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, user, path, None).await
    }

    /// `GET path` as `user`, its JSON body (whatever the status).
    pub async fn get_json(&self, user: &User, path: &str) -> Value {
        self.get(user, path).await.json().await.expect("json")
    }

    /// `method path` as `user`, with `body` as JSON when there is one.
    async fn send(
        &self,
        method: reqwest::Method,
        user: &User,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let request = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(self.auth.token(user));
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub async fn post(&self, user: &User, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, user, path, Some(body))
            .await
    }

    pub async fn patch(&self, user: &User, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, user, path, Some(body))
            .await
    }

    pub async fn put(&self, user: &User, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::PUT, user, path, None).await
    }

    pub async fn put_json(&self, user: &User, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, user, path, Some(body))
            .await
    }

    pub async fn delete(&self, user: &User, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, user, path, None).await
    }

    /// `user` uploads `body` as an attachment of `chat`; the response.
    pub async fn upload(&self, user: &User, chat: &str, body: Vec<u8>) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/api/chats/{chat}/attachments")))
            .bearer_auth(self.auth.token(user))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .expect("upload")
    }

    /// Creates a group of `admin` and `members`; the created chat.
    pub async fn group(&self, admin: &User, name: &str, members: &[&User]) -> Value {
        let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
        let r = self
            .post(
                admin,
                "/api/chats",
                json!({"type": "group", "name": name, "memberIds": ids}),
            )
            .await;
        assert_eq!(r.status(), 201, "create group");
        r.json().await.expect("json")
    }

    /// `admin` adds `users` to group `chat`; the response.
    pub async fn add_members(
        &self,
        admin: &User,
        chat: &str,
        users: &[&User],
    ) -> reqwest::Response {
        let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
        self.post(
            admin,
            &format!("/api/chats/{chat}/members"),
            json!({"userIds": ids}),
        )
        .await
    }

    /// Creates (or fetches) the direct chat of `a` and `b`; its id.
    pub async fn direct_chat(&self, a: &User, b: &User) -> String {
        let r = self
            .post(a, "/api/chats", json!({"type": "direct", "userId": b.id}))
            .await;
        assert!(
            r.status().is_success(),
            "create direct chat: {}",
            r.status()
        );
        r.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// Publishes `message` on the Kv `channel`, as auth-api does, until `socket` hears `event`
    /// (for up to 10 s); what it heard. Again and again, because the instance subscribes as it
    /// starts, and an announcement published before that is missed, as auth-api's would be.
    pub async fn publish_until_heard(
        &self,
        channel: &str,
        message: &str,
        socket: &TestSocket,
        event: &str,
    ) -> Option<Value> {
        for _ in 0..50 {
            self.kv.publish(channel, message).await.expect("publish");
            let heard = socket.try_next(event, Duration::from_millis(200)).await;
            if heard.is_some() {
                return heard;
            }
        }
        None
    }

    /// Connects a socket for `user`, waiting for the server's answer.
    pub async fn socket(&self, user: &User) -> TestSocket {
        self.connect(Some(self.auth.token(user)), None)
            .await
            .expect("socket connects")
    }

    /// The `connect_error` a socket with a fresh token of `user` gets; panics if it connects.
    pub async fn refused(&self, user: &User) -> String {
        self.connect(Some(self.auth.token(user)), None)
            .await
            .err()
            .expect("the connection is refused")
    }

    /// Connects with an optional token and `Origin`; `Err(message)` on `connect_error`.
    pub async fn connect(
        &self,
        token: Option<String>,
        origin: Option<&str>,
    ) -> Result<TestSocket, String> {
        TestSocket::connect(&format!("http://{}", self.addr), token, origin).await
    }
}

/// `ack.ok == true`.
pub fn ok(v: &Value) -> bool {
    v["ok"] == json!(true)
}

/// The error code of a failed ack.
pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// A fresh client message id.
pub fn cmid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Generates `embedded` and `mongodb_and_redis` tests from one async test body `fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    super::$name($crate::helpers::Backend::Embedded).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mongodb_and_redis() {
                    super::$name($crate::helpers::Backend::Real).await;
                }
            }
        )*
    };
}
