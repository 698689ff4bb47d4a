//! Reactions on the wire: a reaction request names one emoji of Unicode's list, and a message
//! carries `reactions`, `revision` and `updatedAt` only once it has changed, so a sent message's
//! frame is what it was before reactions existed.

use common::contracts::chat::{Message, Reaction};
use common::contracts::events::{MAX_EMOJI_BYTES, ReactMessage};
use validator::Validate;

const CHAT: &str = "65a1b2c3d4e5f60718293a4b";
const MSG: &str = "65a1b2c3d4e5f60718293a4c";
const USER: &str = "3f2b8a5e-8c1d-4c7e-9b7a-2d4f6a8c0e12";

fn reaction(emoji: &str) -> ReactMessage {
    ReactMessage {
        chat_id: CHAT.into(),
        message_id: MSG.into(),
        emoji: emoji.into(),
        add: true,
    }
}

fn invalid_fields(r: &ReactMessage) -> Vec<String> {
    let errors = r.validate().expect_err("invalid");
    let mut fields: Vec<String> = errors
        .field_errors()
        .keys()
        .map(|k| k.to_string())
        .collect();
    fields.sort();
    fields
}

#[test]
fn a_reaction_is_one_emoji_of_unicodes_list() {
    let family = "👨\u{200d}👩\u{200d}👧\u{200d}👦";
    for ok in ["👍", "👍🏽", "❤️", "🎉", "🇫🇷", family, "✅"] {
        reaction(ok)
            .validate()
            .unwrap_or_else(|e| panic!("{ok:?}: {e}"));
    }
    let long = "👍".repeat(MAX_EMOJI_BYTES / 4 + 1);
    for bad in [
        "", "x", ":+1:", "+1", "👍👍", " 👍", "👍 ", "a👍", "\u{200d}", &long,
    ] {
        assert_eq!(invalid_fields(&reaction(bad)), ["emoji"], "{bad:?}");
    }
    let parsed: ReactMessage = serde_json::from_value(serde_json::json!({
        "chatId": CHAT, "messageId": MSG, "emoji": "👍", "add": false
    }))
    .expect("parses");
    assert!(!parsed.add);
    let without_add = serde_json::from_value::<ReactMessage>(serde_json::json!({
        "chatId": CHAT, "messageId": MSG, "emoji": "👍"
    }));
    assert!(
        without_add.is_err(),
        "add or take back: it is said, never guessed"
    );
    let ids = ReactMessage {
        chat_id: "x".into(),
        message_id: "y".into(),
        ..reaction("👍")
    };
    assert_eq!(invalid_fields(&ids), ["chatId", "messageId"]);
}

#[test]
fn a_message_carries_its_changes_only_once_it_has_some() {
    let sent = serde_json::json!({
        "id": MSG, "chatId": CHAT, "senderId": USER, "clientMsgId": "c1", "content": "hi",
        "encrypted": false, "type": "text", "timestamp": "2026-12-07T10:00:00.000Z",
        "readBy": [], "deliveredTo": [],
    });
    let message: Message = serde_json::from_value(sent.clone()).expect("parses");
    assert_eq!(
        (
            message.reactions.len(),
            message.revision,
            message.updated_at
        ),
        (0, 0, None)
    );
    assert_eq!(serde_json::to_value(&message).unwrap(), sent, "no new keys");

    let changed = Message {
        reactions: vec![Reaction {
            emoji: "👍".into(),
            users: vec![USER.into()],
        }],
        revision: 3,
        updated_at: Some(message.timestamp + chrono::Duration::milliseconds(1500)),
        ..message
    };
    let json = serde_json::to_value(&changed).unwrap();
    assert_eq!(
        json["reactions"],
        serde_json::json!([{"emoji": "👍", "users": [USER]}])
    );
    assert_eq!(json["revision"], 3);
    assert_eq!(json["updatedAt"], "2026-12-07T10:00:01.500Z");
    let back: Message = serde_json::from_value(json).expect("parses back");
    assert_eq!(back, changed);
}
