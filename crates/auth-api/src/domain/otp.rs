//! Email one-time codes: 6 digits from the OS CSPRNG, stored only as a hash at `otp:{email}` for
//! `OTP_TTL_SECS` (10 minutes), single use, burnt after 5 wrong attempts.

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
}

fn code_key(email: &str) -> String {
    format!("otp:{email}")
}

fn attempts_key(email: &str) -> String {
    format!("otp_attempts:{email}")
}

/// Binding the email into the hash means a stored hash is useless for any other address.
fn digest(email: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{email}:{code}").as_bytes()))
}

fn invalid() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidOtp,
        "the code is wrong or has expired; request a new one",
    )
}

impl Otps {
    pub fn new(kv: SharedKv, ttl: Duration) -> Self {
        Self { kv, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Creates a fresh code for `email`, replacing any previous one, and returns it (to be mailed).
    pub async fn issue(&self, email: &str) -> Result<String, ApiError> {
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
        self.kv.del(&attempts_key(email)).await.map_err(kv_err)?;
        self.kv
            .set(&code_key(email), &digest(email, &code), Some(self.ttl))
            .await
            .map_err(kv_err)?;
        Ok(code)
    }

    /// Consumes the code if it matches. Wrong guesses are counted atomically, so parallel guesses
    /// cannot exceed the budget; the fifth burns the code.
    pub async fn verify(&self, email: &str, code: &str) -> Result<(), ApiError> {
        let key = code_key(email);
        let Some(stored) = self.kv.get(&key).await.map_err(kv_err)? else {
            return Err(invalid());
        };
        if bool::from(digest(email, code).as_bytes().ct_eq(stored.as_bytes())) {
            // `take` makes the code single-use even under concurrent verifications.
            return match self.kv.take(&key).await.map_err(kv_err)? {
                Some(_) => {
                    self.kv.del(&attempts_key(email)).await.map_err(kv_err)?;
                    Ok(())
                }
                None => Err(invalid()),
            };
        }
        let attempts = self
            .kv
            .incr(&attempts_key(email), 1, self.ttl)
            .await
            .map_err(kv_err)?;
        if attempts >= MAX_ATTEMPTS {
            self.kv.del(&key).await.map_err(kv_err)?;
        }
        Err(invalid())
    }
}
