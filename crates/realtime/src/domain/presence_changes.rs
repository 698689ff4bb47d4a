//! Presence changes waiting to be announced, and how one round of them is addressed.
//!
//! Announcing each change to each contact as it happened made a mass (re)connect of a group
//! O(members²) packets: 1,000 members of one group coming online sent 999,000 `user_online`s,
//! and leaving at once as many `user_offline`s. Instead each instance queues the changes of its
//! users ([`PresenceChanges::push`]) and announces them in rounds (`socket::presence`): the first
//! change after a quiet spell at once, the ones that follow within `PRESENCE_BATCH_MS` together
//! at its end. A round reads its users' chats in one query (per 1,000 users) and sends each
//! recipient one event naming every user of the round who shares a chat with them, and
//! recipients who would get the same list get the same packet ([`address`]), so that group's
//! storm costs each member a few events, and the round reads the group once.
//!
//! A round announces its users' state at that moment (the caller reads it), not the changes
//! that queued them: a user who came online and left within one window is announced offline,
//! and an instance announcing late cannot undo a newer announcement of another instance.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use common::contracts::events::{OfflineUser, PRESENCE_SNAPSHOT_CHUNK, PresenceUpdate};
use tokio::sync::Notify;

/// What queued a user for the next round: `None`, they came online; `Some(when)`, they went
/// offline then.
pub type Change = Option<DateTime<Utc>>;

/// How many rounds a user taken for one is remembered ([`PresenceChanges::unannounced`]): a
/// snapshot read later than that may repeat them, which is harmless.
const REMEMBERED_ROUNDS: u64 = 16;

/// The changes of this instance's users since the last round, newest per user, and which users
/// the last `REMEMBERED_ROUNDS` rounds took (until the rounds go quiet).
#[derive(Default)]
pub struct PresenceChanges {
    queue: Mutex<Queue>,
    wake: Notify,
}

#[derive(Default)]
struct Queue {
    pending: HashMap<String, Change>,
    /// Rounds taken so far.
    rounds: u64,
    /// The round that last took each user, by a 64-bit hash of their id: one table of numbers,
    /// freed whole once the rounds go quiet (ids would be thousands of small allocations left
    /// among the sockets' after an instance's users connect). Two ids of one hash (about one
    /// chance in 10^15 per look-up with 20,000 users remembered) would leave one of them out of
    /// a snapshot: shown offline until their next change.
    taken: FastMap<u64, u64>,
    ids: foldhash::fast::RandomState,
}

impl PresenceChanges {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Single operations: a panic while holding the lock cannot leave the queue inconsistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `user` for the next round; a change already queued for them is replaced.
    pub fn push(&self, user: String, change: Change) {
        self.queue().pending.insert(user, change);
        self.wake.notify_one();
    }

    /// Puts back the changes of a round that could not be announced, for the next round, except
    /// where a newer change of the same user has been queued meanwhile.
    pub fn requeue(&self, changes: Vec<(String, Change)>) {
        {
            let mut queue = self.queue();
            for (user, change) in changes {
                queue.pending.entry(user).or_insert(change);
            }
        }
        self.wake.notify_one();
    }

    /// Waits until something was pushed since the last call returned (at once if it was).
    pub async fn pushed(&self) {
        self.wake.notified().await;
    }

    /// Everything queued, emptying the queue: the next round.
    pub fn take(&self) -> Vec<(String, Change)> {
        let mut queue = self.queue();
        queue.rounds += 1;
        let (round, pending) = (queue.rounds, std::mem::take(&mut queue.pending));
        let Queue { taken, ids, .. } = &mut *queue;
        taken.retain(|_, taken| *taken + REMEMBERED_ROUNDS > round);
        taken.extend(pending.keys().map(|user| (ids.hash_one(user), round)));
        pending.into_iter().collect()
    }

    /// Forgets which users the rounds took, when nothing is queued: called once a round's
    /// window has passed, so a quiet instance holds nothing for [`PresenceChanges::unannounced`].
    /// A snapshot read after this may repeat a contact its socket heard of in a round.
    pub fn forget_if_quiet(&self) {
        let mut queue = self.queue();
        if queue.pending.is_empty() {
            queue.taken = FastMap::default();
        }
    }

    /// How many rounds have been taken: a socket that has joined its room now hears every later
    /// round of this instance.
    pub fn rounds(&self) -> u64 {
        self.queue().rounds
    }

    /// `users` without those a round of this instance has told or will tell a socket that joined
    /// its room when [`PresenceChanges::rounds`] was `since`: the users queued, and those taken
    /// by a round after that (as far as the last `REMEMBERED_ROUNDS` go).
    pub fn unannounced(&self, mut users: Vec<String>, since: u64) -> Vec<String> {
        let queue = self.queue();
        users.retain(|u| {
            !queue.pending.contains_key(u)
                && queue
                    .taken
                    .get(&queue.ids.hash_one(u))
                    .is_none_or(|r| *r <= since)
        });
        users
    }
}

/// A user's state as a round announces it.
#[derive(Debug, Clone, PartialEq)]
pub struct Announced {
    pub user: String,
    /// `None`: online; `Some(when)`: offline, last seen then.
    pub offline_since: Option<DateTime<Utc>>,
}

/// The updates of one round and who gets each: every participant of `chats` (each chat's
/// participants, without repeats) hears of the `users` among that chat's participants. A
/// recipient's update names everyone it hears of through any of its chats, each once; recipients
/// whose lists are the same share one update, and a recipient who is among `users` is listed in
/// their own (but gets none for hearing only of themselves), so that in a group whose members all
/// changed, every member gets the same list and one packet goes to them all. Lists longer than
/// [`PRESENCE_SNAPSHOT_CHUNK`] are sent in several updates.
pub fn address(users: &[Announced], chats: &[Vec<String>]) -> Vec<(Vec<String>, PresenceUpdate)> {
    // A storm's round holds ~members² (recipient, user) pairs, so recipients are numbered once
    // and every map hashes with foldhash, not SipHash (these ids come from our own store).
    let index: FastMap<&str, u32> = users
        .iter()
        .zip(0u32..)
        .map(|(a, i)| (a.user.as_str(), i))
        .collect();
    let mut recipient_ids: FastMap<&str, u32> = FastMap::default();
    let mut recipients: Vec<&str> = Vec::new();
    // For each recipient, the indices of the users it hears of.
    let mut heard: Vec<Vec<u32>> = Vec::new();
    for participants in chats {
        let mut changed: Vec<u32> = participants
            .iter()
            .filter_map(|p| index.get(p.as_str()).copied())
            .collect();
        if changed.is_empty() {
            continue;
        }
        changed.sort_unstable();
        for r in participants {
            let id = *recipient_ids.entry(r.as_str()).or_insert_with(|| {
                recipients.push(r.as_str());
                heard.push(Vec::new());
                u32::try_from(recipients.len() - 1).unwrap_or(u32::MAX)
            });
            heard[id as usize].extend_from_slice(&changed);
        }
    }
    for (list, r) in heard.iter_mut().zip(&recipients) {
        list.sort_unstable();
        list.dedup();
        if let [only] = list[..]
            && index.get(r) == Some(&only)
        {
            list.clear();
        }
    }
    let mut by_list: FastMap<&[u32], Vec<&str>> = FastMap::default();
    for (list, r) in heard.iter().zip(&recipients) {
        if !list.is_empty() {
            by_list.entry(list.as_slice()).or_default().push(r);
        }
    }
    let mut out = Vec::new();
    for (list, to) in by_list {
        let to: Vec<String> = to.into_iter().map(str::to_owned).collect();
        for part in list.chunks(PRESENCE_SNAPSHOT_CHUNK) {
            let mut update = PresenceUpdate::default();
            for &i in part {
                let a = &users[i as usize];
                match a.offline_since {
                    None => update.online.push(a.user.clone()),
                    Some(last_seen) => update.offline.push(OfflineUser {
                        user_id: a.user.clone(),
                        last_seen,
                    }),
                }
            }
            out.push((to.clone(), update));
        }
    }
    out
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[cfg(test)]
mod tests {
    use super::*;

    fn online(user: &str) -> Announced {
        Announced {
            user: user.into(),
            offline_since: None,
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn sorted(
        mut rounds: Vec<(Vec<String>, PresenceUpdate)>,
    ) -> Vec<(Vec<String>, PresenceUpdate)> {
        for (r, _) in &mut rounds {
            r.sort();
        }
        rounds.sort_by(|a, b| a.0.cmp(&b.0));
        rounds
    }

    #[test]
    fn a_group_whose_members_all_changed_gets_one_update() {
        let users = [online("a"), online("b"), online("c")];
        let chats = [names(&["a", "b", "c", "x"])];
        let got = sorted(address(&users, &chats));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, names(&["a", "b", "c", "x"]));
        assert_eq!(got[0].1.online, names(&["a", "b", "c"]));
        assert!(got[0].1.offline.is_empty());
    }

    #[test]
    fn each_recipient_hears_of_everyone_it_shares_a_chat_with_once() {
        let at = Utc::now();
        let users = [
            online("a"),
            Announced {
                user: "b".into(),
                offline_since: Some(at),
            },
        ];
        // y shares two chats with a; b's only chat is with y; z's chat has nobody who changed.
        let chats = [
            names(&["a", "x", "y"]),
            names(&["a", "y"]),
            names(&["b", "y"]),
            names(&["z", "w"]),
        ];
        let got = sorted(address(&users, &chats));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, names(&["x"]));
        assert_eq!(got[0].1.online, names(&["a"]));
        assert!(got[0].1.offline.is_empty());
        assert_eq!(got[1].0, names(&["y"]));
        assert_eq!(got[1].1.online, names(&["a"]));
        assert_eq!(
            got[1].1.offline,
            [OfflineUser {
                user_id: "b".into(),
                last_seen: at
            }]
        );
    }

    #[test]
    fn nobody_is_told_only_of_themselves() {
        let users = [online("a"), online("c")];
        let chats = [names(&["a", "b"]), names(&["c", "d"]), names(&["a", "c"])];
        let got = sorted(address(&users, &chats));
        let to: Vec<(Vec<String>, Vec<String>)> =
            got.into_iter().map(|(r, u)| (r, u.online)).collect();
        assert_eq!(
            to,
            [
                (names(&["a", "c"]), names(&["a", "c"])),
                (names(&["b"]), names(&["a"])),
                (names(&["d"]), names(&["c"])),
            ]
        );
        let alone = address(&[online("a")], &[names(&["a", "b"])]);
        assert_eq!(alone.len(), 1, "only b hears of a: {alone:?}");
    }

    #[test]
    fn long_lists_come_in_parts() {
        let n = PRESENCE_SNAPSHOT_CHUNK + 5;
        let users: Vec<Announced> = (0..n).map(|i| online(&format!("u{i}"))).collect();
        let chats: Vec<Vec<String>> = (0..n).map(|i| names(&[&format!("u{i}"), "x"])).collect();
        let got = address(&users, &chats);
        let sizes: Vec<usize> = got.iter().map(|(_, u)| u.online.len()).collect();
        assert_eq!(sizes, [PRESENCE_SNAPSHOT_CHUNK, 5]);
        assert!(got.iter().all(|(r, _)| r == &names(&["x"])));
    }

    #[test]
    fn the_newest_change_of_a_user_wins() {
        let q = PresenceChanges::default();
        q.push("a".into(), None);
        let at = Utc::now();
        q.push("a".into(), Some(at));
        assert_eq!(q.take(), [("a".to_owned(), Some(at))]);
        assert!(q.take().is_empty());
    }

    #[test]
    fn a_requeued_change_does_not_replace_a_newer_one() {
        let q = PresenceChanges::default();
        let at = Utc::now();
        q.push("b".into(), None);
        q.requeue(vec![("a".into(), Some(at)), ("b".into(), Some(at))]);
        let mut left = q.take();
        left.sort();
        assert_eq!(left, [("a".to_owned(), Some(at)), ("b".to_owned(), None)]);
    }

    #[test]
    fn users_a_later_round_takes_or_took_are_announced_by_it() {
        let q = PresenceChanges::default();
        q.push("old".into(), None);
        q.take();
        let joined = q.rounds();
        assert_eq!(
            q.unannounced(names(&["old", "b"]), joined),
            names(&["old", "b"])
        );
        q.push("a".into(), None);
        q.push("c".into(), Some(Utc::now()));
        let all = names(&["old", "a", "b", "c"]);
        assert_eq!(
            q.unannounced(all.clone(), joined),
            names(&["old", "b"]),
            "queued"
        );
        q.take();
        assert_eq!(
            q.unannounced(all.clone(), joined),
            names(&["old", "b"]),
            "taken since"
        );
        assert_eq!(q.unannounced(all.clone(), q.rounds()), all, "taken before");
        for _ in 0..REMEMBERED_ROUNDS {
            q.take();
        }
        assert_eq!(q.unannounced(all.clone(), joined), all, "forgotten");
    }

    #[test]
    fn quiet_rounds_forget_whom_they_took() {
        let q = PresenceChanges::default();
        let joined = q.rounds();
        q.push("a".into(), None);
        q.take();
        q.push("b".into(), None);
        q.forget_if_quiet();
        assert_eq!(
            q.unannounced(names(&["a", "b"]), joined),
            names(&[]),
            "b queued"
        );
        q.take();
        q.forget_if_quiet();
        assert_eq!(
            q.unannounced(names(&["a", "b"]), joined),
            names(&["a", "b"])
        );
    }
}
