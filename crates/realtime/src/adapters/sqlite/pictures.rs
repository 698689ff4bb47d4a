//! Groups' pictures in the embedded store: the bytes in `chat_pictures` (one row per chat), the
//! version in the chat's `picture` column, both written in one transaction under the store's
//! write mutex, so the chat always names the version stored.

use super::SqliteStore;
use super::rows::err;
use crate::ports::{ChatPicture, ChatRecord, ChatStore, StoreResult};

impl SqliteStore {
    pub(super) async fn set_picture(
        &self,
        id: &str,
        picture: Option<&ChatPicture>,
    ) -> StoreResult<Option<ChatRecord>> {
        let guard = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(err)?;
        let changed =
            sqlx::query("UPDATE chats SET picture = ?2, revision = revision + 1 WHERE id = ?1")
                .bind(id.to_owned())
                .bind(picture.map(|p| p.version.clone()))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        match picture {
            Some(p) => sqlx::query(
                "INSERT INTO chat_pictures (chat_id, content_type, version, data)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (chat_id) DO UPDATE SET content_type = excluded.content_type,
                   version = excluded.version, data = excluded.data",
            )
            .bind(id.to_owned())
            .bind(p.content_type.clone())
            .bind(p.version.clone())
            .bind(p.bytes.clone()),
            None => sqlx::query("DELETE FROM chat_pictures WHERE chat_id = ?1").bind(id.to_owned()),
        }
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        drop(guard);
        self.get_chat(id).await
    }

    pub(super) async fn picture_of(&self, id: &str) -> StoreResult<Option<ChatPicture>> {
        let row: Option<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT content_type, version, data FROM chat_pictures WHERE chat_id = ?1",
        )
        .bind(id.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        Ok(row.map(|(content_type, version, bytes)| ChatPicture {
            content_type,
            bytes,
            version,
        }))
    }
}
