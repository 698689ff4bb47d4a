//! Coalesced chat reads. Every send, history page and receipt first reads its chat (the
//! membership check), one `find_one` each. Here one loader task takes every read queued while the
//! previous one was in flight and answers them all from ONE `find({_id: {$in: [...]}})`. Nothing
//! is cached: each read sees the chat as it is after the read was asked for (membership may change
//! on another instance), and an idle store reads at once.

use std::collections::HashMap;

use bson::oid::ObjectId;
use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::Collection;
use tokio::sync::{mpsc, oneshot};

use super::documents::{chat_from, err};
use crate::ports::{ChatRecord, StoreError, StoreResult};

/// Most chats in one `find`.
const MAX_BATCH: usize = 256;

pub(super) struct Read {
    pub id: ObjectId,
    pub reply: oneshot::Sender<StoreResult<Option<ChatRecord>>>,
}

/// Starts the loader; it stops when the returned sender (the store) is dropped.
pub(super) fn spawn(chats: Collection<Document>) -> mpsc::Sender<Read> {
    let (tx, mut rx) = mpsc::channel::<Read>(4 * MAX_BATCH);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let mut ids: Vec<ObjectId> = batch.iter().map(|r: &Read| r.id).collect();
            ids.sort_unstable();
            ids.dedup();
            match find(&chats, ids).await {
                Ok(found) => {
                    for r in batch.drain(..) {
                        let chat = found.get(&r.id).map(chat_from).transpose();
                        let _ = r.reply.send(chat);
                    }
                }
                Err(e) => {
                    for r in batch.drain(..) {
                        let _ = r.reply.send(Err(e.clone()));
                    }
                    // Unreachable: the reads queued meanwhile get the same answer now rather than
                    // a timeout each, batch after batch (as the writer does).
                    if matches!(e, StoreError::Unavailable(_)) {
                        while let Ok(r) = rx.try_recv() {
                            let _ = r.reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        }
    });
    tx
}

async fn find(
    chats: &Collection<Document>,
    ids: Vec<ObjectId>,
) -> StoreResult<HashMap<ObjectId, Document>> {
    let docs: Vec<Document> = chats
        .find(doc! {"_id": {"$in": ids}})
        .await
        .map_err(err)?
        .try_collect()
        .await
        .map_err(err)?;
    Ok(docs
        .into_iter()
        .filter_map(|d| Some((d.get_object_id("_id").ok()?, d)))
        .collect())
}
