//! Passcode groups (Quick Chat): Argon2 hashes of passcodes; the hash never leaves the server.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use common::ApiError;

/// Argon2id PHC string of a passcode (run off the async workers: it is deliberately slow).
pub async fn hash_passcode(passcode: &str) -> Result<String, ApiError> {
    let passcode = passcode.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(passcode.as_bytes())
            .map(|h| h.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Argon2 is deliberately slow: run it off the async workers.
pub async fn verify_passcode(hash: &str, passcode: &str) -> bool {
    let (hash, passcode) = (hash.to_owned(), passcode.to_owned());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(passcode.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}
