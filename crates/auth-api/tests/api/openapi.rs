//! The OpenAPI document at `GET /api/openapi.json` stays in sync with the router: it lists
//! exactly the routes the issue specifies, every documented operation is really served (and
//! answers with a status it documents), and the document is self-consistent.

use common::testing::openapi::{assert_exact_routes, operations, refs, served_document, unrouted};
use serde_json::Value;

use crate::helpers::{Backends, spawn_app};

/// Every route auth-api serves, from the endpoint list plus the operational routes.
/// Adding a route without documenting it, or documenting one that is gone, fails the tests below.
const EXPECTED: &[(&str, &str)] = &[
    ("post", "/api/auth/signup"),
    ("post", "/api/auth/request-otp"),
    ("post", "/api/auth/verify-otp"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/verify-me"),
    ("post", "/api/auth/password"),
    ("post", "/api/auth/reset-password"),
    ("post", "/api/auth/delete-account"),
    ("post", "/api/auth/email"),
    ("post", "/api/auth/email/confirm"),
    ("get", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions/{id}"),
    ("get", "/api/auth/google"),
    ("get", "/api/auth/google/callback"),
    ("get", "/api/users/search"),
    ("get", "/api/users/keys"),
    ("get", "/api/users"),
    ("get", "/api/users/{id}"),
    ("get", "/api/users/me"),
    ("patch", "/api/users/me"),
    ("put", "/api/users/me/keys"),
    ("put", "/api/users/me/key-backup"),
    ("get", "/api/users/me/key-backup"),
    ("get", "/api/users/{id}/keys"),
    ("put", "/api/users/me/avatar"),
    ("delete", "/api/users/me/avatar"),
    ("get", "/api/users/{id}/avatar"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/readyz"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
];

#[tokio::test]
async fn the_served_document_lists_exactly_the_expected_routes() {
    let app = spawn_app(Backends::Embedded).await.expect("embedded app");
    let doc = served_document(&app.client, &app.base).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Batiyoun auth-api");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    assert_exact_routes(&doc, EXPECTED);

    // The library function and the served document agree.
    let built = serde_json::to_value(auth_api::http::openapi()).unwrap();
    assert_eq!(built, doc);
}

#[tokio::test]
async fn every_documented_operation_is_served_with_a_documented_status() {
    let app = spawn_app(Backends::Embedded).await.expect("embedded app");
    let doc = served_document(&app.client, &app.base).await;
    let id = uuid::Uuid::new_v4().to_string();
    for (method, path, op) in operations(&doc) {
        let url = format!("{}{}", app.base, path.replace("{id}", &id));
        assert!(!url.contains('{'), "unfilled path parameter in {path}");
        let method_ = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut req = app
            .client
            .request(method_, &url)
            .header("origin", &app.origin);
        if method == "post" || method == "put" {
            req = req.json(&serde_json::json!({}));
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null);
        assert!(
            !unrouted(status, &body),
            "{method} {path} is documented but not served ({status})"
        );
        let documented = op["responses"]
            .as_object()
            .expect("responses")
            .contains_key(&status.to_string());
        assert!(
            documented,
            "{method} {path} answered {status}, which it does not document: {body}"
        );
    }
}

#[tokio::test]
async fn every_operation_documents_a_success_and_every_reference_resolves() {
    let app = spawn_app(Backends::Embedded).await.expect("embedded app");
    let doc = served_document(&app.client, &app.base).await;
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    for (method, path, op) in operations(&doc) {
        let statuses: Vec<u16> = op["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .map(|s| s.parse().expect("numeric status"))
            .collect();
        assert!(
            statuses.iter().any(|s| (200..400).contains(s)),
            "{method} {path} documents no 2xx/3xx response: {statuses:?}"
        );
        for requirement in op["security"].as_array().into_iter().flatten() {
            for name in requirement.as_object().unwrap().keys() {
                assert!(
                    schemes.contains_key(name),
                    "{method} {path}: unknown scheme {name}"
                );
            }
        }
    }

    let all = refs(&doc);
    assert!(
        all.iter()
            .any(|r| r == "#/components/schemas/ErrorResponse"),
        "errors are documented with the shared envelope"
    );
    for r in all {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "unresolved $ref {r}");
    }
}
