//! `/api/users/*`: profiles, username search and the public-key directory.

use axum::Json;
use axum::extract::{Path, Query, State};
use common::ApiError;
use common::contracts::auth::{PublicKeyBody, PublicProfile, UserSearchQuery, UserSearchResponse};

use super::AppState;
use super::extract::{Authenticated, ValidJson};
use crate::domain::users::{parse_id, to_profile};

/// `GET /api/users/search?q=` (signed-in users only, so the directory cannot be scraped anonymously).
pub async fn search(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
    query: Result<Query<UserSearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UserSearchResponse>, ApiError> {
    let Query(q) = query.map_err(|_| ApiError::field("q", "is required"))?;
    let users = state.auth.search(&q.q).await?;
    Ok(Json(UserSearchResponse { users }))
}

pub async fn profile(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PublicProfile>, ApiError> {
    let user = state.auth.user(parse_id(&id)?).await?;
    Ok(Json(to_profile(&user)))
}

pub async fn put_key(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    ValidJson(body): ValidJson<PublicKeyBody>,
) -> Result<Json<PublicKeyBody>, ApiError> {
    let public_key = state
        .auth
        .set_public_key(me.user_id, &body.public_key)
        .await?;
    Ok(Json(PublicKeyBody { public_key }))
}

pub async fn get_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PublicKeyBody>, ApiError> {
    let public_key = state.auth.public_key(parse_id(&id)?).await?;
    Ok(Json(PublicKeyBody { public_key }))
}
