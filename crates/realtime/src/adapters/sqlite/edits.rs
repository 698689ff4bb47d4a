//! Edits and deletions in the embedded store: a message changed in place, its change time in
//! `updated_at` (a partial index holds only the changed ones, so a send writes no entry in it),
//! and the chat row's copy of its newest message kept the same in the same transaction.

use chrono::{DateTime, Utc};
use common::contracts::chat::Message;

use super::SqliteStore;
use super::rows::{err, json, message_from_row, ms};
use crate::ports::{MessageChange, StoreResult};

impl SqliteStore {
    pub(super) async fn change_message_row(
        &self,
        id: &str,
        change: &MessageChange,
    ) -> StoreResult<Option<Message>> {
        let _guard = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(err)?;
        let query = match change {
            MessageChange::Edit {
                sender,
                content,
                iv,
                encrypted,
                at,
            } => sqlx::query(
                "UPDATE messages SET content = ?1, iv = ?2, encrypted = ?3, edited_at = ?4,
                   updated_at = ?4
                 WHERE id = ?5 AND sender_id = ?6 AND deleted_at IS NULL RETURNING *",
            )
            .bind(content.clone())
            .bind(iv.clone())
            .bind(*encrypted)
            .bind(ms(*at))
            .bind(id.to_owned())
            .bind(sender.clone()),
            MessageChange::Delete { by, at } => sqlx::query(
                "UPDATE messages SET content = '', iv = NULL, metadata = NULL, encrypted = 0,
                   deleted_at = ?1, updated_at = ?1, deleted_by = ?3
                 WHERE id = ?2 AND deleted_at IS NULL RETURNING *",
            )
            .bind(ms(*at))
            .bind(id.to_owned())
            .bind(by.clone()),
        };
        let Some(row) = query.fetch_optional(&mut *tx).await.map_err(err)? else {
            return Ok(None);
        };
        let message = message_from_row(&row)?;
        sqlx::query("UPDATE chats SET last_message = ?1 WHERE id = ?2 AND last_message_id = ?3")
            .bind(json(&message)?)
            .bind(message.chat_id.clone())
            .bind(message.id.clone())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(Some(message))
    }

    pub(super) async fn changed_message_rows(
        &self,
        chats: &[String],
        since: DateTime<Utc>,
        after: Option<(DateTime<Utc>, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let (after_at, after_id) = match after {
            Some((at, id)) => (Some(ms(at)), Some(id.to_owned())),
            None => (None, None),
        };
        let rows = sqlx::query(
            "SELECT * FROM messages
             WHERE chat_id IN (SELECT value FROM json_each(?1)) AND updated_at > ?2
               AND (?3 IS NULL OR updated_at > ?3 OR (updated_at = ?3 AND id > ?4))
             ORDER BY updated_at, id LIMIT ?5",
        )
        .bind(json(&chats)?)
        .bind(ms(since))
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(message_from_row).collect()
    }

    pub(super) async fn delete_attachment_row(&self, id: &str) -> StoreResult<bool> {
        let _guard = self.write.lock().await;
        let r = sqlx::query("DELETE FROM attachments WHERE id = ?1")
            .bind(id.to_owned())
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(r.rows_affected() == 1)
    }
}
