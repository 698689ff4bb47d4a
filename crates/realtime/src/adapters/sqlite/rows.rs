//! The SQLite schema and its migration, row mapping and error mapping of the embedded store.

use chrono::{DateTime, TimeZone, Utc};
use common::contracts::chat::{ChatType, Message, MessageType};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{Connection, Row};

use crate::ports::{ChatRecord, StoreError, StoreResult};

pub(super) const SCHEMA: [&str; 13] = [
    "CREATE TABLE IF NOT EXISTS chats (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, participants TEXT NOT NULL, name TEXT,
        admins TEXT NOT NULL, passcode_hash TEXT, last_message TEXT, last_message_id TEXT,
        last_message_at INTEGER, created_at INTEGER NOT NULL, revision INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS messages (
        id TEXT PRIMARY KEY, chat_id TEXT NOT NULL, sender_id TEXT NOT NULL,
        client_msg_id TEXT NOT NULL, content TEXT NOT NULL, iv TEXT, encrypted INTEGER NOT NULL,
        kind TEXT NOT NULL, metadata TEXT, timestamp INTEGER NOT NULL,
        read_by TEXT NOT NULL DEFAULT '[]', delivered_to TEXT NOT NULL DEFAULT '[]',
        edited_at INTEGER, deleted_at INTEGER, deleted_by TEXT, updated_at INTEGER,
        reactions TEXT, revision INTEGER NOT NULL DEFAULT 0, reply_to TEXT)",
    "CREATE INDEX IF NOT EXISTS messages_chat ON messages (chat_id, id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_idem ON messages (sender_id, client_msg_id)",
    "CREATE TABLE IF NOT EXISTS attachments (
        id TEXT PRIMARY KEY, chat_id TEXT NOT NULL, uploader_id TEXT NOT NULL,
        size INTEGER NOT NULL, created_at INTEGER NOT NULL, sent INTEGER NOT NULL,
        data BLOB NOT NULL, sent_by TEXT)",
    "CREATE INDEX IF NOT EXISTS attachments_chat ON attachments (chat_id)",
    "CREATE INDEX IF NOT EXISTS attachments_unsent ON attachments (sent, created_at)",
    "CREATE INDEX IF NOT EXISTS attachments_uploader ON attachments (uploader_id)",
    "CREATE TABLE IF NOT EXISTS deleted_users (id TEXT PRIMARY KEY, deleted_at INTEGER NOT NULL)",
    // A group's picture, one per chat; the chat's `picture` column names its version.
    "CREATE TABLE IF NOT EXISTS chat_pictures (
        chat_id TEXT PRIMARY KEY, content_type TEXT NOT NULL, version TEXT NOT NULL,
        data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chat_mutes (
        user_id TEXT NOT NULL, chat_id TEXT NOT NULL, PRIMARY KEY (user_id, chat_id))",
    "CREATE INDEX IF NOT EXISTS chat_mutes_chat ON chat_mutes (chat_id)",
    // No query could use this index (chat lists sort by `COALESCE(last_message_at, created_at)`),
    // yet every message moved an entry in it: one more page written per send. Dropped where an
    // older version created it.
    "DROP INDEX IF EXISTS chats_activity",
];

/// Columns added since the first schema, as `(table, column, definition)`: a database created
/// before gains them, every row at the default.
pub(super) const ADDED_COLUMNS: [(&str, &str, &str); 14] = [
    ("chats", "revision", "INTEGER NOT NULL DEFAULT 0"),
    ("messages", "edited_at", "INTEGER"),
    ("messages", "deleted_at", "INTEGER"),
    ("messages", "deleted_by", "TEXT"),
    ("messages", "updated_at", "INTEGER"),
    ("messages", "reactions", "TEXT"),
    ("messages", "revision", "INTEGER NOT NULL DEFAULT 0"),
    ("attachments", "sent_by", "TEXT"),
    ("messages", "reply_to", "TEXT"),
    ("chats", "closed", "INTEGER NOT NULL DEFAULT 0"),
    ("chats", "topic", "TEXT"),
    // When a mute ends by itself (milliseconds since the epoch); NULL: when the user unmutes.
    ("chat_mutes", "until", "INTEGER"),
    ("chats", "picture", "TEXT"),
    // The pinned messages' ids, a JSON array, newest pin first; NULL: none.
    ("chats", "pins", "TEXT"),
];

/// Whether the table `?1` has the column `?2`.
pub(super) const HAS_COLUMN: &str =
    "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)";

/// Indexes on added columns, created once they exist. Changed messages only: a send, whose
/// `updated_at` is NULL, writes no entry in it.
pub(super) const INDEXES_OF_ADDED: [&str; 1] = [
    "CREATE INDEX IF NOT EXISTS messages_changes ON messages (chat_id, updated_at)
     WHERE updated_at IS NOT NULL",
];

/// Creates the schema, or brings an older version's up to date, on a connection of its own that
/// is closed before any other opens: sqlx keeps the columns of a statement as first prepared, and
/// a connection that had read the table before a column was added answered `SELECT *` with rows
/// longer than those columns (a panic in sqlx's worker).
pub(super) async fn migrate(opts: &SqliteConnectOptions) -> anyhow::Result<()> {
    let mut conn = SqliteConnection::connect_with(opts).await?;
    for stmt in SCHEMA {
        sqlx::query(stmt).execute(&mut conn).await?;
    }
    // A database created by an older version gains the columns added since.
    for (table, column, definition) in ADDED_COLUMNS {
        let present: bool = sqlx::query_scalar(HAS_COLUMN)
            .bind(table)
            .bind(column)
            .fetch_one(&mut conn)
            .await?;
        if !present {
            // Built from the constants above only, never from input.
            let add = format!("ALTER TABLE {table} ADD COLUMN {column} {definition}");
            sqlx::query(sqlx::AssertSqlSafe(add))
                .execute(&mut conn)
                .await?;
        }
    }
    for stmt in INDEXES_OF_ADDED {
        sqlx::query(stmt).execute(&mut conn).await?;
    }
    conn.close().await?;
    Ok(())
}

pub(super) fn err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

pub(super) fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(e.to_string()))
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Other(format!("corrupt row: {e}")))
}

pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

pub(super) fn kind_str(k: ChatType) -> &'static str {
    match k {
        ChatType::Direct => "direct",
        ChatType::Group => "group",
    }
}

pub(super) fn chat_from_row(r: &SqliteRow) -> StoreResult<ChatRecord> {
    let g = |e: sqlx::Error| StoreError::Other(e.to_string());
    let kind: String = r.try_get("kind").map_err(g)?;
    Ok(ChatRecord {
        id: r.try_get("id").map_err(g)?,
        kind: if kind == "group" {
            ChatType::Group
        } else {
            ChatType::Direct
        },
        participants: parse(&r.try_get::<String, _>("participants").map_err(g)?)?,
        name: r.try_get("name").map_err(g)?,
        topic: r.try_get("topic").map_err(g)?,
        picture: r.try_get("picture").map_err(g)?,
        // Chats written before pins were kept have none (NULL).
        pins: match r.try_get::<Option<String>, _>("pins").map_err(g)? {
            Some(pins) => parse(&pins)?,
            None => Vec::new(),
        },
        admins: parse(&r.try_get::<String, _>("admins").map_err(g)?)?,
        passcode_hash: r.try_get("passcode_hash").map_err(g)?,
        created_at: from_ms(r.try_get("created_at").map_err(g)?),
        revision: u64::try_from(r.try_get::<i64, _>("revision").map_err(g)?).unwrap_or(0),
        closed: r.try_get::<i64, _>("closed").map_err(g)? != 0,
    })
}

pub(super) fn message_from_row(r: &SqliteRow) -> StoreResult<Message> {
    let g = |e: sqlx::Error| StoreError::Other(e.to_string());
    let kind: String = r.try_get("kind").map_err(g)?;
    let metadata: Option<String> = r.try_get("metadata").map_err(g)?;
    Ok(Message {
        id: r.try_get("id").map_err(g)?,
        chat_id: r.try_get("chat_id").map_err(g)?,
        sender_id: r.try_get("sender_id").map_err(g)?,
        client_msg_id: r.try_get("client_msg_id").map_err(g)?,
        content: r.try_get("content").map_err(g)?,
        iv: r.try_get("iv").map_err(g)?,
        encrypted: r.try_get::<i64, _>("encrypted").map_err(g)? != 0,
        kind: parse(&format!("\"{kind}\""))?,
        metadata: metadata.as_deref().map(parse).transpose()?,
        reply_to: r.try_get("reply_to").map_err(g)?,
        timestamp: from_ms(r.try_get("timestamp").map_err(g)?),
        read_by: parse(&r.try_get::<String, _>("read_by").map_err(g)?)?,
        delivered_to: parse(&r.try_get::<String, _>("delivered_to").map_err(g)?)?,
        edited_at: r
            .try_get::<Option<i64>, _>("edited_at")
            .map_err(g)?
            .map(from_ms),
        deleted_at: r
            .try_get::<Option<i64>, _>("deleted_at")
            .map_err(g)?
            .map(from_ms),
        deleted_by: r.try_get("deleted_by").map_err(g)?,
        reactions: r
            .try_get::<Option<String>, _>("reactions")
            .map_err(g)?
            .as_deref()
            .map(parse)
            .transpose()?
            .unwrap_or_default(),
        revision: u64::try_from(r.try_get::<i64, _>("revision").map_err(g)?).unwrap_or(0),
        updated_at: r
            .try_get::<Option<i64>, _>("updated_at")
            .map_err(g)?
            .map(from_ms),
    })
}

pub(super) fn message_kind(k: MessageType) -> &'static str {
    match k {
        MessageType::Text => "text",
        MessageType::Image => "image",
        MessageType::File => "file",
    }
}
