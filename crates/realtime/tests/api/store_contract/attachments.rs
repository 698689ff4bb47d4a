//! Attachments: stored durably with their bytes, read with or without them, deleted with their
//! chat, and uploads no message names swept after a while.

use std::sync::Arc;

use chrono::{SubsecRound, TimeDelta, Utc};
use common::contracts::chat::{ChatType, MessageMetadata, MessageType};
use common::contracts::events::SendMessage;
use realtime::config::Limits;
use realtime::domain::attachments::TRANSFERS;
use realtime::domain::{AttachmentService, ChatService, MessageService, new_object_id};
use realtime::ports::{Attachment, ChatStore};

use super::{chat, mongo, sqlite, user};

contract!(
    attachments_round_trip_with_and_without_their_bytes,
    deleting_a_chat_deletes_its_attachments_only,
    the_sweep_deletes_old_uploads_no_message_names,
    an_attachment_is_marked_sent_only_for_its_uploader_and_chat,
    a_users_stored_bytes_count_their_attachments_in_every_chat,
    an_upload_a_message_names_outlives_the_sweep,
    transfers_past_the_limit_wait_their_turn,
);

/// The service's limits with no upload quota to speak of.
fn limits() -> Limits {
    Limits {
        upload_bytes_per_hour: u64::MAX,
        ..Limits::default()
    }
}

fn attachment(chat: &str, uploader: &str, size: usize) -> Attachment {
    Attachment {
        id: new_object_id(),
        chat_id: chat.to_owned(),
        uploader_id: uploader.to_owned(),
        size: size as u64,
        created_at: Utc::now().trunc_subsecs(3),
        sent: false,
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

async fn the_sweep_deletes_old_uploads_no_message_names(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("chat");
    let old = |sent| Attachment {
        created_at: Utc::now().trunc_subsecs(3) - TimeDelta::hours(2),
        sent,
        ..attachment(&c.id, &a, 1)
    };
    let (unsent, sent, recent) = (old(false), old(true), attachment(&c.id, &a, 1));
    for x in [&unsent, &sent, &recent] {
        store.insert_attachment(x, b"x").await.expect("insert");
    }
    let cutoff = Utc::now() - TimeDelta::hours(1);
    assert_eq!(
        store
            .delete_unsent_attachments(cutoff)
            .await
            .expect("sweep"),
        1
    );
    assert_eq!(store.attachment(&unsent.id).await.expect("read"), None);
    assert_eq!(store.attachment(&sent.id).await.expect("read"), Some(sent));
    assert_eq!(
        store.attachment(&recent.id).await.expect("read"),
        Some(recent)
    );
    assert_eq!(
        store
            .delete_unsent_attachments(cutoff)
            .await
            .expect("sweep"),
        0
    );
}

/// What the storage quota counts: the sizes of a user's attachments, in every chat, and no
/// more once a chat is deleted.
async fn a_users_stored_bytes_count_their_attachments_in_every_chat(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let dm = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    let group = chat(ChatType::Group, vec![a.clone(), b.clone()]);
    for c in [&dm, &group] {
        store.insert_chat(c).await.expect("chat");
    }
    assert_eq!(store.attachment_bytes_of(&a).await.expect("sum"), 0);
    for (c, uploader, size) in [(&dm, &a, 300), (&group, &a, 5), (&dm, &b, 70)] {
        store
            .insert_attachment(&attachment(&c.id, uploader, size), &bytes(size))
            .await
            .expect("insert");
    }
    assert_eq!(store.attachment_bytes_of(&a).await.expect("sum"), 305);
    assert_eq!(store.attachment_bytes_of(&b).await.expect("sum"), 70);
    store.delete_chat(&group.id).await.expect("delete");
    assert_eq!(store.attachment_bytes_of(&a).await.expect("sum"), 300);
}

/// `attachment_sent` is the send's whole check: it marks the attachment only for its uploader in
/// its chat and for one message, says whether it did, and says so again for a resend.
async fn an_attachment_is_marked_sent_only_for_its_uploader_and_chat(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    let other = chat(ChatType::Direct, vec![a.clone(), user()]);
    for chat in [&c, &other] {
        store.insert_chat(chat).await.expect("chat");
    }
    let upload = attachment(&c.id, &a, 3);
    store
        .insert_attachment(&upload, b"abc")
        .await
        .expect("insert");
    let sent = async |id: &str, chat: &str, uploader: &str| {
        store
            .attachment_sent(id, chat, uploader, "c1")
            .await
            .expect("mark")
    };
    assert!(
        !sent(&upload.id, &c.id, &b).await,
        "another member's upload"
    );
    assert!(
        !sent(&upload.id, &other.id, &a).await,
        "carried to another chat"
    );
    assert!(!sent(&new_object_id(), &c.id, &a).await, "an unknown id");
    assert!(!sent("nope", &c.id, &a).await, "not an id");
    let read = async || {
        store
            .attachment(&upload.id)
            .await
            .expect("read")
            .expect("kept")
    };
    assert!(!read().await.sent, "marked by a refused send");
    assert!(sent(&upload.id, &c.id, &a).await);
    assert!(read().await.sent);
    assert!(sent(&upload.id, &c.id, &a).await, "a resend");
    let another = store.attachment_sent(&upload.id, &c.id, &a, "c2").await;
    assert!(!another.expect("mark"), "named by another message");
}

/// Through the services: an upload its message names is marked sent (twice over for a resend)
/// and kept by a sweep that deletes every unsent one.
async fn an_upload_a_message_names_outlives_the_sweep(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("chat");
    let chats = ChatService::new(store.clone());
    let kv: common::kv::SharedKv = Arc::new(common::kv::MemoryKv::new());
    let uploads = AttachmentService::new(store.clone(), chats.clone(), kv, &limits());
    let messages = MessageService::new(store.clone(), chats, std::time::Duration::from_secs(15));
    let upload = async |bytes: &[u8]| {
        let upload = uploads.begin_upload(&a, &c.id).await.expect("let in");
        uploads.upload(upload, bytes).await.expect("upload")
    };
    let named = upload(b"named").await;
    let forgotten = upload(b"forgotten").await;
    let send = SendMessage {
        chat_id: c.id.clone(),
        client_msg_id: "file-1".into(),
        content: "{}".into(),
        encrypted: false,
        iv: None,
        kind: Some(MessageType::File),
        metadata: Some(MessageMetadata {
            attachment_id: Some(named.id.clone()),
            ..MessageMetadata::default()
        }),
        reply_to: None,
    };
    for _ in 0..2 {
        messages.send(&a, send.clone()).await.expect("send");
    }
    let sent = store
        .attachment(&named.id)
        .await
        .expect("read")
        .expect("kept");
    assert!(sent.sent);
    let later = Utc::now() + TimeDelta::seconds(1);
    assert_eq!(
        store.delete_unsent_attachments(later).await.expect("sweep"),
        1
    );
    assert_eq!(store.attachment(&forgotten.id).await.expect("read"), None);
    assert_eq!(
        store.attachment_bytes(&named.id).await.expect("read"),
        Some((sent, b"named".to_vec()))
    );
}

/// At most `TRANSFERS` attachments' bytes in memory at once: the next waits for a turn to end.
async fn transfers_past_the_limit_wait_their_turn(store: Arc<dyn ChatStore>) {
    let (a, b) = (user(), user());
    let c = chat(ChatType::Direct, vec![a.clone(), b.clone()]);
    store.insert_chat(&c).await.expect("chat");
    let chats = ChatService::new(store.clone());
    let kv: common::kv::SharedKv = Arc::new(common::kv::MemoryKv::new());
    let uploads = AttachmentService::new(store, chats, kv, &limits());
    let mut turns = Vec::new();
    for _ in 0..TRANSFERS {
        turns.push(uploads.begin_upload(&a, &c.id).await.expect("a turn"));
    }
    let wait = std::time::Duration::from_millis(200);
    assert!(
        tokio::time::timeout(wait, uploads.begin_upload(&b, &c.id))
            .await
            .is_err(),
        "one more than TRANSFERS at once"
    );
    turns.pop();
    assert!(
        tokio::time::timeout(wait, uploads.begin_upload(&b, &c.id))
            .await
            .is_ok()
    );
}
