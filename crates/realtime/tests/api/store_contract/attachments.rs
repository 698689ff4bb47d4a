//! Attachments: stored durably with their bytes, read with or without them, deleted with their
//! chat.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use common::contracts::chat::ChatType;
use realtime::domain::new_object_id;
use realtime::ports::{Attachment, ChatStore};

use super::{chat, mongo, sqlite, user};

contract!(
    attachments_round_trip_with_and_without_their_bytes,
    deleting_a_chat_deletes_its_attachments_only,
);

fn attachment(chat: &str, uploader: &str, size: usize) -> Attachment {
    Attachment {
        id: new_object_id(),
        chat_id: chat.to_owned(),
        uploader_id: uploader.to_owned(),
        size: size as u64,
        created_at: Utc::now().trunc_subsecs(3),
    }
}

/// Every byte value, so no encoding on the way (text, base64, a NUL terminator) goes unseen.
fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn attachments_round_trip_with_and_without_their_bytes(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("chat");
    let data = bytes(300_000);
    let stored = attachment(&c.id, &a, data.len());
    store
        .insert_attachment(&stored, &data)
        .await
        .expect("insert");
    assert_eq!(
        store.attachment(&stored.id).await.expect("read"),
        Some(stored.clone())
    );
    assert_eq!(
        store
            .attachment_bytes(&stored.id)
            .await
            .expect("read bytes"),
        Some((stored.clone(), data))
    );
    let unknown = new_object_id();
    assert_eq!(store.attachment(&unknown).await.expect("read"), None);
    assert_eq!(store.attachment_bytes(&unknown).await.expect("read"), None);
    assert_eq!(store.attachment("nope").await.expect("read"), None);
}

async fn deleting_a_chat_deletes_its_attachments_only(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let group = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    let direct = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&group).await.expect("group");
    store.insert_chat(&direct).await.expect("direct");
    let gone = attachment(&group.id, &a, 3);
    let kept = attachment(&direct.id, &b, 3);
    store
        .insert_attachment(&gone, b"abc")
        .await
        .expect("insert");
    store
        .insert_attachment(&kept, b"def")
        .await
        .expect("insert");
    assert!(store.delete_chat(&group.id).await.expect("delete"));
    assert_eq!(store.attachment(&gone.id).await.expect("read"), None);
    assert_eq!(
        store.attachment_bytes(&kept.id).await.expect("read"),
        Some((kept, b"def".to_vec()))
    );
}
