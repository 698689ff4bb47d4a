//! Group commit for message inserts. With `synchronous=FULL` every commit is an fsync, and a
//! message used to cost two (the insert, then the chat's `lastMessage`), one sender at a time.
//! Here one writer task, on its own connection, takes every insert queued while the previous batch
//! was committing and writes them in ONE transaction: one `INSERT … SELECT` of the whole batch,
//! one `UPDATE … FROM` moving each touched chat's `lastMessage` forward, one fsync. The rows
//! travel as one JSON array read with `json_each`, so each statement is prepared once whatever
//! the batch size, and the batch costs two hand-offs to the connection's worker thread (`BEGIN` +
//! insert, update + `COMMIT`) rather than two per message. Each sender still gets its answer only
//! after the COMMIT that made its message durable (ack-after-write). Idempotency is still the
//! unique `(sender_id, client_msg_id)` index: a row whose key is taken is skipped (`ON CONFLICT
//! DO NOTHING`), so a resend, also one in the same batch, gets the one stored, fetched by one
//! lookup. Nothing waits for a batch to fill: an idle store commits at once.

use std::collections::HashMap;
use std::sync::Arc;

use common::contracts::chat::Message;
use serde::Serialize;
use sqlx::SqliteConnection;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::connection::OwnConnection;
use super::rows::{err, json, message_from_row, message_kind, ms};
use crate::ports::{Inserted, NewMessage, StoreError, StoreResult};

/// Most inserts in one transaction.
const MAX_BATCH: usize = 256;

/// Opens the batch's transaction and inserts the batch; a row whose unique key (`id`, or
/// `sender_id` + `client_msg_id`) is taken is skipped. Returns the keys of the rows written.
/// (`MATERIALIZED`: each element's JSON is rendered once, not once per field; `WHERE true` lets
/// SQLite parse the upsert clause after `INSERT … SELECT`.) The transaction is begun and
/// committed by statements, not by sqlx, so that each rides with another statement; a batch that
/// fails leaves it open, and the writer then closes the connection, which rolls it back.
const BEGIN_INSERT: &str = "BEGIN IMMEDIATE;
  WITH batch(m) AS MATERIALIZED (SELECT value FROM json_each(?1))
  INSERT INTO messages
    (id, chat_id, sender_id, client_msg_id, content, iv, encrypted, kind, metadata, timestamp,
     reply_to)
  SELECT m ->> 'id', m ->> 'chatId', m ->> 'senderId', m ->> 'clientMsgId', m ->> 'content',
    m ->> 'iv', m ->> 'encrypted', m ->> 'kind', m ->> 'metadata', m ->> 'timestamp',
    m ->> 'replyTo'
  FROM batch WHERE true
  ON CONFLICT DO NOTHING
  RETURNING id, sender_id, client_msg_id";

/// The stored messages of `[sender, clientMsgId]` pairs.
const ORIGINALS: &str = "SELECT * FROM messages WHERE (sender_id, client_msg_id) IN
  (SELECT k.value ->> 0, k.value ->> 1 FROM json_each(?1) AS k)";

/// Moves each chat's last message forward (never back to an older id), and commits. One entry
/// per chat: with several, `UPDATE … FROM` would apply an arbitrary one.
const MOVE_LAST_COMMIT: &str = "WITH last(l) AS MATERIALIZED (SELECT value FROM json_each(?1))
  UPDATE chats SET last_message = l ->> 'message', last_message_id = l ->> 'id',
    last_message_at = l ->> 'at'
  FROM last
  WHERE chats.id = l ->> 'chatId'
    AND (chats.last_message_id IS NULL OR chats.last_message_id < l ->> 'id');
  COMMIT";

pub(super) struct Pending {
    pub message: NewMessage,
    pub reply: oneshot::Sender<StoreResult<Inserted>>,
}

/// Starts the writer; it stops when the returned sender (the store) is dropped. `write` is the
/// store's write mutex, so batches and read-modify-write updates of chats never interleave.
pub(super) fn spawn(mut conn: OwnConnection, write: Arc<Mutex<()>>) -> mpsc::Sender<Pending> {
    let (tx, mut rx) = mpsc::channel::<Pending>(4 * MAX_BATCH);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let (messages, replies): (Vec<Message>, Vec<_>) = batch
                .drain(..)
                .map(|p: Pending| (p.message.into_message(), p.reply))
                .unzip();
            let _guard = write.lock().await;
            match write_batch(&mut conn, messages).await {
                Ok(results) => {
                    for (reply, r) in replies.into_iter().zip(results) {
                        let _ = reply.send(r);
                    }
                }
                Err(e) => {
                    // The batch did not commit: closing the connection rolls it back. Every
                    // sender gets the error and may resend (a resend is idempotent).
                    conn.reset().await;
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        }
    });
    tx
}

/// One row of [`BEGIN_INSERT`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row<'a> {
    id: &'a str,
    chat_id: &'a str,
    sender_id: &'a str,
    client_msg_id: &'a str,
    content: &'a str,
    iv: Option<&'a str>,
    encrypted: bool,
    kind: &'static str,
    /// Stored as JSON text.
    metadata: Option<String>,
    timestamp: i64,
    reply_to: Option<&'a str>,
}

/// One entry of [`MOVE_LAST_COMMIT`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Last<'a> {
    chat_id: &'a str,
    id: &'a str,
    at: i64,
    /// The message as JSON text (the `last_message` column).
    message: String,
}

/// What happened to one message of the batch.
enum Outcome {
    Written,
    /// Its `id` or `(sender, clientMsgId)` was taken, by an earlier send or one in this batch.
    Taken,
    Failed(StoreError),
}

/// Writes a batch in one transaction: one answer per message, in order, or the error that kept
/// the transaction from committing (which may leave it open: the caller closes the connection).
async fn write_batch(
    conn: &mut OwnConnection,
    messages: Vec<Message>,
) -> StoreResult<Vec<StoreResult<Inserted>>> {
    // A message whose metadata cannot be encoded fails alone.
    let mut outcomes = Vec::with_capacity(messages.len());
    let mut rows = Vec::with_capacity(messages.len());
    for m in &messages {
        match m.metadata.as_ref().map(json).transpose() {
            Ok(metadata) => {
                rows.push(Row {
                    id: &m.id,
                    chat_id: &m.chat_id,
                    sender_id: &m.sender_id,
                    client_msg_id: &m.client_msg_id,
                    content: &m.content,
                    iv: m.iv.as_deref(),
                    encrypted: m.encrypted,
                    kind: message_kind(m.kind),
                    metadata,
                    timestamp: ms(m.timestamp),
                    reply_to: m.reply_to.as_deref(),
                });
                outcomes.push(Outcome::Written);
            }
            Err(e) => outcomes.push(Outcome::Failed(e)),
        }
    }

    let originals = if rows.is_empty() {
        HashMap::new()
    } else {
        store(conn.get().await?, &rows, &messages, &mut outcomes).await?
    };
    drop(rows);

    Ok(messages
        .into_iter()
        .zip(outcomes)
        .map(|(m, o)| match o {
            Outcome::Written => Ok(Inserted::New(m)),
            Outcome::Failed(e) => Err(e),
            // The original under this sender and clientMsgId; without one, the id was taken.
            Outcome::Taken => originals
                .get(&(m.sender_id, m.client_msg_id))
                .map(|original| Inserted::Existing(original.clone()))
                .ok_or(StoreError::Duplicate),
        })
        .collect())
}

/// The database part of [`write_batch`]: marks the rows that were not written as taken and
/// returns the originals of their keys.
async fn store(
    conn: &mut SqliteConnection,
    rows: &[Row<'_>],
    messages: &[Message],
    outcomes: &mut [Outcome],
) -> StoreResult<HashMap<(String, String), Message>> {
    // id → (sender, clientMsgId) of each row written.
    let mut written: HashMap<String, (String, String)> =
        sqlx::query_as::<_, (String, String, String)>(BEGIN_INSERT)
            .bind(json(&rows)?)
            .fetch_all(&mut *conn)
            .await
            .map_err(err)?
            .into_iter()
            .map(|(id, sender, client_msg_id)| (id, (sender, client_msg_id)))
            .collect();
    // Of two messages with one id (or two sends of one message), only one was written.
    for (m, o) in messages.iter().zip(outcomes.iter_mut()) {
        if !matches!(o, Outcome::Written) {
            continue;
        }
        let this_one = written
            .get(&m.id)
            .is_some_and(|(s, c)| *s == m.sender_id && *c == m.client_msg_id);
        if this_one {
            written.remove(&m.id);
        } else {
            *o = Outcome::Taken;
        }
    }
    let originals = originals(conn, messages, outcomes).await?;
    move_last_messages_and_commit(conn, messages, outcomes).await?;
    Ok(originals)
}

/// The stored originals of messages whose key was taken, by `(sender, clientMsgId)`.
async fn originals(
    conn: &mut SqliteConnection,
    messages: &[Message],
    outcomes: &[Outcome],
) -> StoreResult<HashMap<(String, String), Message>> {
    let keys: Vec<[&str; 2]> = messages
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| matches!(o, Outcome::Taken))
        .map(|(m, _)| [m.sender_id.as_str(), m.client_msg_id.as_str()])
        .collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(ORIGINALS)
        .bind(json(&keys)?)
        .fetch_all(conn)
        .await
        .map_err(err)?;
    rows.iter()
        .map(|r| {
            let m = message_from_row(r)?;
            Ok(((m.sender_id.clone(), m.client_msg_id.clone()), m))
        })
        .collect()
}

/// Makes each chat's newest written message its last message, and commits.
async fn move_last_messages_and_commit(
    conn: &mut SqliteConnection,
    messages: &[Message],
    outcomes: &[Outcome],
) -> StoreResult<()> {
    let mut newest: HashMap<&str, &Message> = HashMap::new();
    let written = messages
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| matches!(o, Outcome::Written));
    for (m, _) in written {
        let n = newest.entry(&m.chat_id).or_insert(m);
        if m.id > n.id {
            *n = m;
        }
    }
    if newest.is_empty() {
        sqlx::query("COMMIT").execute(conn).await.map_err(err)?;
        return Ok(());
    }
    let last = newest
        .into_values()
        .map(|m| {
            Ok(Last {
                chat_id: &m.chat_id,
                id: &m.id,
                at: ms(m.timestamp),
                message: json(m)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    sqlx::query(MOVE_LAST_COMMIT)
        .bind(json(&last)?)
        .execute(conn)
        .await
        .map_err(err)?;
    Ok(())
}
