//! The account-management bodies: what a profile update means by an absent, a null and a given
//! field, and which passwords and names pass.

use common::contracts::account::{
    ChangePasswordRequest, ResetPasswordRequest, SessionView, UpdateProfileRequest,
};
use serde_json::json;
use validator::Validate;

fn update(body: serde_json::Value) -> UpdateProfileRequest {
    serde_json::from_value(body).expect("parses")
}

#[test]
fn a_profile_update_tells_absent_from_null() {
    assert_eq!(update(json!({})).display_name, None, "absent: kept");
    assert_eq!(
        update(json!({"displayName": null})).display_name,
        Some(None),
        "null: cleared"
    );
    assert_eq!(
        update(json!({"displayName": "Ada"})).display_name,
        Some(Some("Ada".to_owned()))
    );
    assert!(serde_json::from_value::<UpdateProfileRequest>(json!({"displayName": 1})).is_err());
}

#[test]
fn a_display_name_is_one_to_sixty_four_printable_characters() {
    for ok in [
        json!({}),
        json!({"displayName": null}),
        json!({"displayName": "Ada"}),
        json!({"displayName": "é".repeat(64)}),
    ] {
        assert!(update(ok.clone()).validate().is_ok(), "{ok}");
    }
    for bad in ["", "  ", "a\nb", &"é".repeat(65)] {
        let err = update(json!({ "displayName": bad }))
            .validate()
            .expect_err(bad);
        let api = common::ApiError::from(err);
        let fields = api.body.fields.clone().expect("fields");
        assert!(fields.contains_key("displayName"), "{fields:?}");
    }
}

#[test]
fn new_passwords_follow_the_signup_rule() {
    let change = |new: &str| ChangePasswordRequest {
        current_password: "x".into(),
        new_password: new.into(),
    };
    assert!(change("twelve-chars").validate().is_ok());
    assert!(change("eleven-char").validate().is_err());
    assert!(change(&"p".repeat(129)).validate().is_err());
    let empty_current = ChangePasswordRequest {
        current_password: String::new(),
        new_password: "twelve-chars".into(),
    };
    assert!(empty_current.validate().is_err());
    let reset = |code: &str| ResetPasswordRequest {
        email: "a@example.com".into(),
        code: code.into(),
        new_password: "twelve-chars".into(),
    };
    assert!(reset("012345").validate().is_ok());
    assert!(reset("12345").validate().is_err());
    assert!(reset("12345a").validate().is_err());
}

#[test]
fn a_session_is_sent_with_wire_instants() {
    let at = chrono::DateTime::from_timestamp_millis(1_765_000_000_123).unwrap();
    let view = SessionView {
        id: "s1".into(),
        current: true,
        created_at: at,
        last_active_at: at,
        user_agent: None,
    };
    let wire = serde_json::to_value(&view).unwrap();
    assert_eq!(
        wire,
        json!({"id": "s1", "current": true, "createdAt": "2025-12-06T05:46:40.123Z",
               "lastActiveAt": "2025-12-06T05:46:40.123Z", "userAgent": null})
    );
}
