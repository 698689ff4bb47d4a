//! Edits, deletions and reactions in the embedded store: a message changed in place (one more
//! `revision`), its change time in `updated_at` (a partial index holds only the changed ones, so a
//! send writes no entry in it), and the chat row's copy of its newest message kept the same in the
//! same transaction. Reactions are kept grouped by emoji, as JSON.

use chrono::{DateTime, Utc};
use common::contracts::chat::{Message, Reaction};

use super::SqliteStore;
use super::rows::{err, json, message_from_row, ms, parse};
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
                   updated_at = ?4, revision = revision + 1
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
                   reply_to = NULL, reactions = NULL, deleted_at = ?1, updated_at = ?1, deleted_by = ?3,
                   revision = revision + 1
                 WHERE id = ?2 AND deleted_at IS NULL RETURNING *",
            )
            .bind(ms(*at))
            .bind(id.to_owned())
            .bind(by.clone()),
            MessageChange::React {
                user,
                emoji,
                add,
                at,
            } => {
                // Read and written under the store's write lock, in one transaction.
                let stored: Option<Option<String>> = sqlx::query_scalar(
                    "SELECT reactions FROM messages WHERE id = ?1 AND deleted_at IS NULL",
                )
                .bind(id.to_owned())
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
                let Some(stored) = stored else {
                    return Ok(None);
                };
                let mut reactions: Vec<Reaction> = stored
                    .as_deref()
                    .map(parse)
                    .transpose()?
                    .unwrap_or_default();
                react(&mut reactions, user, emoji, *add);
                let reactions = (!reactions.is_empty())
                    .then(|| json(&reactions))
                    .transpose()?;
                sqlx::query(
                    "UPDATE messages SET reactions = ?1, updated_at = ?2, revision = revision + 1
                     WHERE id = ?3 RETURNING *",
                )
                .bind(reactions)
                .bind(ms(*at))
                .bind(id.to_owned())
            }
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

/// Adds `user`'s reaction with `emoji` (after the others of that emoji; a new emoji after the
/// others), or takes it back, dropping an emoji nobody reacts with any more. As MongoDB's
/// `$addToSet` and `$pull` on its stored pairs do.
fn react(reactions: &mut Vec<Reaction>, user: &str, emoji: &str, add: bool) {
    let held = reactions.iter_mut().position(|r| r.emoji == emoji);
    match (held, add) {
        (Some(i), true) => {
            let users = &mut reactions[i].users;
            if !users.iter().any(|u| u == user) {
                users.push(user.to_owned());
            }
        }
        (None, true) => reactions.push(Reaction {
            emoji: emoji.to_owned(),
            users: vec![user.to_owned()],
        }),
        (Some(i), false) => {
            reactions[i].users.retain(|u| u != user);
            if reactions[i].users.is_empty() {
                reactions.remove(i);
            }
        }
        (None, false) => {}
    }
}
