//! Coalesced chat reads. Every send, history page and receipt first reads its chat (the
//! membership check); one query each meant, per send, a hand-off to a connection's worker thread
//! and back. Here one loader task, on its own connection, takes every read queued while the
//! previous one ran and answers them all from ONE `SELECT … WHERE id IN (…)` (the ids as one JSON
//! array: one cached statement whatever the batch size). Nothing is cached: each read sees the
//! chat as committed when its batch ran, which is after the read was asked for (membership may
//! change on another instance), and an idle store reads at once.

use std::collections::HashMap;

use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use super::connection::OwnConnection;
use super::rows::{chat_from_row, err, json};
use crate::ports::{ChatRecord, StoreError, StoreResult};

/// Most chats in one query.
const MAX_BATCH: usize = 256;

pub(super) struct Read {
    pub id: String,
    pub reply: oneshot::Sender<StoreResult<Option<ChatRecord>>>,
}

/// Starts the loader; it stops when the returned sender (the store) is dropped.
pub(super) fn spawn(mut conn: OwnConnection) -> mpsc::Sender<Read> {
    let (tx, mut rx) = mpsc::channel::<Read>(4 * MAX_BATCH);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            // Sorted, so the reads of one chat are adjacent: the last of them takes the record.
            batch.sort_unstable_by(|a: &Read, b: &Read| a.id.cmp(&b.id));
            let found = find(&mut conn, &batch).await;
            if found.is_err() {
                conn.reset().await;
            }
            match found {
                Ok(mut found) => {
                    let mut reads = batch.drain(..).peekable();
                    while let Some(r) = reads.next() {
                        let again = reads.peek().is_some_and(|next| next.id == r.id);
                        let chat = if again {
                            found.get(&r.id).cloned()
                        } else {
                            found.remove(&r.id)
                        };
                        let _ = r.reply.send(chat.transpose());
                    }
                }
                Err(e) => {
                    for r in batch.drain(..) {
                        let _ = r.reply.send(Err(e.clone()));
                    }
                }
            }
        }
    });
    tx
}

/// The chats of a sorted batch of reads, by id; a row that cannot be read fails only its readers.
async fn find(
    conn: &mut OwnConnection,
    reads: &[Read],
) -> StoreResult<HashMap<String, StoreResult<ChatRecord>>> {
    let mut ids: Vec<&str> = reads.iter().map(|r| r.id.as_str()).collect();
    ids.dedup();
    let rows = sqlx::query("SELECT * FROM chats WHERE id IN (SELECT value FROM json_each(?1))")
        .bind(json(&ids)?)
        .fetch_all(conn.get().await?)
        .await
        .map_err(err)?;
    rows.iter()
        .map(|row| {
            let id: String = row
                .try_get("id")
                .map_err(|e| StoreError::Other(e.to_string()))?;
            Ok((id, chat_from_row(row)))
        })
        .collect()
}
