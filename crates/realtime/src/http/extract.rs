//! Extractors: `AuthUser` (Bearer access token verified against auth-api's JWKS, of a session
//! not revoked), `Changer` (such a caller changing chats, within their budget) and
//! `ValidJson<T>` (a JSON object that must parse — `invalid_json` — and validate —
//! `validation_failed`) and `QueryOf<T>` (a query string that must parse — `validation_failed`),
//! so every failure has the common error body.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, FromRequest, FromRequestParts, OptionalFromRequest, Query, Request};
use axum::http::request::Parts;
use common::contracts::Object;
use common::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use validator::Validate;

use super::AppState;

/// The authenticated caller.
pub struct AuthUser {
    pub user_id: String,
}

impl<S> FromRequestParts<S> for AuthUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let unauthorized =
            || ApiError::new(ErrorCode::Unauthorized, "a valid access token is required");
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(unauthorized)?;
        match state.services.verifier.verify_access(token.trim()).await {
            Ok(claims) if state.services.revocations.is_revoked(&claims.sid).await => {
                tracing::debug!("REST request refused: the token's session was revoked");
                Err(unauthorized())
            }
            Ok(claims) => Ok(Self {
                user_id: claims.sub,
            }),
            Err(e) => {
                tracing::debug!(reason = %e, "REST request refused: bad token");
                Err(unauthorized())
            }
        }
    }
}

/// The authenticated caller making a change to chats, within their budget of changes
/// (`domain::budgets`: `429 rate_limited` past it). Counted whether or not the change is then
/// made, as a request.
pub struct Changer(pub AuthUser);

impl<S> FromRequestParts<S> for Changer
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        let state = AppState::from_ref(state);
        state.services.budgets.spend_change(&user.user_id).await?;
        Ok(Self(user))
    }
}

/// A JSON body that parsed and validated.
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(Object(value)) = <Json<Object<T>> as FromRequest<S>>::from_request(req, state)
            .await
            .map_err(|e: JsonRejection| ApiError::new(ErrorCode::InvalidJson, e.body_text()))?;
        value.validate()?;
        Ok(Self(value))
    }
}

impl<T> Default for ValidJson<T>
where
    T: Default,
{
    fn default() -> Self {
        Self(T::default())
    }
}

/// An optional JSON body: none when the request has no `Content-Type` (a body without one is
/// not read); otherwise as [`ValidJson`].
impl<S, T> OptionalFromRequest<S> for ValidJson<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if !req.headers().contains_key(axum::http::header::CONTENT_TYPE) {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// A query string that parsed (`validation_failed` with what is wrong otherwise).
pub struct QueryOf<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryOf<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(value) =
            Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(|e: QueryRejection| {
                    ApiError::new(ErrorCode::ValidationFailed, e.body_text())
                })?;
        Ok(Self(value))
    }
}

/// A path id must be a 24-hex-digit ObjectId.
pub fn object_id(id: &str) -> Result<(), ApiError> {
    if common::ids::is_object_id(id) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::NotFound, "chat not found"))
    }
}

/// A user id in a path (a member to remove, to make admin…): a UUID, else `validation_failed`.
pub fn user_id(id: &str) -> Result<(), ApiError> {
    common::ids::validate_uuid(id).map_err(|_| ApiError::field("userId", "must be a UUID"))
}
