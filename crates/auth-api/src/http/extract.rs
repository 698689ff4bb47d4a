//! Extractors that turn requests into domain inputs with the shared error body on failure:
//! [`ValidJson`] (bad JSON, or JSON that is not an object → `invalid_json`, rule violations → `validation_failed` with fields),
//! [`Authenticated`] (Bearer access token or session cookie), [`ClientIp`] and [`UserAgent`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use common::contracts::Object;
use common::contracts::account::MAX_USER_AGENT_CHARS;
use common::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use validator::Validate;

use super::AppState;
use crate::domain::Principal;

/// A JSON body that parsed and passed its `validator` rules.
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(Object(value)) = Json::<Object<T>>::from_request(req, state)
            .await
            .map_err(json_rejection)?;
        value.validate()?;
        Ok(Self(value))
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large");
    }
    ApiError::new(ErrorCode::InvalidJson, rejection.body_text())
}

/// The caller, authenticated by `Authorization: Bearer <access token>` or the session cookie.
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::Unauthorized,
                        "expected `Authorization: Bearer <token>`",
                    )
                })?;
            return state.auth.authenticate_bearer(token).await.map(Self);
        }
        match state.web.cookie.read(&parts.headers) {
            Some(token) => state.auth.authenticate_cookie(&token).await.map(Self),
            None => Err(ApiError::new(ErrorCode::Unauthorized, "sign in first")),
        }
    }
}

/// The client's address for rate limits: the peer address, or — only with `TRUST_PROXY=true` —
/// the right-most `X-Forwarded-For` entry (the one our own proxy appended; entries to its left
/// are client-controlled).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.web.trust_proxy
            && let Some(ip) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return Ok(Self(ip));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Self(peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

/// The `User-Agent` a session signs in with, to tell the user's sessions apart: control
/// characters dropped, at most `MAX_USER_AGENT_CHARS`; none when absent or empty.
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let agent = parts
            .headers
            .get(USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .map(|v| {
                v.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        Ok(Self(agent))
    }
}
