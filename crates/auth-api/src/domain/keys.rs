//! The end-to-end key directory: one ECDH P-256 public key per user, as a JWK. The point is
//! checked with `p256` (on the curve, not the identity) before it is stored, so a peer never
//! receives a key that would break or weaken the key agreement.

use common::contracts::auth::PublicKeyJwk;
use common::{ApiError, ErrorCode};
use uuid::Uuid;

use super::AuthService;

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
        self.store.set_public_key(user_id, &json).await?;
        Ok(key)
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
