//! A cache of chats (who is in them) in front of a `ChatStore`, shared by every instance's
//! invalidations.
//!
//! Every socket event reads its chat to check membership and find the recipients, so without a
//! cache each send costs a store read of the chat document (its whole participant list) besides
//! the message write. Chats change rarely (rename, members added or removed, delete), and every
//! change goes through this decorator on some instance, which then:
//!
//! 1. drops its own entry right after the store write (a read that started before the write and
//!    ends after it is not cached: the generation it started with is gone), and
//! 2. publishes the chat id on the Kv channel [`CHAT_CHANGED_CHANNEL`]; every instance drops
//!    its entry when the id arrives (Redis pub/sub; in-process in embedded mode).
//!
//! So another instance serves a stale chat only for the time a publish takes to arrive. Pub/sub
//! is fire-and-forget, so two more bounds hold when it is not: the cache is used only while the
//! subscription is up (cleared on every (re)subscription), and an entry is read again after
//! [`TTL`] whatever happens. Missing chats are never cached.
//!
//! `get_chat` reads through the cache, and so do `chats_of` and `chats_of_any`: they ask the
//! store for the ids alone and take the chats from memory, reading those it lacks. The ids are
//! always the store's: a cached chat that lists none of the users asked about is older than
//! them (one of the users joined it since) and is read again, and a chat they have left is not
//! among them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::contracts::chat::Message;
use common::kv::{self, Followed, SharedKv};
use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::ports::{
    Attachment, ChatMute, ChatPicture, ChatRecord, ChatStore, Details, Inserted, Marked,
    MessageChange, NewMessage, StoreResult,
};

/// The Kv channel chat ids are published on when a chat changes (bare id strings).
pub const CHAT_CHANGED_CHANNEL: &str = "realtime:chat_changed";
/// The longest an entry is served without reading the store again.
pub const TTL: Duration = Duration::from_secs(10);
/// The memory bound: most participants summed over cached chats (plus one per chat), about
/// 100 bytes each. Past it, expired entries go, then the longest-held ones until half of it is
/// left (until the twenty-second session: everything, so a working set larger than the bound
/// emptied the cache each time it filled, and every chat was read from the store again).
const MAX_WEIGHT: usize = 1_000_000;
/// Wait before subscribing again after the subscription failed or ended.
const RESUBSCRIBE: Duration = Duration::from_secs(1);

/// `inner`, with `get_chat` answered from memory while it can be trusted.
pub struct ChatCache {
    inner: Arc<dyn ChatStore>,
    kv: SharedKv,
    entries: Arc<Entries>,
}

#[derive(Default)]
struct Entries {
    chats: Mutex<Cached>,
    /// Bumped by every invalidation: a read that saw another generation when it started is not
    /// cached.
    generation: AtomicU64,
    /// The invalidation subscription is up; until it is, nothing is cached or served.
    live: AtomicBool,
}

/// The cached chats and their summed weight.
#[derive(Default)]
struct Cached {
    chats: HashMap<String, (ChatRecord, Instant)>,
    weight: usize,
}

fn weight(chat: &ChatRecord) -> usize {
    chat.participants.len() + 1
}

impl Cached {
    fn remove(&mut self, id: &str) {
        if let Some((chat, _)) = self.chats.remove(id) {
            self.weight -= weight(&chat);
        }
    }

    fn clear(&mut self) {
        self.chats.clear();
        self.weight = 0;
    }

    fn insert(&mut self, chat: &ChatRecord) {
        self.remove(&chat.id);
        let w = weight(chat);
        if self.weight + w > MAX_WEIGHT {
            self.make_room(w);
        }
        self.weight += w;
        self.chats
            .insert(chat.id.clone(), (chat.clone(), Instant::now()));
    }

    /// Room for `w` more: expired entries go; if that is not enough, the longest-held entries
    /// go until at most half the bound is used, so the chats read last stay. A sort per
    /// eviction, and an eviction per half of the bound filled.
    fn make_room(&mut self, w: usize) {
        self.chats.retain(|_, (_, at)| at.elapsed() < TTL);
        self.weight = self.chats.values().map(|(c, _)| weight(c)).sum();
        if self.weight + w <= MAX_WEIGHT {
            return;
        }
        let mut by_age: Vec<(Instant, String)> = self
            .chats
            .iter()
            .map(|(id, (_, at))| (*at, id.clone()))
            .collect();
        by_age.sort_unstable();
        for (_, id) in by_age {
            if self.weight + w <= MAX_WEIGHT / 2 {
                break;
            }
            self.remove(&id);
        }
    }
}

impl Entries {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        // A panic while holding the lock cannot leave the map inconsistent (single operations).
        self.chats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self, id: &str) -> Option<ChatRecord> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let cached = self.lock();
        let (chat, at) = cached.chats.get(id)?;
        (at.elapsed() < TTL).then(|| chat.clone())
    }

    fn keep(&self, chat: &ChatRecord, generation: u64) {
        let mut cached = self.lock();
        // Checked under the lock, which every invalidation also takes.
        if self.live.load(Ordering::Acquire)
            && self.generation.load(Ordering::Acquire) == generation
        {
            cached.insert(chat);
        }
    }

    fn forget(&self, id: &str) {
        let mut cached = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        cached.remove(id);
    }

    fn forget_all(&self, live: bool) {
        let mut cached = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.live.store(live, Ordering::Release);
        cached.clear();
    }
}

impl ChatCache {
    /// Wraps `inner` and starts listening for other instances' changes; the task ends once the
    /// cache is dropped and the next change arrives (or with the runtime).
    pub fn new(inner: Arc<dyn ChatStore>, kv: SharedKv) -> (Self, JoinHandle<()>) {
        let entries = Arc::new(Entries::default());
        let listener = tokio::spawn(listen(kv.clone(), Arc::downgrade(&entries)));
        (Self { inner, kv, entries }, listener)
    }

    /// Reads chat `id` from the store and keeps it, unless it was invalidated meanwhile.
    async fn read(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        let generation = self.entries.generation.load(Ordering::Acquire);
        let chat = self.inner.get_chat(id).await?;
        if let Some(c) = &chat {
            self.entries.keep(c, generation);
        }
        Ok(chat)
    }

    /// After a change to chat `id` was written: drop it here, and tell the other instances.
    async fn changed(&self, id: &str) {
        self.entries.forget(id);
        if let Err(e) = self.kv.publish(CHAT_CHANGED_CHANNEL, id).await {
            tracing::warn!(
                error = %e,
                "could not tell other instances a chat changed; they see it within {TTL:?}"
            );
        }
    }
}

/// Drops the entries other instances (and this one) announce as changed. The cache is off while
/// the subscription is down, and starts empty each time it is up (what changed meanwhile is
/// unknown).
async fn listen(kv: SharedKv, entries: Weak<Entries>) {
    let mut changes = kv::follow(kv, CHAT_CHANGED_CHANNEL, RESUBSCRIBE);
    while let Some(event) = changes.next().await {
        let Some(e) = entries.upgrade() else { return };
        match event {
            Followed::Up => e.forget_all(true),
            Followed::Message(id) => e.forget(id.trim()),
            Followed::Down => e.forget_all(false),
        }
    }
}

#[async_trait]
impl ChatStore for ChatCache {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    async fn insert_chat(&self, chat: &ChatRecord) -> StoreResult<()> {
        // Nothing to drop: a missing chat is never cached.
        self.inner.insert_chat(chat).await
    }

    async fn get_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        match self.entries.fresh(id) {
            Some(chat) => Ok(Some(chat)),
            None => self.read(id).await,
        }
    }

    async fn chats_of(&self, user: &str) -> StoreResult<Vec<ChatRecord>> {
        self.chats_of_any(std::slice::from_ref(&user.to_owned()))
            .await
    }

    /// The ids from the store, the chats from memory where it has them: a group's members
    /// connecting one after another read its participant list once, not once each.
    async fn chats_of_any(&self, users: &[String]) -> StoreResult<Vec<ChatRecord>> {
        if !self.entries.live.load(Ordering::Acquire) {
            return self.inner.chats_of_any(users).await;
        }
        let ids = self.inner.chat_ids_of_any(users).await?;
        let users: HashSet<&str> = users.iter().map(String::as_str).collect();
        let theirs =
            |chat: &ChatRecord| chat.participants.iter().any(|p| users.contains(p.as_str()));
        let mut chats = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.entries.fresh(&id) {
                // A cached chat that lists none of `users` is older than the ids just read (one
                // of them joined since, and its invalidation is on its way): read again.
                Some(chat) if theirs(&chat) => chats.push(chat),
                _ => missing.push(id),
            }
        }
        // Together: both stores answer concurrent chat reads with one query (`coalesce`).
        let read = futures::future::join_all(missing.iter().map(|id| self.read(id))).await;
        for chat in read {
            // Gone or left between the two reads: not theirs any more.
            if let Some(chat) = chat?.filter(|c| theirs(c)) {
                chats.push(chat);
            }
        }
        Ok(chats)
    }

    async fn chat_ids_of_any(&self, users: &[String]) -> StoreResult<Vec<String>> {
        self.inner.chat_ids_of_any(users).await
    }

    async fn set_details(
        &self,
        id: &str,
        details: &Details<'_>,
    ) -> StoreResult<Option<ChatRecord>> {
        let chat = self.inner.set_details(id, details).await;
        self.changed(id).await;
        chat
    }

    async fn set_pinned(
        &self,
        id: &str,
        message: &str,
        pinned: bool,
    ) -> StoreResult<Option<ChatRecord>> {
        let chat = self.inner.set_pinned(id, message, pinned).await;
        self.changed(id).await;
        chat
    }

    async fn set_chat_picture(
        &self,
        id: &str,
        picture: Option<&ChatPicture>,
    ) -> StoreResult<Option<ChatRecord>> {
        let chat = self.inner.set_chat_picture(id, picture).await;
        self.changed(id).await;
        chat
    }

    async fn chat_picture(&self, id: &str) -> StoreResult<Option<ChatPicture>> {
        self.inner.chat_picture(id).await
    }

    async fn delete_chat(&self, id: &str) -> StoreResult<bool> {
        let deleted = self.inner.delete_chat(id).await;
        self.changed(id).await;
        deleted
    }

    async fn add_participants(
        &self,
        id: &str,
        users: &[String],
    ) -> StoreResult<Option<ChatRecord>> {
        let chat = self.inner.add_participants(id, users).await;
        self.changed(id).await;
        chat
    }

    async fn remove_participant(&self, id: &str, user: &str) -> StoreResult<Option<ChatRecord>> {
        let chat = self.inner.remove_participant(id, user).await;
        self.changed(id).await;
        chat
    }

    async fn promote_if_adminless(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        let chat = self.inner.promote_if_adminless(id).await;
        if matches!(chat, Ok(Some(_))) {
            self.changed(id).await;
        }
        chat
    }

    async fn set_admin(
        &self,
        id: &str,
        user: &str,
        admin: bool,
    ) -> StoreResult<Option<ChatRecord>> {
        let chat = self.inner.set_admin(id, user, admin).await;
        // An error may still have written (an answer that timed out).
        if !matches!(chat, Ok(None)) {
            self.changed(id).await;
        }
        chat
    }

    async fn close_chat(&self, id: &str) -> StoreResult<Option<ChatRecord>> {
        let chat = self.inner.close_chat(id).await;
        // An error may still have written (an answer that timed out).
        if !matches!(chat, Ok(None)) {
            self.changed(id).await;
        }
        chat
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

    async fn insert_attachment(&self, attachment: &Attachment, bytes: &[u8]) -> StoreResult<()> {
        self.inner.insert_attachment(attachment, bytes).await
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

    async fn delete_unsent_attachments(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.inner.delete_unsent_attachments(before).await
    }
}

#[cfg(test)]
#[path = "chat_cache_tests.rs"]
mod tests;
