//! Start-up behaviour: readiness, and the signing key surviving restarts and rotations.

use auth_api::{Application, Config};
use common::config::Env;
use common::jwt::SigningKey;
use common::testing::metric_sum;

use crate::both;
use crate::helpers::{Backends, spawn_app, temp_dir};

both!(readyz_reports_the_backends_in_use);

async fn readyz_reports_the_backends_in_use(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (db, kv) = if b == Backends::Real {
        ("postgres", "redis")
    } else {
        ("sqlite", "memory")
    };
    assert_eq!(r.body["database"]["backend"], db);
    assert_eq!(r.body["kv"]["backend"], kv);
    assert_eq!(app.get("/healthz", None).await.status, 200);
}

async fn published_kids(config: Config) -> Vec<String> {
    let app = Application::build(config).await.expect("build");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_with_shutdown(std::future::pending()));
    let jwks: serde_json::Value = reqwest::get(format!("{base}/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn config(pairs: Vec<(&str, String)>) -> Config {
    Config::from_env(&Env::from_pairs(pairs)).unwrap()
}

#[tokio::test]
async fn a_generated_signing_key_is_kept_across_restarts() {
    let dir = temp_dir();
    let pairs = || {
        vec![
            ("PORT", "0".to_owned()),
            ("DATA_DIR", dir.display().to_string()),
        ]
    };
    let first = published_kids(config(pairs())).await;
    let second = published_kids(config(pairs())).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first, second, "the key persisted under DATA_DIR is reused");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_previous_signing_key_stays_published_after_a_rotation() {
    let dir = temp_dir();
    let (current, previous) = (SigningKey::generate(), SigningKey::generate());
    let kids = published_kids(config(vec![
        ("PORT", "0".to_owned()),
        ("DATA_DIR", dir.display().to_string()),
        ("JWT_SIGNING_KEY", current.to_base64_seed()),
        ("JWT_PREVIOUS_SIGNING_KEY", previous.to_base64_seed()),
    ]))
    .await;
    assert_eq!(kids, [current.kid().to_owned(), previous.kid().to_owned()]);
    let _ = std::fs::remove_dir_all(dir);
}

both!(metrics_show_login_outcomes_and_request_counts_after_traffic);

async fn metrics_show_login_outcomes_and_request_counts_after_traffic(b: Backends) {
    let Some(app) = spawn_app(b).await else {
        return;
    };
    let scrape = || async {
        app.client
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = scrape().await;
    let wrong = serde_json::json!({"login": "nobody-here", "password": "not the password at all"});
    assert_eq!(app.post("/api/auth/login", &wrong).await.status, 401);
    let (email, _) = app.verified_user("metrics").await;
    let ok = serde_json::json!({"login": email, "password": crate::helpers::PASSWORD});
    assert_eq!(app.post("/api/auth/login", &ok).await.status, 200);
    let after = scrape().await;

    // The recorder is process-wide (tests share it), so compare deltas, never absolute values.
    let delta = |prefix: &str, needles: &[&str]| {
        metric_sum(&after, prefix, needles) - metric_sum(&before, prefix, needles)
    };
    assert!(
        delta("auth_logins_total", &["outcome=\"invalid_credentials\""]) >= 1.0,
        "{after}"
    );
    assert!(
        delta("auth_logins_total", &["outcome=\"success\""]) >= 1.0,
        "{after}"
    );
    assert!(
        delta("auth_otp_verifications_total", &["outcome=\"success\""]) >= 1.0,
        "{after}"
    );
    assert!(
        delta(
            "http_requests_total",
            &["route=\"/api/auth/login\"", "status=\"200\""]
        ) >= 1.0,
        "{after}"
    );
    assert!(after.contains("http_request_duration_seconds_bucket"));
}
