//! Which account a validated Google identity signs in to. Accounts are keyed by the provider's
//! `sub` (stable, unlike emails); an existing email account is linked only when the provider says
//! the email is verified, otherwise anyone able to register that address at the provider could
//! take the account over.

use common::{ApiError, ErrorCode};

use super::AuthService;
use super::oauth::{IdClaims, failed};
use crate::ports::{NewUser, StoreError, UserRecord};

impl AuthService {
    /// The account a validated Google identity signs in to: the one linked to its `sub`; else an
    /// email account, linked only when the provider vouches for the email; else a new account.
    pub async fn google_account(&self, claims: &IdClaims) -> Result<UserRecord, ApiError> {
        const PROVIDER: &str = "google";
        if let Some(user) = self.store.find_by_identity(PROVIDER, &claims.sub).await? {
            return Ok(user);
        }
        let email = claims
            .email
            .as_deref()
            .map(|e| e.trim().to_lowercase())
            .ok_or_else(|| failed("the provider did not share an email"))?;
        if !claims.email_verified() {
            return Err(failed("the provider has not verified this email"));
        }
        let user = match self.store.find_by_email(&email).await? {
            Some(existing) => existing,
            None => self.create_google_user(&email, claims).await?,
        };
        match self
            .store
            .link_identity(user.id, PROVIDER, &claims.sub)
            .await
        {
            // A concurrent callback linked it first; the identity now resolves.
            Ok(()) | Err(StoreError::IdentityTaken) => {}
            Err(e) => return Err(e.into()),
        }
        if !user.verified {
            self.store.mark_verified(user.id).await?;
        }
        self.user(user.id).await
    }

    async fn create_google_user(
        &self,
        email: &str,
        claims: &IdClaims,
    ) -> Result<UserRecord, ApiError> {
        let local = email.split('@').next().unwrap_or_default();
        let mut base: String = local
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.')
            .take(24)
            .collect();
        while base.len() < 3 {
            base.push('_');
        }
        for attempt in 0..6 {
            let username = if attempt == 0 {
                base.clone()
            } else {
                format!("{base}{}", rand::random::<u16>() % 10_000)
            };
            let new = NewUser {
                email: email.to_owned(),
                username,
                password_hash: None,
                display_name: claims
                    .name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .map(|n| n.chars().take(64).collect()),
                provider: PROVIDER_GOOGLE.into(),
                provider_id: Some(claims.sub.clone()),
                verified: true,
            };
            match self.store.create_user(new).await {
                Err(StoreError::UsernameTaken) => continue,
                other => return Ok(other?),
            }
        }
        Err(ApiError::new(
            ErrorCode::Conflict,
            "could not find a free username; try again",
        ))
    }
}

const PROVIDER_GOOGLE: &str = "google";
