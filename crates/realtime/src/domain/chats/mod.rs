//! Chats as their members read them: membership checks, member pages, chat lists with unread
//! counts, and contacts (for presence). What changes chats is in `changes.rs`. Every operation
//! checks the caller's membership or admin right.

mod changes;
mod pictures;
mod pins;
#[cfg(test)]
mod watched_store;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::contracts::chat::{Chat, ListedMembers, MemberPage, Message};
use common::{ApiError, ErrorCode};

use super::{chat_not_found, normalize_id, not_a_member};
use crate::coalesce::{Fetch, Loader};
use crate::ports::{ChatMute, ChatRecord, ChatStore, StoreResult};

pub use changes::{ChatChange, ChatDelta};
pub use pictures::PICTURE;

/// How often the mutes that have ended are deleted (`ChatService::spawn_mute_sweeper`).
const MUTE_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The chats of users whose contacts are asked for together, read in ONE store query
/// ([`ChatStore::chats_of_any`]) per batch of up to 256 users (`coalesce`). Presence
/// reads a user's contacts for every new socket's snapshot, and sockets come in storms: an
/// instance restarting, a load balancer or a network blip brings back thousands within a second.
/// One query each kept the store busy for seconds after the storm (10k connects on the Mongo-wire
/// test server: a p99 of ~100 ms for the messages sent meanwhile); until the twentieth session a
/// gate let 8 run at once. Waiting for a batch costs a reader a channel slot, not a query's state.
struct UserChats(Arc<dyn ChatStore>);

impl Fetch<String, Vec<Arc<ChatRecord>>> for UserChats {
    async fn fetch(
        &mut self,
        users: Vec<String>,
    ) -> StoreResult<HashMap<String, StoreResult<Vec<Arc<ChatRecord>>>>> {
        let chats = self.0.chats_of_any(&users).await?;
        let mut of: HashMap<String, StoreResult<Vec<Arc<ChatRecord>>>> =
            users.into_iter().map(|u| (u, Ok(Vec::new()))).collect();
        for chat in chats.into_iter().map(Arc::new) {
            for p in &chat.participants {
                if let Some(Ok(theirs)) = of.get_mut(p) {
                    theirs.push(chat.clone());
                }
            }
        }
        Ok(of)
    }
}

#[derive(Clone)]
pub struct ChatService {
    store: Arc<dyn ChatStore>,
    user_chats: Arc<Loader<String, Vec<Arc<ChatRecord>>>>,
}

impl ChatService {
    /// Starts the contacts' read loader (a task), so call within a runtime.
    pub fn new(store: Arc<dyn ChatStore>) -> Self {
        Self {
            user_chats: Arc::new(Loader::spawn(UserChats(store.clone()))),
            store,
        }
    }

    /// The chat, whoever asks; `not_found` if there is none.
    pub(super) async fn existing_chat(&self, chat_id: &str) -> Result<ChatRecord, ApiError> {
        self.store
            .get_chat(&normalize_id(chat_id))
            .await?
            .ok_or_else(chat_not_found)
    }

    /// The chat if `user` is a member; `not_found` / `not_a_member` otherwise.
    pub async fn member_chat(&self, user: &str, chat_id: &str) -> Result<ChatRecord, ApiError> {
        let chat = self.existing_chat(chat_id).await?;
        if chat.is_member(user) {
            Ok(chat)
        } else {
            Err(not_a_member())
        }
    }

    /// The chat if `user` is a member and it takes new messages: a closed direct chat (the
    /// other participant deleted their account) answers `account_deleted`.
    pub async fn open_chat(&self, user: &str, chat_id: &str) -> Result<ChatRecord, ApiError> {
        let chat = self.member_chat(user, chat_id).await?;
        if chat.closed {
            return Err(ApiError::new(
                ErrorCode::AccountDeleted,
                "the other person deleted their account: this chat takes no new messages",
            ));
        }
        Ok(chat)
    }

    /// Up to `limit` members of a chat of `user`'s, ordered by id, those after `after` (a
    /// previous page's last id). Ordered by id rather than by joining, a cursor stays valid
    /// whoever joins or leaves between two pages.
    pub async fn members_page(
        &self,
        user: &str,
        chat_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<MemberPage, ApiError> {
        let chat = self.member_chat(user, chat_id).await?;
        let after = after.map(str::to_ascii_lowercase);
        let mut members: Vec<&String> = chat
            .participants
            .iter()
            .filter(|p| after.as_deref().is_none_or(|a| p.as_str() > a))
            .collect();
        members.sort_unstable();
        let more = members.len() > limit;
        members.truncate(limit);
        Ok(MemberPage {
            next_cursor: more
                .then(|| members.last().map(|m| m.to_string()))
                .flatten(),
            members: members.into_iter().cloned().collect(),
            revision: chat.revision,
            member_count: chat.member_count(),
        })
    }

    /// The caller's chats, most recent activity first, with unread counts; groups without
    /// their member lists when `members` says so.
    pub async fn list(&self, user: &str, members: ListedMembers) -> Result<Vec<Chat>, ApiError> {
        let active = self.by_activity(user).await?;
        let now = Utc::now();
        let muted: HashMap<String, ChatMute> = self
            .store
            .muted_chats(user)
            .await?
            .into_iter()
            .filter(|m| m.holds_at(now))
            .map(|m| (m.chat_id.clone(), m))
            .collect();
        let mut chats = Vec::with_capacity(active.len());
        for (r, last) in active {
            let unread = match &last {
                Some(_) => self.store.unread_count(&r.id, user).await?,
                None => 0,
            };
            let mut chat = to_contract(&r, last, unread, members);
            set_mute(&mut chat, muted.get(&r.id));
            chats.push(chat);
        }
        Ok(chats)
    }

    /// The caller's chats with their newest message, in no particular order.
    pub async fn with_last_messages(
        &self,
        user: &str,
    ) -> Result<Vec<(ChatRecord, Option<Message>)>, ApiError> {
        let records = self.store.chats_of(user).await?;
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let mut last = self.store.last_messages(&ids).await?;
        Ok(records
            .into_iter()
            .map(|r| {
                let m = last.remove(&r.id);
                (r, m)
            })
            .collect())
    }

    /// The caller's chats with their newest message, most recent activity (the newest message,
    /// else creation) first.
    pub async fn by_activity(
        &self,
        user: &str,
    ) -> Result<Vec<(ChatRecord, Option<Message>)>, ApiError> {
        let mut active = self.with_last_messages(user).await?;
        active.sort_by(|(a, am), (b, bm)| {
            let ka = (am.as_ref().map_or(a.created_at, |m| m.timestamp), &a.id);
            let kb = (bm.as_ref().map_or(b.created_at, |m| m.timestamp), &b.id);
            kb.cmp(&ka)
        });
        Ok(active)
    }

    /// The client-facing shape of `chat` with its newest message, as any member sees it (no
    /// unread count: an event sent to them all).
    pub async fn view(&self, chat: &ChatRecord, members: ListedMembers) -> Result<Chat, ApiError> {
        let mut last = self
            .store
            .last_messages(std::slice::from_ref(&chat.id))
            .await?;
        Ok(to_contract(chat, last.remove(&chat.id), 0, members))
    }

    /// [`ChatService::view`] as `user` reads it: with their unread count and whether they muted
    /// it, as in their chat list.
    pub async fn view_for(
        &self,
        user: &str,
        chat: &ChatRecord,
        members: ListedMembers,
    ) -> Result<Chat, ApiError> {
        let mut chat = self.view(chat, members).await?;
        if chat.last_message.is_some() {
            chat.unread_count = self.store.unread_count(&chat.id, user).await?;
        }
        let mute = self.store.mute_of(&chat.id, user).await?;
        set_mute(&mut chat, mute.filter(|m| m.holds_at(Utc::now())).as_ref());
        Ok(chat)
    }

    /// Mutes the chat for `user`, a member, until `until` (`None`: until they unmute it), or
    /// unmutes it (`muted` false): their own setting, which no other member sees. Whether that
    /// changed anything.
    pub async fn set_muted(
        &self,
        user: &str,
        chat_id: &str,
        muted: bool,
        until: Option<DateTime<Utc>>,
    ) -> Result<bool, ApiError> {
        self.member_chat(user, chat_id).await?;
        let changed = if muted {
            self.store.mute_chat(chat_id, user, until).await?
        } else {
            self.store.unmute_chat(chat_id, user).await?
        };
        Ok(changed)
    }

    /// Deletes, every [`MUTE_SWEEP_EVERY`], the mutes that have ended: every reader already takes
    /// them as none (nothing is sent when one ends), so this only keeps the store from holding
    /// one record for good per chat anyone ever muted for a while.
    pub fn spawn_mute_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        crate::domain::spawn_every(MUTE_SWEEP_EVERY, move || {
            let store = store.clone();
            async move {
                match store.delete_lapsed_mutes(Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "deleted mutes that had ended"),
                    Err(e) => tracing::warn!(error = %e, "cannot sweep mutes that ended"),
                }
            }
        })
    }

    /// Everyone who shares at least one chat with `user` (presence is shown to them), each once,
    /// in the order of their chats. Read together with the other users' asked for meanwhile
    /// (`UserChats`).
    pub async fn contacts(&self, user: &str) -> Result<Vec<String>, ApiError> {
        let chats = self
            .user_chats
            .get(user.to_owned())
            .await?
            .unwrap_or_default();
        Ok(distinct_others(chats.iter().map(|c| &**c), user))
    }

    /// The chats any of `users` is in, each once, in one store query, not one per user: a round
    /// of presence changes in which a group's members all came or went reads that group once,
    /// not once each.
    pub async fn chats_of_any(&self, users: &[String]) -> Result<Vec<ChatRecord>, ApiError> {
        Ok(self.store.chats_of_any(users).await?)
    }
}

/// The participants of `chats` other than `user`, each once, in order. Linear: a member of a
/// 1,000-member group has ~1,000 contacts, and presence computes them on every connect.
/// The set borrows the ids and hashes with foldhash (they come from our own store).
fn distinct_others<'a>(chats: impl Iterator<Item = &'a ChatRecord>, user: &str) -> Vec<String> {
    let mut seen: HashSet<&str, foldhash::fast::RandomState> = HashSet::default();
    let mut out = Vec::new();
    for p in chats.flat_map(|c| &c.participants) {
        if p != user && seen.insert(p) {
            out.push(p.clone());
        }
    }
    out
}

/// The client-facing shape of a chat whose newest message is `last`; a group's member list is
/// left out (not copied) when `members` says so.
pub fn to_contract(
    r: &ChatRecord,
    last: Option<Message>,
    unread_count: u64,
    members: ListedMembers,
) -> Chat {
    let omitted = members.omits(r.kind);
    Chat {
        id: r.id.clone(),
        kind: r.kind,
        participants: if omitted {
            Vec::new()
        } else {
            r.participants.clone()
        },
        name: r.name.clone(),
        topic: r.topic.clone(),
        picture: r.picture.as_ref().map(|v| picture_url(&r.id, v)),
        pins: r.pins.clone(),
        admins: r.admins.clone(),
        has_passcode: r.passcode_hash.is_some(),
        last_message_at: last.as_ref().map(|m| m.timestamp),
        last_message: last,
        created_at: r.created_at,
        member_count: r.member_count(),
        members_omitted: omitted,
        closed: r.closed,
        revision: r.revision,
        unread_count,
        muted: false,
        muted_until: None,
    }
}

/// The URL a group's picture of this version is served at (to its members).
pub fn picture_url(chat_id: &str, version: &str) -> String {
    format!("/api/chats/{chat_id}/picture?v={version}")
}

/// The caller's mute as their chat shows it: one that holds at the time of reading.
fn set_mute(chat: &mut Chat, mute: Option<&ChatMute>) {
    chat.muted = mute.is_some();
    chat.muted_until = mute.and_then(|m| m.until);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use common::contracts::chat::ChatType;

    use super::watched_store::Watched;
    use super::*;
    use crate::adapters::SqliteStore;

    fn chat(id: &str, participants: &[&str]) -> ChatRecord {
        ChatRecord {
            id: id.to_owned(),
            kind: ChatType::Group,
            participants: participants.iter().map(|p| (*p).to_owned()).collect(),
            name: Some(id.to_owned()),
            admins: vec![],
            passcode_hash: None,
            created_at: Utc::now(),
            revision: 0,
            closed: false,
            topic: None,
            picture: None,
            pins: Vec::new(),
        }
    }

    #[test]
    fn contacts_are_everyone_else_once_in_the_order_of_their_chats() {
        let chats = [
            chat("1", &["me", "b", "a"]),
            chat("2", &["a", "me", "c", "b"]),
        ];
        assert_eq!(distinct_others(chats.iter(), "me"), ["b", "a", "c"]);
    }

    #[tokio::test]
    async fn a_storm_of_contact_reads_is_a_few_store_queries_that_answer_every_one() {
        let dir = std::env::temp_dir().join(common::testing::unique_name("contacts"));
        let store = Arc::new(Watched::new(
            SqliteStore::open(&dir).await.expect("open sqlite"),
        ));
        let stranger = chat("s", &["u0", "stranger"]);
        store.insert_chat(&stranger).await.expect("insert chat");
        const USERS: usize = 40;
        let members: Vec<String> = (0..USERS).map(|i| format!("u{i}")).collect();
        let group = chat("g", &members.iter().map(String::as_str).collect::<Vec<_>>());
        store.insert_chat(&group).await.expect("insert chat");
        let service = ChatService::new(store.clone());

        let reads = members.iter().map(|m| {
            let service = service.clone();
            let m = m.clone();
            tokio::spawn(async move { service.contacts(&m).await })
        });
        for (i, read) in futures::future::join_all(reads)
            .await
            .into_iter()
            .enumerate()
        {
            let contacts = read.expect("task").expect("contacts");
            // Each user's own: u0 also has the stranger, nobody else does.
            assert_eq!(contacts.len(), USERS - 1 + usize::from(i == 0), "u{i}");
            assert_eq!(contacts.contains(&"stranger".to_owned()), i == 0, "u{i}");
        }
        let calls = store.contact_reads.load(Ordering::SeqCst);
        assert!(
            calls <= 3,
            "{calls} store queries for {USERS} users' contacts"
        );
        assert_eq!(
            store.most_contact_reads.load(Ordering::SeqCst),
            1,
            "one query at a time"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
