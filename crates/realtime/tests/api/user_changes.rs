//! A key change or a profile change auth-api announces reaches the user's contacts and their own
//! other devices, on the instance that holds their sockets, and nobody else.

use std::time::Duration;

use common::contracts::auth::{KEY_CHANGED_CHANNEL, PROFILE_CHANGED_CHANNEL};
use serde_json::json;

use crate::helpers::{Backend, User, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    a_key_change_reaches_contacts_and_own_devices_only,
    a_profile_change_reaches_contacts_and_own_devices_only,
);

async fn a_key_change_reaches_contacts_and_own_devices_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, c) = (User::new(), User::new(), User::new());
    app.direct_chat(&a, &b).await;
    let (other_device, contact, stranger) = (
        app.socket(&a.other_device()).await,
        app.socket(&b).await,
        app.socket(&c).await,
    );

    let heard = app
        .publish_until_heard(KEY_CHANGED_CHANNEL, &a.id, &contact, "key_changed")
        .await;
    assert_eq!(heard, Some(json!({"userId": a.id})), "the contact is told");
    assert_eq!(
        other_device.next("key_changed").await,
        json!({"userId": a.id}),
        "the user's other device is told"
    );
    assert!(
        stranger
            .try_next("key_changed", Duration::from_millis(500))
            .await
            .is_none(),
        "someone sharing no chat with them hears nothing"
    );

    // Something that is not a user id is ignored, and the follower goes on.
    app.kv.publish(KEY_CHANGED_CHANNEL, "nope").await.unwrap();
    app.kv.publish(KEY_CHANGED_CHANNEL, &b.id).await.unwrap();
    // a's device may have been told of a more than once (a was announced until b heard).
    let of_b = json!({"userId": b.id});
    let mut told_of_b = false;
    while let Some(told) = other_device
        .try_next("key_changed", Duration::from_secs(2))
        .await
    {
        if told == of_b {
            told_of_b = true;
            break;
        }
        assert_eq!(told, json!({"userId": a.id}), "only a and b changed keys");
    }
    assert!(told_of_b, "a's device is told of b, its contact");
}

async fn a_profile_change_reaches_contacts_and_own_devices_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, c) = (User::new(), User::new(), User::new());
    app.direct_chat(&a, &b).await;
    let (other_device, contact, stranger) = (
        app.socket(&a.other_device()).await,
        app.socket(&b).await,
        app.socket(&c).await,
    );
    let profile = json!({"id": a.id, "username": "ada", "displayName": "Ada L.", "avatar": null});

    let announced = profile.to_string();
    let heard = app
        .publish_until_heard(
            PROFILE_CHANGED_CHANNEL,
            &announced,
            &contact,
            "profile_changed",
        )
        .await;
    assert_eq!(
        heard.as_ref(),
        Some(&profile),
        "the contact is told, profile and all"
    );
    assert_eq!(
        other_device.next("profile_changed").await,
        profile,
        "the user's other device is told"
    );
    assert!(
        stranger
            .try_next("profile_changed", Duration::from_millis(500))
            .await
            .is_none(),
        "someone sharing no chat with them hears nothing"
    );

    // What is not a profile of a user is ignored, and the follower goes on.
    for junk in [
        "nope".to_owned(),
        json!({"id": "not-a-uuid", "username": "x", "displayName": null, "avatar": null})
            .to_string(),
        json!({"id": b.id}).to_string(),
    ] {
        app.kv
            .publish(PROFILE_CHANGED_CHANNEL, &junk)
            .await
            .unwrap();
    }
    let of_b = json!({"id": b.id, "username": "bea", "displayName": null, "avatar": null});
    app.kv
        .publish(PROFILE_CHANGED_CHANNEL, &of_b.to_string())
        .await
        .unwrap();
    let mut told_of_b = false;
    while let Some(told) = other_device
        .try_next("profile_changed", Duration::from_secs(2))
        .await
    {
        if told == of_b {
            told_of_b = true;
            break;
        }
        assert_eq!(told, profile, "only a's and b's profiles changed: {told}");
    }
    assert!(told_of_b, "a's device is told of b, its contact");
}
