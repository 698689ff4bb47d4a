//! Email one-time codes: 6 digits from the OS CSPRNG, stored only as a hash at `otp:{email}` for
//! `OTP_TTL_SECS` (10 minutes), single use, burnt after 5 wrong attempts. A code to prove a new
//! address before it replaces an account's lives apart, at `email_change:{user}:{address}`
//! ([`Otps::for_email_change`]), so it can never sign anyone in.

use std::time::Duration;

use common::kv::SharedKv;
use common::{ApiError, ErrorCode};
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::kv_err;

pub const MAX_ATTEMPTS: i64 = 5;

#[derive(Clone)]
pub struct Otps {
    kv: SharedKv,
    ttl: Duration,
    /// The keys' prefix: `otp` (sign-in, verification, reset) or `email_change`.
    namespace: &'static str,
}

/// Binding the subject (the address) into the hash means a stored hash is useless for any other.
fn digest(subject: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{subject}:{code}").as_bytes()))
}

fn invalid() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidOtp,
        "the code is wrong or has expired; request a new one",
    )
}

impl Otps {
    /// Codes that prove an address with an account: they verify it, sign in and reset the
    /// password.
    pub fn new(kv: SharedKv, ttl: Duration) -> Self {
        Self {
            kv,
            ttl,
            namespace: "otp",
        }
    }

    /// Codes that prove a new address before it replaces an account's (the subject is
    /// `{user id}:{address}`).
    pub fn for_email_change(kv: SharedKv, ttl: Duration) -> Self {
        Self {
            kv,
            ttl,
            namespace: "email_change",
        }
    }

    fn code_key(&self, subject: &str) -> String {
        format!("{}:{subject}", self.namespace)
    }

    fn attempts_key(&self, subject: &str) -> String {
        format!("{}_attempts:{subject}", self.namespace)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Creates a fresh code for `subject` (an address, or a user and an address), replacing any previous one, and returns it (to be mailed).
    pub async fn issue(&self, subject: &str) -> Result<String, ApiError> {
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
        self.kv
            .del(&self.attempts_key(subject))
            .await
            .map_err(kv_err)?;
        self.kv
            .set(
                &self.code_key(subject),
                &digest(subject, &code),
                Some(self.ttl),
            )
            .await
            .map_err(kv_err)?;
        Ok(code)
    }

    /// Consumes the code if it matches. Wrong guesses are counted atomically, so parallel guesses
    /// cannot exceed the budget; the fifth burns the code.
    pub async fn verify(&self, subject: &str, code: &str) -> Result<(), ApiError> {
        let key = self.code_key(subject);
        let Some(stored) = self.kv.get(&key).await.map_err(kv_err)? else {
            return Err(invalid());
        };
        if bool::from(digest(subject, code).as_bytes().ct_eq(stored.as_bytes())) {
            // `take` makes the code single-use even under concurrent verifications.
            return match self.kv.take(&key).await.map_err(kv_err)? {
                Some(_) => {
                    self.kv
                        .del(&self.attempts_key(subject))
                        .await
                        .map_err(kv_err)?;
                    Ok(())
                }
                None => Err(invalid()),
            };
        }
        let attempts = self
            .kv
            .incr(&self.attempts_key(subject), 1, self.ttl)
            .await
            .map_err(kv_err)?;
        if attempts >= MAX_ATTEMPTS {
            self.kv.del(&key).await.map_err(kv_err)?;
        }
        Err(invalid())
    }
}
