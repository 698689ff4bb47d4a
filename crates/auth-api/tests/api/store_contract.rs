//! The `UserStore` contract, run against every adapter (SQLite always; PostgreSQL when
//! `TEST_DATABASE_URL` is set), so the embedded default behaves like production.

use std::sync::Arc;

use auth_api::adapters::{postgres::PostgresStore, sqlite::SqliteStore};
use auth_api::ports::{Avatar, NewUser, StoreError, UserStore};
use common::testing::backend_url;

use crate::helpers::{fresh_postgres, temp_dir};

fn new_user(email: &str, username: &str) -> NewUser {
    NewUser {
        email: email.into(),
        username: username.into(),
        password_hash: Some("$argon2id$dummy".into()),
        display_name: Some("Test".into()),
        provider: "email".into(),
        provider_id: None,
        verified: false,
    }
}

async fn contract(store: Arc<dyn UserStore>) {
    store.ping().await.unwrap();
    let alice = store
        .create_user(new_user("alice@example.com", "alice_1"))
        .await
        .unwrap();
    assert!(!alice.verified);
    assert_eq!(
        store.find_by_id(alice.id).await.unwrap().as_ref(),
        Some(&alice)
    );
    assert_eq!(
        store
            .find_by_email("alice@example.com")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.id)
    );
    assert_eq!(
        store
            .find_by_username("alice_1")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.id)
    );
    assert!(
        store
            .find_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );

    assert!(matches!(
        store
            .create_user(new_user("alice@example.com", "other"))
            .await,
        Err(StoreError::EmailTaken)
    ));
    assert!(matches!(
        store
            .create_user(new_user("other@example.com", "alice_1"))
            .await,
        Err(StoreError::UsernameTaken)
    ));

    store.mark_verified(alice.id).await.unwrap();
    assert!(store.find_by_id(alice.id).await.unwrap().unwrap().verified);

    assert!(
        store
            .set_display_name(alice.id, Some("Alice A."))
            .await
            .unwrap()
    );
    let renamed = store.find_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(renamed.display_name.as_deref(), Some("Alice A."));
    assert!(renamed.updated_at >= alice.updated_at);
    assert!(store.set_display_name(alice.id, None).await.unwrap());
    assert!(
        store
            .find_by_id(alice.id)
            .await
            .unwrap()
            .unwrap()
            .display_name
            .is_none()
    );
    assert!(
        store
            .set_password_hash(alice.id, "$argon2id$new")
            .await
            .unwrap()
    );
    let changed = store.find_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(changed.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(
        (changed.email.as_str(), changed.verified),
        ("alice@example.com", true)
    );
    let nobody = uuid::Uuid::new_v4();
    let carol = store
        .create_user(new_user("carol@example.com", "carol"))
        .await
        .unwrap();
    assert!(matches!(
        store.set_email(carol.id, "alice@example.com").await,
        Err(StoreError::EmailTaken)
    ));
    assert!(
        store
            .set_email(carol.id, "carol2@example.com")
            .await
            .unwrap()
    );
    let moved = store.find_by_id(carol.id).await.unwrap().unwrap();
    assert_eq!(
        (moved.email.as_str(), moved.verified),
        ("carol2@example.com", true)
    );
    assert_eq!(
        store
            .find_by_email("carol2@example.com")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(carol.id)
    );
    assert!(
        store
            .find_by_email("carol@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.set_email(nobody, "x@example.com").await.unwrap());
    assert!(!store.set_display_name(nobody, Some("X")).await.unwrap());
    assert!(
        !store
            .set_password_hash(nobody, "$argon2id$x")
            .await
            .unwrap()
    );

    store
        .link_identity(alice.id, "google", "sub-1")
        .await
        .unwrap();
    assert_eq!(
        store
            .find_by_identity("google", "sub-1")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.id)
    );
    assert!(
        store
            .find_by_identity("google", "sub-2")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.link_identity(alice.id, "google", "sub-1").await,
        Err(StoreError::IdentityTaken)
    ));

    // `_` is literal in a prefix search, not a wildcard.
    store
        .create_user(new_user("b@example.com", "alicex1"))
        .await
        .unwrap();
    store
        .create_user(new_user("c@example.com", "bob"))
        .await
        .unwrap();
    let names =
        |v: Vec<auth_api::ports::UserRecord>| v.into_iter().map(|u| u.username).collect::<Vec<_>>();
    assert_eq!(
        names(store.search_by_username_prefix("alice", 10).await.unwrap()),
        ["alice_1", "alicex1"]
    );
    assert_eq!(
        names(store.search_by_username_prefix("alice_", 10).await.unwrap()),
        ["alice_1"]
    );
    assert_eq!(
        names(store.search_by_username_prefix("a", 1).await.unwrap()),
        ["alice_1"]
    );

    assert!(store.public_key(alice.id).await.unwrap().is_none());
    store
        .set_public_key(alice.id, r#"{"k":1}"#, None)
        .await
        .unwrap();
    assert!(store.key_backup(alice.id).await.unwrap().is_none());
    store
        .set_public_key(alice.id, r#"{"k":2}"#, Some(r#"{"b":2}"#))
        .await
        .unwrap();
    assert_eq!(
        store.public_key(alice.id).await.unwrap().as_deref(),
        Some(r#"{"k":2}"#)
    );
    assert_eq!(
        store.key_backup(alice.id).await.unwrap(),
        Some((r#"{"k":2}"#.to_owned(), r#"{"b":2}"#.to_owned()))
    );
    let stranger = uuid::Uuid::new_v4();
    assert_eq!(
        store.public_keys(&[alice.id, stranger]).await.unwrap(),
        [(alice.id, r#"{"k":2}"#.to_owned())]
    );
    assert!(store.public_keys(&[]).await.unwrap().is_empty());
    // A key published without a backup drops the backup of the key it replaces.
    store
        .set_public_key(alice.id, r#"{"k":3}"#, None)
        .await
        .unwrap();
    assert!(store.key_backup(alice.id).await.unwrap().is_none());
    assert!(
        store
            .key_backup(uuid::Uuid::new_v4())
            .await
            .unwrap()
            .is_none()
    );

    // A picture: stored with the URL that names it, replaced whole, removed with it.
    assert!(store.avatar(alice.id).await.unwrap().is_none());
    let first = Avatar {
        content_type: "image/png".into(),
        bytes: vec![0x89, b'P', b'N', b'G', 0, 255],
        version: "v1".into(),
    };
    assert!(store.set_avatar(alice.id, &first, "/a?v=v1").await.unwrap());
    assert_eq!(store.avatar(alice.id).await.unwrap(), Some(first));
    let second = Avatar {
        content_type: "image/webp".into(),
        bytes: b"RIFF....WEBP".to_vec(),
        version: "v2".into(),
    };
    assert!(
        store
            .set_avatar(alice.id, &second, "/a?v=v2")
            .await
            .unwrap()
    );
    assert_eq!(store.avatar(alice.id).await.unwrap(), Some(second.clone()));
    let with_picture = store.find_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(with_picture.avatar.as_deref(), Some("/a?v=v2"));
    assert!(store.remove_avatar(alice.id).await.unwrap());
    assert!(store.avatar(alice.id).await.unwrap().is_none());
    let without = store.find_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(without.avatar, None);
    assert!(
        store.remove_avatar(alice.id).await.unwrap(),
        "none to remove"
    );
    let nobody = uuid::Uuid::new_v4();
    assert!(!store.set_avatar(nobody, &second, "/a?v=v2").await.unwrap());
    assert!(store.avatar(nobody).await.unwrap().is_none(), "rolled back");
    assert!(!store.remove_avatar(nobody).await.unwrap());

    // Deleting an account takes its identities, its picture and its key (and backup) with it.
    store
        .set_public_key(alice.id, r#"{"k":4}"#, Some(r#"{"b":4}"#))
        .await
        .unwrap();
    assert!(
        store
            .set_avatar(alice.id, &second, "/a?v=v2")
            .await
            .unwrap()
    );
    let alice_email = store.find_by_id(alice.id).await.unwrap().unwrap().email;
    assert!(store.delete_user(alice.id).await.unwrap());
    assert!(!store.delete_user(alice.id).await.unwrap(), "gone already");
    assert!(store.find_by_id(alice.id).await.unwrap().is_none());
    assert!(store.find_by_email(&alice_email).await.unwrap().is_none());
    assert!(
        store
            .find_by_identity("google", "sub-1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.public_key(alice.id).await.unwrap().is_none());
    assert!(store.key_backup(alice.id).await.unwrap().is_none());
    assert!(store.public_keys(&[alice.id]).await.unwrap().is_empty());
    assert!(store.avatar(alice.id).await.unwrap().is_none());
    // The identity, address and username are free for another account.
    let again = store
        .create_user(new_user(&alice_email, "alice_1"))
        .await
        .unwrap();
    store
        .link_identity(again.id, "google", "sub-1")
        .await
        .unwrap();
}

#[tokio::test]
async fn the_sqlite_store_keeps_the_user_store_contract() {
    let dir = temp_dir();
    let store = SqliteStore::open(&dir.join("auth.db")).await.unwrap();
    contract(Arc::new(store)).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_postgres_store_keeps_the_user_store_contract() {
    let Some(admin) = backend_url("TEST_DATABASE_URL") else {
        return;
    };
    let store = PostgresStore::connect(&fresh_postgres(&admin).await)
        .await
        .unwrap();
    contract(Arc::new(store)).await;
}
