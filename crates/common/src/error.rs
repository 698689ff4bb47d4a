//! The error-code table: one stable snake_case code per failure a client can act on.
//!
//! REST handlers return [`ApiError`] (rendered as `{"error":{"code","message","fields"?}}` with the
//! code's HTTP status); socket handlers put the same [`ErrorBody`] inside a failed ack
//! (`{"ok":false,"error":{…}}`), so the PWA handles both the same way.

use std::collections::BTreeMap;
use std::fmt;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error code a client may receive. The serialized name is the contract; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body was not valid JSON for the endpoint (syntax or shape).
    InvalidJson,
    /// One or more fields failed validation; `fields` says which and why.
    ValidationFailed,
    /// No valid credentials were presented (missing, expired, revoked or malformed token).
    Unauthorized,
    /// Login failed; deliberately the same for an unknown user and a wrong password.
    InvalidCredentials,
    /// The account exists but its email has not been verified yet.
    EmailNotVerified,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// A state-changing cookie-authenticated request came from an Origin not on the allow-list.
    OriginNotAllowed,
    /// The caller is not a participant of the chat.
    NotAMember,
    /// Only a chat admin may do this.
    NotAnAdmin,
    /// The wrong passcode was given for a passcode-protected group.
    InvalidPasscode,
    /// The resource does not exist (or the caller may not know it exists).
    NotFound,
    /// The other person deleted their account: a direct chat with them keeps its history but
    /// takes no new messages, and they cannot be added to a chat.
    AccountDeleted,
    /// The email address is already registered.
    EmailTaken,
    /// The username is already registered.
    UsernameTaken,
    /// The request conflicts with the current state.
    Conflict,
    /// The one-time code is wrong, expired, already used or burnt by too many attempts.
    InvalidOtp,
    /// The OAuth round trip failed (bad state, code exchange, ID token…).
    OauthFailed,
    /// Too many requests; retry later.
    RateLimited,
    /// The request or event payload is larger than allowed.
    PayloadTooLarge,
    /// The body is not of a type the endpoint takes, or not what its `Content-Type` says (a
    /// profile picture that is not a PNG, JPEG or WebP image).
    UnsupportedMediaType,
    /// The request's body did not arrive in time (a stalled upload); sending it again is safe.
    RequestTimeout,
    /// A user's stored bytes would pass what the server allows them (attachments).
    QuotaExceeded,
    /// A backend the request needs is unreachable; retrying later (same idempotency key) is safe.
    Unavailable,
    /// An unexpected server error; details are in the server log, never in the response.
    Internal,
}

impl ErrorCode {
    /// The HTTP status this code is served with.
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            InvalidJson => StatusCode::BAD_REQUEST,
            ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Unauthorized | InvalidCredentials => StatusCode::UNAUTHORIZED,
            EmailNotVerified | Forbidden | OriginNotAllowed | NotAMember | NotAnAdmin
            | InvalidPasscode => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            AccountDeleted => StatusCode::GONE,
            EmailTaken | UsernameTaken | Conflict => StatusCode::CONFLICT,
            InvalidOtp | OauthFailed => StatusCode::BAD_REQUEST,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            QuotaExceeded => StatusCode::INSUFFICIENT_STORAGE,
            Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable wire name, e.g. `"not_a_member"`.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidJson => "invalid_json",
            ValidationFailed => "validation_failed",
            Unauthorized => "unauthorized",
            InvalidCredentials => "invalid_credentials",
            EmailNotVerified => "email_not_verified",
            Forbidden => "forbidden",
            OriginNotAllowed => "origin_not_allowed",
            NotAMember => "not_a_member",
            NotAnAdmin => "not_an_admin",
            InvalidPasscode => "invalid_passcode",
            NotFound => "not_found",
            AccountDeleted => "account_deleted",
            EmailTaken => "email_taken",
            UsernameTaken => "username_taken",
            Conflict => "conflict",
            InvalidOtp => "invalid_otp",
            OauthFailed => "oauth_failed",
            RateLimited => "rate_limited",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            RequestTimeout => "request_timeout",
            QuotaExceeded => "quota_exceeded",
            Unavailable => "unavailable",
            Internal => "internal",
        }
    }

    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [ErrorCode; 24] = {
        use ErrorCode::*;
        [
            InvalidJson,
            ValidationFailed,
            Unauthorized,
            InvalidCredentials,
            EmailNotVerified,
            Forbidden,
            OriginNotAllowed,
            NotAMember,
            NotAnAdmin,
            InvalidPasscode,
            NotFound,
            AccountDeleted,
            EmailTaken,
            UsernameTaken,
            Conflict,
            InvalidOtp,
            OauthFailed,
            RateLimited,
            PayloadTooLarge,
            UnsupportedMediaType,
            RequestTimeout,
            QuotaExceeded,
            Unavailable,
            Internal,
        ]
    };
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The inner error object: `{"code":"…","message":"…","fields":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// Per-field messages; present only for `validation_failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, Vec<String>>>,
}

/// The REST error envelope, `{"error":{…}}`: what [`ApiError`] renders, and the schema every
/// documented error response refers to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// An error as served to a client. Build with [`ApiError::new`] or the `From` conversions.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub body: ErrorBody,
    /// Seconds after which a retry may succeed (sent as `Retry-After` for `rate_limited`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            body: ErrorBody {
                code,
                message: message.into(),
                fields: None,
            },
            retry_after: None,
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.body.code
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// A `validation_failed` error naming a single field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut fields = BTreeMap::new();
        fields.insert(field.to_owned(), vec![message.clone()]);
        let mut err = Self::new(ErrorCode::ValidationFailed, format!("{field}: {message}"));
        err.body.fields = Some(fields);
        err
    }

    /// An `internal` error; the cause is logged here and never sent to the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, "internal server error")
    }

    /// An `unavailable` error for a backend that cannot be reached; the cause is logged.
    pub fn unavailable(cause: impl fmt::Display) -> Self {
        tracing::warn!(error = %cause, "backend unavailable");
        Self::new(
            ErrorCode::Unavailable,
            "a backend is temporarily unavailable; retry later",
        )
    }

    /// The ack a socket handler sends for this error: `{"ok":false,"error":{…}}`. A
    /// `rate_limited` one also says when to try again, `"retryAfter"` in seconds (what REST says
    /// in the `Retry-After` header).
    pub fn to_ack(&self) -> serde_json::Value {
        let mut error = serde_json::json!(self.body);
        if let Some(secs) = self.retry_after {
            error["retryAfter"] = secs.into();
        }
        serde_json::json!({ "ok": false, "error": error })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.body.code, self.body.message)
    }
}

impl std::error::Error for ApiError {}

impl From<validator::ValidationErrors> for ApiError {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut fields = BTreeMap::new();
        collect_field_errors("", &errors, &mut fields);
        let summary = fields
            .iter()
            .map(|(field, msgs)| format!("{field}: {}", msgs.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        let mut err = Self::new(ErrorCode::ValidationFailed, summary);
        err.body.fields = Some(fields);
        err
    }
}

fn collect_field_errors(
    prefix: &str,
    errors: &validator::ValidationErrors,
    out: &mut BTreeMap<String, Vec<String>>,
) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        // validator reports Rust field names; clients know the camelCase JSON names.
        let field = to_camel_case(field);
        let name = if prefix.is_empty() {
            field
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                let msgs = out.entry(name).or_default();
                for e in list {
                    msgs.push(
                        e.message
                            .as_ref()
                            .map_or_else(|| e.code.to_string(), |m| m.to_string()),
                    );
                }
            }
            ValidationErrorsKind::Struct(inner) => collect_field_errors(&name, inner, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    collect_field_errors(&format!("{name}[{i}]"), inner, out);
                }
            }
        }
    }
}

fn to_camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.body.code.status();
        let mut response = (status, axum::Json(ErrorResponse { error: self.body })).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(value) = secs.to_string().parse()
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}
