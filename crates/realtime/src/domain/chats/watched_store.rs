//! A store for the domain's tests: the real SQLite store, watched and nudged (see [`Watched`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::contracts::chat::Message;

use crate::adapters::SqliteStore;
use crate::ports::{
    Attachment, ChatMute, ChatPicture, ChatRecord, ChatStore, Details, Inserted, Marked,
    MessageChange, NewMessage, StoreResult,
};

/// The real SQLite store, watched: its `chats_of_any` held open for a while and counted, and an
/// account deleted right before the next chat write when a test asks (a deletion that comes
/// between a change's check and its write).
pub(super) struct Watched {
    inner: SqliteStore,
    running: AtomicUsize,
    /// The most `chats_of_any` running at once.
    pub most_contact_reads: AtomicUsize,
    /// How many `chats_of_any` ran.
    pub contact_reads: AtomicUsize,
    /// Recorded as deleted right before the next `insert_chat` or `add_participants`.
    delete_before_write: Mutex<Option<String>>,
}

impl Watched {
    pub fn new(inner: SqliteStore) -> Self {
        Self {
            inner,
            running: AtomicUsize::new(0),
            most_contact_reads: AtomicUsize::new(0),
            contact_reads: AtomicUsize::new(0),
            delete_before_write: Mutex::new(None),
        }
    }

    /// `user` deletes their account right before the next chat write.
    pub fn delete_before_next_write(&self, user: &str) {
        *self.delete_before_write.lock().expect("lock") = Some(user.to_owned());
    }

    async fn deletion_comes_now(&self) -> StoreResult<()> {
        let user = self.delete_before_write.lock().expect("lock").take();
        match user {
            Some(user) => self.inner.record_deleted_user(&user, Utc::now()).await,
            None => Ok(()),
        }
    }
}

#[async_trait]
impl ChatStore for Watched {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn insert_chat(&self, chat: &ChatRecord) -> StoreResult<()> {
        self.deletion_comes_now().await?;
        self.inner.insert_chat(chat).await
    }
    async fn get_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        self.inner.get_chat(id).await
    }
    async fn chats_of(&self, user: &str) -> StoreResult<Vec<ChatRecord>> {
        self.inner.chats_of(user).await
    }
    async fn chats_of_any(&self, users: &[String]) -> StoreResult<Vec<ChatRecord>> {
        self.contact_reads.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_contact_reads.fetch_max(now, Ordering::SeqCst);
        let chats = self.inner.chats_of_any(users).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        chats
    }
    async fn chat_ids_of_any(&self, users: &[String]) -> StoreResult<Vec<String>> {
        self.inner.chat_ids_of_any(users).await
    }
    async fn set_details(
        &self,
        id: &str,
        details: &Details<'_>,
    ) -> StoreResult<Option<ChatRecord>> {
        self.inner.set_details(id, details).await
    }
    async fn set_pinned(
        &self,
        id: &str,
        message: &str,
        pinned: bool,
    ) -> StoreResult<Option<ChatRecord>> {
        self.inner.set_pinned(id, message, pinned).await
    }

    async fn set_chat_picture(
        &self,
        id: &str,
        picture: Option<&ChatPicture>,
    ) -> StoreResult<Option<ChatRecord>> {
        self.inner.set_chat_picture(id, picture).await
    }
    async fn chat_picture(&self, id: &str) -> StoreResult<Option<ChatPicture>> {
        self.inner.chat_picture(id).await
    }
    async fn delete_chat(&self, id: &str) -> StoreResult<bool> {
        self.inner.delete_chat(id).await
    }
    async fn add_participants(
        &self,
        id: &str,
        users: &[String],
    ) -> StoreResult<Option<ChatRecord>> {
        self.deletion_comes_now().await?;
        self.inner.add_participants(id, users).await
    }
    async fn remove_participant(&self, id: &str, user: &str) -> StoreResult<Option<ChatRecord>> {
        self.inner.remove_participant(id, user).await
    }
    async fn promote_if_adminless(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        self.inner.promote_if_adminless(id).await
    }
    async fn set_admin(
        &self,
        id: &str,
        user: &str,
        admin: bool,
    ) -> StoreResult<Option<ChatRecord>> {
        self.inner.set_admin(id, user, admin).await
    }
    async fn close_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        self.inner.close_chat(id).await
    }
    async fn record_deleted_user(&self, user: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.inner.record_deleted_user(user, at).await
    }
    async fn deleted_users_among(&self, users: &[String]) -> StoreResult<Vec<String>> {
        self.inner.deleted_users_among(users).await
    }
    async fn mute_chat(
        &self,
        chat: &str,
        user: &str,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        self.inner.mute_chat(chat, user, until).await
    }
    async fn unmute_chat(&self, chat: &str, user: &str) -> StoreResult<bool> {
        self.inner.unmute_chat(chat, user).await
    }
    async fn muted_chats(&self, user: &str) -> StoreResult<Vec<ChatMute>> {
        self.inner.muted_chats(user).await
    }
    async fn mute_of(&self, chat: &str, user: &str) -> StoreResult<Option<ChatMute>> {
        self.inner.mute_of(chat, user).await
    }
    async fn delete_lapsed_mutes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.inner.delete_lapsed_mutes(before).await
    }
    async fn insert_message(&self, msg: NewMessage) -> StoreResult<Inserted> {
        self.inner.insert_message(msg).await
    }
    async fn last_messages(&self, chats: &[String]) -> StoreResult<HashMap<String, Message>> {
        self.inner.last_messages(chats).await
    }
    async fn get_message(&self, id: &str) -> StoreResult<Option<Message>> {
        self.inner.get_message(id).await
    }
    async fn messages_before(
        &self,
        chat: &str,
        before: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.inner.messages_before(chat, before, limit).await
    }
    async fn messages_after(
        &self,
        chat: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.inner.messages_after(chat, after, limit).await
    }
    async fn mark_read(&self, chat: &str, upto: &str, user: &str) -> StoreResult<Marked> {
        self.inner.mark_read(chat, upto, user).await
    }
    async fn senders(
        &self,
        chat: &str,
        messages: &[String],
    ) -> StoreResult<HashMap<String, String>> {
        self.inner.senders(chat, messages).await
    }
    async fn mark_delivered(&self, messages: &[String], user: &str) -> StoreResult<Marked> {
        self.inner.mark_delivered(messages, user).await
    }
    async fn unread_count(&self, chat: &str, user: &str) -> StoreResult<u64> {
        self.inner.unread_count(chat, user).await
    }
    async fn insert_attachment(&self, a: &Attachment, bytes: &[u8]) -> StoreResult<()> {
        self.inner.insert_attachment(a, bytes).await
    }
    async fn read_attachment(
        &self,
        id: &str,
        with_bytes: bool,
    ) -> StoreResult<Option<(Attachment, Option<Vec<u8>>)>> {
        self.inner.read_attachment(id, with_bytes).await
    }
    async fn attachment_sent(
        &self,
        id: &str,
        chat_id: &str,
        uploader_id: &str,
        client_msg_id: &str,
    ) -> StoreResult<bool> {
        self.inner
            .attachment_sent(id, chat_id, uploader_id, client_msg_id)
            .await
    }
    async fn change_message(
        &self,
        id: &str,
        change: &MessageChange,
    ) -> StoreResult<Option<Message>> {
        self.inner.change_message(id, change).await
    }

    async fn changed_messages(
        &self,
        chats: &[String],
        since: DateTime<Utc>,
        after: Option<(DateTime<Utc>, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.inner
            .changed_messages(chats, since, after, limit)
            .await
    }

    async fn delete_attachment(&self, id: &str) -> StoreResult<bool> {
        self.inner.delete_attachment(id).await
    }

    async fn attachment_bytes_of(&self, uploader_id: &str) -> StoreResult<u64> {
        self.inner.attachment_bytes_of(uploader_id).await
    }
    async fn delete_unsent_attachments(&self, before: chrono::DateTime<Utc>) -> StoreResult<u64> {
        self.inner.delete_unsent_attachments(before).await
    }
}
