//! Attachments in the embedded store: table `attachments`, one row per upload, its bytes in a
//! BLOB column read only when they are asked for.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use super::rows::{err, from_ms, ms};
use crate::ports::{Attachment, StoreError, StoreResult};

impl SqliteStore {
    pub(super) async fn insert_attachment_row(
        &self,
        a: &Attachment,
        bytes: &[u8],
    ) -> StoreResult<()> {
        let _guard = self.write.lock().await;
        sqlx::query(
            "INSERT INTO attachments (id, chat_id, uploader_id, size, created_at, sent, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(a.id.clone())
        .bind(a.chat_id.clone())
        .bind(a.uploader_id.clone())
        .bind(i64::try_from(bytes.len()).map_err(|e| StoreError::Other(e.to_string()))?)
        .bind(ms(a.created_at))
        .bind(a.sent)
        .bind(bytes)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(())
    }

    pub(super) async fn mark_attachment_sent(
        &self,
        id: &str,
        chat_id: &str,
        uploader_id: &str,
        client_msg_id: &str,
    ) -> StoreResult<bool> {
        let _guard = self.write.lock().await;
        // SQLite counts the rows matched, changed or not: a resend counts its row again. Not
        // named by another message (`sent_by`: an attachment sent before it was recorded has
        // none, and is taken by the next message that names it).
        let r = sqlx::query(
            "UPDATE attachments SET sent = 1, sent_by = ?4
             WHERE id = ?1 AND chat_id = ?2 AND uploader_id = ?3
               AND (sent_by IS NULL OR sent_by = ?4)",
        )
        .bind(id.to_owned())
        .bind(chat_id.to_owned())
        .bind(uploader_id.to_owned())
        .bind(client_msg_id.to_owned())
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(r.rows_affected() == 1)
    }

    pub(super) async fn bytes_uploaded_by(&self, uploader_id: &str) -> StoreResult<u64> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(size), 0) FROM attachments WHERE uploader_id = ?1",
        )
        .bind(uploader_id.to_owned())
        .fetch_one(&self.pool)
        .await
        .map_err(err)?;
        u64::try_from(total).map_err(|e| StoreError::Other(e.to_string()))
    }

    pub(super) async fn delete_unsent_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let _guard = self.write.lock().await;
        let r = sqlx::query("DELETE FROM attachments WHERE sent = 0 AND created_at < ?1")
            .bind(ms(before))
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(r.rows_affected())
    }

    /// The attachment `id`, with its bytes when `with_bytes`.
    pub(super) async fn attachment_row(
        &self,
        id: &str,
        with_bytes: bool,
    ) -> StoreResult<Option<(Attachment, Option<Vec<u8>>)>> {
        let sql = if with_bytes {
            "SELECT id, chat_id, uploader_id, size, created_at, sent, data FROM attachments WHERE id = ?1"
        } else {
            "SELECT id, chat_id, uploader_id, size, created_at, sent FROM attachments WHERE id = ?1"
        };
        let row = sqlx::query(sql)
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        row.map(|r| attachment_from_row(&r, with_bytes)).transpose()
    }
}

fn attachment_from_row(
    r: &SqliteRow,
    with_bytes: bool,
) -> StoreResult<(Attachment, Option<Vec<u8>>)> {
    let size: i64 = r.try_get("size").map_err(err)?;
    let attachment = Attachment {
        id: r.try_get("id").map_err(err)?,
        chat_id: r.try_get("chat_id").map_err(err)?,
        uploader_id: r.try_get("uploader_id").map_err(err)?,
        size: u64::try_from(size).map_err(|e| StoreError::Other(e.to_string()))?,
        created_at: from_ms(r.try_get("created_at").map_err(err)?),
        sent: r.try_get("sent").map_err(err)?,
    };
    let bytes = if with_bytes {
        Some(r.try_get("data").map_err(err)?)
    } else {
        None
    };
    Ok((attachment, bytes))
}
