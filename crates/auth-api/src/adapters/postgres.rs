//! `UserStore` on PostgreSQL (production). Migrations in the workspace's `migrations/` are applied
//! at start-up.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use super::{POSTGRES_MIGRATIONS, like_prefix, migrator, store_error};
use crate::ports::{Avatar, NewUser, StoreResult, UserRecord, UserStore};

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects and applies pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        migrator(POSTGRES_MIGRATIONS).run(&pool).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl UserStore for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn create_user(&self, u: NewUser) -> StoreResult<UserRecord> {
        let now = Utc::now();
        sqlx::query_as::<_, UserRecord>(
            "INSERT INTO users (id, email, username, password_hash, display_name, provider, provider_id, verified, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
             RETURNING id, email, username, password_hash, display_name, avatar, provider, provider_id, verified, created_at, updated_at",
        )
        .bind(Uuid::now_v7())
        .bind(&u.email)
        .bind(&u.username)
        .bind(&u.password_hash)
        .bind(&u.display_name)
        .bind(&u.provider)
        .bind(&u.provider_id)
        .bind(u.verified)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn find_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>> {
        sqlx::query_as("SELECT id, email, username, password_hash, display_name, avatar, provider, provider_id, verified, created_at, updated_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn find_by_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<UserRecord>> {
        sqlx::query_as("SELECT id, email, username, password_hash, display_name, avatar, provider, provider_id, verified, created_at, updated_at FROM users WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn find_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        sqlx::query_as("SELECT id, email, username, password_hash, display_name, avatar, provider, provider_id, verified, created_at, updated_at FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn find_by_username(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        sqlx::query_as("SELECT id, email, username, password_hash, display_name, avatar, provider, provider_id, verified, created_at, updated_at FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn mark_verified(&self, id: Uuid) -> StoreResult<()> {
        sqlx::query("UPDATE users SET verified = TRUE, updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(Utc::now())
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn set_display_name(&self, id: Uuid, display_name: Option<&str>) -> StoreResult<bool> {
        sqlx::query("UPDATE users SET display_name = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(display_name)
            .bind(Utc::now())
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(store_error)
    }

    async fn set_avatar(&self, id: Uuid, avatar: &Avatar, url: &str) -> StoreResult<bool> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // The account's row first: it is locked until the commit, so of two pictures set at
        // once, the one committed last is both the stored bytes and the URL.
        if !set_avatar_url(&mut tx, id, Some(url)).await? {
            return Ok(false); // rolled back as `tx` drops
        }
        sqlx::query(
            "INSERT INTO avatars (user_id, content_type, bytes, version, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE SET content_type = EXCLUDED.content_type,
                 bytes = EXCLUDED.bytes, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at",
        )
        .bind(id)
        .bind(&avatar.content_type)
        .bind(&avatar.bytes)
        .bind(&avatar.version)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn remove_avatar(&self, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        if !set_avatar_url(&mut tx, id, None).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM avatars WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn avatar(&self, id: Uuid) -> StoreResult<Option<Avatar>> {
        let row: Option<(String, Vec<u8>, String)> =
            sqlx::query_as("SELECT content_type, bytes, version FROM avatars WHERE user_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        Ok(row.map(|(content_type, bytes, version)| Avatar {
            content_type,
            bytes,
            version,
        }))
    }

    async fn set_email(&self, id: Uuid, email: &str) -> StoreResult<bool> {
        sqlx::query("UPDATE users SET email = $2, verified = TRUE, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(email)
            .bind(Utc::now())
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(store_error)
    }

    async fn set_password_hash(&self, id: Uuid, password_hash: &str) -> StoreResult<bool> {
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(password_hash)
            .bind(Utc::now())
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(store_error)
    }

    async fn delete_user(&self, id: Uuid) -> StoreResult<bool> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(store_error)
    }

    async fn find_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<UserRecord>> {
        sqlx::query_as(
            "SELECT u.id, u.email, u.username, u.password_hash, u.display_name, u.avatar, u.provider, u.provider_id, u.verified, u.created_at, u.updated_at
             FROM identities i JOIN users u ON u.id = i.user_id WHERE i.provider = $1 AND i.subject = $2",
        )
        .bind(provider)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn link_identity(&self, user_id: Uuid, provider: &str, subject: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO identities (provider, subject, user_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(provider)
            .bind(subject)
            .bind(user_id)
            .bind(Utc::now())
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn search_by_username_prefix(
        &self,
        prefix: &str,
        limit: i64,
    ) -> StoreResult<Vec<UserRecord>> {
        sqlx::query_as(
            "SELECT id, email, username, password_hash, display_name, avatar, provider, provider_id, verified, created_at, updated_at
             FROM users WHERE username LIKE $1 ESCAPE '\\' ORDER BY username LIMIT $2",
        )
        .bind(like_prefix(prefix))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn set_public_key(
        &self,
        user_id: Uuid,
        jwk_json: &str,
        backup_json: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_keys (user_id, public_key, key_backup, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET public_key = EXCLUDED.public_key,
                 key_backup = EXCLUDED.key_backup, updated_at = EXCLUDED.updated_at",
        )
        .bind(user_id)
        .bind(jwk_json)
        .bind(backup_json)
        .bind(Utc::now())
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(store_error)
    }

    async fn public_key(&self, user_id: Uuid) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT public_key FROM user_keys WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn public_keys(&self, user_ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String)>> {
        sqlx::query_as("SELECT user_id, public_key FROM user_keys WHERE user_id = ANY($1)")
            .bind(user_ids)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn key_backup(&self, user_id: Uuid) -> StoreResult<Option<(String, String)>> {
        sqlx::query_as(
            "SELECT public_key, key_backup FROM user_keys WHERE user_id = $1 AND key_backup IS NOT NULL",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)
    }
}

/// Sets the account's `avatar` (the picture's URL, or none) in `tx`; false when there is no
/// such user.
async fn set_avatar_url(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: Uuid,
    url: Option<&str>,
) -> StoreResult<bool> {
    sqlx::query("UPDATE users SET avatar = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(url)
        .bind(Utc::now())
        .execute(&mut **tx)
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(store_error)
}
