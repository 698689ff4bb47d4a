//! A connection owned by one task (the group-commit writer, the chat loader). Each sqlx SQLite
//! connection runs on its own worker thread, and a pooled connection is pinged whenever it goes
//! back to the pool (and, by default, when it is taken): round trips to that thread, each a
//! wake-up and a context switch, for nothing. A task that queries all the time keeps its own
//! connection and skips them. After a failed batch the task closes it and the next batch opens a
//! fresh one, as the pool would replace a broken one.

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use super::rows::err;
use crate::ports::StoreResult;

pub(super) struct OwnConnection {
    options: SqliteConnectOptions,
    conn: Option<SqliteConnection>,
}

impl OwnConnection {
    /// Opens it now, so a store that cannot be opened fails at start-up.
    pub async fn open(options: SqliteConnectOptions) -> StoreResult<Self> {
        let conn = options.connect().await.map_err(err)?;
        Ok(Self {
            options,
            conn: Some(conn),
        })
    }

    /// The connection, re-opened if the last batch dropped it.
    pub async fn get(&mut self) -> StoreResult<&mut SqliteConnection> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.options.connect().await.map_err(err)?,
        };
        Ok(self.conn.insert(conn))
    }

    /// Closes the connection after a failure; the next [`get`](Self::get) opens a new one.
    pub async fn reset(&mut self) {
        if let Some(conn) = self.conn.take() {
            // It may be the broken part; failing to close it cleanly changes nothing.
            let _ = conn.close().await;
        }
    }
}
