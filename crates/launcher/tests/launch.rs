//! The one-process launcher serves the PWA, auth-api and realtime from one origin, and a token
//! minted by its auth-api is accepted by its realtime.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use launcher::{LaunchConfig, launch};
use serde_json::{Value, json};

struct Running {
    base: String,
    data_dir: PathBuf,
    http: reqwest::Client,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

async fn start() -> Running {
    start_with(Vec::new()).await
}

/// The launcher with `auth_settings` set in its environment.
async fn start_with(auth_settings: Vec<(String, String)>) -> Running {
    let root = std::env::temp_dir().join(common::testing::unique_name("launcher"));
    let (data_dir, web_dir) = (root.join("data"), root.join("web"));
    std::fs::create_dir_all(&web_dir).unwrap();
    std::fs::write(
        web_dir.join("index.html"),
        "<!doctype html><title>Batiyoun PWA</title>",
    )
    .unwrap();
    std::fs::write(web_dir.join("app.js"), "console.log('app')").unwrap();
    std::fs::create_dir_all(web_dir.join("assets")).unwrap();
    std::fs::write(web_dir.join("assets/index-1a2b.js"), "console.log('built')").unwrap();
    let config = LaunchConfig {
        host: "127.0.0.1".into(),
        port: 0,
        data_dir: data_dir.clone(),
        web_dir,
        realtime_limits: Vec::new(),
        auth_settings,
    };
    let launched = launch(&config).await.expect("launch");
    let base = launched.url();
    tokio::spawn(common::server::serve(
        launched.listener,
        launched.router,
        std::future::pending(),
    ));
    Running {
        base,
        data_dir: root,
        http: reqwest::Client::new(),
    }
}

impl Running {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// The newest 6-digit code mailed to `email`, from the dev mailbox file.
    async fn code_for(&self, email: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(self.data_dir.join("data/dev-mailbox.log"))
                .unwrap_or_default();
            // Each mail is a block starting `--- <time> ---`; the code is in the subject of the
            // newest one to `email`. Only the subject line is searched: the time and the address
            // (random hex) can hold six digits in a row too.
            let code = text
                .split("--- ")
                .filter(|block| block.contains(email))
                .last()
                .and_then(|block| block.lines().find(|l| l.starts_with("Subject:")))
                .and_then(|subject| {
                    subject
                        .split(|c: char| !c.is_ascii_digit())
                        .find(|w| w.len() == 6)
                        .map(str::to_owned)
                });
            if let Some(code) = code {
                return code;
            }
            assert!(
                Instant::now() < deadline,
                "no code for {email} in the dev mailbox:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn cache_control(res: &reqwest::Response) -> Option<&str> {
    res.headers()
        .get(reqwest::header::CACHE_CONTROL)
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn the_pwa_and_both_apis_share_one_origin() {
    let app = start().await;
    assert!(
        app.get("/")
            .await
            .text()
            .await
            .unwrap()
            .contains("Batiyoun PWA")
    );
    assert_eq!(
        app.get("/app.js").await.text().await.unwrap(),
        "console.log('app')"
    );
    let deep = app.get("/chats/some-client-route").await;
    assert!(
        deep.text().await.unwrap().contains("Batiyoun PWA"),
        "client routes fall back to index.html"
    );
    let hashed = app.get("/assets/index-1a2b.js").await;
    assert_eq!(
        cache_control(&hashed),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(hashed.text().await.unwrap(), "console.log('built')");
    let missing = app.get("/assets/index-9z8y.js").await;
    assert_eq!(
        missing.status(),
        404,
        "a build file the server lacks is not answered with the page"
    );
    assert_eq!(cache_control(&missing), None, "a 404 is not kept");
    for path in ["/", "/app.js", "/chats/some-client-route"] {
        assert_eq!(
            cache_control(&app.get(path).await),
            Some("no-cache"),
            "{path} is asked again each time: a deploy shows at once"
        );
    }
    let port = app.base.rsplit(':').next().expect("a port");
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         connect-src 'self' ws://127.0.0.1:{port} ws://localhost:{port}; \
         worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    for path in ["/", "/chats/some-client-route", "/assets/index-1a2b.js"] {
        let res = app.get(path).await;
        let header = |name: &str| res.headers().get(name).map(|v| v.to_str().unwrap());
        assert_eq!(
            header("content-security-policy"),
            Some(policy.as_str()),
            "{path}"
        );
        assert_eq!(header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(header("referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(header("x-frame-options"), Some("DENY"), "{path}");
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    let handshake = app
        .get("/socket.io/?EIO=4&transport=polling")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        handshake.starts_with("0{") && handshake.contains("\"sid\""),
        "{handshake}"
    );
    let chats = app.get("/api/chats").await;
    assert_eq!(chats.status(), 401);
    let body: Value = chats.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn a_user_signed_up_through_the_launcher_can_use_the_realtime_api() {
    let app = start().await;
    let email = format!("{}@example.com", common::testing::unique_name("l"));
    let signup = app
        .post(
            "/api/auth/signup",
            &json!({"email": email, "username": "launcher_user", "password": "glacier-mosaic-71-tundra"}),
        )
        .await;
    assert_eq!(signup.status(), 201, "{}", signup.text().await.unwrap());
    let code = app.code_for(&email).await;
    let verified: Value = app
        .post(
            "/api/auth/verify-otp",
            &json!({"email": email, "code": code}),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = verified["accessToken"]
        .as_str()
        .expect("access token")
        .to_owned();
    let chats = app
        .http
        .get(format!("{}/api/chats", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        chats.status(),
        200,
        "realtime verifies auth-api's token through the shared origin's JWKS"
    );
    let body: Value = chats.json().await.unwrap();
    assert_eq!(body["chats"], json!([]));
}

/// auth-api's limits set in the launcher's environment reach auth-api: a code cooldown of an
/// hour (the default is a minute) answers a second code request with a wait of more than a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_limits_reach_auth_api() {
    let env = common::config::Env::from_pairs([
        ("OTP_RESEND_COOLDOWN_SECS", "3600"),
        ("ATTACHMENT_BYTES_PER_USER", "5"),
        ("DATABASE_URL", "postgres://elsewhere"),
    ]);
    let config = LaunchConfig::from_env(&env).expect("config");
    assert_eq!(
        config.auth_settings,
        vec![("OTP_RESEND_COOLDOWN_SECS".to_owned(), "3600".to_owned())],
        "auth-api's limits only"
    );
    let running = start_with(config.auth_settings).await;
    let body = json!({"email": "nobody@example.com"});
    let first = running.post("/api/auth/request-otp", &body).await;
    assert_eq!(first.status(), 202);
    let second = running.post("/api/auth/request-otp", &body).await;
    assert_eq!(second.status(), 429);
    let wait: u64 = second.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        wait > 60,
        "the hour's cooldown, not the default minute: {wait}"
    );
}

/// realtime's limits set in the launcher's environment reach realtime (the browser suite's
/// storage quota relies on it); its other settings do not.
#[test]
fn realtime_limits_pass_through_the_launcher() {
    let env = common::config::Env::from_pairs([
        ("ATTACHMENT_BYTES_PER_USER", "5"),
        ("UPLOAD_TIMEOUT_SECS", "7"),
        ("MONGODB_URL", "mongodb://elsewhere"),
    ]);
    let config = LaunchConfig::from_env(&env).expect("config");
    assert_eq!(
        config.realtime_limits,
        vec![
            ("UPLOAD_TIMEOUT_SECS".to_owned(), "7".to_owned()),
            ("ATTACHMENT_BYTES_PER_USER".to_owned(), "5".to_owned()),
        ]
    );
}

/// Google sign-in set in the launcher's environment reaches auth-api: `/api/auth/google` sends
/// the browser to the configured provider, with the launcher's own callback; unset, there is no
/// Google sign-in (404), which is what the PWA asks before it offers the button.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_sign_in_is_set_in_the_launchers_environment() {
    let without = start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let off = http
        .get(format!("{}/api/auth/google", without.base))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 404);

    let env = common::config::Env::from_pairs([
        ("GOOGLE_CLIENT_ID", "batiyoun-client"),
        ("GOOGLE_CLIENT_SECRET", "s3cret"),
        ("GOOGLE_AUTH_URL", "http://127.0.0.1:9/authorize"),
        ("GOOGLE_TOKEN_URL", "http://127.0.0.1:9/token"),
        ("GOOGLE_JWKS_URL", "http://127.0.0.1:9/jwks"),
        ("GOOGLE_ISSUER", "http://127.0.0.1:9"),
        ("MONGODB_URL", "mongodb://elsewhere"),
    ]);
    let config = LaunchConfig::from_env(&env).expect("config");
    let names: Vec<&str> = config
        .auth_settings
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, launcher::AUTH_GOOGLE[..6], "Google's settings only");
    let running = start_with(config.auth_settings).await;
    let on = http
        .get(format!("{}/api/auth/google", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(on.status(), 302, "sent to the provider");
    let to = reqwest::Url::parse(on.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        to.as_str().split('?').next(),
        Some("http://127.0.0.1:9/authorize")
    );
    let query: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "batiyoun-client");
    assert_eq!(
        query["redirect_uri"],
        format!("{}/api/auth/google/callback", running.base)
    );
}
