use std::collections::HashSet;

use axum::response::IntoResponse;
use common::error::{ApiError, ErrorCode};
use validator::Validate;

#[test]
fn every_error_code_serializes_to_its_stable_snake_case_name() {
    let mut seen = HashSet::new();
    for code in ErrorCode::ALL {
        let json = serde_json::to_value(code).unwrap();
        assert_eq!(json, serde_json::Value::String(code.as_str().to_owned()));
        assert!(
            code.as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
        );
        assert!(seen.insert(code.as_str()), "duplicate code {code}");
        let back: ErrorCode = serde_json::from_value(json).unwrap();
        assert_eq!(back, code);
    }
}

#[test]
fn error_codes_map_to_the_documented_http_statuses() {
    let expect = [
        (ErrorCode::ValidationFailed, 422),
        (ErrorCode::InvalidJson, 400),
        (ErrorCode::InvalidCredentials, 401),
        (ErrorCode::EmailNotVerified, 403),
        (ErrorCode::NotAMember, 403),
        (ErrorCode::EmailTaken, 409),
        (ErrorCode::UsernameTaken, 409),
        (ErrorCode::RateLimited, 429),
        (ErrorCode::UnsupportedMediaType, 415),
        (ErrorCode::Unavailable, 503),
        (ErrorCode::Internal, 500),
    ];
    for (code, status) in expect {
        assert_eq!(code.status().as_u16(), status, "{code}");
    }
}

#[tokio::test]
async fn an_api_error_renders_the_one_error_body_with_its_status() {
    let response =
        ApiError::new(ErrorCode::NotAMember, "not a member of this chat").into_response();
    assert_eq!(response.status(), 403);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": {"code": "not_a_member", "message": "not a member of this chat"}})
    );
}

#[tokio::test]
async fn a_rate_limited_error_carries_retry_after() {
    let response = ApiError::new(ErrorCode::RateLimited, "slow down")
        .with_retry_after(42)
        .into_response();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "42");
}

#[test]
fn validation_errors_become_validation_failed_with_per_field_messages() {
    let req = common::contracts::auth::SignupRequest {
        email: "not-an-email".into(),
        username: "A!".into(),
        password: "short".into(),
        display_name: None,
    };
    let err = ApiError::from(req.validate().unwrap_err());
    assert_eq!(err.code(), ErrorCode::ValidationFailed);
    let fields = err.body.fields.as_ref().unwrap();
    assert!(fields.contains_key("email"), "{fields:?}");
    assert!(fields.contains_key("username"), "{fields:?}");
    assert!(fields.contains_key("password"), "{fields:?}");
}

#[test]
fn a_socket_ack_wraps_the_same_error_body() {
    let ack = ApiError::new(ErrorCode::RateLimited, "slow down").to_ack();
    assert_eq!(
        ack,
        serde_json::json!({"ok": false, "error": {"code": "rate_limited", "message": "slow down"}})
    );
    let ack = ApiError::new(ErrorCode::RateLimited, "slow down")
        .with_retry_after(2)
        .to_ack();
    assert_eq!(
        ack,
        serde_json::json!({"ok": false, "error": {"code": "rate_limited", "message": "slow down", "retryAfter": 2}})
    );
}
