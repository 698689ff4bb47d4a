//! Group commit for message inserts. A message used to cost two awaited writes (`insert_one`, then
//! the chat's `lastMessage`), one sender at a time. Here one writer task takes every insert queued
//! while the previous batch was being written and writes them with ONE `insert_many` (unordered)
//! with the durable write concern, and nothing else: a chat's newest message is read from the
//! messages themselves (`MongoStore::last_messages`), so no second write per batch. Each sender
//! gets its answer only after the insert was acknowledged (ack-after-write).
//! Idempotency is still the unique `(senderId, clientMsgId)` index: unordered, every document is
//! tried and a resend (also one in the same batch) fails alone with a duplicate key; one `find`
//! then fetches the originals. Nothing waits for a batch to fill: an idle store writes at once.
//! A batch the server has not answered within the deadline fails as `Unavailable` (see
//! `adapters::deadline`): the writer drops its connection and the next batch starts afresh,
//! instead of every later send waiting behind a connection that will never answer.

use std::time::Duration;

use bson::{Document, RawDocumentBuf, doc};
use common::contracts::chat::Message;
use mongodb::error::{ErrorKind, InsertManyError};
use mongodb::options::WriteConcern;
use mongodb::{Collection, Database};
use tokio::sync::{mpsc, oneshot};

use super::MESSAGES;
use super::documents::{err, message_doc, messages_from};
use crate::adapters::deadline::within;
use crate::ports::{Inserted, NewMessage, StoreError, StoreResult};

/// Most inserts in one `insert_many`.
const MAX_BATCH: usize = 256;
/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

pub(super) struct Pending {
    pub message: NewMessage,
    pub reply: oneshot::Sender<StoreResult<Inserted>>,
}

/// Starts the writer; it stops when the returned sender (the store) is dropped. A batch gets
/// `deadline` to be written.
pub(super) fn spawn(
    db: Database,
    durable: WriteConcern,
    deadline: Duration,
) -> mpsc::Sender<Pending> {
    let (tx, mut rx) = mpsc::channel::<Pending>(4 * MAX_BATCH);
    let writer = Writer {
        messages: db.collection(MESSAGES),
        inserts: db.collection(MESSAGES),
        durable,
    };
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let (messages, replies): (Vec<_>, Vec<_>) = batch
                .drain(..)
                .map(|p| (p.message.into_message(), p.reply))
                .unzip();
            let count = messages.len();
            let results = match within(deadline, "MongoDB", async {
                Ok(writer.write(messages).await)
            })
            .await
            {
                Ok(results) => results,
                Err(e) => (0..count).map(|_| Err(e.clone())).collect(),
            };
            let down = results.iter().find_map(|r| match r {
                Err(e @ StoreError::Unavailable(_)) => Some(e.clone()),
                _ => None,
            });
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
            // The server is unreachable: the sends that queued while this batch waited for it
            // would each wait as long again, batch after batch. They get the same answer now (the
            // client resends later); the next send tries the server again.
            if let Some(e) = down {
                while let Ok(p) = rx.try_recv() {
                    let _ = p.reply.send(Err(e.clone()));
                }
            }
        }
    });
    tx
}

struct Writer {
    messages: Collection<Document>,
    /// The same collection, written as raw BSON (`message_doc`).
    inserts: Collection<RawDocumentBuf>,
    durable: WriteConcern,
}

/// What happened to one message of the batch.
enum Outcome {
    Written,
    /// Its `(senderId, clientMsgId)` was taken, by an earlier send or one in this batch.
    Taken,
    /// The original of a taken `(senderId, clientMsgId)`.
    Existing(Box<Message>),
    Failed(StoreError),
}

impl Writer {
    /// Writes a batch; one answer per message, in order.
    async fn write(&self, messages: Vec<Message>) -> Vec<StoreResult<Inserted>> {
        let mut outcomes = self.insert(&messages).await;
        self.find_originals(&messages, &mut outcomes).await;
        messages
            .into_iter()
            .zip(outcomes)
            .map(|(m, o)| match o {
                Outcome::Written => Ok(Inserted::New(m)),
                Outcome::Existing(original) => Ok(Inserted::Existing(*original)),
                Outcome::Taken => Err(StoreError::Duplicate),
                Outcome::Failed(e) => Err(e),
            })
            .collect()
    }

    /// One unordered `insert_many`: a document that fails fails alone.
    async fn insert(&self, messages: &[Message]) -> Vec<Outcome> {
        let mut docs = Vec::with_capacity(messages.len());
        // Position in `messages` of each entry of `docs`.
        let mut slot = Vec::with_capacity(messages.len());
        let mut outcomes: Vec<Outcome> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| match message_doc(m) {
                Ok(d) => {
                    docs.push(d);
                    slot.push(i);
                    Outcome::Written
                }
                Err(e) => Outcome::Failed(e),
            })
            .collect();
        if docs.is_empty() {
            return outcomes;
        }
        let Err(e) = self
            .inserts
            .insert_many(&docs)
            .ordered(false)
            .write_concern(self.durable.clone())
            .await
        else {
            return outcomes;
        };
        match *e.kind {
            ErrorKind::InsertMany(InsertManyError {
                write_errors: Some(errors),
                write_concern_error: None,
                ..
            }) => {
                for w in errors {
                    if let Some(&i) = slot.get(w.index) {
                        outcomes[i] = if w.code == DUPLICATE_KEY {
                            Outcome::Taken
                        } else {
                            Outcome::Failed(StoreError::Other(w.message))
                        };
                    }
                }
            }
            // Unreachable, or written but not known to be durable: the whole batch fails (a
            // resend is safe; it finds the original if there is one).
            _ => {
                let e = err(e);
                for i in slot {
                    outcomes[i] = Outcome::Failed(e.clone());
                }
            }
        }
        outcomes
    }

    /// Fetches the originals of every taken `(senderId, clientMsgId)` with one `find`.
    async fn find_originals(&self, messages: &[Message], outcomes: &mut [Outcome]) {
        let taken: Vec<usize> = (0..messages.len())
            .filter(|&i| matches!(outcomes[i], Outcome::Taken))
            .collect();
        if taken.is_empty() {
            return;
        }
        let keys: Vec<Document> = taken
            .iter()
            .map(|&i| {
                let m = &messages[i];
                doc! {"senderId": &m.sender_id, "clientMsgId": &m.client_msg_id}
            })
            .collect();
        let found = match self.find_messages(doc! {"$or": keys}).await {
            Ok(found) => found,
            Err(e) => {
                for i in taken {
                    outcomes[i] = Outcome::Failed(e.clone());
                }
                return;
            }
        };
        for i in taken {
            let m = &messages[i];
            let original = found
                .iter()
                .find(|o| o.sender_id == m.sender_id && o.client_msg_id == m.client_msg_id);
            // None: the duplicate key was another one (`_id`); the answer stays `Duplicate`.
            if let Some(o) = original {
                outcomes[i] = Outcome::Existing(Box::new(o.clone()));
            }
        }
    }

    async fn find_messages(&self, filter: Document) -> StoreResult<Vec<Message>> {
        let cursor = self.messages.find(filter).await.map_err(err)?;
        messages_from(cursor).await
    }
}
