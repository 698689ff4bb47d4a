//! Microbenchmarks of the per-connection and per-message hot paths in the contract crate:
//! access-token verification (every socket connect and REST call), `send_message` parsing and
//! validation, and encoding the stored message as the `new_message` Socket.IO frame.
//!
//! `cargo bench -p common --bench hot_paths`

use std::hint::black_box;
use std::time::Duration;

use chrono::Utc;
use common::contracts::chat::{Message, MessageType};
use common::contracts::events::SendMessage;
use common::jwt::{KeyRing, Minter, SigningKey, Verifier};
use criterion::{Criterion, criterion_group, criterion_main};
use validator::Validate;

const USER: &str = "00000000-0000-4000-8000-000000000001";

fn token_verification(c: &mut Criterion) {
    let now = Utc::now().timestamp();
    let minter = Minter::new(
        KeyRing::new(SigningKey::from_seed([7; 32])),
        "batiyoun-auth",
        "batiyoun",
        Duration::from_secs(900),
    );
    let verifier = Verifier::from_jwks(&minter.jwks(now), "batiyoun-auth", "batiyoun");
    let token = minter.mint_access(USER, USER, now).expect("mint");
    c.bench_function("jwt/verify_access", |b| {
        b.iter(|| verifier.verify_access(black_box(&token)).expect("valid"))
    });
    c.bench_function("jwt/mint_access", |b| {
        b.iter(|| {
            minter
                .mint_access(black_box(USER), USER, now)
                .expect("mint")
        })
    });
}

fn send_message(c: &mut Criterion) {
    let payload = r#"{"chatId":"65f0c0ffee0123456789abcd","clientMsgId":"0b6a7c2e-9f1d-4c7e-8a55-3b2f1e0d9c8b","content":"hello there, this is a typical short chat message","encrypted":false}"#;
    c.bench_function("send_message/parse+validate", |b| {
        b.iter(|| {
            let m: SendMessage = serde_json::from_str(black_box(payload)).expect("json");
            m.validate().expect("valid");
            m
        })
    });
    let cipher = "A".repeat(4096);
    let encrypted = format!(
        r#"{{"chatId":"65f0c0ffee0123456789abcd","clientMsgId":"m1","content":"{cipher}","encrypted":true,"iv":"AAAAAAAAAAAAAAAA"}}"#
    );
    c.bench_function("send_message/parse+validate 4 KiB ciphertext", |b| {
        b.iter(|| {
            let m: SendMessage = serde_json::from_str(black_box(&encrypted)).expect("json");
            m.validate().expect("valid");
            m
        })
    });
    let message = Message {
        id: "65f0c0ffee0123456789abce".into(),
        chat_id: "65f0c0ffee0123456789abcd".into(),
        sender_id: USER.into(),
        client_msg_id: "0b6a7c2e-9f1d-4c7e-8a55-3b2f1e0d9c8b".into(),
        content: "hello there, this is a typical short chat message".into(),
        iv: None,
        encrypted: false,
        kind: MessageType::Text,
        metadata: None,
        reply_to: None,
        timestamp: Utc::now(),
        read_by: vec![],
        delivered_to: vec![],
        edited_at: None,
        deleted_at: None,
        deleted_by: None,
        reactions: Vec::new(),
        revision: 0,
        updated_at: None,
    };
    c.bench_function("new_message/encode frame", |b| {
        b.iter(|| {
            let body = serde_json::to_string(black_box(&message)).expect("encode");
            format!(r#"42["new_message",{body}]"#)
        })
    });
}

criterion_group!(benches, token_verification, send_message);
criterion_main!(benches);
