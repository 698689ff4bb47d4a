//! Receipts in the embedded store: who read or received which message (`read_by`,
//! `delivered_to`, JSON arrays on the message, marked under the store's write mutex), the
//! senders of messages, and a chat's unread count for a user.

use std::collections::HashMap;

use super::SqliteStore;
use super::rows::{err, json};
use crate::ports::{Marked, StoreResult};

impl SqliteStore {
    pub(super) async fn mark_read_rows(
        &self,
        chat: &str,
        upto: &str,
        user: &str,
    ) -> StoreResult<Marked> {
        let _guard = self.write.lock().await;
        let rows = sqlx::query_as(
            "UPDATE messages SET read_by = json_insert(read_by, '$[#]', ?1)
             WHERE chat_id = ?2 AND id <= ?3 AND sender_id <> ?1
               AND NOT EXISTS (SELECT 1 FROM json_each(messages.read_by) WHERE value = ?1)
             RETURNING id, sender_id, json_array_length(read_by)",
        )
        .bind(user.to_owned())
        .bind(chat.to_owned())
        .bind(upto.to_owned())
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        Ok(marked(rows))
    }

    pub(super) async fn senders_of(
        &self,
        chat: &str,
        messages: &[String],
    ) -> StoreResult<HashMap<String, String>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, sender_id FROM messages
             WHERE chat_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
        )
        .bind(chat.to_owned())
        .bind(json(&messages)?)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        Ok(rows.into_iter().collect())
    }

    pub(super) async fn mark_delivered_rows(
        &self,
        messages: &[String],
        user: &str,
    ) -> StoreResult<Marked> {
        let _guard = self.write.lock().await;
        let rows = sqlx::query_as(
            "UPDATE messages SET delivered_to = json_insert(delivered_to, '$[#]', ?1)
             WHERE id IN (SELECT value FROM json_each(?2))
               AND NOT EXISTS (SELECT 1 FROM json_each(messages.delivered_to) WHERE value = ?1)
             RETURNING id, sender_id, json_array_length(delivered_to)",
        )
        .bind(user.to_owned())
        .bind(json(&messages)?)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        Ok(marked(rows))
    }

    pub(super) async fn unread_of(&self, chat: &str, user: &str) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            // A deleted message is nothing to read.
            "SELECT COUNT(*) FROM messages WHERE chat_id = ?1 AND sender_id <> ?2
               AND deleted_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM json_each(messages.read_by) WHERE value = ?2)",
        )
        .bind(chat.to_owned())
        .bind(user.to_owned())
        .fetch_one(&self.pool)
        .await
        .map_err(err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// What a marking `UPDATE … RETURNING id, sender_id, <the list's length after>` changed: a list
/// of one is the user just added to an empty one.
fn marked(rows: Vec<(String, String, i64)>) -> Marked {
    let count = rows.len() as u64;
    let mut firsts: Vec<(String, String)> = rows
        .into_iter()
        .filter(|(_, _, len)| *len == 1)
        .map(|(id, sender, _)| (id, sender))
        .collect();
    firsts.sort_unstable();
    Marked { count, firsts }
}
