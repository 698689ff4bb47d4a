//! Helpers for the services' integration tests (not used by production code paths).

/// The URL of a real backend for tests, from the environment variable `name`
/// (e.g. `TEST_REDIS_URL`). When unset, tests may skip on a developer's laptop, but under CI
/// (`CI=true`) a missing backend is a failure, so CI always proves the real path.
pub fn backend_url(name: &str) -> Option<String> {
    match std::env::var(name).ok().filter(|v| !v.trim().is_empty()) {
        Some(url) => Some(url),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{name} is not set, and CI=true requires every real backend to be tested")
        }
        None => {
            eprintln!(
                "skipping: {name} is not set (set it, or run bash .ci/run, to test against the real backend)"
            );
            None
        }
    }
}

/// A unique, readable prefix for keys, databases and channels of one test.
pub fn unique_name(test: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "t_{}_{}",
        test.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(24)
            .collect::<String>(),
        &id[..12]
    )
}

/// The sum of every Prometheus sample line in `text` whose name starts with `prefix` and that
/// contains every `needle`. Summing over the other labels keeps the value monotonic while
/// parallel tests add label sets, so tests compare a before/after delta of it.
pub fn metric_sum(text: &str, prefix: &str, needles: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix) && needles.iter().all(|n| l.contains(n)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Helpers for the services' OpenAPI sync tests (both read the served document the same way).
pub mod openapi {
    use serde_json::Value;

    const METHODS: &[&str] = &[
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    /// `(method, path, operation)` for every operation in the document.
    pub fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                if METHODS.contains(&method.as_str()) {
                    out.push((method.clone(), path.clone(), op.clone()));
                }
            }
        }
        out
    }

    /// Fetches `GET {base}/api/openapi.json`, checking it is served as JSON.
    pub async fn served_document(http: &reqwest::Client, base: &str) -> Value {
        let resp = http
            .get(format!("{base}/api/openapi.json"))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200);
        let content_type = resp.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        serde_json::from_str(&resp.text().await.expect("body")).expect("the document is JSON")
    }

    /// Asserts the document's `(method, path)` set is exactly `expected`, naming the differences.
    pub fn assert_exact_routes(doc: &Value, expected: &[(&str, &str)]) {
        use std::collections::BTreeSet;
        let documented: BTreeSet<(String, String)> = operations(doc)
            .into_iter()
            .map(|(m, p, _)| (m, p))
            .collect();
        let expected: BTreeSet<(String, String)> = expected
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        let missing: Vec<_> = expected.difference(&documented).collect();
        let unexpected: Vec<_> = documented.difference(&expected).collect();
        assert!(
            missing.is_empty() && unexpected.is_empty(),
            "not documented: {missing:?}; documented but not expected: {unexpected:?}"
        );
    }

    /// A response the router produced because nothing matched (axum's bare 404/405), as opposed
    /// to a handler's `not_found` error body.
    pub fn unrouted(status: u16, body: &Value) -> bool {
        status == 405 || (status == 404 && body["error"]["code"].as_str().is_none())
    }

    /// Every `$ref` string anywhere in `value`.
    pub fn refs(value: &Value) -> Vec<String> {
        fn walk(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (k, v) in map {
                        match (k.as_str(), v) {
                            ("$ref", Value::String(r)) => out.push(r.clone()),
                            _ => walk(v, out),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(value, &mut out);
        out
    }
}

/// A TCP relay in front of a server (e.g. Redis) whose live connections a test can cut, as a
/// network failure or a server restart would. New connections go through again at once, unless
/// the relay is held down ([`Relay::hold`]), as during an outage.
pub struct Relay {
    /// `redis://127.0.0.1:<relay port>`: the relayed server's URL, through the relay.
    pub url: String,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    /// Relays to the host and port of `redis_url` (`redis://host:port`).
    pub async fn start(redis_url: &str) -> Self {
        let upstream = redis_url
            .trim_start_matches("redis://")
            .split(['/', '?'])
            .next()
            .unwrap_or_default()
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the relay");
        let url = format!(
            "redis://{}",
            listener.local_addr().expect("the relay's address")
        );
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (kept, held) = (links.clone(), down.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if held.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let link = tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                if let Ok(mut links) = kept.lock() {
                    links.push(link.abort_handle());
                }
            }
        });
        Self { url, links, down }
    }

    /// Cuts every connection and refuses new ones (they are closed at once) until
    /// [`Relay::release`].
    pub fn hold(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cut();
    }

    /// Lets connections through again.
    pub fn release(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Drops every connection made so far (both ends close).
    pub fn cut(&self) {
        if let Ok(mut links) = self.links.lock() {
            for link in links.drain(..) {
                link.abort();
            }
        }
    }
}
