//! Edits and deletions: conditional on the sender and on not being deleted, a tombstone that
//! keeps its place, changes read back ordered by their time then id with exact continuations,
//! and `sync_changes`' look-back before a client's `since`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use common::contracts::chat::{ChatType, Message, MessageMetadata, MessageType};
use common::contracts::events::{ChangesResume, SyncChanges};
use realtime::domain::{ChatService, MessageService, new_object_id};
use realtime::ports::{Attachment, ChatStore, Inserted, MessageChange};

use super::{chat, message, mongo, sqlite, user};

contract!(
    an_edit_is_its_senders_only_and_none_after_a_deletion,
    changes_are_read_in_time_then_id_order_and_continue_exactly,
    changes_are_answered_from_the_look_back_before_since,
    deleting_an_attachment_frees_its_bytes,
);

async fn stored(store: &Arc<dyn ChatStore>, chat: &str, sender: &str, text: &str) -> Message {
    let m = message(chat, sender, &new_object_id(), text);
    match store.insert_message(m).await.expect("insert") {
        Inserted::New(m) => m,
        Inserted::Existing(_) => panic!("a fresh message reported as existing"),
    }
}

fn edit(sender: &str, content: &str, at: DateTime<Utc>) -> MessageChange {
    MessageChange::Edit {
        sender: sender.to_owned(),
        content: content.to_owned(),
        iv: None,
        encrypted: false,
        at,
    }
}

fn delete(by: &str, at: DateTime<Utc>) -> MessageChange {
    MessageChange::Delete {
        by: by.to_owned(),
        at,
    }
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

async fn an_edit_is_its_senders_only_and_none_after_a_deletion(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("chat");
    let mut m = message(&c.id, &a, &new_object_id(), "c2VhbGVk");
    m.encrypted = true;
    m.iv = Some("aXY=".into());
    m.kind = MessageType::File;
    m.metadata = Some(MessageMetadata {
        attachment_id: Some(new_object_id()),
        ..Default::default()
    });
    let Inserted::New(m) = store.insert_message(m).await.expect("insert") else {
        panic!("fresh");
    };

    let at = now();
    let not_bs = store.change_message(&m.id, &edit(&b, "x", at)).await;
    assert_eq!(not_bs.expect("edit"), None, "b did not send it");
    let mut sealed = edit(&a, "bmV3", at);
    if let MessageChange::Edit { iv, encrypted, .. } = &mut sealed {
        (*iv, *encrypted) = (Some("aXYy".into()), true);
    }
    let edited = store.change_message(&m.id, &sealed).await.expect("edit");
    let edited = edited.expect("a's edit");
    assert_eq!(
        (
            edited.content.as_str(),
            edited.iv.as_deref(),
            edited.encrypted
        ),
        ("bmV3", Some("aXYy"), true)
    );
    assert_eq!((edited.edited_at, edited.deleted_at), (Some(at), None));
    assert_eq!(edited.metadata, m.metadata, "an edit keeps the attachment");
    assert_eq!(
        store.get_message(&m.id).await.expect("get"),
        Some(edited.clone())
    );
    let last = store.last_messages(std::slice::from_ref(&c.id)).await;
    assert_eq!(
        last.expect("last").get(&c.id),
        Some(&edited),
        "the chat list's copy"
    );

    let later = at + TimeDelta::milliseconds(5);
    let tombstone = store
        .change_message(&m.id, &delete(&b, later))
        .await
        .expect("delete")
        .expect("deleted");
    assert_eq!(
        (
            tombstone.content.as_str(),
            &tombstone.iv,
            &tombstone.metadata,
            tombstone.encrypted
        ),
        ("", &None, &None, false)
    );
    assert_eq!(
        (tombstone.kind, tombstone.deleted_at),
        (MessageType::File, Some(later))
    );
    assert_eq!(
        tombstone.deleted_by.as_deref(),
        Some(b.as_str()),
        "who deleted it"
    );
    assert_eq!(
        (tombstone.id.as_str(), tombstone.timestamp),
        (m.id.as_str(), m.timestamp)
    );
    assert_eq!(tombstone.updated_at, Some(later));
    for change in [delete(&a, later), edit(&a, "back", later)] {
        let again = store.change_message(&m.id, &change).await.expect("change");
        assert_eq!(again, None, "nothing changes a deleted message");
    }
    let last = store.last_messages(std::slice::from_ref(&c.id)).await;
    assert_eq!(last.expect("last").get(&c.id), Some(&tombstone));
    let unknown = store
        .change_message(&new_object_id(), &delete(&a, at))
        .await;
    assert_eq!(unknown.expect("delete"), None);
}

async fn changes_are_read_in_time_then_id_order_and_continue_exactly(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let mine = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    let other = chat(ChatType::Group, vec![b.clone()]);
    for c in [&mine, &other] {
        store.insert_chat(c).await.expect("chat");
    }
    let mut ms = Vec::new();
    for i in 0..5 {
        ms.push(stored(&store, &mine.id, &a, &format!("m{i}")).await);
    }
    let unchanged = stored(&store, &mine.id, &a, "never edited").await;
    let hidden = stored(&store, &other.id, &b, "elsewhere").await;
    let t = now();
    let ms_at = |n: i64| t + TimeDelta::milliseconds(n);
    // Changed in this order of time: m3 (+1), then m0, m4 and m1 together (+2), m2 (+3).
    for (i, at) in [(3, 1), (4, 2), (0, 2), (1, 2), (2, 3)] {
        let change = edit(&a, "edited", ms_at(at));
        store
            .change_message(&ms[i].id, &change)
            .await
            .expect("edit")
            .expect("a's");
    }
    store
        .change_message(&hidden.id, &edit(&b, "x", ms_at(2)))
        .await
        .expect("edit")
        .expect("b's");
    let ties: Vec<&str> = {
        let mut ids = vec![ms[0].id.as_str(), ms[1].id.as_str(), ms[4].id.as_str()];
        ids.sort_unstable();
        ids
    };
    let expected: Vec<&str> = [vec![ms[3].id.as_str()], ties, vec![ms[2].id.as_str()]].concat();

    let chats = [mine.id.clone()];
    let all = store
        .changed_messages(&chats, t, None, 100)
        .await
        .expect("changes");
    let ids: Vec<&str> = all.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids, expected,
        "by change time, then id; not {}",
        unchanged.id
    );

    // Pages of two, each continuing after the last one's (time, id).
    let mut got = Vec::new();
    let mut after: Option<(DateTime<Utc>, String)> = None;
    loop {
        let page = store
            .changed_messages(
                &chats,
                t,
                after.as_ref().map(|(at, id)| (*at, id.as_str())),
                2,
            )
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        after = Some((last.updated_at.expect("changed"), last.id.clone()));
        got.extend(page.iter().map(|m| m.id.clone()));
    }
    assert_eq!(got, expected, "every change once, across pages");

    let later = store
        .changed_messages(&chats, ms_at(2), None, 100)
        .await
        .expect("changes");
    assert_eq!(
        later.iter().map(|m| &m.id).collect::<Vec<_>>(),
        [&ms[2].id],
        "after `since`"
    );
    let none = store
        .changed_messages(&[], t, None, 100)
        .await
        .expect("no chats");
    assert!(none.is_empty());
}

async fn changes_are_answered_from_the_look_back_before_since(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("chat");
    let since = now();
    // Stamped by an instance whose clock is behind, or written late: before `since`.
    let (inside, outside) = (
        stored(&store, &c.id, &a, "inside").await,
        stored(&store, &c.id, &a, "outside").await,
    );
    for (m, back) in [(&inside, 10), (&outside, 20)] {
        let at = since - TimeDelta::seconds(back);
        store
            .change_message(&m.id, &edit(&a, "edited", at))
            .await
            .expect("edit");
    }
    let service = MessageService::new(
        store.clone(),
        ChatService::new(store.clone()),
        Duration::from_secs(15),
    );
    let req = SyncChanges {
        since: Some(since),
        ..Default::default()
    };
    let answer = service.changes(&b, &req).await.expect("changes");
    let ids: Vec<&str> = answer.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [inside.id.as_str()], "within the 15 s look-back only");
    assert!(!answer.has_more && answer.resume.is_none());
    assert!(answer.until >= since);

    // A page of one stops with a resume at its change; the next page continues after it.
    let edited_later = stored(&store, &c.id, &a, "later").await;
    let later = since + TimeDelta::milliseconds(1);
    store
        .change_message(&edited_later.id, &edit(&a, "edited", later))
        .await
        .expect("edit");
    let first = SyncChanges {
        limit: Some(1),
        ..req.clone()
    };
    let page = service.changes(&b, &first).await.expect("page");
    assert_eq!((page.messages.len(), page.has_more), (1, true));
    let resume = page.resume.clone().expect("resume");
    assert_eq!(
        resume,
        ChangesResume {
            at: since - TimeDelta::seconds(10),
            message_id: inside.id.clone(),
        }
    );
    let next = SyncChanges {
        resume: Some(resume),
        ..first
    };
    let page = service.changes(&b, &next).await.expect("page");
    assert_eq!(
        page.messages.iter().map(|m| &m.id).collect::<Vec<_>>(),
        [&edited_later.id]
    );
    assert!(!page.has_more);

    // Without `since`: no messages, only where to start.
    let start = service
        .changes(&b, &SyncChanges::default())
        .await
        .expect("start");
    assert!(start.messages.is_empty() && !start.has_more);
}

async fn deleting_an_attachment_frees_its_bytes(store: Arc<dyn ChatStore>) {
    let a = user();
    let c = chat(ChatType::Group, vec![a.clone()]);
    store.insert_chat(&c).await.expect("chat");
    let attachment = Attachment {
        id: new_object_id(),
        chat_id: c.id.clone(),
        uploader_id: a.clone(),
        size: 3,
        created_at: now(),
        sent: true,
    };
    store
        .insert_attachment(&attachment, b"abc")
        .await
        .expect("insert");
    assert_eq!(store.attachment_bytes_of(&a).await.expect("bytes"), 3);
    assert!(
        store
            .delete_attachment(&attachment.id)
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_attachment(&attachment.id)
            .await
            .expect("again")
    );
    assert_eq!(store.attachment(&attachment.id).await.expect("read"), None);
    assert_eq!(store.attachment_bytes_of(&a).await.expect("bytes"), 0);
}
