//! A deadline on every store operation, for stores reached over a network.
//!
//! The MongoDB driver has no socket timeout (it rejects `socketTimeoutMS`): a server that stops
//! answering without closing its connections — paused, overloaded, or behind a half-open
//! connection after a network partition — would hold a request until TCP gives up, which takes
//! hours. Past the deadline the caller gets `Unavailable`, the same answer as for a server that
//! is down. An insert that timed out may still be written; the client's resend with the same
//! `clientMsgId` is idempotent either way, so nothing is lost or stored twice.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::contracts::chat::Message;

use crate::ports::{
    Attachment, ChatMute, ChatPicture, ChatRecord, ChatStore, Details, Inserted, Marked,
    MessageChange, NewMessage, StoreError, StoreResult,
};

/// `inner`, with every operation bounded by `limit`.
pub struct Deadline<S> {
    inner: S,
    limit: Duration,
}

impl<S: ChatStore> Deadline<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        Self { inner, limit }
    }

    async fn bound<T>(&self, op: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        within(self.limit, self.inner.backend(), op).await
    }
}

/// `op`'s result, or `Unavailable` when `backend` has not answered within `limit`.
pub(crate) async fn within<T>(
    limit: Duration,
    backend: &str,
    op: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    tokio::time::timeout(limit, op)
        .await
        .unwrap_or_else(|_| Err(overdue(backend, limit)))
}

pub(crate) fn overdue(backend: &str, limit: Duration) -> StoreError {
    StoreError::Unavailable(format!("{backend} did not answer within {limit:?}"))
}

#[async_trait]
impl<S: ChatStore> ChatStore for Deadline<S> {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.bound(self.inner.ping()).await
    }

    async fn insert_chat(&self, chat: &ChatRecord) -> StoreResult<()> {
        self.bound(self.inner.insert_chat(chat)).await
    }

    async fn get_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        self.bound(self.inner.get_chat(id)).await
    }

    async fn chats_of(&self, user: &str) -> StoreResult<Vec<ChatRecord>> {
        self.bound(self.inner.chats_of(user)).await
    }

    async fn chats_of_any(&self, users: &[String]) -> StoreResult<Vec<ChatRecord>> {
        self.bound(self.inner.chats_of_any(users)).await
    }

    async fn chat_ids_of_any(&self, users: &[String]) -> StoreResult<Vec<String>> {
        self.bound(self.inner.chat_ids_of_any(users)).await
    }

    async fn set_details(
        &self,
        id: &str,
        details: &Details<'_>,
    ) -> StoreResult<Option<ChatRecord>> {
        self.bound(self.inner.set_details(id, details)).await
    }

    async fn set_pinned(
        &self,
        id: &str,
        message: &str,
        pinned: bool,
    ) -> StoreResult<Option<ChatRecord>> {
        self.bound(self.inner.set_pinned(id, message, pinned)).await
    }

    async fn set_chat_picture(
        &self,
        id: &str,
        picture: Option<&ChatPicture>,
    ) -> StoreResult<Option<ChatRecord>> {
        self.bound(self.inner.set_chat_picture(id, picture)).await
    }

    async fn chat_picture(&self, id: &str) -> StoreResult<Option<ChatPicture>> {
        self.bound(self.inner.chat_picture(id)).await
    }

    async fn delete_chat(&self, id: &str) -> StoreResult<bool> {
        self.bound(self.inner.delete_chat(id)).await
    }

    async fn add_participants(
        &self,
        id: &str,
        users: &[String],
    ) -> StoreResult<Option<ChatRecord>> {
        self.bound(self.inner.add_participants(id, users)).await
    }

    async fn remove_participant(&self, id: &str, user: &str) -> StoreResult<Option<ChatRecord>> {
        self.bound(self.inner.remove_participant(id, user)).await
    }

    async fn promote_if_adminless(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        self.bound(self.inner.promote_if_adminless(id)).await
    }

    async fn set_admin(
        &self,
        id: &str,
        user: &str,
        admin: bool,
    ) -> StoreResult<Option<ChatRecord>> {
        self.bound(self.inner.set_admin(id, user, admin)).await
    }

    async fn close_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        self.bound(self.inner.close_chat(id)).await
    }

    async fn record_deleted_user(&self, user: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.bound(self.inner.record_deleted_user(user, at)).await
    }

    async fn deleted_users_among(&self, users: &[String]) -> StoreResult<Vec<String>> {
        self.bound(self.inner.deleted_users_among(users)).await
    }

    async fn mute_chat(
        &self,
        chat: &str,
        user: &str,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        self.bound(self.inner.mute_chat(chat, user, until)).await
    }
    async fn unmute_chat(&self, chat: &str, user: &str) -> StoreResult<bool> {
        self.bound(self.inner.unmute_chat(chat, user)).await
    }
    async fn muted_chats(&self, user: &str) -> StoreResult<Vec<ChatMute>> {
        self.bound(self.inner.muted_chats(user)).await
    }
    async fn mute_of(&self, chat: &str, user: &str) -> StoreResult<Option<ChatMute>> {
        self.bound(self.inner.mute_of(chat, user)).await
    }

    async fn delete_lapsed_mutes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.bound(self.inner.delete_lapsed_mutes(before)).await
    }
    async fn insert_message(&self, msg: NewMessage) -> StoreResult<Inserted> {
        self.bound(self.inner.insert_message(msg)).await
    }

    async fn last_messages(&self, chats: &[String]) -> StoreResult<HashMap<String, Message>> {
        self.bound(self.inner.last_messages(chats)).await
    }

    async fn get_message(&self, id: &str) -> StoreResult<Option<Message>> {
        self.bound(self.inner.get_message(id)).await
    }

    async fn messages_before(
        &self,
        chat: &str,
        before: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.bound(self.inner.messages_before(chat, before, limit))
            .await
    }

    async fn messages_after(
        &self,
        chat: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.bound(self.inner.messages_after(chat, after, limit))
            .await
    }

    async fn mark_read(&self, chat: &str, upto: &str, user: &str) -> StoreResult<Marked> {
        self.bound(self.inner.mark_read(chat, upto, user)).await
    }

    async fn senders(
        &self,
        chat: &str,
        messages: &[String],
    ) -> StoreResult<HashMap<String, String>> {
        self.bound(self.inner.senders(chat, messages)).await
    }

    async fn mark_delivered(&self, messages: &[String], user: &str) -> StoreResult<Marked> {
        self.bound(self.inner.mark_delivered(messages, user)).await
    }

    async fn unread_count(&self, chat: &str, user: &str) -> StoreResult<u64> {
        self.bound(self.inner.unread_count(chat, user)).await
    }

    async fn insert_attachment(&self, attachment: &Attachment, bytes: &[u8]) -> StoreResult<()> {
        self.bound(self.inner.insert_attachment(attachment, bytes))
            .await
    }

    async fn read_attachment(
        &self,
        id: &str,
        with_bytes: bool,
    ) -> StoreResult<Option<(Attachment, Option<Vec<u8>>)>> {
        self.bound(self.inner.read_attachment(id, with_bytes)).await
    }

    async fn attachment_sent(
        &self,
        id: &str,
        chat_id: &str,
        uploader_id: &str,
        client_msg_id: &str,
    ) -> StoreResult<bool> {
        self.bound(
            self.inner
                .attachment_sent(id, chat_id, uploader_id, client_msg_id),
        )
        .await
    }

    async fn change_message(
        &self,
        id: &str,
        change: &MessageChange,
    ) -> StoreResult<Option<Message>> {
        self.bound(self.inner.change_message(id, change)).await
    }

    async fn changed_messages(
        &self,
        chats: &[String],
        since: DateTime<Utc>,
        after: Option<(DateTime<Utc>, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.bound(self.inner.changed_messages(chats, since, after, limit))
            .await
    }

    async fn delete_attachment(&self, id: &str) -> StoreResult<bool> {
        self.bound(self.inner.delete_attachment(id)).await
    }

    async fn attachment_bytes_of(&self, uploader_id: &str) -> StoreResult<u64> {
        self.bound(self.inner.attachment_bytes_of(uploader_id))
            .await
    }

    async fn delete_unsent_attachments(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.bound(self.inner.delete_unsent_attachments(before))
            .await
    }
}
