//! Messages: idempotent durable send, history pages, read/delivery receipts, and `sync` (what a
//! reconnecting client missed). Membership is checked on every call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use common::contracts::chat::{Message, MessagePage, MessagesQuery};
use common::contracts::events::{
    Delivered, MAX_SYNC_LIMIT, MessageRef, SendMessage, SyncRequest, SyncResponse, SyncResume,
};
use common::{ApiError, ErrorCode};

use super::{ChatService, new_object_id, normalize_id};
use crate::ports::{ChatRecord, ChatStore, Inserted, Marked, NewMessage};

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

/// The outcome of `read_receipt`: who to tell.
#[derive(Debug, Clone)]
pub struct Read {
    pub chat_id: String,
    pub message_id: String,
    /// The senders of the messages it was the first read of (their messages show "read" once
    /// anyone has read them), and the reader (their other devices' unread counts); not the other
    /// members, who have no use for it: in a group of 1,000 every read would be 1,000 events.
    pub tell: Vec<String>,
}

/// The outcome of `delivered`: the messages whose senders to tell, with their senders.
#[derive(Debug, Clone)]
pub struct Deliveries {
    pub chat_id: String,
    /// `(message id, sender id)` of the messages this was the first delivery of: a sender shows
    /// "delivered" once anyone has the message (the others are in its `deliveredTo`), so in a
    /// group of 1,000 the sender hears once per message, not 999 times.
    pub to_tell: Vec<(String, String)>,
    /// How many messages gained the caller in their `deliveredTo`.
    pub changed: u64,
}

#[derive(Clone)]
pub struct MessageService {
    pub(super) store: Arc<dyn ChatStore>,
    pub(super) chats: ChatService,
    /// How far before a client's cursor `sync` (or its `since`, `sync_changes`) answers from.
    pub(super) sync_lookback: Duration,
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
    pub fn new(store: Arc<dyn ChatStore>, chats: ChatService, sync_lookback: Duration) -> Self {
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
            sync_lookback,
            metrics,
        }
    }

    /// Stores a message (validated by the caller) and returns it once durable. A resend with a
    /// known `clientMsgId` returns the original.
    pub async fn send(&self, user: &str, mut req: SendMessage) -> Result<Sent, ApiError> {
        let chat = self.chats.open_chat(user, &req.chat_id).await?;
        if let Some(meta) = &mut req.metadata
            && let Some(id) = &mut meta.attachment_id
        {
            *id = normalize_id(id);
            self.check_attachment(user, &chat, id, &req.client_msg_id)
                .await?;
        }
        if let Some(id) = &mut req.reply_to {
            *id = normalize_id(id);
            self.check_reply(&chat, id).await?;
        }
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
            reply_to: req.reply_to,
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

    /// A message may name an attachment only its sender uploaded, to its chat, and that no other
    /// message names: no one sends another member's upload as theirs, nor carries one into a
    /// chat whose members could not read it, and deleting a message deletes a file no other
    /// message shows. The attachment is marked sent in the same write, before the message is
    /// written: the sweep of unsent uploads never deletes one a stored message names (a message
    /// that then fails to store leaves it marked, and its resend, the same `clientMsgId`, takes
    /// it).
    async fn check_attachment(
        &self,
        user: &str,
        chat: &ChatRecord,
        id: &str,
        client_msg_id: &str,
    ) -> Result<(), ApiError> {
        if self
            .store
            .attachment_sent(id, &chat.id, user, client_msg_id)
            .await?
        {
            Ok(())
        } else {
            Err(ApiError::field(
                "metadata.attachmentId",
                "no attachment you uploaded to this chat and sent in no other message",
            ))
        }
    }

    /// A reply answers a message of its own chat (deleted or not: it may have been deleted while
    /// the reply was written). One read, only for replies.
    async fn check_reply(&self, chat: &ChatRecord, id: &str) -> Result<(), ApiError> {
        match self.store.get_message(id).await? {
            Some(m) if m.chat_id == chat.id => Ok(()),
            _ => Err(ApiError::field("replyTo", "no message of this chat")),
        }
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

    /// One message of a chat as stored, with who received and read it (`deliveredTo`, `readBy`):
    /// a message's details, for its members.
    pub async fn one(&self, user: &str, r: &MessageRef) -> Result<Message, ApiError> {
        Ok(self.message_in_chat(user, r).await?.1)
    }

    pub(super) async fn message_in_chat(
        &self,
        user: &str,
        r: &MessageRef,
    ) -> Result<(ChatRecord, Message), ApiError> {
        let chat = self.chats.member_chat(user, &r.chat_id).await?;
        let message = self
            .store
            .get_message(&normalize_id(&r.message_id))
            .await?
            .filter(|m| m.chat_id == chat.id)
            .ok_or_else(message_not_found)?;
        Ok((chat, message))
    }

    /// Marks `messageId` and every earlier message of the chat as read by `user`.
    pub async fn read(&self, user: &str, r: &MessageRef) -> Result<Read, ApiError> {
        let (chat, message) = self.message_in_chat(user, r).await?;
        let marked = self.store.mark_read(&chat.id, &message.id, user).await?;
        let mut tell: Vec<String> = marked.firsts.into_iter().map(|(_, s)| s).collect();
        tell.sort_unstable();
        tell.dedup();
        tell.push(user.to_owned());
        Ok(Read {
            chat_id: chat.id,
            message_id: message.id,
            tell,
        })
    }

    /// Records that `user`'s client received the messages named. Every one must be a message
    /// of the chat (else `not_found`, and nothing is recorded); the caller's own are skipped.
    pub async fn delivered(&self, user: &str, r: &Delivered) -> Result<Deliveries, ApiError> {
        let chat = self.chats.member_chat(user, &r.chat_id).await?;
        let mut ids: Vec<String> = r.ids().map(normalize_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut senders = self.store.senders(&chat.id, &ids).await?;
        if senders.len() < ids.len() {
            return Err(message_not_found());
        }
        senders.retain(|_, sender| sender != user);
        let others: Vec<String> = senders.keys().cloned().collect();
        let marked = if others.is_empty() {
            Marked::default()
        } else {
            self.store.mark_delivered(&others, user).await?
        };
        Ok(Deliveries {
            chat_id: chat.id,
            to_tell: marked.firsts,
            changed: marked.count,
        })
    }

    /// Missed messages, oldest first per chat, at most `limit` in all; chats in id order, so
    /// that one `resume` position says which are done.
    ///
    /// A chat is answered from `sync_lookback` before the client's cursor, not from the cursor:
    /// a message the client missed can have a lower id than one it received (ids of one second
    /// order by the writing instance; a message from another instance arrives through Redis,
    /// later than one from this one; and a message's id is taken before its write, which may
    /// take up to the store's answer timeout). Such a message is missed only if it took longer
    /// than the look-back from getting its id to reaching clients. The price is the repeat of
    /// the window's messages, which the client has and dedupes. A chat in `after` is answered
    /// exactly from its id (the client read it while connected, so later ones reached it live).
    pub async fn sync(&self, user: &str, req: &SyncRequest) -> Result<SyncResponse, ApiError> {
        let mut budget = req.limit.unwrap_or(DEFAULT_SYNC).clamp(1, MAX_SYNC_LIMIT);
        let normalized = |map: &std::collections::BTreeMap<String, String>| -> HashMap<_, _> {
            map.iter()
                .map(|(c, m)| (normalize_id(c), normalize_id(m)))
                .collect()
        };
        let (cursors, after) = (normalized(&req.cursors), normalized(&req.after));
        let resume = req.resume.as_ref().map(|r| SyncResume {
            chat_id: normalize_id(&r.chat_id),
            message_id: normalize_id(&r.message_id),
        });
        let mut chats = self.chats.with_last_messages(user).await?;
        chats.sort_by(|(a, _), (b, _)| a.id.cmp(&b.id));
        let mut messages = Vec::new();
        let mut stopped: Option<SyncResume> = None;
        for (chat, last) in chats {
            let Some(last) = last else {
                continue;
            };
            let from = match &resume {
                Some(r) if chat.id < r.chat_id => continue,
                Some(r) if chat.id == r.chat_id => Some(r.message_id.clone()),
                _ => after.get(&chat.id).cloned().or_else(|| {
                    cursors
                        .get(&chat.id)
                        .map(|c| look_back(c, self.sync_lookback))
                }),
            };
            if from.as_deref().is_some_and(|f| f >= last.id.as_str()) {
                continue;
            }
            if budget == 0 {
                // Nothing of this chat is in the answer (the budget, at least 1, went to earlier
                // chats): the next page resumes after the last chat answered and starts this one.
                stopped = messages.last().map(position);
                break;
            }
            // One extra tells whether this chat has more than fits.
            let mut page = self
                .store
                .messages_after(&chat.id, from.as_deref(), budget + 1)
                .await?;
            let full = page.len() as u32 > budget;
            page.truncate(budget as usize);
            budget -= page.len() as u32;
            messages.extend(page);
            if full {
                stopped = messages.last().map(position);
                break;
            }
        }
        Ok(SyncResponse {
            ok: true,
            messages,
            has_more: stopped.is_some(),
            resume: stopped,
        })
    }
}

/// A `sync` answer's position: right after `m`, in its chat.
pub(crate) fn message_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "message not found in this chat")
}

fn position(m: &Message) -> SyncResume {
    SyncResume {
        chat_id: m.chat_id.clone(),
        message_id: m.id.clone(),
    }
}

/// The lowest ObjectId of the second `window` before `cursor`'s (validated, 24 hex digits):
/// messages after it are those written from then on. A cursor that is not an id looks back to the
/// start: more repeats, never a miss.
fn look_back(cursor: &str, window: Duration) -> String {
    let seconds = cursor
        .get(..8)
        .and_then(|s| u32::from_str_radix(s, 16).ok())
        .unwrap_or(0);
    let window = u32::try_from(window.as_secs()).unwrap_or(u32::MAX);
    format!("{:08x}{}", seconds.saturating_sub(window), "0".repeat(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_look_back_starts_at_the_first_id_of_the_earlier_second() {
        let w = Duration::from_secs(15);
        // 0x65000010 - 15 = 0x65000001.
        assert_eq!(
            look_back("65000010ab12cd34ef567890", w),
            "650000010000000000000000"
        );
        assert!(look_back("65000010ab12cd34ef567890", w).as_str() < "65000001000000000000000a");
        assert_eq!(look_back("00000003ffffffffffffffff", w), "0".repeat(24));
        assert_eq!(look_back("zz", w), "0".repeat(24));
    }
}
