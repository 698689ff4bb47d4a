//! The embedded `ChatStore`: one SQLite file (`DATA_DIR/realtime.db`), WAL with `synchronous=FULL`
//! so an acknowledged message survives a crash. Lists (participants, readBy…) are JSON arrays;
//! ids are lowercase 24-hex strings, so text order is id order. Read-modify-write updates are
//! serialised by a mutex: this process is the file's only writer. The hot path is batched, each
//! on a connection of its own (`connection`): message inserts are group-committed (`group_commit`:
//! one transaction, one fsync, per batch of concurrent sends) and chat reads are coalesced
//! (`chat_reads`: one query per batch of concurrent reads).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::contracts::chat::{ChatType, Message};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::{Mutex, mpsc, oneshot};

mod attachments;
mod chat_reads;
mod connection;
mod edits;
mod group_commit;
mod history;
mod pictures;
mod receipts;
mod rows;
mod users;

use connection::OwnConnection;
use history::Direction;
use rows::{chat_from_row, err, json, kind_str, message_from_row, migrate, ms, parse};

use crate::coalesce::Loader;
use crate::ports::{
    Attachment, ChatMute, ChatPicture, ChatRecord, ChatStore, Details, Inserted, Marked,
    MessageChange, NewMessage, StoreError, StoreResult, apply_pin,
};

pub struct SqliteStore {
    pool: SqlitePool,
    write: Arc<Mutex<()>>,
    /// Message inserts go through the group-commit writer (one transaction per batch).
    inserts: mpsc::Sender<group_commit::Pending>,
    /// Chat reads go through the loader (one query per batch).
    chat_reads: Loader<String, ChatRecord>,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/realtime.db`.
    pub async fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("realtime.db");
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Statement journals (a batch insert or update may need to undo itself alone inside
            // its transaction) stay in memory rather than spilling to a temporary file.
            .pragma("temp_store", "memory")
            .busy_timeout(Duration::from_secs(5));
        migrate(&opts).await?;
        // No ping before each use: it is one more round trip to the connection's thread, and a
        // connection that broke still fails its query (and the ping on release retires it).
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(opts.clone())
            .await?;
        let write = Arc::new(Mutex::new(()));
        let inserts = group_commit::spawn(OwnConnection::open(opts.clone()).await?, write.clone());
        let chat_reads = Loader::spawn(chat_reads::ChatFetch(OwnConnection::open(opts).await?));
        Ok(Self {
            pool,
            write,
            inserts,
            chat_reads,
        })
    }

    /// Changes the chat with `f` and writes it, counting the change, unless `f` says there is
    /// nothing to change (`false`: `None`). Writes are serialised, so `f` sees the chat as stored.
    async fn update_lists(
        &self,
        id: &str,
        f: impl FnOnce(&mut ChatRecord) -> bool,
    ) -> StoreResult<Option<ChatRecord>> {
        let _guard = self.write.lock().await;
        let Some(mut chat) = self.get_chat(id).await? else {
            return Ok(None);
        };
        if !f(&mut chat) {
            return Ok(None);
        }
        let revision: i64 = sqlx::query_scalar(
            "UPDATE chats SET participants = ?1, admins = ?2, name = ?3, closed = ?4, topic = ?6,
               pins = ?7, revision = revision + 1
             WHERE id = ?5 RETURNING revision",
        )
        .bind(json(&chat.participants)?)
        .bind(json(&chat.admins)?)
        .bind(chat.name.clone())
        .bind(chat.closed)
        .bind(id.to_owned())
        .bind(chat.topic.clone())
        .bind(json(&chat.pins)?)
        .fetch_one(&self.pool)
        .await
        .map_err(err)?;
        chat.revision = u64::try_from(revision).unwrap_or(0);
        Ok(Some(chat))
    }
}

/// The chats with any of the users of the JSON array `?1` among their participants (what
/// follows `SELECT …`).
macro_rules! chats_of_any {
    () => {
        "FROM chats WHERE EXISTS (SELECT 1 FROM json_each(chats.participants)
         WHERE value IN (SELECT value FROM json_each(?1)))"
    };
}

#[async_trait]
impl ChatStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(err)
    }

    async fn insert_chat(&self, c: &ChatRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO chats (id, kind, participants, name, admins, passcode_hash, created_at,
             revision, closed, topic, picture)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .bind(c.id.clone())
        .bind(kind_str(c.kind))
        .bind(json(&c.participants)?)
        .bind(c.name.clone())
        .bind(json(&c.admins)?)
        .bind(c.passcode_hash.clone())
        .bind(ms(c.created_at))
        .bind(i64::try_from(c.revision).unwrap_or(i64::MAX))
        .bind(c.closed)
        .bind(c.topic.clone())
        .bind(c.picture.clone())
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(err)
    }

    async fn get_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        self.chat_reads.get(id.to_owned()).await
    }

    async fn chats_of(&self, user: &str) -> StoreResult<Vec<ChatRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM chats WHERE EXISTS (SELECT 1 FROM json_each(chats.participants) WHERE value = ?1)
             ORDER BY COALESCE(last_message_at, created_at) DESC, id DESC",
        )
        .bind(user.to_owned())
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(chat_from_row).collect()
    }

    async fn chats_of_any(&self, users: &[String]) -> StoreResult<Vec<ChatRecord>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let users = json(&users)?;
        let rows = sqlx::query(concat!("SELECT * ", chats_of_any!()))
            .bind(users)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        rows.iter().map(chat_from_row).collect()
    }

    async fn chat_ids_of_any(&self, users: &[String]) -> StoreResult<Vec<String>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query_scalar(concat!("SELECT id ", chats_of_any!()))
            .bind(json(&users)?)
            .fetch_all(&self.pool)
            .await
            .map_err(err)
    }

    async fn set_details(
        &self,
        id: &str,
        details: &Details<'_>,
    ) -> StoreResult<Option<ChatRecord>> {
        self.update_lists(id, |c| {
            if let Some(name) = details.name {
                c.name = Some(name.to_owned());
            }
            if let Some(topic) = details.topic {
                c.topic = topic.map(str::to_owned);
            }
            true
        })
        .await
    }

    async fn set_pinned(
        &self,
        id: &str,
        message: &str,
        pinned: bool,
    ) -> StoreResult<Option<ChatRecord>> {
        self.update_lists(id, |c| apply_pin(&mut c.pins, message, pinned))
            .await
    }

    async fn delete_chat(&self, id: &str) -> StoreResult<bool> {
        let _guard = self.write.lock().await;
        let mut tx = self.pool.begin().await.map_err(err)?;
        sqlx::query("DELETE FROM messages WHERE chat_id = ?1")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query("DELETE FROM attachments WHERE chat_id = ?1")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        for table in ["chat_mutes", "chat_pictures"] {
            // Built from the constants above only, never from input.
            let delete = format!("DELETE FROM {table} WHERE chat_id = ?1");
            sqlx::query(sqlx::AssertSqlSafe(delete))
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        let n = sqlx::query("DELETE FROM chats WHERE id = ?1")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(n.rows_affected() > 0)
    }

    async fn add_participants(
        &self,
        id: &str,
        users: &[String],
    ) -> StoreResult<Option<ChatRecord>> {
        self.update_lists(id, |c| {
            for u in users {
                if !c.participants.contains(u) {
                    c.participants.push(u.clone());
                }
            }
            true
        })
        .await
    }

    async fn remove_participant(&self, id: &str, user: &str) -> StoreResult<Option<ChatRecord>> {
        self.update_lists(id, |c| {
            c.participants.retain(|p| p != user);
            c.admins.retain(|p| p != user);
            true
        })
        .await
    }

    async fn promote_if_adminless(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        self.update_lists(id, |c| {
            let first = c.participants.first().filter(|_| c.admins.is_empty());
            match first {
                Some(first) if c.kind == ChatType::Group => {
                    c.admins = vec![first.clone()];
                    true
                }
                _ => false,
            }
        })
        .await
    }

    async fn set_admin(
        &self,
        id: &str,
        user: &str,
        admin: bool,
    ) -> StoreResult<Option<ChatRecord>> {
        self.update_lists(id, |c| {
            if admin == c.admins.iter().any(|a| a == user) || !c.is_member(user) {
                return false;
            }
            if admin {
                c.admins.push(user.to_owned());
            } else {
                c.admins.retain(|a| a != user);
            }
            true
        })
        .await
    }

    async fn close_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        self.update_lists(id, |c| {
            let open = c.kind == ChatType::Direct && !c.closed;
            c.closed = true;
            open
        })
        .await
    }

    async fn record_deleted_user(&self, user: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.record_deleted(user, at).await
    }

    async fn deleted_users_among(&self, users: &[String]) -> StoreResult<Vec<String>> {
        self.deleted_among(users).await
    }

    async fn set_chat_picture(
        &self,
        id: &str,
        picture: Option<&ChatPicture>,
    ) -> StoreResult<Option<ChatRecord>> {
        self.set_picture(id, picture).await
    }

    async fn chat_picture(&self, id: &str) -> StoreResult<Option<ChatPicture>> {
        self.picture_of(id).await
    }

    async fn mute_chat(
        &self,
        chat: &str,
        user: &str,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        self.mute(chat, user, until).await
    }

    async fn unmute_chat(&self, chat: &str, user: &str) -> StoreResult<bool> {
        self.unmute(chat, user).await
    }

    async fn muted_chats(&self, user: &str) -> StoreResult<Vec<ChatMute>> {
        self.mutes_of(user).await
    }

    async fn mute_of(&self, chat: &str, user: &str) -> StoreResult<Option<ChatMute>> {
        self.mute_by(chat, user).await
    }

    async fn delete_lapsed_mutes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.delete_mutes_ended(before).await
    }

    async fn insert_message(&self, m: NewMessage) -> StoreResult<Inserted> {
        let stopped = || StoreError::Unavailable("message writer stopped".into());
        let (reply, answer) = oneshot::channel();
        self.inserts
            .send(group_commit::Pending { message: m, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn last_messages(&self, chats: &[String]) -> StoreResult<HashMap<String, Message>> {
        // The group commit keeps each chat's newest message in its row, in the transaction that
        // inserts it (one statement per batch, no extra fsync), so this is one indexed read.
        let rows = sqlx::query(
            "SELECT id, last_message FROM chats
             WHERE id IN (SELECT value FROM json_each(?1)) AND last_message IS NOT NULL",
        )
        .bind(json(&chats)?)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id").map_err(err)?;
                let last: String = r.try_get("last_message").map_err(err)?;
                Ok((id, parse(&last)?))
            })
            .collect()
    }

    async fn get_message(&self, id: &str) -> StoreResult<Option<Message>> {
        let row = sqlx::query("SELECT * FROM messages WHERE id = ?1")
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        row.as_ref().map(message_from_row).transpose()
    }

    async fn messages_before(
        &self,
        chat: &str,
        before: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.page(chat, before, limit, Direction::Older).await
    }

    async fn messages_after(
        &self,
        chat: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.page(chat, after, limit, Direction::Newer).await
    }

    async fn mark_read(&self, chat: &str, upto: &str, user: &str) -> StoreResult<Marked> {
        self.mark_read_rows(chat, upto, user).await
    }

    async fn senders(
        &self,
        chat: &str,
        messages: &[String],
    ) -> StoreResult<HashMap<String, String>> {
        self.senders_of(chat, messages).await
    }

    async fn mark_delivered(&self, messages: &[String], user: &str) -> StoreResult<Marked> {
        self.mark_delivered_rows(messages, user).await
    }

    async fn change_message(
        &self,
        id: &str,
        change: &MessageChange,
    ) -> StoreResult<Option<Message>> {
        self.change_message_row(id, change).await
    }

    async fn changed_messages(
        &self,
        chats: &[String],
        since: DateTime<Utc>,
        after: Option<(DateTime<Utc>, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.changed_message_rows(chats, since, after, limit).await
    }

    async fn unread_count(&self, chat: &str, user: &str) -> StoreResult<u64> {
        self.unread_of(chat, user).await
    }

    async fn insert_attachment(&self, attachment: &Attachment, bytes: &[u8]) -> StoreResult<()> {
        self.insert_attachment_row(attachment, bytes).await
    }

    async fn read_attachment(
        &self,
        id: &str,
        with_bytes: bool,
    ) -> StoreResult<Option<(Attachment, Option<Vec<u8>>)>> {
        self.attachment_row(id, with_bytes).await
    }

    async fn attachment_sent(
        &self,
        id: &str,
        chat_id: &str,
        uploader_id: &str,
        client_msg_id: &str,
    ) -> StoreResult<bool> {
        self.mark_attachment_sent(id, chat_id, uploader_id, client_msg_id)
            .await
    }

    async fn attachment_bytes_of(&self, uploader_id: &str) -> StoreResult<u64> {
        self.bytes_uploaded_by(uploader_id).await
    }

    async fn delete_attachment(&self, id: &str) -> StoreResult<bool> {
        self.delete_attachment_row(id).await
    }

    async fn delete_unsent_attachments(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.delete_unsent_before(before).await
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{Connection, SqliteConnection};

    use super::*;

    /// A directory for a database an older version made, and a connection to create it with.
    async fn old_database() -> (std::path::PathBuf, SqliteConnection) {
        let dir = std::env::temp_dir().join(common::testing::unique_name("old-schema"));
        std::fs::create_dir_all(&dir).expect("dir");
        let opts = SqliteConnectOptions::new()
            .filename(dir.join("realtime.db"))
            .create_if_missing(true);
        let old = SqliteConnection::connect_with(&opts).await.expect("create");
        (dir, old)
    }

    #[tokio::test]
    async fn a_database_from_before_revisions_opens_with_its_chats_at_zero() {
        let (dir, mut old) = old_database().await;
        // The `chats` table as the twentieth session left it.
        sqlx::query(
            "CREATE TABLE chats (
             id TEXT PRIMARY KEY, kind TEXT NOT NULL, participants TEXT NOT NULL, name TEXT,
             admins TEXT NOT NULL, passcode_hash TEXT, last_message TEXT, last_message_id TEXT,
             last_message_at INTEGER, created_at INTEGER NOT NULL)",
        )
        .execute(&mut old)
        .await
        .expect("old schema");
        let id = "0123456789abcdef01234567";
        sqlx::query(
            "INSERT INTO chats (id, kind, participants, name, admins, created_at)
             VALUES (?1, 'group', '[\"a\",\"b\"]', 'old', '[\"a\"]', 0)",
        )
        .bind(id)
        .execute(&mut old)
        .await
        .expect("old chat");
        old.close().await.expect("close");

        let store = SqliteStore::open(&dir).await.expect("open an old database");
        let chat = store.get_chat(id).await.expect("get").expect("kept");
        assert_eq!((chat.participants.len(), chat.revision), (2, 0));
        let renamed = store
            .set_details(
                id,
                &Details {
                    name: Some("new"),
                    topic: None,
                },
            )
            .await
            .expect("rename");
        assert_eq!(renamed.map(|c| c.revision), Some(1));
        drop(store);
        let again = SqliteStore::open(&dir).await.expect("open again");
        let chat = again.get_chat(id).await.expect("get").expect("kept");
        assert_eq!((chat.name.as_deref(), chat.revision), (Some("new"), 1));
    }

    #[tokio::test]
    async fn a_database_from_before_edits_opens_and_its_messages_can_be_edited_and_reacted_to() {
        let (dir, mut old) = old_database().await;
        // The `messages` table as the twenty-eighth session left it.
        sqlx::query(
            "CREATE TABLE messages (
             id TEXT PRIMARY KEY, chat_id TEXT NOT NULL, sender_id TEXT NOT NULL,
             client_msg_id TEXT NOT NULL, content TEXT NOT NULL, iv TEXT, encrypted INTEGER NOT NULL,
             kind TEXT NOT NULL, metadata TEXT, timestamp INTEGER NOT NULL,
             read_by TEXT NOT NULL DEFAULT '[]', delivered_to TEXT NOT NULL DEFAULT '[]')",
        )
        .execute(&mut old)
        .await
        .expect("old schema");
        let (id, chat) = ("0123456789abcdef01234567", "89abcdef0123456789abcdef");
        sqlx::query(
            "INSERT INTO messages (id, chat_id, sender_id, client_msg_id, content, encrypted, kind,
               timestamp)
             VALUES (?1, ?2, 'a', 'c1', 'hello', 0, 'text', 0)",
        )
        .bind(id)
        .bind(chat)
        .execute(&mut old)
        .await
        .expect("old message");
        old.close().await.expect("close");

        let store = SqliteStore::open(&dir).await.expect("open an old database");
        let m = store.get_message(id).await.expect("get").expect("kept");
        assert_eq!(
            (m.content.as_str(), m.edited_at, m.deleted_at),
            ("hello", None, None)
        );
        let at = Utc::now();
        let edit = MessageChange::Edit {
            sender: "a".into(),
            content: "edited".into(),
            iv: None,
            encrypted: false,
            at,
        };
        let edited = store.change_message(id, &edit).await.expect("edit");
        assert_eq!(edited.map(|m| m.content), Some("edited".to_owned()));
        let react = MessageChange::React {
            user: "b".into(),
            emoji: "👍".into(),
            add: true,
            at,
        };
        let reacted = store.change_message(id, &react).await.expect("react");
        let reacted = reacted.expect("reacted");
        assert_eq!((reacted.revision, reacted.reactions.len()), (2, 1));
        let since = at - chrono::TimeDelta::seconds(1);
        let changed = store
            .changed_messages(&[chat.to_owned()], since, None, 10)
            .await;
        assert_eq!(changed.expect("changes").len(), 1);
    }
}
