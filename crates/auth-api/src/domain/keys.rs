//! The end-to-end key directory: one ECDH P-256 public key per user, as a JWK. The point is
//! checked with `p256` (on the curve, not the identity) before it is stored, so a peer never
//! receives a key that would break or weaken the key agreement.
//!
//! With it, optionally, the key's backup: the private key as the client wrapped it under a
//! passphrase the server never sees, so the user's other devices can open it. Only its owner
//! reads it back. A key published again without a backup drops the old key's backup.
//!
//! Publishing is limited per user and hour (`KEY_MAX_CHANGES_PER_HOUR`): each new key is
//! announced to every contact, whose clients fetch it and warn that it changed, so an account
//! must not be able to make that a flood.

use common::contracts::auth::{
    KEY_CHANGED_CHANNEL, KeyBackupBody, PublicKeyJwk, UserPublicKey, WrappedKey,
};
use common::{ApiError, ErrorCode};
use uuid::Uuid;

use super::users::parse_ids;
use super::{AuthService, rate_limit};

/// Validates the key and returns its canonical JWK (public members only).
pub fn validate(jwk: &PublicKeyJwk) -> Result<PublicKeyJwk, ApiError> {
    if jwk.kty != "EC" || jwk.crv != "P-256" {
        return Err(ApiError::field("publicKey", "must be an EC P-256 key"));
    }
    let text =
        serde_json::json!({ "kty": jwk.kty, "crv": jwk.crv, "x": jwk.x, "y": jwk.y }).to_string();
    p256::PublicKey::from_jwk_str(&text)
        .map_err(|_| ApiError::field("publicKey", "is not a valid P-256 public key"))?;
    Ok(PublicKeyJwk {
        kty: jwk.kty.clone(),
        crv: jwk.crv.clone(),
        x: jwk.x.clone(),
        y: jwk.y.clone(),
    })
}

impl AuthService {
    pub async fn set_public_key(
        &self,
        user_id: Uuid,
        jwk: &PublicKeyJwk,
    ) -> Result<PublicKeyJwk, ApiError> {
        let key = validate(jwk)?;
        let json = serde_json::to_string(&key).map_err(ApiError::internal)?;
        self.count_key_change(user_id).await?;
        self.store.set_public_key(user_id, &json, None).await?;
        self.announce_key_change(user_id).await;
        Ok(key)
    }

    /// The published keys of those of `ids` (1-100, comma-separated) that have one: what a
    /// group's member seals a message to every member with.
    pub async fn public_keys(&self, ids: &str) -> Result<Vec<UserPublicKey>, ApiError> {
        let keys = self.store.public_keys(&parse_ids(ids)?).await?;
        keys.into_iter()
            .map(|(user_id, json)| {
                Ok(UserPublicKey {
                    user_id: user_id.to_string(),
                    public_key: serde_json::from_str(&json).map_err(ApiError::internal)?,
                })
            })
            .collect()
    }

    /// Publishes the key and stores its backup, in one write.
    pub async fn set_key_backup(
        &self,
        user_id: Uuid,
        body: &KeyBackupBody,
    ) -> Result<KeyBackupBody, ApiError> {
        let key = validate(&body.public_key)?;
        let json = serde_json::to_string(&key).map_err(ApiError::internal)?;
        let backup = serde_json::to_string(&body.backup).map_err(ApiError::internal)?;
        self.count_key_change(user_id).await?;
        self.store
            .set_public_key(user_id, &json, Some(&backup))
            .await?;
        self.announce_key_change(user_id).await;
        Ok(KeyBackupBody {
            public_key: key,
            backup: body.backup.clone(),
        })
    }

    /// Spends one of the user's key publications this hour; `rate_limited` once they are spent.
    async fn count_key_change(&self, user_id: Uuid) -> Result<(), ApiError> {
        rate_limit::consume(
            &self.kv,
            &format!("rl:key:{user_id}"),
            self.limits.key_changes_per_hour,
            rate_limit::HOUR,
        )
        .await
    }

    /// Tells realtime (`KEY_CHANGED_CHANNEL`) so the user's contacts fetch the new key at once.
    /// The key is stored whatever happens here: unannounced, clients still fetch it within
    /// seconds (they keep keys briefly) or when they open the chat.
    async fn announce_key_change(&self, user_id: Uuid) {
        if let Err(e) = self
            .kv
            .publish(KEY_CHANGED_CHANNEL, &user_id.to_string())
            .await
        {
            tracing::warn!(error = %e, "could not announce a key change");
        }
    }

    /// The caller's own key and its backup; `not_found` when the key has none (or there is no key).
    pub async fn key_backup(&self, user_id: Uuid) -> Result<KeyBackupBody, ApiError> {
        let (key, backup) = self.store.key_backup(user_id).await?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "no key backup: none was stored with the key",
            )
        })?;
        let public_key: PublicKeyJwk = serde_json::from_str(&key).map_err(ApiError::internal)?;
        let backup: WrappedKey = serde_json::from_str(&backup).map_err(ApiError::internal)?;
        Ok(KeyBackupBody { public_key, backup })
    }

    pub async fn public_key(&self, user_id: Uuid) -> Result<PublicKeyJwk, ApiError> {
        let not_found = || ApiError::new(ErrorCode::NotFound, "this user has not published a key");
        let json = self
            .store
            .public_key(user_id)
            .await?
            .ok_or_else(not_found)?;
        serde_json::from_str(&json).map_err(ApiError::internal)
    }
}
