//! Coalesced reads by key, shared by both stores' chat reads and `ChatService::contacts`. Every
//! send, history page and receipt first reads its chat (the membership check). One loader task
//! takes every read queued while the previous batch was being fetched and answers them all from
//! ONE fetch of the distinct keys.
//! Nothing is cached: each read sees the record as it is after the read was asked for (membership
//! may change on another instance), and an idle store reads at once. When the backend is
//! unreachable, the reads queued meanwhile get the same answer at once rather than a timeout each.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;

use tokio::sync::{mpsc, oneshot};

use crate::ports::{StoreError, StoreResult};

/// Most keys in one fetch.
const MAX_BATCH: usize = 256;

/// One batch fetch: the records found for `keys` (distinct), each decoded on its own so a record
/// that cannot be read fails only its readers.
pub(crate) trait Fetch<K, V>: Send + 'static {
    fn fetch(
        &mut self,
        keys: Vec<K>,
    ) -> impl Future<Output = StoreResult<HashMap<K, StoreResult<V>>>> + Send;
}

struct Read<K, V> {
    key: K,
    reply: oneshot::Sender<StoreResult<Option<V>>>,
}

/// The handle the store keeps; the loader stops when it is dropped.
pub(crate) struct Loader<K, V> {
    tx: mpsc::Sender<Read<K, V>>,
}

impl<K, V> Loader<K, V>
where
    K: Ord + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    pub fn spawn(mut fetcher: impl Fetch<K, V>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Read<K, V>>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let mut keys: Vec<K> = batch.iter().map(|r: &Read<K, V>| r.key.clone()).collect();
                keys.sort_unstable();
                keys.dedup();
                match fetcher.fetch(keys).await {
                    Ok(found) => {
                        for r in batch.drain(..) {
                            let _ = r.reply.send(found.get(&r.key).cloned().transpose());
                        }
                    }
                    Err(e) => {
                        for r in batch.drain(..) {
                            let _ = r.reply.send(Err(e.clone()));
                        }
                        if matches!(e, StoreError::Unavailable(_)) {
                            while let Ok(r) = rx.try_recv() {
                                let _ = r.reply.send(Err(e.clone()));
                            }
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// The record of `key`, read in the next batch.
    pub async fn get(&self, key: K) -> StoreResult<Option<V>> {
        let stopped = || StoreError::Unavailable("read loader stopped".into());
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Read { key, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}
