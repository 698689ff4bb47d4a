//! The session cookie: `HttpOnly; SameSite=Lax; Path=/`, plus `Secure` and the `__Host-` prefix
//! (which browsers only accept from a secure origin, for the exact host, with `Path=/`) unless
//! `COOKIE_SECURE=false` for plain-http local development.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

pub struct CookieSettings {
    pub secure: bool,
    pub max_age_secs: u64,
}

impl CookieSettings {
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-batiyoun_session"
        } else {
            "batiyoun_session"
        }
    }

    fn attributes(&self) -> &'static str {
        if self.secure {
            "; Path=/; HttpOnly; SameSite=Lax; Secure"
        } else {
            "; Path=/; HttpOnly; SameSite=Lax"
        }
    }

    /// `Set-Cookie` carrying a refresh token.
    pub fn set(&self, token: &str) -> Option<HeaderValue> {
        format!(
            "{}={token}{}; Max-Age={}",
            self.name(),
            self.attributes(),
            self.max_age_secs
        )
        .parse()
        .ok()
    }

    /// `Set-Cookie` that deletes the cookie.
    pub fn clear(&self) -> HeaderValue {
        let text = format!("{}={}; Max-Age=0", self.name(), self.attributes());
        HeaderValue::from_str(&text)
            .unwrap_or_else(|_| HeaderValue::from_static("batiyoun_session=; Path=/; Max-Age=0"))
    }

    /// 204 No Content that deletes the cookie: the answer of every request that ends this
    /// browser's session (logout, ending the current session, deleting the account).
    pub fn signed_out(&self) -> Response {
        let mut response = StatusCode::NO_CONTENT.into_response();
        append(response.headers_mut(), Some(self.clear()));
        response
    }

    /// The refresh token in the request's cookies, if any.
    pub fn read(&self, headers: &HeaderMap) -> Option<String> {
        CookieJar::from_headers(headers)
            .get(self.name())
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty())
    }
}

/// Adds a `Set-Cookie` header.
pub fn append(headers: &mut HeaderMap, value: Option<HeaderValue>) {
    if let Some(v) = value {
        headers.append(header::SET_COOKIE, v);
    }
}
