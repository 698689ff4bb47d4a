//! Passcode groups (Quick Chat): Argon2 hashes of passcodes; the hash never leaves the server.
//!
//! Each hash takes Argon2's default memory (19 MiB) and tens of milliseconds of a core, on
//! tokio's blocking threads (up to 512 of them). Unbounded, a burst of joins and passcode groups
//! could hold gigabytes at once and take every core from the sockets; so as many hashes run at
//! once as the machine has cores ([`HASHING`]), and the others wait their turn. (How many a user
//! may try is bounded apart: `Budgets`, per user in the `Kv`.)

use std::sync::LazyLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use common::ApiError;
use tokio::sync::Semaphore;

/// Turns to hash: one per core.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
});

/// Runs `work` on a blocking thread once a turn to hash is free.
async fn hash_turn<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    // The semaphore is never closed.
    let _turn = HASHING.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// Argon2id PHC string of a passcode.
pub async fn hash_passcode(passcode: &str) -> Result<String, ApiError> {
    let passcode = passcode.to_owned();
    hash_turn(move || {
        Argon2::default()
            .hash_password(passcode.as_bytes())
            .map(|h| h.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .unwrap_or_else(|| Err(ApiError::internal("the passcode's hashing stopped")))
}

/// Whether `passcode` is the one `hash` was made of.
pub async fn verify_passcode(hash: &str, passcode: &str) -> bool {
    let (hash, passcode) = (hash.to_owned(), passcode.to_owned());
    hash_turn(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(passcode.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// With every turn taken, a verification waits; it runs once one is given back.
    #[tokio::test]
    async fn hashes_wait_for_a_turn() {
        let hash = hash_passcode("open sesame").await.expect("hashed");
        let turns = u32::try_from(HASHING.available_permits()).expect("few");
        let all = HASHING.acquire_many(turns).await.expect("open");
        let waiting = tokio::spawn(async move { verify_passcode(&hash, "open sesame").await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiting.is_finished(),
            "no hash runs while every turn is taken"
        );
        drop(all);
        let verified = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("runs once a turn is free")
            .expect("the task");
        assert!(verified);
    }
}
