//! What the embedded store keeps of users rather than of chats: the users who deleted their
//! account (`deleted_users`, kept for good) and the chats each user muted (`chat_mutes`, with
//! when each mute ends by itself, if it does).

use chrono::{DateTime, Utc};

use super::SqliteStore;
use super::rows::{err, from_ms, json, ms};
use crate::ports::{ChatMute, StoreResult};

impl SqliteStore {
    pub(super) async fn record_deleted(&self, user: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO deleted_users (id, deleted_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )
        .bind(user.to_owned())
        .bind(ms(at))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(err)
    }

    pub(super) async fn deleted_among(&self, users: &[String]) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT id FROM deleted_users WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(json(&users)?)
        .fetch_all(&self.pool)
        .await
        .map_err(err)
    }

    pub(super) async fn mute(
        &self,
        chat: &str,
        user: &str,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        // A row inserted, or one whose end changed: one row affected; the same mute, none.
        sqlx::query(
            "INSERT INTO chat_mutes (user_id, chat_id, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id, chat_id) DO UPDATE SET until = excluded.until
             WHERE until IS NOT excluded.until",
        )
        .bind(user.to_owned())
        .bind(chat.to_owned())
        .bind(until.map(ms))
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(err)
    }

    pub(super) async fn unmute(&self, chat: &str, user: &str) -> StoreResult<bool> {
        sqlx::query("DELETE FROM chat_mutes WHERE user_id = ?1 AND chat_id = ?2")
            .bind(user.to_owned())
            .bind(chat.to_owned())
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(err)
    }

    pub(super) async fn mutes_of(&self, user: &str) -> StoreResult<Vec<ChatMute>> {
        let rows: Vec<(String, Option<i64>)> =
            sqlx::query_as("SELECT chat_id, until FROM chat_mutes WHERE user_id = ?1")
                .bind(user.to_owned())
                .fetch_all(&self.pool)
                .await
                .map_err(err)?;
        Ok(rows.into_iter().map(mute_from).collect())
    }

    pub(super) async fn mute_by(&self, chat: &str, user: &str) -> StoreResult<Option<ChatMute>> {
        let row: Option<(String, Option<i64>)> = sqlx::query_as(
            "SELECT chat_id, until FROM chat_mutes WHERE user_id = ?1 AND chat_id = ?2",
        )
        .bind(user.to_owned())
        .bind(chat.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        Ok(row.map(mute_from))
    }

    pub(super) async fn delete_mutes_ended(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        // A mute until unmuted (`NULL`) is never before anything.
        sqlx::query("DELETE FROM chat_mutes WHERE until < ?1")
            .bind(ms(before))
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(err)
    }
}

fn mute_from((chat_id, until): (String, Option<i64>)) -> ChatMute {
    ChatMute {
        chat_id,
        until: until.map(from_ms),
    }
}
