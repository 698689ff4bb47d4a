//! Changes to chats: creating them, renaming, setting a topic (a picture: `pictures.rs`), deleting,
//! adding and removing members, making them admins or not, joining by passcode, keeping a group an admin,
//! and what a deleted account leaves behind. Each checks the caller's right, writes once (twice
//! when an admin must be promoted), and says what it did (`ChatChange`) so the transport can tell
//! the right people.

use chrono::Utc;
use common::contracts::chat::{ChatType, CreateChatRequest, MAX_GROUP_ADMINS, MAX_GROUP_MEMBERS};
use common::{ApiError, ErrorCode};

use super::ChatService;
use crate::domain::passcode::{hash_passcode, verify_passcode};
use crate::domain::{chat_not_found, direct_chat_id, new_object_id};
use crate::ports::{ChatRecord, Details, StoreError};

/// A group as its creator asked for it.
struct NewGroup<'a> {
    name: &'a str,
    topic: Option<String>,
    passcode: Option<String>,
}

/// What a change did, so the transport can tell the right people.
#[derive(Debug, Clone)]
pub struct ChatChange {
    /// The chat as the change left it (as it was, for a deletion).
    pub chat: ChatRecord,
    pub delta: ChatDelta,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChatDelta {
    /// A new chat (`POST /api/chats`): every member gains it.
    Created,
    /// Nothing changed: the direct chat existed, or the user joining was a member already.
    Unchanged,
    /// The group was renamed (`name`), its topic set or cleared (`topic`; the chat's says
    /// which), or both at once.
    Details {
        name: bool,
        topic: bool,
    },
    /// The group's picture was set or removed (the chat's `picture` says which).
    Picture,
    /// A message was pinned or unpinned (the chat's `pins` are the list as it now is).
    Pins,
    /// `users` are members now (those already in stayed once); `newcomers`, those of them who
    /// were not members as far as the check before the write saw, gain the chat.
    Added {
        users: Vec<String>,
        newcomers: Vec<String>,
    },
    /// A member became an admin, or stopped being one (the chat's `admins` say who is now).
    Admins,
    /// `user` was removed, or left, at `revision`. When they were its last admin, the group's
    /// longest-standing member became admin in a second change (`promoted`), and the change's
    /// `chat` is as that second change left it.
    Removed {
        user: String,
        revision: u64,
        promoted: bool,
    },
    Deleted,
    /// A direct chat was closed: its other participant deleted their account.
    Closed,
}

impl ChatChange {
    pub(super) fn new(chat: ChatRecord, delta: ChatDelta) -> Self {
        Self { chat, delta }
    }
}

impl ChatService {
    pub(super) async fn admin_group(
        &self,
        user: &str,
        chat_id: &str,
    ) -> Result<ChatRecord, ApiError> {
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
        let topic = req.topic().map(str::to_owned);
        match req {
            CreateChatRequest::Direct { user_id } => {
                self.create_direct(user, &user_id.to_ascii_lowercase())
                    .await
            }
            CreateChatRequest::Group {
                name,
                member_ids,
                passcode,
                topic: _,
            } => {
                let group = NewGroup {
                    name: name.trim(),
                    topic,
                    passcode,
                };
                self.create_group(user, group, member_ids).await
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
            return Ok(ChatChange::new(chat, ChatDelta::Unchanged));
        }
        self.refuse_deleted(&[other.to_owned()]).await?;
        let chat = ChatRecord {
            id: id.clone(),
            kind: ChatType::Direct,
            participants: vec![user.to_owned(), other.to_owned()],
            name: None,
            admins: vec![],
            passcode_hash: None,
            created_at: Utc::now(),
            revision: 0,
            closed: false,
            topic: None,
            picture: None,
            pins: Vec::new(),
        };
        match self.store.insert_chat(&chat).await {
            Ok(()) => {
                // An account deleted between the check and the write: its work may have closed
                // its direct chats before this one existed, so this one is closed here.
                if let Err(gone) = self.refuse_deleted(&[other.to_owned()]).await {
                    let _ = self.store.close_chat(&id).await?;
                    return Err(gone);
                }
                Ok(ChatChange::new(chat, ChatDelta::Created))
            }
            // A concurrent request created it first: that one is the chat.
            Err(StoreError::Duplicate) => {
                let chat = self.store.get_chat(&id).await?.ok_or_else(chat_not_found)?;
                Ok(ChatChange::new(chat, ChatDelta::Unchanged))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn create_group(
        &self,
        user: &str,
        group: NewGroup<'_>,
        members: Vec<String>,
    ) -> Result<ChatChange, ApiError> {
        let mut participants = vec![user.to_owned()];
        push_distinct(&mut participants, &members);
        let others = participants[1..].to_vec();
        self.refuse_deleted(&others).await?;
        let passcode_hash = match group.passcode {
            Some(p) => Some(hash_passcode(&p).await?),
            None => None,
        };
        let chat = ChatRecord {
            id: new_object_id(),
            kind: ChatType::Group,
            participants,
            name: Some(group.name.to_owned()),
            admins: vec![user.to_owned()],
            passcode_hash,
            created_at: Utc::now(),
            revision: 0,
            closed: false,
            topic: group.topic,
            picture: None,
            pins: Vec::new(),
        };
        self.store.insert_chat(&chat).await?;
        let (chat, _) = self.drop_deleted_newcomers(chat, &others).await?;
        Ok(ChatChange::new(chat, ChatDelta::Created))
    }

    /// Renames the group, sets its topic, or both at once (admins only): one change, counted
    /// once in its revision.
    pub async fn change_details(
        &self,
        user: &str,
        chat_id: &str,
        details: &Details<'_>,
    ) -> Result<ChatChange, ApiError> {
        let chat = self.admin_group(user, chat_id).await?;
        let details = Details {
            name: details.name.map(str::trim),
            topic: details.topic,
        };
        let chat = self
            .store
            .set_details(&chat.id, &details)
            .await?
            .ok_or_else(chat_not_found)?;
        let delta = ChatDelta::Details {
            name: details.name.is_some(),
            topic: details.topic.is_some(),
        };
        Ok(ChatChange::new(chat, delta))
    }

    pub async fn delete(&self, user: &str, chat_id: &str) -> Result<ChatChange, ApiError> {
        let chat = self.admin_group(user, chat_id).await?;
        self.store.delete_chat(&chat.id).await?;
        Ok(ChatChange::new(chat, ChatDelta::Deleted))
    }

    pub async fn add_members(
        &self,
        user: &str,
        chat_id: &str,
        users: &[String],
    ) -> Result<ChatChange, ApiError> {
        let chat = self.admin_group(user, chat_id).await?;
        let mut each = Vec::with_capacity(users.len());
        push_distinct(&mut each, users);
        let users = each;
        let newcomers: Vec<String> = users
            .iter()
            .filter(|u| !chat.is_member(u))
            .cloned()
            .collect();
        if chat.participants.len() + newcomers.len() > MAX_GROUP_MEMBERS {
            return Err(ApiError::field(
                "userIds",
                format!("a group has at most {MAX_GROUP_MEMBERS} members"),
            ));
        }
        self.refuse_deleted(&newcomers).await?;
        let chat = self
            .store
            .add_participants(&chat.id, &users)
            .await?
            .ok_or_else(chat_not_found)?;
        let (chat, gone) = self.drop_deleted_newcomers(chat, &newcomers).await?;
        let kept = |list: Vec<String>| -> Vec<String> {
            list.into_iter().filter(|u| !gone.contains(u)).collect()
        };
        let (users, newcomers) = (kept(users), kept(newcomers));
        // All of them gone: answered as if the check before the write had seen it.
        if let (Some(first), true) = (gone.first(), newcomers.is_empty()) {
            return Err(account_deleted(first));
        }
        Ok(ChatChange::new(chat, ChatDelta::Added { users, newcomers }))
    }

    /// Takes out of `chat`, just written with them, those of `newcomers` who deleted their
    /// account meanwhile: after the check before the write, so the deletion's work may have
    /// read its chats before this one had them, and would leave them in it for good. Recorded
    /// deleted before that work reads the chats, a deletion is seen here whenever that read
    /// missed the write. The chat as it is then, and who was taken out.
    async fn drop_deleted_newcomers(
        &self,
        mut chat: ChatRecord,
        newcomers: &[String],
    ) -> Result<(ChatRecord, Vec<String>), ApiError> {
        let gone = self.store.deleted_users_among(newcomers).await?;
        for user in &gone {
            if let Some(left) = self.store.remove_participant(&chat.id, user).await? {
                chat = self.keep_an_admin(left).await.0;
            }
        }
        Ok((chat, gone))
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
            return Err(not_a_member_of_it());
        }
        let chat = self
            .store
            .remove_participant(&chat.id, &target)
            .await?
            .ok_or_else(chat_not_found)?;
        let revision = chat.revision;
        let (chat, promoted) = self.keep_an_admin(chat).await;
        let delta = ChatDelta::Removed {
            user: target,
            revision,
            promoted,
        };
        Ok(ChatChange::new(chat, delta))
    }

    /// An admin makes a member an admin too (`admin`), or no longer one; an admin may step down.
    /// A group keeps an admin: the last one cannot step down (they make another member admin
    /// first, or leave, and the longest-standing member takes over). It has at most
    /// [`MAX_GROUP_ADMINS`].
    pub async fn set_admin(
        &self,
        user: &str,
        chat_id: &str,
        target: &str,
        admin: bool,
    ) -> Result<ChatChange, ApiError> {
        let target = target.to_ascii_lowercase();
        let chat = self.admin_group(user, chat_id).await?;
        if !chat.is_member(&target) {
            return Err(not_a_member_of_it());
        }
        if chat.is_admin(&target) == admin {
            return Ok(ChatChange::new(chat, ChatDelta::Unchanged));
        }
        if !admin && chat.admins.len() == 1 {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "a group needs an admin: make another member admin first",
            ));
        }
        // Checked here, not in the write: two admins naming the 50th at once may make 51.
        if admin && chat.admins.len() >= MAX_GROUP_ADMINS {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("a group has at most {MAX_GROUP_ADMINS} admins"),
            ));
        }
        let Some(chat) = self.store.set_admin(&chat.id, &target, admin).await? else {
            // Changed meanwhile: answered as it is now.
            let chat = self.existing_chat(&chat.id).await?;
            return Ok(ChatChange::new(chat, ChatDelta::Unchanged));
        };
        // Two admins who each removed the other at once left none.
        let (chat, _) = self.keep_an_admin(chat).await;
        Ok(ChatChange::new(chat, ChatDelta::Admins))
    }

    /// `account_deleted` when any of `users` deleted their account: nobody starts a chat with
    /// them or adds them to one.
    async fn refuse_deleted(&self, users: &[String]) -> Result<(), ApiError> {
        match self.store.deleted_users_among(users).await?.first() {
            None => Ok(()),
            Some(gone) => Err(account_deleted(gone)),
        }
    }

    /// Remembers for good that `user` deleted their account (see [`Self::refuse_deleted`]).
    pub async fn record_deleted(&self, user: &str) -> Result<(), ApiError> {
        Ok(self.store.record_deleted_user(user, Utc::now()).await?)
    }

    /// What a deleted account leaves behind, in one pass over its chats (read once): each direct
    /// chat is closed (its history stays, for the other participant, but it takes no new
    /// messages), and each group is left as if the user had left it (a group it was the last
    /// admin of gets another). The changes made so far, and the first store failure after them,
    /// so the caller tells whom they concern either way and tries the rest again later.
    pub async fn part_with_deleted(&self, user: &str) -> (Vec<ChatChange>, Option<ApiError>) {
        let mut changes = Vec::new();
        let chats = match self.store.chats_of(user).await {
            Ok(chats) => chats,
            Err(e) => return (changes, Some(e.into())),
        };
        for chat in chats {
            let change = match chat.kind {
                ChatType::Direct => self.store.close_chat(&chat.id).await.map(|closed| {
                    // `None`: closed already (an earlier try), or deleted meanwhile.
                    closed.map(|chat| ChatChange::new(chat, ChatDelta::Closed))
                }),
                ChatType::Group => match self.store.remove_participant(&chat.id, user).await {
                    // Deleted meanwhile: nothing to leave.
                    Ok(None) => Ok(None),
                    Ok(Some(chat)) => {
                        let revision = chat.revision;
                        let (chat, promoted) = self.keep_an_admin(chat).await;
                        let delta = ChatDelta::Removed {
                            user: user.to_owned(),
                            revision,
                            promoted,
                        };
                        Ok(Some(ChatChange::new(chat, delta)))
                    }
                    Err(e) => Err(e),
                },
            };
            match change {
                Ok(change) => changes.extend(change),
                Err(e) => return (changes, Some(e.into())),
            }
        }
        (changes, None)
    }

    /// A group whose last admin left gets one (the longest-standing member), as WhatsApp does:
    /// else nobody could rename it, add or remove members or delete it any more. The removal stands either way:
    /// a store failing here leaves the group without an admin until the next removal (logged).
    async fn keep_an_admin(&self, chat: ChatRecord) -> (ChatRecord, bool) {
        if chat.kind != ChatType::Group || !chat.admins.is_empty() || chat.participants.is_empty() {
            return (chat, false);
        }
        match self.store.promote_if_adminless(&chat.id).await {
            Ok(Some(promoted)) => (promoted, true),
            Ok(None) => (chat, false),
            Err(e) => {
                tracing::warn!(error = ?e, chat = %chat.id, "a group left without an admin");
                (chat, false)
            }
        }
    }

    /// Joins a passcode-protected group.
    pub async fn join(
        &self,
        user: &str,
        chat_id: &str,
        passcode: &str,
    ) -> Result<ChatChange, ApiError> {
        let chat = self.existing_chat(chat_id).await?;
        if chat.is_member(user) {
            return Ok(ChatChange::new(chat, ChatDelta::Unchanged));
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
        let users = vec![user.to_owned()];
        Ok(ChatChange::new(
            chat,
            ChatDelta::Added {
                newcomers: users.clone(),
                users,
            },
        ))
    }
}

fn account_deleted(user: &str) -> ApiError {
    ApiError::new(
        ErrorCode::AccountDeleted,
        format!("the account {user} was deleted"),
    )
}

fn not_a_member_of_it() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "that user is not a member")
}

/// Appends `ids` to `into`, lowercased, each id once, in order (a request may list one twice).
fn push_distinct(into: &mut Vec<String>, ids: &[String]) {
    for id in ids.iter().map(|id| id.to_ascii_lowercase()) {
        if !into.contains(&id) {
            into.push(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use common::contracts::chat::CreateChatRequest;

    use super::super::watched_store::Watched;
    use super::*;
    use crate::adapters::SqliteStore;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect()
    }

    async fn service(name: &str) -> (ChatService, Arc<Watched>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(common::testing::unique_name(name));
        let store = Arc::new(Watched::new(
            SqliteStore::open(&dir).await.expect("open sqlite"),
        ));
        (ChatService::new(store.clone()), store, dir)
    }

    /// An account deleted between a change's check and its write: the deletion's work read
    /// the user's chats before the write, so the change itself must not leave them in.
    #[tokio::test]
    async fn a_member_whose_account_is_deleted_while_being_added_is_not_left_in() {
        let (chats, store, dir) = service("added-while-deleted").await;
        let people = ids(4);
        let (admin, kept, gone, also_gone) = (&people[0], &people[1], &people[2], &people[3]);

        // Created with two members, one of them deleted as the group is written.
        store.delete_before_next_write(gone);
        let created = chats
            .create(
                admin,
                CreateChatRequest::Group {
                    name: "Walkers".into(),
                    member_ids: vec![kept.clone(), gone.clone()],
                    passcode: None,
                    topic: None,
                },
            )
            .await
            .expect("created");
        assert_eq!(created.chat.participants, [admin.clone(), kept.clone()]);
        let group = created.chat.id.clone();
        assert!(chats.store.chats_of(gone).await.expect("read").is_empty());

        // Added with another, who stays; and alone, which is refused as the check would.
        store.delete_before_next_write(also_gone);
        let newcomer = ids(1).remove(0);
        let added = chats
            .add_members(admin, &group, &[also_gone.clone(), newcomer.clone()])
            .await
            .expect("added");
        assert_eq!(
            added.delta,
            ChatDelta::Added {
                users: vec![newcomer.clone()],
                newcomers: vec![newcomer.clone()],
            }
        );
        assert!(!added.chat.is_member(also_gone));
        let late = ids(1).remove(0);
        store.delete_before_next_write(&late);
        let refused = chats
            .add_members(admin, &group, std::slice::from_ref(&late))
            .await
            .expect_err("gone");
        assert_eq!(refused.code(), ErrorCode::AccountDeleted);
        let now = chats
            .store
            .get_chat(&group)
            .await
            .expect("read")
            .expect("there");
        assert_eq!(now.participants, [admin.clone(), kept.clone(), newcomer]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
