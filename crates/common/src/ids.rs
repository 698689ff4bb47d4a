//! Identifier formats and their validators.
//!
//! - user ids and session ids are UUIDs (PostgreSQL / SQLite in auth-api);
//! - chat and message ids are 24-hex-digit MongoDB ObjectIds (the embedded store generates the same
//!   format, so ids never change meaning when a deployment moves to MongoDB);
//! - `clientMsgId` is chosen by the client: 1–64 characters of `[A-Za-z0-9_-]` (a UUID fits).

use validator::ValidationError;

fn err(code: &'static str, message: &'static str) -> ValidationError {
    let mut e = ValidationError::new(code);
    e.message = Some(message.into());
    e
}

/// A canonical hyphenated UUID.
pub fn validate_uuid(value: &str) -> Result<(), ValidationError> {
    match uuid::Uuid::try_parse(value) {
        Ok(u) if u.hyphenated().to_string() == value.to_ascii_lowercase() => Ok(()),
        _ => Err(err("uuid", "must be a UUID")),
    }
}

/// A 24-hex-digit ObjectId.
pub fn validate_object_id(value: &str) -> Result<(), ValidationError> {
    if is_object_id(value) {
        Ok(())
    } else {
        Err(err("object_id", "must be a 24-hex-digit id"))
    }
}

pub fn is_object_id(value: &str) -> bool {
    value.len() == 24 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A client-chosen idempotency key.
pub fn validate_client_msg_id(value: &str) -> Result<(), ValidationError> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(err(
            "client_msg_id",
            "must be 1-64 characters of [A-Za-z0-9_-]",
        ))
    }
}

/// Each element of a list of user ids is a UUID.
pub fn validate_uuid_list(values: &[String]) -> Result<(), ValidationError> {
    values.iter().try_for_each(|v| validate_uuid(v))
}
