//! The SQLite fetch behind coalesced chat reads (`coalesce`): on its own connection,
//! ONE `SELECT … WHERE id IN (…)` per batch of concurrent reads (the ids as one JSON array: one
//! cached statement whatever the batch size). One query per read meant, per send, a hand-off to
//! a connection's worker thread and back.

use std::collections::HashMap;

use sqlx::Row;

use super::connection::OwnConnection;
use super::rows::{chat_from_row, err, json};
use crate::coalesce::Fetch;
use crate::ports::{ChatRecord, StoreError, StoreResult};

pub(super) struct ChatFetch(pub OwnConnection);

impl Fetch<String, ChatRecord> for ChatFetch {
    async fn fetch(
        &mut self,
        ids: Vec<String>,
    ) -> StoreResult<HashMap<String, StoreResult<ChatRecord>>> {
        let found = find(&mut self.0, &ids).await;
        if found.is_err() {
            self.0.reset().await;
        }
        found
    }
}

async fn find(
    conn: &mut OwnConnection,
    ids: &[String],
) -> StoreResult<HashMap<String, StoreResult<ChatRecord>>> {
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
