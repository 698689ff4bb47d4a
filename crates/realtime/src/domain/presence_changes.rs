//! Presence changes waiting to be announced, and how one round of them is addressed.
//!
//! Announcing each change to each contact as it happened made a mass (re)connect of a group
//! O(members²) packets: 1,000 members of one group coming online sent 999,000 `user_online`s,
//! and leaving at once as many `user_offline`s. Instead each instance queues the changes of its
//! users ([`PresenceChanges::push`]) and announces them in rounds (`socket::presence`): the first
//! change after a quiet spell at once, the ones that follow within `PRESENCE_BATCH_MS` together
//! at its end. A round sends each recipient one `presence_update` naming every user of the round
//! who shares a chat with them, and recipients who would get the same list get the same packet
//! ([`address`]), so that group's storm costs each member a few events.
//!
//! A round announces its users' state at that moment (the caller reads it), not the changes
//! that queued them: a user who came online and left within one window is announced offline,
//! and an instance announcing late cannot undo a newer announcement of another instance.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use common::contracts::events::{OfflineUser, PRESENCE_SNAPSHOT_CHUNK, PresenceUpdate};
use tokio::sync::Notify;

/// What queued a user for the next round.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `None`: came online; `Some(when)`: went offline then.
    pub offline_since: Option<DateTime<Utc>>,
    /// The user's contacts, when the change came with them (a connect reads them anyway);
    /// otherwise the round reads them.
    pub contacts: Option<Vec<String>>,
}

/// The changes of this instance's users since the last round, newest per user.
#[derive(Default)]
pub struct PresenceChanges {
    pending: Mutex<HashMap<String, Change>>,
    wake: Notify,
}

impl PresenceChanges {
    /// Queues `user` for the next round; a change already queued for them is replaced (keeping
    /// its contacts if this one has none).
    pub fn push(&self, user: String, change: Change) {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            match pending.entry(user) {
                Entry::Occupied(mut queued) => {
                    let queued = queued.get_mut();
                    let contacts = change.contacts.or_else(|| queued.contacts.take());
                    *queued = Change { contacts, ..change };
                }
                Entry::Vacant(slot) => {
                    slot.insert(change);
                }
            }
        }
        self.wake.notify_one();
    }

    /// Waits until something was pushed since the last call returned (at once if it was).
    pub async fn pushed(&self) {
        self.wake.notified().await;
    }

    /// Everything queued, emptying the queue.
    pub fn take(&self) -> Vec<(String, Change)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *pending).into_iter().collect()
    }
}

/// A user's state as a round announces it.
#[derive(Debug, Clone, PartialEq)]
pub struct Announced {
    pub user: String,
    /// `None`: online; `Some(when)`: offline, last seen then.
    pub offline_since: Option<DateTime<Utc>>,
}

/// The `presence_update`s of one round and who gets each: `users[i]` is announced to
/// `contacts[i]` (each list without repeats). Recipients whose lists are the same share one
/// update, and a recipient who is among `users` is listed in their own, so that in a group
/// whose members all changed, every member gets the same list and one packet goes to them all.
/// Lists longer than [`PRESENCE_SNAPSHOT_CHUNK`] are sent in several updates.
pub fn address(
    users: &[Announced],
    contacts: &[Vec<String>],
) -> Vec<(Vec<String>, PresenceUpdate)> {
    let index: HashMap<&str, u32> = users
        .iter()
        .zip(0u32..)
        .map(|(a, i)| (a.user.as_str(), i))
        .collect();
    // For each recipient, the indices of the users it hears of, ascending.
    let mut heard: HashMap<&str, Vec<u32>> = HashMap::new();
    for (of, i) in contacts.iter().zip(0u32..) {
        for recipient in of {
            heard.entry(recipient.as_str()).or_default().push(i);
        }
    }
    let mut by_list: HashMap<Vec<u32>, Vec<String>> = HashMap::new();
    for (recipient, mut list) in heard {
        if let Some(&own) = index.get(recipient)
            && let Err(at) = list.binary_search(&own)
        {
            list.insert(at, own);
        }
        by_list.entry(list).or_default().push(recipient.to_owned());
    }
    let mut out = Vec::new();
    for (list, recipients) in by_list {
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
            out.push((recipients.clone(), update));
        }
    }
    out
}

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
        let contacts = [
            names(&["b", "c", "x"]),
            names(&["a", "c", "x"]),
            names(&["a", "b", "x"]),
        ];
        let got = sorted(address(&users, &contacts));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, names(&["a", "b", "c", "x"]));
        assert_eq!(got[0].1.online, names(&["a", "b", "c"]));
        assert!(got[0].1.offline.is_empty());
    }

    #[test]
    fn each_recipient_hears_only_of_its_contacts() {
        let at = Utc::now();
        let users = [
            online("a"),
            Announced {
                user: "b".into(),
                offline_since: Some(at),
            },
        ];
        let contacts = [names(&["x", "y"]), names(&["y"])];
        let got = sorted(address(&users, &contacts));
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
    fn long_lists_come_in_parts() {
        let n = PRESENCE_SNAPSHOT_CHUNK + 5;
        let users: Vec<Announced> = (0..n).map(|i| online(&format!("u{i}"))).collect();
        let contacts = vec![names(&["x"]); n];
        let got = address(&users, &contacts);
        let sizes: Vec<usize> = got.iter().map(|(_, u)| u.online.len()).collect();
        assert_eq!(sizes, [PRESENCE_SNAPSHOT_CHUNK, 5]);
        assert!(got.iter().all(|(r, _)| r == &names(&["x"])));
    }

    #[test]
    fn the_newest_change_of_a_user_wins_and_keeps_the_contacts() {
        let q = PresenceChanges::default();
        q.push(
            "a".into(),
            Change {
                offline_since: None,
                contacts: Some(names(&["b"])),
            },
        );
        let at = Utc::now();
        q.push(
            "a".into(),
            Change {
                offline_since: Some(at),
                contacts: None,
            },
        );
        assert_eq!(
            q.take(),
            [(
                "a".to_owned(),
                Change {
                    offline_since: Some(at),
                    contacts: Some(names(&["b"])),
                }
            )]
        );
        assert!(q.take().is_empty());
    }
}
