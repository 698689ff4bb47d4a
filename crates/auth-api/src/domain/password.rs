//! Password hashing and policy.
//!
//! argon2id with m = 19 MiB, t = 2, p = 1 (the OWASP minimum). Hashing is CPU- and memory-heavy,
//! so it runs on the blocking pool behind a semaphore sized to the cores: a login storm queues
//! here instead of starving the async workers that serve every other request.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use common::ApiError;
use tokio::sync::Semaphore;

/// The most common passwords (and common base words), one per line, lower-case.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Whether `password` is (case-insensitively) a common password, a common base word followed by
/// a short run of digits or symbols (`Password1234!`), or a common word repeated.
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return true;
    }
    let base = lower
        .trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ');
    let suffix_len = lower.len() - base.len();
    if !base.is_empty() && suffix_len <= 6 && COMMON.contains(base) {
        return true;
    }
    // A word repeated (`monkeymonkey`, `abcabcabcabc`).
    let chars: Vec<char> = lower.chars().collect();
    (1..=chars.len() / 2)
        .any(|n| chars.len().is_multiple_of(n) && chars.chunks(n).all(|c| c == &chars[..n]))
}

#[derive(Clone)]
pub struct Hasher {
    argon: Argon2<'static>,
    permits: Arc<Semaphore>,
    /// A real hash of a random password: unknown-user logins verify against it so they cost the
    /// same as a wrong password.
    dummy: Arc<str>,
}

impl Hasher {
    pub fn new() -> anyhow::Result<Self> {
        let params = Params::new(19 * 1024, 2, 1, None)
            .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let random = uuid::Uuid::new_v4().to_string();
        let dummy = argon
            .hash_password(random.as_bytes())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        Ok(Self {
            argon,
            permits: Arc::new(Semaphore::new(cores)),
            dummy: dummy.into(),
        })
    }

    /// Hashes a password into its PHC string.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let argon = self.argon.clone();
        self.blocking(move || {
            argon
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
        })
        .await?
        .map_err(ApiError::internal)
    }

    /// Checks `password` against `hash`; with no hash, burns the same time against the dummy and
    /// returns false.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        let argon = self.argon.clone();
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.to_string());
        let ok = self
            .blocking(move || {
                argon
                    .verify_password(password.as_bytes(), hash.as_str())
                    .is_ok()
            })
            .await?;
        Ok(ok && known)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(ApiError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::is_common;

    #[test]
    fn common_passwords_are_refused_case_insensitively() {
        assert!(is_common("Password1234"));
        assert!(is_common("QWERTYUIOPAS"));
        assert!(is_common("monkeymonkey"));
        assert!(is_common("iloveyou2024!"));
        assert!(is_common("abcabcabcabc"));
    }

    #[test]
    fn uncommon_passwords_pass() {
        assert!(!is_common("correct horse battery"));
        assert!(!is_common("glacier-mosaic-71-tundra"));
        assert!(!is_common("monkey83749201xq"));
    }
}
