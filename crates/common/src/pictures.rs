//! Pictures people upload: profile pictures (auth-api) and group pictures (realtime). The bytes
//! are checked to be what their `Content-Type` says, one of the types every browser decodes and
//! none can run (`PICTURE_CONTENT_TYPES`: no SVG). Past that they are not decoded: they are
//! served with that type and `nosniff`, so a browser only ever shows them as an image. A
//! picture's version is a digest of its bytes, so a new picture is a new URL and a URL's bytes
//! never change.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::{ApiError, ErrorCode};

/// The types a picture may have: images every browser decodes, none of them scriptable.
pub const PICTURE_CONTENT_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/webp"];

/// Largest picture taken, in bytes: a 256×256 image the PWA makes is a few KiB.
pub const MAX_PICTURE_BYTES: usize = 256 * 1024;

/// How long a picture's body may take to arrive: a stalled upload would otherwise hold its
/// connection and buffer for as long as the client likes.
pub const UPLOAD_WITHIN: Duration = Duration::from_secs(30);

/// Reads an uploaded picture's body: `payload_too_large` past [`MAX_PICTURE_BYTES`] (read no
/// further), `request_timeout` when it takes longer than [`UPLOAD_WITHIN`]; `what` names it.
pub async fn read_picture(body: Body, what: &str) -> Result<Vec<u8>, ApiError> {
    let read = crate::server::read_body(body, MAX_PICTURE_BYTES, || too_large(what));
    tokio::time::timeout(UPLOAD_WITHIN, read)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::RequestTimeout,
                format!(
                    "the picture did not arrive within {} s",
                    UPLOAD_WITHIN.as_secs()
                ),
            )
        })?
}

/// The image type the bytes start like, of those accepted.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// `payload_too_large` for `what` ("a profile picture").
pub fn too_large(what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("{what} may be at most {MAX_PICTURE_BYTES} bytes"),
    )
}

/// The picture's type, if the bytes are an accepted image and `declared` (the request's
/// `Content-Type`, parameters ignored) says the same; `what` names it in the refusals.
pub fn checked_type(
    declared: Option<&str>,
    bytes: &[u8],
    what: &str,
) -> Result<&'static str, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::field(
            "body",
            "is empty: send the picture's bytes",
        ));
    }
    if bytes.len() > MAX_PICTURE_BYTES {
        return Err(too_large(what));
    }
    let declared = declared
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    match sniff(bytes) {
        Some(found) if declared.as_deref() == Some(found) => Ok(found),
        Some(found) => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "the picture is {found}, but was sent as {}",
                declared.as_deref().unwrap_or("no type")
            ),
        )),
        None => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("{what} must be one of {}", PICTURE_CONTENT_TYPES.join(", ")),
        )),
    }
}

/// The version a picture's URL names: the first 8 bytes of the SHA-256 of its bytes, in hex.
pub fn version(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Who may keep a copy of a served picture: anyone (a profile picture, public as the profile
/// is), or the asker's browser alone (a group's, for its members).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Public,
    Private,
}

/// A stored picture as served: its type, `nosniff` and a sandboxing CSP, so a browser only ever
/// shows it as an image; `ETag` its version (304 on `If-None-Match`). Asked for by its current
/// version (`asked`, the URL's `?v=`), it may be kept for a year, since that URL's bytes never
/// change; otherwise it is asked for again each time.
pub fn serve(
    content_type: &str,
    version: &str,
    bytes: Vec<u8>,
    asked: Option<&str>,
    request: &HeaderMap,
    audience: Audience,
) -> Result<Response, ApiError> {
    let etag = HeaderValue::from_str(&format!("\"{version}\""))
        .map_err(|_| ApiError::new(ErrorCode::Internal, "a picture's version is not a header"))?;
    let cache = match (asked == Some(version), audience) {
        (true, Audience::Public) => "public, max-age=31536000, immutable",
        (true, Audience::Private) => "private, max-age=31536000, immutable",
        (false, Audience::Public) => "no-cache",
        (false, Audience::Private) => "private, no-cache",
    };
    let common = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
    ];
    let unchanged = request.get(header::IF_NONE_MATCH).is_some_and(|tags| {
        tags.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii() == etag.as_bytes())
    });
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let content_type = HeaderValue::from_str(content_type)
        .map_err(|_| ApiError::new(ErrorCode::Internal, "a picture's type is not a header"))?;
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        ),
    ];
    Ok((common, headers, bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const WHAT: &str = "a picture";

    #[test]
    fn the_bytes_must_be_the_declared_accepted_type() {
        assert_eq!(checked_type(Some("image/png"), PNG, WHAT), Ok("image/png"));
        assert_eq!(
            checked_type(Some("Image/PNG; charset=x"), PNG, WHAT),
            Ok("image/png")
        );
        assert_eq!(
            checked_type(Some("image/jpeg"), &[0xFF, 0xD8, 0xFF, 0xE0], WHAT),
            Ok("image/jpeg")
        );
        assert_eq!(
            checked_type(Some("image/webp"), b"RIFF\x10\0\0\0WEBPVP8 ", WHAT),
            Ok("image/webp")
        );
        let code = |declared, bytes| checked_type(declared, bytes, WHAT).unwrap_err().code();
        assert_eq!(
            code(Some("image/jpeg"), PNG),
            ErrorCode::UnsupportedMediaType
        );
        assert_eq!(code(None, PNG), ErrorCode::UnsupportedMediaType);
        assert_eq!(
            code(Some("image/svg+xml"), b"<svg onload=alert(1)>"),
            ErrorCode::UnsupportedMediaType
        );
        assert_eq!(
            code(Some("image/gif"), b"GIF89a"),
            ErrorCode::UnsupportedMediaType
        );
        assert_eq!(
            code(Some("image/webp"), b"RIFF"),
            ErrorCode::UnsupportedMediaType
        );
        assert_eq!(code(Some("image/png"), b""), ErrorCode::ValidationFailed);
        let mut big = PNG.to_vec();
        big.resize(MAX_PICTURE_BYTES + 1, 0);
        assert_eq!(code(Some("image/png"), &big), ErrorCode::PayloadTooLarge);
        big.truncate(MAX_PICTURE_BYTES);
        assert_eq!(checked_type(Some("image/png"), &big, WHAT), Ok("image/png"));
    }

    #[test]
    fn a_version_is_sixteen_hex_digits_of_the_bytes_digest() {
        let v = version(PNG);
        assert_eq!(v.len(), 16);
        assert!(v.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(v, version(b"other bytes"));
        assert_eq!(v, version(PNG));
    }
}
