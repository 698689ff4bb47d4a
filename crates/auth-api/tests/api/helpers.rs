//! `spawn_app`: the real application on a random port with per-test storage (a temp dir, or a
//! fresh PostgreSQL database and Redis prefix), plus typed request helpers and mail readers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use auth_api::{Application, Config};
use common::config::Env;
use common::kv::SharedKv;
use common::testing::{backend_url, unique_name};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::mailbox::{Mailbox, extract_code};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backends {
    /// SQLite in a temp dir, the in-process Kv, the dev mailbox file.
    Embedded,
    /// PostgreSQL, Redis and the SMTP sink from `TEST_*`.
    Real,
}

/// Runs a test body against both backend sets: `both!(name)` expects `async fn name(b: Backends)`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_embedded_backends() {
                super::$name($crate::helpers::Backends::Embedded).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_real_backends() {
                super::$name($crate::helpers::Backends::Real).await
            }
        }
    )*};
}

pub struct TestApp {
    pub base: String,
    pub origin: String,
    pub client: reqwest::Client,
    pub kv: SharedKv,
    pub config: Config,
    pub mailbox: Mailbox,
    seen: Mutex<HashMap<String, usize>>,
    data_dir: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A fresh PostgreSQL database on the `TEST_DATABASE_URL` server; returns its URL.
pub async fn fresh_postgres(admin_url: &str) -> String {
    use sqlx::Connection;
    let name = unique_name("authdb");
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name("auth"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Spawns the app; `None` when a real backend is not configured (skipped locally).
pub async fn spawn_app(backends: Backends) -> Option<TestApp> {
    spawn_app_with(backends, |_| {}).await
}

pub async fn spawn_app_with(
    backends: Backends,
    tweak: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    common::telemetry::init();
    let data_dir = temp_dir();
    let mut env = vec![
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("DATA_DIR", data_dir.display().to_string()),
        // Most tests send several codes to one address; the cooldown has its own test.
        ("OTP_RESEND_COOLDOWN_SECS", "0".to_owned()),
    ];
    let mut redis = None;
    let mailbox = match backends {
        Backends::Embedded => Mailbox::DevFile(data_dir.join("dev-mailbox.log")),
        Backends::Real => {
            let db = backend_url("TEST_DATABASE_URL")?;
            let redis_url = backend_url("TEST_REDIS_URL")?;
            let smtp = backend_url("TEST_SMTP_URL")?;
            let maildir = backend_url("TEST_SMTP_MAILDIR")?;
            env.push(("DATABASE_URL", fresh_postgres(&db).await));
            env.push(("SMTP_URL", smtp));
            redis = Some(redis_url);
            // The sink delivers into tmp/ then new/; make sure the Maildir layout exists even if
            // the sink was started on an empty directory.
            for sub in ["tmp", "new", "cur"] {
                let _ = std::fs::create_dir_all(PathBuf::from(&maildir).join(sub));
            }
            Mailbox::Maildir(PathBuf::from(maildir))
        }
    };
    if let Ok(oauth) = std::env::var("TEST_OAUTH_URL") {
        let oauth = oauth.trim_end_matches('/').to_owned();
        env.push(("GOOGLE_CLIENT_ID", "batiyoun-test".to_owned()));
        env.push(("GOOGLE_AUTH_URL", format!("{oauth}/authorize")));
        env.push(("GOOGLE_TOKEN_URL", format!("{oauth}/token")));
        env.push(("GOOGLE_JWKS_URL", format!("{oauth}/jwks")));
        env.push(("GOOGLE_ISSUER", oauth));
    }
    let mut config = Config::from_env(&Env::from_pairs(env)).expect("test config");
    tweak(&mut config);
    let prefix = format!("{}:", unique_name("auth"));
    let kv = common::kv::connect(redis.as_deref(), &prefix)
        .await
        .expect("kv");
    let app = Application::build_with_kv(config.clone(), kv.clone())
        .await
        .expect("build app");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_with_shutdown(std::future::pending()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "app did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Some(TestApp {
        origin: base.clone(),
        base,
        client,
        kv,
        config,
        mailbox,
        seen: Mutex::new(HashMap::new()),
        data_dir,
    })
}

/// A response reduced to what tests look at.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The access token of a sign-in's answer.
    pub fn access_token(&self) -> String {
        self.body["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("an access token in {}", self.body))
            .to_owned()
    }

    /// The session cookie's value from `Set-Cookie`, if one was set (and not cleared).
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                let (pair, _) = c.split_once(';').unwrap_or((c, ""));
                let (name, value) = pair.split_once('=')?;
                (name.ends_with("batiyoun_session") && !value.is_empty()).then(|| value.to_owned())
            })
    }

    pub fn set_cookie_header(&self) -> String {
        self.headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }
}

pub fn unique_email(tag: &str) -> String {
    format!("{}@example.com", unique_name(tag).to_lowercase())
}

pub fn unique_username(tag: &str) -> String {
    let n = unique_name(tag).to_lowercase();
    n.chars().rev().take(20).collect::<String>()
}

pub const PASSWORD: &str = "glacier-mosaic-71-tundra";

impl TestApp {
    pub async fn reply(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// POSTs JSON as the app's own page would (with its Origin).
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.origin)
            .json(body)
            .send()
            .await
            .expect("request");
        Self::reply(resp).await
    }

    /// Any request as the app's own page would make it (with its Origin): `bearer` as the access
    /// token, `body` as JSON, `user_agent` as the `User-Agent`.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
        user_agent: Option<&str>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("origin", &self.origin);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(ua) = user_agent {
            req = req.header("user-agent", ua);
        }
        Self::reply(req.send().await.expect("request")).await
    }

    /// POSTs with the session cookie and an optional Origin.
    pub async fn post_with_cookie(&self, path: &str, cookie: &str, origin: Option<&str>) -> Reply {
        let name = self.cookie_name();
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("{name}={cookie}"));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        Self::reply(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        Self::reply(req.send().await.expect("request")).await
    }

    pub fn cookie_name(&self) -> &'static str {
        if self.config.cookie_secure {
            "__Host-batiyoun_session"
        } else {
            "batiyoun_session"
        }
    }

    pub async fn signup(&self, email: &str, username: &str) -> Reply {
        self.post(
            "/api/auth/signup",
            &json!({"email": email, "username": username, "password": PASSWORD}),
        )
        .await
    }

    /// Signs up, reads the code from the mailbox and verifies: returns the verify-otp reply.
    pub async fn verified_user(&self, tag: &str) -> (String, Reply) {
        let email = unique_email(tag);
        let r = self.signup(&email, &unique_username(tag)).await;
        assert_eq!(r.status, 201, "signup: {}", r.body);
        let code = self.next_code(&email).await;
        let r = self
            .post(
                "/api/auth/verify-otp",
                &json!({"email": email, "code": code}),
            )
            .await;
        assert_eq!(r.status, 200, "verify-otp: {}", r.body);
        (email, r)
    }

    /// The code in the next not-yet-read message to `email`, polling the mailbox until it arrives.
    pub async fn next_code(&self, email: &str) -> String {
        let message = self.next_mail(email).await;
        extract_code(&message).unwrap_or_else(|| panic!("no code in {message}"))
    }

    /// The next not-yet-read message to `email`, polling the mailbox until it arrives.
    pub async fn next_mail(&self, email: &str) -> String {
        let already = *self.seen.lock().unwrap().get(email).unwrap_or(&0);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let messages = self.mailbox.messages_to(email);
            if messages.len() > already {
                self.seen
                    .lock()
                    .unwrap()
                    .insert(email.to_owned(), already + 1);
                return messages[already].clone();
            }
            assert!(Instant::now() < deadline, "no email to {email} arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
