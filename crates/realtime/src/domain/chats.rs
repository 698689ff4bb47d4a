//! Chat management: direct and group chats, membership, admins, passcode groups, chat lists
//! with unread counts. Every operation checks the caller's membership or admin right.

use std::sync::Arc;

use chrono::Utc;
use common::contracts::chat::{Chat, ChatType, CreateChatRequest, MAX_GROUP_MEMBERS, Message};
use common::{ApiError, ErrorCode};

use super::passcode::{hash_passcode, verify_passcode};
use super::{chat_not_found, direct_chat_id, new_object_id, normalize_id, not_a_member};
use crate::ports::{ChatRecord, ChatStore, StoreError};

/// What a membership change did, so the transport can tell the right people.
#[derive(Debug, Clone)]
pub struct ChatChange {
    pub chat: ChatRecord,
    /// Users who lost access (removed, left, or the chat was deleted).
    pub removed: Vec<String>,
    /// Whether a new chat was created (`POST /api/chats`).
    pub created: bool,
}

#[derive(Clone)]
pub struct ChatService {
    store: Arc<dyn ChatStore>,
}

impl ChatService {
    pub fn new(store: Arc<dyn ChatStore>) -> Self {
        Self { store }
    }

    /// The chat if `user` is a member; `not_found` / `not_a_member` otherwise.
    pub async fn member_chat(&self, user: &str, chat_id: &str) -> Result<ChatRecord, ApiError> {
        let chat = self
            .store
            .get_chat(&normalize_id(chat_id))
            .await?
            .ok_or_else(chat_not_found)?;
        if chat.is_member(user) {
            Ok(chat)
        } else {
            Err(not_a_member())
        }
    }

    async fn admin_group(&self, user: &str, chat_id: &str) -> Result<ChatRecord, ApiError> {
        let chat = self.member_chat(user, chat_id).await?;
        if chat.kind != ChatType::Group {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "direct chats cannot be changed",
            ));
        }
        if !chat.is_admin(user) {
            return Err(ApiError::new(
                ErrorCode::NotAnAdmin,
                "only a chat admin may do this",
            ));
        }
        Ok(chat)
    }

    pub async fn create(&self, user: &str, req: CreateChatRequest) -> Result<ChatChange, ApiError> {
        match req {
            CreateChatRequest::Direct { user_id } => {
                self.create_direct(user, &user_id.to_ascii_lowercase())
                    .await
            }
            CreateChatRequest::Group {
                name,
                member_ids,
                passcode,
            } => {
                self.create_group(user, name.trim(), member_ids, passcode)
                    .await
            }
        }
    }

    async fn create_direct(&self, user: &str, other: &str) -> Result<ChatChange, ApiError> {
        if user == other {
            return Err(ApiError::field(
                "userId",
                "cannot start a direct chat with yourself",
            ));
        }
        let id = direct_chat_id(user, other);
        if let Some(chat) = self.store.get_chat(&id).await? {
            return Ok(ChatChange {
                chat,
                removed: vec![],
                created: false,
            });
        }
        let chat = ChatRecord {
            id: id.clone(),
            kind: ChatType::Direct,
            participants: vec![user.to_owned(), other.to_owned()],
            name: None,
            admins: vec![],
            passcode_hash: None,
            created_at: Utc::now(),
        };
        match self.store.insert_chat(&chat).await {
            Ok(()) => Ok(ChatChange {
                chat,
                removed: vec![],
                created: true,
            }),
            // A concurrent request created it first: that one is the chat.
            Err(StoreError::Duplicate) => {
                let chat = self.store.get_chat(&id).await?.ok_or_else(chat_not_found)?;
                Ok(ChatChange {
                    chat,
                    removed: vec![],
                    created: false,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn create_group(
        &self,
        user: &str,
        name: &str,
        members: Vec<String>,
        passcode: Option<String>,
    ) -> Result<ChatChange, ApiError> {
        let mut participants = vec![user.to_owned()];
        for m in members.into_iter().map(|m| m.to_ascii_lowercase()) {
            if !participants.contains(&m) {
                participants.push(m);
            }
        }
        let passcode_hash = match passcode {
            Some(p) => Some(hash_passcode(&p).await?),
            None => None,
        };
        let chat = ChatRecord {
            id: new_object_id(),
            kind: ChatType::Group,
            participants,
            name: Some(name.to_owned()),
            admins: vec![user.to_owned()],
            passcode_hash,
            created_at: Utc::now(),
        };
        self.store.insert_chat(&chat).await?;
        Ok(ChatChange {
            chat,
            removed: vec![],
            created: true,
        })
    }

    /// The caller's chats, most recent activity first, with unread counts.
    pub async fn list(&self, user: &str) -> Result<Vec<Chat>, ApiError> {
        let active = self.by_activity(user).await?;
        let mut chats = Vec::with_capacity(active.len());
        for (r, last) in active {
            let unread = match &last {
                Some(_) => self.store.unread_count(&r.id, user).await?,
                None => 0,
            };
            chats.push(to_contract(&r, last, unread));
        }
        Ok(chats)
    }

    /// The caller's chats with their newest message, most recent activity (the newest message,
    /// else creation) first.
    pub async fn by_activity(
        &self,
        user: &str,
    ) -> Result<Vec<(ChatRecord, Option<Message>)>, ApiError> {
        let records = self.store.chats_of(user).await?;
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let mut last = self.store.last_messages(&ids).await?;
        let mut active: Vec<(ChatRecord, Option<Message>)> = records
            .into_iter()
            .map(|r| {
                let m = last.remove(&r.id);
                (r, m)
            })
            .collect();
        active.sort_by(|(a, am), (b, bm)| {
            let ka = (am.as_ref().map_or(a.created_at, |m| m.timestamp), &a.id);
            let kb = (bm.as_ref().map_or(b.created_at, |m| m.timestamp), &b.id);
            kb.cmp(&ka)
        });
        Ok(active)
    }

    /// The client-facing shape of `chat` with its newest message (no unread count).
    pub async fn view(&self, chat: &ChatRecord) -> Result<Chat, ApiError> {
        let mut last = self
            .store
            .last_messages(std::slice::from_ref(&chat.id))
            .await?;
        Ok(to_contract(chat, last.remove(&chat.id), 0))
    }

    pub async fn rename(
        &self,
        user: &str,
        chat_id: &str,
        name: &str,
    ) -> Result<ChatChange, ApiError> {
        let chat = self.admin_group(user, chat_id).await?;
        let chat = self
            .store
            .rename_chat(&chat.id, name.trim())
            .await?
            .ok_or_else(chat_not_found)?;
        Ok(ChatChange {
            chat,
            removed: vec![],
            created: false,
        })
    }

    pub async fn delete(&self, user: &str, chat_id: &str) -> Result<ChatChange, ApiError> {
        let chat = self.admin_group(user, chat_id).await?;
        self.store.delete_chat(&chat.id).await?;
        let removed = chat.participants.clone();
        Ok(ChatChange {
            chat,
            removed,
            created: false,
        })
    }

    pub async fn add_members(
        &self,
        user: &str,
        chat_id: &str,
        users: &[String],
    ) -> Result<ChatChange, ApiError> {
        let chat = self.admin_group(user, chat_id).await?;
        let users: Vec<String> = users.iter().map(|u| u.to_ascii_lowercase()).collect();
        let fresh = users.iter().filter(|u| !chat.is_member(u)).count();
        if chat.participants.len() + fresh > MAX_GROUP_MEMBERS {
            return Err(ApiError::field(
                "userIds",
                format!("a group has at most {MAX_GROUP_MEMBERS} members"),
            ));
        }
        let chat = self
            .store
            .add_participants(&chat.id, &users)
            .await?
            .ok_or_else(chat_not_found)?;
        Ok(ChatChange {
            chat,
            removed: vec![],
            created: false,
        })
    }

    /// An admin removes `target`, or a member removes themself (leaves).
    pub async fn remove_member(
        &self,
        user: &str,
        chat_id: &str,
        target: &str,
    ) -> Result<ChatChange, ApiError> {
        let target = target.to_ascii_lowercase();
        let chat = if user == target {
            let chat = self.member_chat(user, chat_id).await?;
            if chat.kind != ChatType::Group {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "you cannot leave a direct chat",
                ));
            }
            chat
        } else {
            self.admin_group(user, chat_id).await?
        };
        if !chat.is_member(&target) {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "that user is not a member",
            ));
        }
        let chat = self
            .store
            .remove_participant(&chat.id, &target)
            .await?
            .ok_or_else(chat_not_found)?;
        Ok(ChatChange {
            chat,
            removed: vec![target],
            created: false,
        })
    }

    /// Joins a passcode-protected group.
    pub async fn join(
        &self,
        user: &str,
        chat_id: &str,
        passcode: &str,
    ) -> Result<ChatChange, ApiError> {
        let chat = self
            .store
            .get_chat(&normalize_id(chat_id))
            .await?
            .ok_or_else(chat_not_found)?;
        if chat.is_member(user) {
            return Ok(ChatChange {
                chat,
                removed: vec![],
                created: false,
            });
        }
        let Some(hash) = chat
            .passcode_hash
            .as_deref()
            .filter(|_| chat.kind == ChatType::Group)
        else {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "this chat cannot be joined with a passcode",
            ));
        };
        if !verify_passcode(hash, passcode).await {
            return Err(ApiError::new(ErrorCode::InvalidPasscode, "wrong passcode"));
        }
        if chat.participants.len() >= MAX_GROUP_MEMBERS {
            return Err(ApiError::new(ErrorCode::Conflict, "the group is full"));
        }
        let chat = self
            .store
            .add_participants(&chat.id, &[user.to_owned()])
            .await?
            .ok_or_else(chat_not_found)?;
        Ok(ChatChange {
            chat,
            removed: vec![],
            created: false,
        })
    }

    /// Everyone who shares at least one chat with `user` (presence is shown to them).
    pub async fn contacts(&self, user: &str) -> Result<Vec<String>, ApiError> {
        let mut out: Vec<String> = Vec::new();
        for chat in self.store.chats_of(user).await? {
            for p in chat.participants {
                if p != user && !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        Ok(out)
    }
}

/// The client-facing shape of a chat whose newest message is `last`.
pub fn to_contract(r: &ChatRecord, last: Option<Message>, unread_count: u64) -> Chat {
    Chat {
        id: r.id.clone(),
        kind: r.kind,
        participants: r.participants.clone(),
        name: r.name.clone(),
        admins: r.admins.clone(),
        has_passcode: r.passcode_hash.is_some(),
        last_message_at: last.as_ref().map(|m| m.timestamp),
        last_message: last,
        created_at: r.created_at,
        unread_count,
    }
}
