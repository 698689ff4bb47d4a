//! Group commit for message inserts. With `synchronous=FULL` every commit is an fsync, and a
//! message used to cost two (the insert, then the chat's `lastMessage`), one sender at a time.
//! Here one writer task takes every insert queued while the previous batch was committing and
//! writes them in ONE transaction: one fsync for the batch. Each sender still gets its answer
//! only after the COMMIT that made its message durable (ack-after-write), and idempotency is the
//! same unique index, checked statement by statement inside the transaction (a resend in the same
//! batch finds the first one). Nothing waits for a batch to fill: an idle store commits at once.

use std::sync::Arc;

use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::rows::{err, json, message_from_row, message_kind, ms};
use crate::ports::{Inserted, NewMessage, StoreError, StoreResult};

/// Most inserts in one transaction.
const MAX_BATCH: usize = 256;

pub(super) struct Pending {
    pub message: NewMessage,
    pub reply: oneshot::Sender<StoreResult<Inserted>>,
}

/// Starts the writer; it stops when the returned sender (the store) is dropped. `write` is the
/// store's write mutex, so batches and read-modify-write updates of chats never interleave.
pub(super) fn spawn(pool: SqlitePool, write: Arc<Mutex<()>>) -> mpsc::Sender<Pending> {
    let (tx, mut rx) = mpsc::channel::<Pending>(4 * MAX_BATCH);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let _guard = write.lock().await;
            let messages: Vec<&NewMessage> = batch.iter().map(|p| &p.message).collect();
            let results = write_batch(&pool, &messages).await;
            drop(messages);
            match results {
                Ok(results) => {
                    for (p, r) in batch.drain(..).zip(results) {
                        let _ = p.reply.send(r);
                    }
                }
                Err(e) => {
                    // The COMMIT (or BEGIN) failed: nothing in the batch is durable.
                    for p in batch.drain(..) {
                        let _ = p.reply.send(Err(e.clone()));
                    }
                }
            }
        }
    });
    tx
}

async fn write_batch(
    pool: &SqlitePool,
    messages: &[&NewMessage],
) -> StoreResult<Vec<StoreResult<Inserted>>> {
    let mut tx = pool.begin().await.map_err(err)?;
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        // A failed statement rolls back only itself; the transaction goes on.
        out.push(insert_one(&mut tx, m).await);
    }
    tx.commit().await.map_err(err)?;
    Ok(out)
}

async fn insert_one(conn: &mut SqliteConnection, m: &NewMessage) -> StoreResult<Inserted> {
    let metadata = m.metadata.as_ref().map(json).transpose()?;
    let inserted = sqlx::query(
        "INSERT INTO messages (id, chat_id, sender_id, client_msg_id, content, iv, encrypted, kind, metadata, timestamp)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .bind(m.id.clone())
    .bind(m.chat_id.clone())
    .bind(m.sender_id.clone())
    .bind(m.client_msg_id.clone())
    .bind(m.content.clone())
    .bind(m.iv.clone())
    .bind(i64::from(m.encrypted))
    .bind(message_kind(m.kind))
    .bind(metadata)
    .bind(ms(m.timestamp))
    .execute(&mut *conn)
    .await
    .map_err(err);
    match inserted {
        Ok(_) => {}
        Err(StoreError::Duplicate) => {
            let row =
                sqlx::query("SELECT * FROM messages WHERE sender_id = ?1 AND client_msg_id = ?2")
                    .bind(m.sender_id.clone())
                    .bind(m.client_msg_id.clone())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(err)?;
            return match row {
                Some(r) => Ok(Inserted::Existing(message_from_row(&r)?)),
                None => Err(StoreError::Duplicate),
            };
        }
        Err(e) => return Err(e),
    }
    let message = m.clone().into_message();
    sqlx::query(
        "UPDATE chats SET last_message = ?1, last_message_id = ?2, last_message_at = ?3
         WHERE id = ?4 AND (last_message_id IS NULL OR last_message_id < ?2)",
    )
    .bind(json(&message)?)
    .bind(message.id.clone())
    .bind(ms(message.timestamp))
    .bind(message.chat_id.clone())
    .execute(&mut *conn)
    .await
    .map_err(err)?;
    Ok(Inserted::New(message))
}
