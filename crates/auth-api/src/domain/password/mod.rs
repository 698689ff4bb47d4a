//! Passwords: which ones are refused ([`is_common`]) and how they are hashed and checked
//! ([`Hasher`]).
//!
//! argon2id with m = 19 MiB, t = 2, p = 1 (the OWASP minimum). Hashing is CPU- and memory-heavy,
//! so it runs on dedicated low-priority threads, one per core, each reusing its working memory
//! (`pool`): a login storm queues there instead of starving the async workers that serve every
//! other request, and costs the hashes and little else.

mod argon;
mod policy;
mod pool;

pub use policy::is_common;

use common::ApiError;

#[derive(Clone)]
pub struct Hasher {
    pool: pool::Pool,
    /// A real hash of a random password: unknown-user logins verify against it so they cost the
    /// same as a wrong password.
    dummy: std::sync::Arc<str>,
}

impl Hasher {
    /// Starts the hashing threads (one per core) and makes the dummy hash.
    pub fn new() -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let random = uuid::Uuid::new_v4().to_string();
        let dummy = argon::hash(&mut argon::Memory::default(), random.as_bytes())?;
        Ok(Self {
            pool: pool::Pool::start(cores)?,
            dummy: dummy.into(),
        })
    }

    /// Hashes a password into its PHC string.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.pool
            .run(move |memory| argon::hash(memory, password.as_bytes()))
            .await?
            .map_err(ApiError::internal)
    }

    /// Checks `password` against `hash`; with no hash, burns the same time against the dummy and
    /// returns false.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.to_string());
        let ok = self
            .pool
            .run(move |memory| argon::verify(memory, password.as_bytes(), &hash))
            .await?;
        Ok(ok && known)
    }
}

#[cfg(test)]
mod tests {
    use super::Hasher;

    #[tokio::test]
    async fn hashes_and_verifies_on_the_hashing_threads() {
        let hasher = Hasher::new().expect("hasher starts");
        let hash = hasher.hash("glacier-mosaic".into()).await.expect("hash");
        assert!(
            hasher
                .verify("glacier-mosaic".into(), Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("glacier-mosaiC".into(), Some(hash))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let hasher = Hasher::new().expect("hasher starts");
        assert!(hasher.dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!hasher.verify(String::new(), None).await.expect("verify"));
        assert!(
            !hasher
                .verify("glacier-mosaic".into(), None)
                .await
                .expect("verify")
        );
    }
}
