//! The OpenAPI document at `GET /api/openapi.json` stays in sync with the router: it lists
//! exactly the routes the issue specifies, every documented operation is really served (and
//! answers with a status it documents), the document is self-consistent, and its description
//! covers every Socket.IO event with payload schemas that exist.

use std::collections::BTreeSet;

use common::contracts::events::{client, server};
use common::testing::openapi::{assert_exact_routes, operations, refs, served_document, unrouted};
use serde_json::Value;

use crate::helpers::{Backend, User, spawn_app};

/// Every route realtime serves, from the endpoint list plus the operational routes.
/// Adding a route without documenting it, or documenting one that is gone, fails the tests below.
const EXPECTED: &[(&str, &str)] = &[
    ("post", "/api/chats"),
    ("get", "/api/chats"),
    ("get", "/api/chats/{id}"),
    ("patch", "/api/chats/{id}"),
    ("delete", "/api/chats/{id}"),
    ("get", "/api/chats/{id}/members"),
    ("post", "/api/chats/{id}/members"),
    ("delete", "/api/chats/{id}/members/{user_id}"),
    ("put", "/api/chats/{id}/admins/{user_id}"),
    ("delete", "/api/chats/{id}/admins/{user_id}"),
    ("post", "/api/chats/{id}/join"),
    ("put", "/api/chats/{id}/mute"),
    ("delete", "/api/chats/{id}/mute"),
    ("put", "/api/chats/{id}/picture"),
    ("delete", "/api/chats/{id}/picture"),
    ("get", "/api/chats/{id}/picture"),
    ("put", "/api/chats/{id}/pins/{message_id}"),
    ("delete", "/api/chats/{id}/pins/{message_id}"),
    ("get", "/api/chats/{id}/messages"),
    ("get", "/api/chats/{id}/messages/{message_id}"),
    ("post", "/api/chats/{id}/attachments"),
    ("get", "/api/chats/{id}/attachments/{attachment_id}"),
    ("get", "/readyz"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
];

/// The Socket.IO payload types clients generate code from.
const EVENT_SCHEMAS: &[&str] = &[
    "SendMessage",
    "ChatRef",
    "MessageRef",
    "Delivered",
    "SyncRequest",
    "SyncResponse",
    "EditMessage",
    "ReactMessage",
    "SyncChanges",
    "ChangesResponse",
    "SendMessageAck",
    "ReceiptEvent",
    "TypingEvent",
    "PresenceEvent",
    "PresenceUpdate",
    "OfflineUser",
    "PresenceSnapshot",
    "Resync",
    "KeyChanged",
    "PublicProfile",
    "UserDeleted",
    "ChatUpdatedEvent",
    "ChatChangedEvent",
    "ChatMutedEvent",
];

#[tokio::test]
async fn the_served_document_lists_exactly_the_expected_routes() {
    let app = spawn_app(Backend::Embedded).await.expect("embedded app");
    let doc = served_document(&app.http, &app.url("")).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Batiyoun realtime");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    assert_exact_routes(&doc, EXPECTED);

    // The library function and the served document agree.
    let built = serde_json::to_value(realtime::http::openapi()).unwrap();
    assert_eq!(built, doc);
}

/// Calls every documented operation, without a token and then with a valid one (on a chat id
/// that does not exist), and checks each answer is routed and documented.
#[tokio::test]
async fn every_documented_operation_is_served_with_a_documented_status() {
    let app = spawn_app(Backend::Embedded).await.expect("embedded app");
    let doc = served_document(&app.http, &app.url("")).await;
    let user = User::new();
    let chat_id = "0123456789abcdef01234567";
    let member = uuid::Uuid::new_v4().to_string();
    for token in [None, Some(app.auth.token(&user))] {
        for (method, path, op) in operations(&doc) {
            let url = app.url(
                &path
                    .replace("{id}", chat_id)
                    .replace("{user_id}", &member)
                    .replace("{message_id}", chat_id)
                    .replace("{attachment_id}", chat_id),
            );
            assert!(!url.contains('{'), "unfilled path parameter in {path}");
            let method_ = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = app.http.request(method_, &url);
            if let Some(token) = &token {
                req = req.bearer_auth(token);
            }
            if method == "post" || method == "put" || method == "patch" {
                req = req.json(&serde_json::json!({}));
            }
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let body: Value =
                serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null);
            let signed_in = token.is_some();
            assert!(
                !unrouted(status, &body),
                "{method} {path} is documented but not served ({status}; signed in: {signed_in})"
            );
            let documented = op["responses"]
                .as_object()
                .expect("responses")
                .contains_key(&status.to_string());
            assert!(
                documented,
                "{method} {path} answered {status} (signed in: {signed_in}), which it does not \
                 document: {body}"
            );
        }
    }
}

#[tokio::test]
async fn every_operation_documents_a_success_and_every_reference_resolves() {
    let app = spawn_app(Backend::Embedded).await.expect("embedded app");
    let doc = served_document(&app.http, &app.url("")).await;
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
        // The path parameters are exactly the template's; everything else is in the query.
        let in_template: BTreeSet<String> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        let in_path: BTreeSet<String> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().expect("parameter name").to_owned())
            .collect();
        assert_eq!(in_path, in_template, "{method} {path}: path parameters");
        if path.starts_with("/api/chats") {
            assert_eq!(
                op["security"],
                serde_json::json!([{ "bearerAuth": [] }]),
                "{method} {path} needs a Bearer token"
            );
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

/// `info.description` names every Socket.IO event, and every payload and ack schema it names is
/// a component of the document (so generated clients have the types).
#[tokio::test]
async fn the_description_covers_every_socket_event_and_its_schemas_are_components() {
    let app = spawn_app(Backend::Embedded).await.expect("embedded app");
    let doc = served_document(&app.http, &app.url("")).await;
    let description = doc["info"]["description"].as_str().expect("description");
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");

    let events = [
        client::SEND_MESSAGE,
        client::JOIN_CHAT,
        client::LEAVE_CHAT,
        client::TYPING,
        client::READ_RECEIPT,
        client::DELIVERED,
        client::SYNC,
        client::EDIT_MESSAGE,
        client::DELETE_MESSAGE,
        client::SYNC_CHANGES,
        client::REACT_MESSAGE,
        server::NEW_MESSAGE,
        server::MESSAGE_UPDATED,
        server::MESSAGE_DELIVERED,
        server::USER_TYPING,
        server::MESSAGE_READ,
        server::USER_ONLINE,
        server::USER_OFFLINE,
        server::PRESENCE_UPDATE,
        server::PRESENCE_SNAPSHOT,
        server::CHAT_UPDATED,
        server::CHAT_CHANGED,
        server::KEY_CHANGED,
        server::PROFILE_CHANGED,
        server::USER_DELETED,
        server::CHAT_MUTED,
    ];
    for event in events {
        assert!(
            description.contains(&format!("| `{event}` |")),
            "event {event} is not in the description's tables"
        );
    }
    for name in EVENT_SCHEMAS {
        assert!(schemas.contains_key(*name), "{name} is not a component");
        assert!(
            description.contains(&format!("`{name}`")),
            "{name} is not named in the description"
        );
    }
    // Every code-style name in a table's payload/ack column that looks like a type is a component.
    let tables = realtime::http::socket_events::CLIENT_EVENTS
        .iter()
        .flat_map(|e| [e.payload, e.ack])
        .chain(
            realtime::http::socket_events::SERVER_EVENTS
                .iter()
                .map(|e| e.payload),
        );
    for name in tables.filter(|n| !n.starts_with('`')) {
        assert!(schemas.contains_key(name), "{name} is not a component");
    }

    // The payloads keep their wire names.
    let send = &schemas["SendMessage"];
    for field in [
        "chatId",
        "clientMsgId",
        "content",
        "encrypted",
        "iv",
        "type",
    ] {
        assert!(
            send["properties"].get(field).is_some(),
            "SendMessage.{field}: {send}"
        );
    }
    let required: BTreeSet<&str> = send["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        required,
        BTreeSet::from(["chatId", "clientMsgId", "content"]),
        "optional fields of SendMessage are not required"
    );
}
