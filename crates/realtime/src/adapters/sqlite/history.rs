//! A chat's history in the embedded store, a page at a time by message id (ids are lowercase
//! 24-hex strings, so text order is id order): older than a cursor (history, newest first) or
//! newer than one (a resync, oldest first).

use super::SqliteStore;
use super::rows::{err, message_from_row};
use crate::ports::StoreResult;
use common::contracts::chat::Message;

/// Which way a page goes from its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    /// Before the cursor (none: from the newest), newest first.
    Older,
    /// After the cursor (none: from the oldest), oldest first.
    Newer,
}

impl SqliteStore {
    /// Up to `limit` of `chat`'s messages past `cursor`, in `direction`.
    pub(super) async fn page(
        &self,
        chat: &str,
        cursor: Option<&str>,
        limit: u32,
        direction: Direction,
    ) -> StoreResult<Vec<Message>> {
        let sql = match direction {
            Direction::Older => {
                "SELECT * FROM messages WHERE chat_id = ?1 AND (?2 IS NULL OR id < ?2)
                 ORDER BY id DESC LIMIT ?3"
            }
            Direction::Newer => {
                "SELECT * FROM messages WHERE chat_id = ?1 AND (?2 IS NULL OR id > ?2)
                 ORDER BY id ASC LIMIT ?3"
            }
        };
        let rows = sqlx::query(sql)
            .bind(chat.to_owned())
            .bind(cursor.map(str::to_owned))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        rows.iter().map(message_from_row).collect()
    }
}
