use common::contracts::Object;
use common::contracts::auth::{
    KeyBackupBody, LoginRequest, PublicKeyBody, SignupRequest, VerifyOtpRequest,
};
use common::contracts::chat::{CreateChatRequest, MessageMetadata, MessageType, MessagesQuery};
use common::contracts::events::{
    ChatRef, Delivered, EditMessage, MAX_CIPHERTEXT_CHARS, MAX_DELIVERED_IDS, MAX_PLAINTEXT_CHARS,
    MAX_SEALED_MEMBERS, MessageRef, SendMessage, SyncChanges, SyncRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use validator::Validate;

const CHAT: &str = "65a1b2c3d4e5f60718293a4b";
const MSG: &str = "65a1b2c3d4e5f60718293a4c";
const USER: &str = "3f2b8a5e-8c1d-4c7e-9b7a-2d4f6a8c0e12";

/// Parses `json` as `T`, serializes it back, and checks nothing was lost.
fn round_trip<T: DeserializeOwned + Serialize>(json: serde_json::Value) -> T {
    let value: T = serde_json::from_value(json.clone()).expect("parses");
    let back = serde_json::to_value(&value).unwrap();
    for (k, v) in json.as_object().unwrap() {
        assert_eq!(
            back.get(k),
            Some(v),
            "field {k} lost in the round trip: {back}"
        );
    }
    value
}

/// The field names a client sees in the `validation_failed` body for `value`.
fn invalid_fields<T: Validate>(value: &T) -> Vec<String> {
    let errs = value.validate().expect_err("should be invalid");
    let api = common::ApiError::from(errs);
    assert_eq!(api.code(), common::ErrorCode::ValidationFailed);
    api.body
        .fields
        .expect("validation errors name their fields")
        .into_keys()
        .collect()
}

#[test]
fn signup_round_trips_in_camel_case_and_validates() {
    let req: SignupRequest = round_trip(serde_json::json!({
        "email": "ana@example.com", "username": "ana.b_1", "password": "correct horse battery", "displayName": "Ana"
    }));
    req.validate().unwrap();
}

#[test]
fn signup_rejects_empty_too_long_and_malformed_fields() {
    let mut req = SignupRequest {
        email: String::new(),
        username: "ab".into(),
        password: "x".repeat(129),
        display_name: Some(String::new()),
    };
    let mut fields = invalid_fields(&req);
    fields.sort();
    assert_eq!(fields, ["displayName", "email", "password", "username"]);
    req.username = "x".repeat(33);
    req.email = format!("{}@example.com", "a".repeat(250));
    assert!(invalid_fields(&req).contains(&"username".to_owned()));
    assert!(invalid_fields(&req).contains(&"email".to_owned()));
    req.username = "UPPER".into();
    assert!(invalid_fields(&req).contains(&"username".to_owned()));
}

#[test]
fn passwords_count_characters_not_bytes() {
    let req = SignupRequest {
        email: "a@example.com".into(),
        username: "anna".into(),
        password: "пароль-пароль".into(), // 13 characters, 25 bytes
        display_name: None,
    };
    req.validate().unwrap();
}

#[test]
fn verify_otp_requires_six_digits() {
    for bad in ["", "12345", "1234567", "12a456"] {
        let req = VerifyOtpRequest {
            email: "a@example.com".into(),
            code: bad.into(),
        };
        assert_eq!(invalid_fields(&req), ["code"], "{bad:?}");
    }
    VerifyOtpRequest {
        email: "a@example.com".into(),
        code: "012345".into(),
    }
    .validate()
    .unwrap();
}

#[test]
fn login_rejects_empty_fields() {
    let req = LoginRequest {
        login: String::new(),
        password: String::new(),
    };
    let mut fields = invalid_fields(&req);
    fields.sort();
    assert_eq!(fields, ["login", "password"]);
}

#[test]
fn public_key_body_round_trips_and_checks_shape() {
    let body: PublicKeyBody = round_trip(serde_json::json!({"publicKey": {
        "kty": "EC", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    }}));
    body.validate().unwrap();
    let bad: PublicKeyBody = serde_json::from_value(serde_json::json!({"publicKey": {
        "kty": "EC", "crv": "P-256", "x": "short", "y": ""
    }}))
    .unwrap();
    assert!(bad.validate().is_err());
}

#[test]
fn create_chat_is_tagged_by_type() {
    let direct: CreateChatRequest =
        round_trip(serde_json::json!({"type": "direct", "userId": USER}));
    direct.validate().unwrap();
    let group: CreateChatRequest = round_trip(
        serde_json::json!({"type": "group", "name": "Team", "memberIds": [USER], "passcode": "1234"}),
    );
    group.validate().unwrap();
    assert!(
        serde_json::from_value::<CreateChatRequest>(serde_json::json!({"type": "channel"}))
            .is_err()
    );
}

#[test]
fn create_chat_rejects_malformed_ids_and_empty_names() {
    let direct = CreateChatRequest::Direct {
        user_id: "not-a-uuid".into(),
    };
    assert_eq!(invalid_fields(&direct), ["userId"]);
    let group = CreateChatRequest::Group {
        name: "  ".into(),
        member_ids: vec!["42".into()],
        passcode: Some("1".into()),
        topic: Some("t".repeat(251)),
    };
    let mut fields = invalid_fields(&group);
    fields.sort();
    assert_eq!(fields, ["memberIds", "name", "passcode", "topic"]);
}

#[test]
fn send_message_round_trips_and_validates() {
    let msg: SendMessage = round_trip(serde_json::json!({
        "chatId": CHAT, "clientMsgId": "c-1", "content": "hello", "encrypted": false, "type": "text"
    }));
    msg.validate().unwrap();
    let enc: SendMessage = round_trip(serde_json::json!({
        "chatId": CHAT, "clientMsgId": "c-2", "content": "q83vEjRWeJA=", "encrypted": true, "iv": "AAECAwQFBgcICQoL"
    }));
    enc.validate().unwrap();
    let reply: SendMessage = round_trip(serde_json::json!({
        "chatId": CHAT, "clientMsgId": "c-3", "content": "yes", "replyTo": MSG
    }));
    assert_eq!(reply.reply_to.as_deref(), Some(MSG));
    reply.validate().unwrap();
}

#[test]
fn send_message_rejects_empty_oversized_and_malformed_payloads() {
    let base = SendMessage {
        chat_id: CHAT.into(),
        client_msg_id: "c-1".into(),
        content: "hi".into(),
        encrypted: false,
        iv: None,
        kind: None,
        metadata: None,
        reply_to: None,
    };
    let cases = [
        (
            SendMessage {
                reply_to: Some("not an id".into()),
                ..base.clone()
            },
            "replyTo",
        ),
        (
            SendMessage {
                content: String::new(),
                ..base.clone()
            },
            "content",
        ),
        (
            SendMessage {
                content: "   ".into(),
                ..base.clone()
            },
            "content",
        ),
        (
            SendMessage {
                content: "é".repeat(MAX_PLAINTEXT_CHARS + 1),
                ..base.clone()
            },
            "content",
        ),
        (
            SendMessage {
                chat_id: "123".into(),
                ..base.clone()
            },
            "chatId",
        ),
        (
            SendMessage {
                chat_id: format!("{CHAT}0"),
                ..base.clone()
            },
            "chatId",
        ),
        (
            SendMessage {
                client_msg_id: String::new(),
                ..base.clone()
            },
            "clientMsgId",
        ),
        (
            SendMessage {
                client_msg_id: "x".repeat(65),
                ..base.clone()
            },
            "clientMsgId",
        ),
        (
            SendMessage {
                client_msg_id: "a b".into(),
                ..base.clone()
            },
            "clientMsgId",
        ),
        (
            SendMessage {
                encrypted: true,
                iv: None,
                ..base.clone()
            },
            "iv",
        ),
        (
            SendMessage {
                encrypted: true,
                iv: Some("AAAA".into()),
                content: "not base64!".into(),
                ..base.clone()
            },
            "content",
        ),
        (
            SendMessage {
                encrypted: true,
                iv: Some("AAAA".into()),
                content: "A".repeat(MAX_CIPHERTEXT_CHARS + 4),
                ..base.clone()
            },
            "content",
        ),
    ];
    for (msg, field) in cases {
        assert_eq!(invalid_fields(&msg), [field], "{msg:?}");
    }
    let exactly_max = SendMessage {
        content: "é".repeat(MAX_PLAINTEXT_CHARS),
        ..base.clone()
    };
    exactly_max.validate().unwrap();

    // The PWA's largest envelope of the longest text: a version byte, the sender's 65-byte public
    // key, a 2-byte count and a key id (8) and wrapped key (40) per member of a group of 100,
    // around AES-GCM of 5,000 four-byte characters with its 16-byte tag.
    let envelope_bytes = 1 + 65 + 2 + MAX_SEALED_MEMBERS * (8 + 40) + MAX_PLAINTEXT_CHARS * 4 + 16;
    let sealed = |chars: usize| SendMessage {
        encrypted: true,
        iv: Some("AAECAwQFBgcICQoL".into()),
        content: "A".repeat(chars),
        ..base.clone()
    };
    assert_eq!(MAX_CIPHERTEXT_CHARS, envelope_bytes.div_ceil(3) * 4);
    sealed(MAX_CIPHERTEXT_CHARS).validate().unwrap();
    assert_eq!(
        invalid_fields(&sealed(MAX_CIPHERTEXT_CHARS + 4)),
        ["content"]
    );
}

#[test]
fn attachment_messages_name_their_upload_and_text_ones_do_not() {
    let file: SendMessage = serde_json::from_value(serde_json::json!({
        "chatId": CHAT, "clientMsgId": "c-1", "content": "{\"name\":\"a.pdf\"}", "type": "file",
        "metadata": {"attachmentId": MSG, "fileSize": 1234}
    }))
    .unwrap();
    file.validate().unwrap();
    let with = |kind: MessageType, attachment_id: Option<&str>| SendMessage {
        kind: Some(kind),
        metadata: Some(MessageMetadata {
            attachment_id: attachment_id.map(str::to_owned),
            ..MessageMetadata::default()
        }),
        ..file.clone()
    };
    with(MessageType::Image, Some(MSG)).validate().unwrap();
    for (msg, why) in [
        (with(MessageType::File, None), "a file without its upload"),
        (
            with(MessageType::Image, None),
            "an image without its upload",
        ),
        (
            with(MessageType::Text, Some(MSG)),
            "a text naming an upload",
        ),
        (
            with(MessageType::File, Some("nope")),
            "an upload id that is not one",
        ),
        (
            SendMessage {
                metadata: None,
                ..file.clone()
            },
            "no metadata at all",
        ),
    ] {
        assert_eq!(invalid_fields(&msg), ["metadata"], "{why}");
    }
}

#[test]
fn key_backup_round_trips_and_checks_each_field() {
    let good = serde_json::json!({
        "publicKey": {"kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        "backup": {"kdf": "PBKDF2-SHA256", "iterations": 600000,
            "salt": "c2FsdHNhbHRzYWx0c2FsdA==", "iv": "AAECAwQFBgcICQoL",
            "ciphertext": "c2VhbGVkIHByaXZhdGUga2V5IGFuZCBpdHMgdGFn"}
    });
    let body: KeyBackupBody = round_trip(good.clone());
    body.validate().unwrap();
    for (field, value) in [
        ("kdf", serde_json::json!("argon2id")),
        ("iterations", serde_json::json!(99_999)),
        ("iterations", serde_json::json!(10_000_001)),
        ("salt", serde_json::json!("c2FsdA==")),
        ("iv", serde_json::json!("AAECAwQFBgcICQoLDA==")),
        ("ciphertext", serde_json::json!("A".repeat(1028))),
        ("ciphertext", serde_json::json!("not base64 at all!!!!!!!")),
    ] {
        let mut json = good.clone();
        json["backup"][field] = value;
        let bad: KeyBackupBody = serde_json::from_value(json).unwrap();
        let errors = bad.validate().unwrap_err();
        let nested = errors
            .errors()
            .get("backup")
            .expect("backup is the field in error");
        let validator::ValidationErrorsKind::Struct(inner) = nested else {
            panic!("backup's errors are nested: {nested:?}");
        };
        assert_eq!(
            inner
                .field_errors()
                .keys()
                .map(|k| k.to_string())
                .collect::<Vec<_>>(),
            [field],
            "{field}"
        );
    }
}

#[test]
fn chat_and_message_refs_require_object_ids() {
    assert_eq!(
        invalid_fields(&ChatRef {
            chat_id: "zz".into()
        }),
        ["chatId"]
    );
    let r = MessageRef {
        chat_id: CHAT.into(),
        message_id: "nope".into(),
    };
    assert_eq!(invalid_fields(&r), ["messageId"]);
    MessageRef {
        chat_id: CHAT.into(),
        message_id: MSG.into(),
    }
    .validate()
    .unwrap();
}

#[test]
fn delivered_names_one_message_or_up_to_a_hundred() {
    let one: Delivered = round_trip(serde_json::json!({"chatId": CHAT, "messageId": MSG}));
    one.validate().unwrap();
    assert_eq!(one.ids().collect::<Vec<_>>(), [MSG]);
    let many: Delivered =
        round_trip(serde_json::json!({"chatId": CHAT, "messageIds": [MSG, CHAT]}));
    many.validate().unwrap();
    assert_eq!(many.ids().collect::<Vec<_>>(), [MSG, CHAT]);
    let hundred = Delivered {
        chat_id: CHAT.into(),
        message_id: None,
        message_ids: vec![MSG.into(); MAX_DELIVERED_IDS],
    };
    hundred.validate().unwrap();
    let over = Delivered {
        message_ids: vec![MSG.into(); MAX_DELIVERED_IDS + 1],
        ..hundred.clone()
    };
    assert_eq!(invalid_fields(&over), ["messageIds"]);
    let both = Delivered {
        message_id: Some(MSG.into()),
        ..many.clone()
    };
    assert_eq!(invalid_fields(&both), ["messageIds"]);
    let neither = Delivered {
        message_ids: Vec::new(),
        ..many.clone()
    };
    assert_eq!(invalid_fields(&neither), ["messageIds"]);
    let bad_id = Delivered {
        message_ids: vec![MSG.into(), "nope".into()],
        ..many.clone()
    };
    assert_eq!(invalid_fields(&bad_id), ["messageIds"]);
    let bad_one = Delivered {
        chat_id: "zz".into(),
        message_id: Some("nope".into()),
        message_ids: Vec::new(),
    };
    assert_eq!(invalid_fields(&bad_one), ["chatId", "messageId"]);
}

#[test]
fn an_edit_follows_the_content_rules_of_a_send() {
    let ok: EditMessage = round_trip(serde_json::json!({
        "chatId": CHAT, "messageId": MSG, "content": "c2VhbGVk", "encrypted": true, "iv": "aXY="
    }));
    ok.validate().unwrap();
    let plain = EditMessage {
        encrypted: false,
        iv: None,
        content: "é".repeat(MAX_PLAINTEXT_CHARS),
        ..ok.clone()
    };
    plain.validate().unwrap();
    let long = EditMessage {
        content: "é".repeat(MAX_PLAINTEXT_CHARS + 1),
        ..plain.clone()
    };
    assert_eq!(invalid_fields(&long), ["content"]);
    let blank = EditMessage {
        chat_id: "x".into(),
        message_id: "y".into(),
        content: " ".into(),
        ..plain
    };
    let mut fields = invalid_fields(&blank);
    fields.sort();
    assert_eq!(fields, ["chatId", "content", "messageId"]);
    let unsealed = EditMessage {
        content: "not base64!".into(),
        iv: None,
        ..ok
    };
    let mut fields = invalid_fields(&unsealed);
    fields.sort();
    assert_eq!(fields, ["content", "iv"]);
}

#[test]
fn a_changes_request_is_bounded_and_resumes_with_its_since() {
    let first: SyncChanges = round_trip(serde_json::json!({
        "since": "2026-12-07T10:00:00.000Z", "limit": 500
    }));
    first.validate().unwrap();
    let next: SyncChanges = round_trip(serde_json::json!({
        "since": "2026-12-07T10:00:00.000Z",
        "resume": {"at": "2026-12-07T10:00:01.250Z", "messageId": MSG}
    }));
    next.validate().unwrap();
    SyncChanges::default().validate().unwrap();
    let bad: SyncChanges = serde_json::from_value(serde_json::json!({
        "resume": {"at": "2026-12-07T10:00:01.250Z", "messageId": "x"}, "limit": 501
    }))
    .unwrap();
    let mut fields = invalid_fields(&bad);
    fields.sort();
    assert_eq!(fields, ["limit", "resume", "since"]);
}

#[test]
fn sync_and_history_queries_are_bounded() {
    let ok: SyncRequest = round_trip(serde_json::json!({"cursors": {CHAT: MSG}, "limit": 100}));
    ok.validate().unwrap();
    let page: SyncRequest = round_trip(serde_json::json!({
        "cursors": {CHAT: MSG},
        "after": {CHAT: MSG},
        "resume": {"chatId": CHAT, "messageId": MSG},
        "limit": 2
    }));
    page.validate().unwrap();
    let bad: SyncRequest = serde_json::from_value(serde_json::json!({
        "cursors": {"x": MSG},
        "after": {CHAT: "x"},
        "resume": {"chatId": CHAT, "messageId": "x"},
        "limit": 0
    }))
    .unwrap();
    let mut fields = invalid_fields(&bad);
    fields.sort();
    assert_eq!(fields, ["after", "cursors", "limit", "resume"]);
    let q = MessagesQuery {
        before: Some("x".into()),
        limit: Some(101),
    };
    let mut fields = invalid_fields(&q);
    fields.sort();
    assert_eq!(fields, ["before", "limit"]);
}

/// Instants go out with exactly three fractional digits, so clients can order them as strings:
/// chrono's own form drops a zero fraction, and `…:12Z` sorts after `…:12.340Z`.
#[test]
fn instants_have_one_width_on_the_wire() {
    use chrono::{TimeZone, Utc};
    use common::contracts::chat::Message;
    use common::contracts::events::{OfflineUser, PresenceEvent};

    let on_the_second = Utc.with_ymd_and_hms(2026, 12, 6, 13, 47, 12).unwrap();
    let message: Message = serde_json::from_value(serde_json::json!({
        "id": MSG, "chatId": CHAT, "senderId": USER, "clientMsgId": "c1", "content": "hi",
        "encrypted": false, "type": "text", "timestamp": "2026-12-06T13:47:12Z",
        "readBy": [], "deliveredTo": [],
    }))
    .expect("a timestamp without a fraction still parses");
    assert_eq!(message.timestamp, on_the_second);
    let json = serde_json::to_value(&message).unwrap();
    assert_eq!(json["timestamp"], "2026-12-06T13:47:12.000Z");
    let later = Message {
        timestamp: on_the_second + chrono::Duration::milliseconds(340),
        ..message
    };
    let later_json = serde_json::to_value(&later).unwrap();
    assert_eq!(later_json["timestamp"], "2026-12-06T13:47:12.340Z");
    assert!(json["timestamp"].as_str() < later_json["timestamp"].as_str());

    let seen = on_the_second + chrono::Duration::nanoseconds(672_599_138);
    let offline = OfflineUser {
        user_id: USER.into(),
        last_seen: seen,
    };
    assert_eq!(
        serde_json::to_value(&offline).unwrap()["lastSeen"],
        "2026-12-06T13:47:12.672Z"
    );
    let event = PresenceEvent {
        user_id: USER.into(),
        last_seen: Some(on_the_second),
    };
    assert_eq!(
        serde_json::to_value(&event).unwrap()["lastSeen"],
        "2026-12-06T13:47:12.000Z"
    );
    let online = PresenceEvent {
        user_id: USER.into(),
        last_seen: None,
    };
    assert_eq!(
        serde_json::to_value(&online).unwrap(),
        serde_json::json!({"userId": USER})
    );
}

#[test]
fn bodies_and_payloads_must_be_objects() {
    // What serde alone would take: the fields in order, the tag first for a tagged enum.
    let positional = serde_json::json!(["direct", "8f0b1c4e-2d3a-4b5c-9d6e-7f8091a2b3c4"]);
    assert!(serde_json::from_value::<CreateChatRequest>(positional.clone()).is_ok());
    let refused = serde_json::from_value::<Object<CreateChatRequest>>(positional).unwrap_err();
    assert!(
        refused.to_string().contains("expected a JSON object"),
        "{refused}"
    );
    let fields = serde_json::json!([CHAT, "c-1", "hello", false]);
    assert!(serde_json::from_value::<Object<SendMessage>>(fields).is_err());
    assert!(serde_json::from_value::<Object<SendMessage>>(serde_json::json!("text")).is_err());

    let Object(group) = serde_json::from_value::<Object<CreateChatRequest>>(
        serde_json::json!({"type": "group", "name": "Walkers", "memberIds": []}),
    )
    .expect("an object");
    assert!(matches!(group, CreateChatRequest::Group { .. }));
    let Object(msg) = serde_json::from_value::<Object<SendMessage>>(serde_json::json!({
        "chatId": CHAT, "clientMsgId": "c-1", "content": "hello", "encrypted": false
    }))
    .expect("an object");
    assert_eq!(msg.content, "hello");
}
