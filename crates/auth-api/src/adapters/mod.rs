//! Adapters: the concrete backends behind the ports. PostgreSQL and SQLite implement
//! `UserStore`; SMTP and the dev mailbox implement `Mailer`.

pub mod dev_mailbox;
pub mod postgres;
pub mod smtp;
pub mod sqlite;

use crate::ports::StoreError;

/// Maps a database error to the store's vocabulary: unique violations name what was taken (the
/// constraint name on PostgreSQL, the message on SQLite), anything else is "unavailable".
fn store_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let what = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
        if what.contains("identities") {
            return StoreError::IdentityTaken;
        }
        if what.contains("email") {
            return StoreError::EmailTaken;
        }
        if what.contains("username") {
            return StoreError::UsernameTaken;
        }
    }
    StoreError::Unavailable(e.to_string())
}

/// Escapes `LIKE` wildcards so a username prefix is matched literally (`_` is legal in usernames).
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
