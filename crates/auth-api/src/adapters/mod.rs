//! Adapters: the concrete backends behind the ports. PostgreSQL and SQLite implement
//! `UserStore`; SMTP and the dev mailbox implement `Mailer`.

pub mod dev_mailbox;
pub mod postgres;
pub mod smtp;
pub mod sqlite;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{ColumnIndex, Decode, Row, SqlSafeStr, Type};
use uuid::Uuid;

use crate::ports::{StoreError, UserRecord};

/// A schema migration compiled into the binary: its version, description and text (the file's
/// name is `{version}_{description with _ for spaces}.sql`).
type Embedded = (i64, &'static str, &'static str);

/// PostgreSQL's migrations (`/migrations`, shared with the SQL tooling).
pub(crate) const POSTGRES_MIGRATIONS: &[Embedded] = &[
    (
        20261121000001,
        "auth users",
        include_str!("../../../../migrations/20261121000001_auth_users.sql"),
    ),
    (
        20261206000001,
        "key backup",
        include_str!("../../../../migrations/20261206000001_key_backup.sql"),
    ),
    (
        20261207000001,
        "avatars",
        include_str!("../../../../migrations/20261207000001_avatars.sql"),
    ),
];

/// The embedded store's migrations (`crates/auth-api/migrations-sqlite`).
pub(crate) const SQLITE_MIGRATIONS: &[Embedded] = &[
    (
        20261121000001,
        "auth users",
        include_str!("../../migrations-sqlite/20261121000001_auth_users.sql"),
    ),
    (
        20261206000001,
        "key backup",
        include_str!("../../migrations-sqlite/20261206000001_key_backup.sql"),
    ),
    (
        20261207000001,
        "avatars",
        include_str!("../../migrations-sqlite/20261207000001_avatars.sql"),
    ),
];

/// The migrator of embedded migrations. This is what `sqlx::migrate!` builds, without the
/// macro: that needs sqlx's `macros` feature, which compiles sqlx and a second SQLite (C, for the
/// compiler's host) just to read two files. The checksum is the file's text, as the macro's, so
/// databases migrated by earlier builds are recognised.
fn migrator(migrations: &[Embedded]) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
    )
}

/// Reads an account from a row of `SELECT id, email, …` (what `#[derive(sqlx::FromRow)]`
/// would write: the column named like each field, on both backends).
impl<'r, R> sqlx::FromRow<'r, R> for UserRecord
where
    R: Row,
    &'r str: ColumnIndex<R>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            display_name: row.try_get("display_name")?,
            avatar: row.try_get("avatar")?,
            provider: row.try_get("provider")?,
            provider_id: row.try_get("provider_id")?,
            verified: row.try_get("verified")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of a migrations directory is embedded, under its version and description,
    /// with its text (a new file must be added to the list: nothing reads the directory).
    fn assert_embedded(dir: &str, embedded: &[Embedded]) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
                let (version, description) = name.split_once('_').unwrap();
                let sql = std::fs::read_to_string(&path).unwrap();
                (version.parse().unwrap(), description.replace('_', " "), sql)
            })
            .collect();
        files.sort();
        let embedded: Vec<(i64, String, String)> = embedded
            .iter()
            .map(|&(v, d, s)| (v, d.to_owned(), s.to_owned()))
            .collect();
        assert_eq!(embedded, files, "{}", dir.display());
    }

    #[test]
    fn every_migration_file_is_embedded() {
        assert_embedded("../../migrations", POSTGRES_MIGRATIONS);
        assert_embedded("migrations-sqlite", SQLITE_MIGRATIONS);
    }
}
