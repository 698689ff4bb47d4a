//! Messages: idempotent durable send, history pages, read/delivery receipts, and `sync` (what a
//! reconnecting client missed). Membership is checked on every call.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use common::contracts::chat::{Message, MessagePage, MessagesQuery};
use common::contracts::events::{
    MAX_SYNC_LIMIT, MessageRef, SendMessage, SyncRequest, SyncResponse,
};
use common::{ApiError, ErrorCode};

use super::{ChatService, new_object_id, normalize_id};
use crate::ports::{ChatRecord, ChatStore, Inserted, NewMessage};

/// Default page size of history and `sync`.
pub const DEFAULT_PAGE: u32 = 50;
pub const DEFAULT_SYNC: u32 = 200;

/// The outcome of `send_message`.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message: Message,
    /// Every participant (all their sockets get `new_message`).
    pub participants: Vec<String>,
    /// False when this was a resend of an already stored `clientMsgId`.
    pub fresh: bool,
}

/// The outcome of a receipt: who to tell.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub chat: ChatRecord,
    pub message: Message,
}

#[derive(Clone)]
pub struct MessageService {
    store: Arc<dyn ChatStore>,
    chats: ChatService,
    pub metrics: MessageMetrics,
}

/// The metrics of message sends and receipts, registered once. `metrics::histogram!(name, label => value)` looks
/// the series up in the recorder's registry on every call (building and hashing its key was
/// 1.4% of the server's CPU in a rooms-of-10 fan-out profile). Handles taken before a recorder
/// is installed record nothing, so `Application::build_with_kv` installs it first.
#[derive(Clone)]
pub struct MessageMetrics {
    pub accepted: metrics::Counter,
    pub delivered: metrics::Counter,
    pub fanout_seconds: metrics::Histogram,
    store_write_seconds: metrics::Histogram,
}

impl MessageService {
    pub fn new(store: Arc<dyn ChatStore>, chats: ChatService) -> Self {
        let metrics = MessageMetrics {
            accepted: metrics::counter!("realtime_messages_accepted_total"),
            delivered: metrics::counter!("realtime_messages_delivered_total"),
            fanout_seconds: metrics::histogram!("realtime_fanout_seconds"),
            store_write_seconds: metrics::histogram!(
                "realtime_store_write_seconds",
                "backend" => store.backend()
            ),
        };
        Self {
            store,
            chats,
            metrics,
        }
    }

    /// Stores a message (validated by the caller) and returns it once durable. A resend with a
    /// known `clientMsgId` returns the original.
    pub async fn send(&self, user: &str, req: SendMessage) -> Result<Sent, ApiError> {
        let chat = self.chats.member_chat(user, &req.chat_id).await?;
        let new = NewMessage {
            id: new_object_id(),
            chat_id: chat.id.clone(),
            sender_id: user.to_owned(),
            client_msg_id: req.client_msg_id,
            content: req.content,
            iv: req.iv.filter(|_| req.encrypted),
            encrypted: req.encrypted,
            kind: req.kind.unwrap_or_default(),
            metadata: req.metadata,
            // Millisecond precision: what every backend stores, so acks equal history.
            timestamp: Utc::now().trunc_subsecs(3),
        };
        let started = std::time::Instant::now();
        let inserted = self.store.insert_message(new).await;
        self.metrics
            .store_write_seconds
            .record(started.elapsed().as_secs_f64());
        let (message, fresh) = match inserted? {
            Inserted::New(m) => (m, true),
            Inserted::Existing(m) if m.chat_id == chat.id => (m, false),
            Inserted::Existing(_) => {
                return Err(ApiError::field(
                    "clientMsgId",
                    "already used for another chat",
                ));
            }
        };
        Ok(Sent {
            message,
            participants: chat.participants,
            fresh,
        })
    }

    /// A newest-first page of a chat's history.
    pub async fn history(
        &self,
        user: &str,
        chat_id: &str,
        q: &MessagesQuery,
    ) -> Result<MessagePage, ApiError> {
        let chat = self.chats.member_chat(user, chat_id).await?;
        let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, 100);
        let before = q.before.as_deref().map(normalize_id);
        let messages = self
            .store
            .messages_before(&chat.id, before.as_deref(), limit)
            .await?;
        let next_cursor = if messages.len() as u32 == limit {
            messages.last().map(|m| m.id.clone())
        } else {
            None
        };
        Ok(MessagePage {
            messages,
            next_cursor,
        })
    }

    async fn message_in_chat(&self, user: &str, r: &MessageRef) -> Result<Receipt, ApiError> {
        let chat = self.chats.member_chat(user, &r.chat_id).await?;
        let message = self
            .store
            .get_message(&normalize_id(&r.message_id))
            .await?
            .filter(|m| m.chat_id == chat.id)
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "message not found in this chat"))?;
        Ok(Receipt { chat, message })
    }

    /// Marks `messageId` and every earlier message of the chat as read by `user`.
    pub async fn read(&self, user: &str, r: &MessageRef) -> Result<Receipt, ApiError> {
        let receipt = self.message_in_chat(user, r).await?;
        self.store
            .mark_read(&receipt.chat.id, &receipt.message.id, user)
            .await?;
        Ok(receipt)
    }

    /// Records that `user`'s client received the message; `None` when nothing changed (own
    /// message, or already recorded), so nobody needs telling.
    pub async fn delivered(&self, user: &str, r: &MessageRef) -> Result<Option<Receipt>, ApiError> {
        let receipt = self.message_in_chat(user, r).await?;
        if receipt.message.sender_id == user {
            return Ok(None);
        }
        let changed = self.store.mark_delivered(&receipt.message.id, user).await?;
        Ok(changed.then_some(receipt))
    }

    /// Missed messages, oldest first per chat, at most `limit` in all. Chats are visited most
    /// recently active first and only when their last message is past the client's cursor.
    pub async fn sync(&self, user: &str, req: &SyncRequest) -> Result<SyncResponse, ApiError> {
        let mut budget = req.limit.unwrap_or(DEFAULT_SYNC).clamp(1, MAX_SYNC_LIMIT);
        let mut messages = Vec::new();
        let mut has_more = false;
        for (chat, last) in self.chats.by_activity(user).await? {
            let Some(last) = last else {
                continue;
            };
            let cursor = req
                .cursors
                .iter()
                .find(|(c, _)| c.eq_ignore_ascii_case(&chat.id))
                .map(|(_, m)| normalize_id(m));
            if cursor.as_deref().is_some_and(|c| c >= last.id.as_str()) {
                continue;
            }
            if budget == 0 {
                has_more = true;
                break;
            }
            // One extra tells whether this chat has more than fits.
            let mut page = self
                .store
                .messages_after(&chat.id, cursor.as_deref(), budget + 1)
                .await?;
            if page.len() as u32 > budget {
                page.truncate(budget as usize);
                has_more = true;
            }
            budget -= page.len() as u32;
            messages.extend(page);
            if has_more {
                break;
            }
        }
        Ok(SyncResponse {
            ok: true,
            messages,
            has_more,
        })
    }
}
