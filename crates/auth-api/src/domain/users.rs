//! Reading accounts: the caller's own account, public profiles and username search.

use common::contracts::auth::{MAX_PROFILE_IDS, PublicProfile};
use common::{ApiError, ErrorCode};
use uuid::Uuid;

use super::AuthService;
use crate::ports::UserRecord;

pub const SEARCH_LIMIT: i64 = 20;

pub fn to_profile(u: &UserRecord) -> PublicProfile {
    PublicProfile {
        id: u.id.to_string(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        avatar: u.avatar.clone(),
    }
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such user")
}

/// Path ids that are not UUIDs simply do not exist.
pub fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    id.parse().map_err(|_| not_found())
}

impl AuthService {
    pub async fn user(&self, id: Uuid) -> Result<UserRecord, ApiError> {
        self.store.find_by_id(id).await?.ok_or_else(not_found)
    }

    /// The public profiles of the users `ids` (comma-separated UUIDs, 1-100) names; unknown ids
    /// are left out, and the order is not the request's.
    pub async fn profiles(&self, ids: &str) -> Result<Vec<PublicProfile>, ApiError> {
        let users = self.store.find_by_ids(&parse_ids(ids)?).await?;
        Ok(users.iter().map(to_profile).collect())
    }

    /// Users whose username starts with `q` (lower-cased; only username characters allowed).
    pub async fn search(&self, q: &str) -> Result<Vec<PublicProfile>, ApiError> {
        let q = q.trim().to_lowercase();
        if q.is_empty()
            || q.len() > 32
            || !q
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        {
            return Err(ApiError::field(
                "q",
                "must be 1-32 characters of a-z, 0-9, '_' and '.'",
            ));
        }
        let users = self
            .store
            .search_by_username_prefix(&q, SEARCH_LIMIT)
            .await?;
        Ok(users
            .iter()
            .filter(|u| u.verified)
            .map(to_profile)
            .collect())
    }
}

/// `?ids=`: 1 to `MAX_PROFILE_IDS` user ids, comma-separated, repeats dropped.
pub(crate) fn parse_ids(ids: &str) -> Result<Vec<Uuid>, ApiError> {
    let invalid = || {
        ApiError::field(
            "ids",
            format!("must be 1-{MAX_PROFILE_IDS} user ids, comma-separated"),
        )
    };
    let mut wanted: Vec<Uuid> = Vec::new();
    for id in ids.split(',').map(str::trim) {
        let id: Uuid = id.parse().map_err(|_| invalid())?;
        if !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    if wanted.len() > MAX_PROFILE_IDS {
        return Err(invalid());
    }
    Ok(wanted)
}
