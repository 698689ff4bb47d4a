//! Membership is checked on every event and endpoint; group administration and passcode joins.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, User, cmid, code, ok, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    a_non_member_cannot_join_send_read_or_fetch_history,
    invalid_events_are_refused_with_validation_failed,
    groups_are_administered_by_admins_and_members_hear_about_changes,
    the_last_admin_leaving_makes_the_longest_standing_member_admin,
    the_chat_list_can_leave_out_the_groups_members,
    a_groups_members_come_a_page_at_a_time,
    a_change_answers_without_the_members_when_asked,
    a_passcode_group_is_joined_with_the_right_passcode_only,
    rest_requires_a_valid_bearer_token,
);

async fn a_non_member_cannot_join_send_read_or_fetch_history(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, eve) = (User::new(), User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let sa = app.socket(&a).await;
    let sent = sa.ack("send_message", json!({"chatId": chat, "clientMsgId": cmid(), "content": "private", "encrypted": false})).await;
    let msg_id = sent["message"]["id"].clone();
    let se = app.socket(&eve).await;

    let join = se.ack("join_chat", json!({"chatId": chat})).await;
    assert_eq!(code(&join), "not_a_member", "{join}");
    let send = se
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": cmid(), "content": "hi", "encrypted": false}),
        )
        .await;
    assert_eq!(code(&send), "not_a_member", "{send}");
    let read = se
        .ack("read_receipt", json!({"chatId": chat, "messageId": msg_id}))
        .await;
    assert_eq!(code(&read), "not_a_member", "{read}");
    let typing = se.ack("typing", json!({"chatId": chat})).await;
    assert_eq!(code(&typing), "not_a_member", "{typing}");
    let history = app.get(&eve, &format!("/api/chats/{chat}/messages")).await;
    assert_eq!(history.status(), 403);
    let body: serde_json::Value = history.json().await.expect("json");
    assert_eq!(body["error"]["code"], "not_a_member");
    assert_eq!(
        app.get(&eve, &format!("/api/chats/{chat}")).await.status(),
        403
    );
    let synced = se.ack("sync", json!({})).await;
    assert_eq!(
        synced["messages"],
        json!([]),
        "sync never leaks other chats"
    );
    assert!(!se.received("new_message").await);
}

async fn invalid_events_are_refused_with_validation_failed(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b) = (User::new(), User::new());
    let chat = app.direct_chat(&a, &b).await;
    let sa = app.socket(&a).await;
    let empty = sa
        .ack(
            "send_message",
            json!({"chatId": chat, "clientMsgId": cmid(), "content": "  ", "encrypted": false}),
        )
        .await;
    assert_eq!(code(&empty), "validation_failed", "{empty}");
    let long = sa.ack("send_message", json!({"chatId": chat, "clientMsgId": cmid(), "content": "x".repeat(5001), "encrypted": false})).await;
    assert_eq!(code(&long), "validation_failed", "{long}");
    let bad_id = sa.ack("join_chat", json!({"chatId": "not-an-id"})).await;
    assert_eq!(code(&bad_id), "validation_failed", "{bad_id}");
    let wrong_shape = sa.ack("send_message", json!("just a string")).await;
    assert_eq!(code(&wrong_shape), "invalid_json", "{wrong_shape}");
    let no_payload = sa.ack("read_receipt", json!(null)).await;
    assert_eq!(code(&no_payload), "invalid_json", "{no_payload}");
    // The fields in order, as an array: serde would take them for the struct; not an object.
    let as_array = sa
        .ack("send_message", json!([chat, cmid(), "hi", false]))
        .await;
    assert_eq!(code(&as_array), "invalid_json", "{as_array}");
    assert!(
        as_array["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("expected a JSON object")),
        "{as_array}"
    );
    // An event nobody handles is ignored: no answer, and the socket keeps working.
    sa.emit("no_such_event", json!({"chatId": chat})).await;
    let after = sa.ack("join_chat", json!({"chatId": chat})).await;
    assert!(
        ok(&after),
        "the socket still answers after an unknown event: {after}"
    );
    let max = sa.ack("send_message", json!({"chatId": chat, "clientMsgId": cmid(), "content": "é".repeat(5000), "encrypted": false})).await;
    assert!(ok(&max), "5000 characters are allowed: {max}");
    let bad_body = app
        .http
        .post(app.url("/api/chats"))
        .bearer_auth(app.auth.token(&a))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .expect("POST");
    assert_eq!(bad_body.status(), 400);
    // An internally tagged body as an array, its tag first: not an object, and nothing made.
    let c = User::new();
    let as_array = app.post(&a, "/api/chats", json!(["direct", c.id])).await;
    assert_eq!(as_array.status(), 400);
    let body: Value = as_array.json().await.expect("json");
    assert_eq!(code(&body), "invalid_json", "{body}");
    let listed = app.get_json(&a, "/api/chats").await;
    assert_eq!(
        listed["chats"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    let bad_user = app
        .post(&a, "/api/chats", json!({"type": "direct", "userId": "bob"}))
        .await;
    assert_eq!(bad_user.status(), 422);
}

async fn groups_are_administered_by_admins_and_members_hear_about_changes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (admin, m, newcomer) = (User::new(), User::new(), User::new());
    let group = app.group(&admin, "Team", &[&m]).await;
    let id = group["id"].as_str().expect("id").to_owned();
    assert_eq!(group["admins"], json!([admin.id]));
    assert_eq!(group["revision"], 0);
    let (sa, sm, sn) = (
        app.socket(&admin).await,
        app.socket(&m).await,
        app.socket(&newcomer).await,
    );

    let chat_path = format!("/api/chats/{id}");
    assert_eq!(
        app.patch(&m, &chat_path, json!({"name": "Mine"}))
            .await
            .status(),
        403,
        "members cannot rename"
    );
    let renamed = app
        .patch(&admin, &chat_path, json!({"name": "Renamed"}))
        .await;
    assert_eq!(renamed.status(), 200);
    let renamed: serde_json::Value = renamed.json().await.expect("json");
    assert_eq!(renamed["revision"], 1);
    // Members hear the change alone, not the chat with its member list.
    let change = json!({"chatId": id, "revision": 1, "name": "Renamed"});
    assert_eq!(sm.next("chat_changed").await, change);
    assert_eq!(sa.next("chat_changed").await, change);

    let added = app.add_members(&admin, &id, &[&newcomer, &m]).await;
    assert_eq!(added.status(), 200);
    let change =
        json!({"chatId": id, "revision": 2, "added": [newcomer.id, m.id], "memberCount": 3});
    assert_eq!(sm.next("chat_changed").await, change);
    assert_eq!(sa.next("chat_changed").await, change);
    // The newcomer gets the chat in full, as it is after the change.
    let whole = sn.next("chat_updated").await;
    assert_eq!(whole["chat"]["revision"], 2);
    assert_eq!(whole["chat"]["name"], "Renamed");
    assert_eq!(
        whole["chat"]["participants"],
        json!([admin.id, m.id, newcomer.id])
    );
    assert!(
        sn.try_next("chat_changed", Duration::from_millis(300))
            .await
            .is_none(),
        "a newcomer is told once"
    );
    let hello = sn
        .ack(
            "send_message",
            json!({"chatId": id, "clientMsgId": cmid(), "content": "hi all", "encrypted": false}),
        )
        .await;
    assert!(ok(&hello), "{hello}");
    let one = app.get_json(&admin, &format!("/api/chats/{id}")).await;
    assert_eq!(one["lastMessage"]["id"], hello["message"]["id"]);
    assert_eq!(one["lastMessageAt"], hello["message"]["timestamp"]);
    assert_eq!(one["revision"], 2);

    let kick = app
        .delete(&admin, &format!("/api/chats/{id}/members/{}", newcomer.id))
        .await;
    assert_eq!(kick.status(), 200);
    let kicked: serde_json::Value = kick.json().await.expect("json");
    assert_eq!(
        kicked["lastMessage"]["id"], hello["message"]["id"],
        "a change keeps the chat's newest message"
    );
    let change = json!({"chatId": id, "revision": 3, "removed": [newcomer.id], "memberCount": 2});
    assert_eq!(
        sn.next("chat_changed").await,
        change,
        "the removed user too"
    );
    assert_eq!(sm.next("chat_changed").await, change);
    let after = sn.ack("send_message", json!({"chatId": id, "clientMsgId": cmid(), "content": "still here?", "encrypted": false})).await;
    assert_eq!(code(&after), "not_a_member", "{after}");

    let leave = app
        .delete(&m, &format!("/api/chats/{id}/members/{}", m.id))
        .await;
    assert_eq!(leave.status(), 200, "a member may leave");
    let change = json!({"chatId": id, "revision": 4, "removed": [m.id], "memberCount": 1});
    assert_eq!(sm.next("chat_changed").await, change);
    let gone = app.delete(&admin, &format!("/api/chats/{id}")).await;
    assert_eq!(gone.status(), 204);
    assert_eq!(
        app.get(&admin, &format!("/api/chats/{id}")).await.status(),
        404
    );
    for (revision, gone, left) in [(3, &newcomer.id, 2), (4, &m.id, 1)] {
        let change =
            json!({"chatId": id, "revision": revision, "removed": [gone], "memberCount": left});
        assert_eq!(sa.next("chat_changed").await, change);
    }
    assert_eq!(
        sa.next("chat_changed").await,
        json!({"chatId": id, "revision": 5, "deleted": true})
    );
    assert!(
        sm.try_next("chat_changed", Duration::from_millis(300))
            .await
            .is_none(),
        "a member who left hears no more of it"
    );
}

async fn the_last_admin_leaving_makes_the_longest_standing_member_admin(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (admin, first, second) = (User::new(), User::new(), User::new());
    let group = app.group(&admin, "Heirs", &[&first, &second]).await;
    let id = group["id"].as_str().expect("id").to_owned();
    let (s1, s2) = (app.socket(&first).await, app.socket(&second).await);

    let leave = app
        .delete(&admin, &format!("/api/chats/{id}/members/{}", admin.id))
        .await;
    assert_eq!(leave.status(), 200);
    for s in [&s1, &s2] {
        assert_eq!(
            s.next("chat_changed").await,
            json!({"chatId": id, "revision": 1, "removed": [admin.id], "memberCount": 2})
        );
        assert_eq!(
            s.next("chat_changed").await,
            json!({"chatId": id, "revision": 2, "admins": [first.id]})
        );
    }
    let chat = app.get_json(&first, &format!("/api/chats/{id}")).await;
    assert_eq!(
        (&chat["admins"], &chat["revision"]),
        (&json!([first.id]), &json!(2))
    );
    let rename = app
        .patch(
            &first,
            &format!("/api/chats/{id}"),
            json!({"name": "Ours now"}),
        )
        .await;
    assert_eq!(rename.status(), 200, "the new admin administers it");

    // A member who is not the last admin leaving changes no admin.
    let leave = app
        .delete(&second, &format!("/api/chats/{id}/members/{}", second.id))
        .await;
    assert_eq!(leave.status(), 200);
    assert_eq!(s1.next("chat_changed").await["revision"], 3);
    assert_eq!(
        s1.next("chat_changed").await,
        json!({"chatId": id, "revision": 4, "removed": [second.id], "memberCount": 1})
    );
    assert!(
        s1.try_next("chat_changed", Duration::from_millis(300))
            .await
            .is_none()
    );
}

async fn the_chat_list_can_leave_out_the_groups_members(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (a, b, c) = (User::new(), User::new(), User::new());
    let direct = app.direct_chat(&a, &b).await;
    let group = app.group(&a, "Big one", &[&b, &c]).await;
    let (direct, group) = (json!(direct), group["id"].clone());
    let listed = async |query: &str| {
        let list = app.get_json(&a, &format!("/api/chats{query}")).await;
        let chats = list["chats"].as_array().expect("chats").clone();
        let find = |id: &serde_json::Value| chats.iter().find(|c| &c["id"] == id).cloned();
        (
            find(&direct).expect("listed"),
            find(&group).expect("listed"),
        )
    };

    let (d, g) = listed("?members=direct").await;
    assert_eq!(d["participants"].as_array().map(Vec::len), Some(2));
    assert_eq!(d["memberCount"], 2);
    assert_eq!(
        (&g["participants"], &g["admins"]),
        (&json!([]), &json!([a.id]))
    );
    assert_eq!(
        (&g["membersOmitted"], &g["memberCount"]),
        (&json!(true), &json!(3))
    );
    assert_eq!((&g["name"], &g["revision"]), (&json!("Big one"), &json!(0)));

    for query in ["", "?members=all"] {
        let (_, g) = listed(query).await;
        assert_eq!(g["participants"], json!([a.id, b.id, c.id]), "{query}");
        assert_eq!(g["admins"], json!([a.id]));
        assert!(g.get("membersOmitted").is_none());
        assert_eq!(g["memberCount"], 3);
    }
    let bad = app.get(&a, "/api/chats?members=some").await;
    assert_eq!(bad.status(), 422);
    let body: serde_json::Value = bad.json().await.expect("json");
    assert_eq!(body["error"]["code"], "validation_failed");

    // One chat, the same way.
    let one = app
        .get_json(
            &b,
            &format!("/api/chats/{}?members=direct", g["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        (
            &one["participants"],
            &one["admins"],
            &one["membersOmitted"],
            &one["memberCount"]
        ),
        (&json!([]), &json!([a.id]), &json!(true), &json!(3))
    );
    let whole = app
        .get_json(&b, &format!("/api/chats/{}", g["id"].as_str().unwrap()))
        .await;
    assert_eq!(whole["participants"], json!([a.id, b.id, c.id]));
    let direct_one = app
        .get_json(
            &b,
            &format!("/api/chats/{}?members=direct", direct.as_str().unwrap()),
        )
        .await;
    assert_eq!(direct_one["participants"].as_array().map(Vec::len), Some(2));
    let bad = app
        .get(
            &b,
            &format!("/api/chats/{}?members=none", g["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(bad.status(), 422);
}

async fn a_change_answers_without_the_members_when_asked(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (admin, b, c) = (User::new(), User::new(), User::new());
    let group = app.group(&admin, "Answers", &[&b]).await;
    let id = group["id"].as_str().expect("id").to_owned();
    let omitted = |chat: &serde_json::Value, count: u32, revision: u64| {
        assert_eq!(
            (
                &chat["participants"],
                &chat["admins"],
                &chat["membersOmitted"],
                &chat["memberCount"],
                &chat["revision"]
            ),
            (
                &json!([]),
                &json!([admin.id]),
                &json!(true),
                &json!(count),
                &json!(revision)
            ),
            "{chat}"
        );
    };
    let answer = |r: reqwest::Response| async move {
        assert!(r.status().is_success(), "{}", r.status());
        r.json::<serde_json::Value>().await.expect("json")
    };

    let renamed = app
        .patch(
            &admin,
            &format!("/api/chats/{id}?members=direct"),
            json!({"name": "Renamed"}),
        )
        .await;
    let renamed = answer(renamed).await;
    omitted(&renamed, 2, 1);
    assert_eq!(renamed["name"], "Renamed");
    let added = app
        .post(
            &admin,
            &format!("/api/chats/{id}/members?members=direct"),
            json!({"userIds": [c.id]}),
        )
        .await;
    omitted(&answer(added).await, 3, 2);
    let removed = app
        .delete(
            &admin,
            &format!("/api/chats/{id}/members/{}?members=direct", c.id),
        )
        .await;
    omitted(&answer(removed).await, 2, 3);
    // Without the parameter, as before: whole.
    let whole = app
        .post(
            &admin,
            &format!("/api/chats/{id}/members"),
            json!({"userIds": [c.id]}),
        )
        .await;
    assert_eq!(
        answer(whole).await["participants"],
        json!([admin.id, b.id, c.id])
    );
    // Joining, too.
    let open = app
        .post(
            &admin,
            "/api/chats",
            json!({"type": "group", "name": "Open", "passcode": "letmein"}),
        )
        .await;
    let open = answer(open).await;
    let joined = app
        .post(
            &b,
            &format!(
                "/api/chats/{}/join?members=direct",
                open["id"].as_str().expect("id")
            ),
            json!({"passcode": "letmein"}),
        )
        .await;
    omitted(&answer(joined).await, 2, 1);
    let bad = app
        .patch(
            &admin,
            &format!("/api/chats/{id}?members=few"),
            json!({"name": "X"}),
        )
        .await;
    assert_eq!(bad.status(), 422);
}

async fn a_groups_members_come_a_page_at_a_time(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = User::new();
    let others: Vec<User> = (0..6).map(|_| User::new()).collect();
    let group = app
        .group(&admin, "Paged", &others.iter().collect::<Vec<_>>())
        .await;
    let id = group["id"].as_str().expect("id").to_owned();
    let mut members: Vec<&User> = std::iter::once(&admin).chain(&others).collect();
    members.sort_by(|x, y| x.id.cmp(&y.id));
    let all: Vec<String> = members.iter().map(|u| u.id.clone()).collect();
    let pager = members[0];
    let page = async |query: &str| {
        app.get_json(pager, &format!("/api/chats/{id}/members{query}"))
            .await
    };

    // Pages of 3, by id, then the rest; every member exactly once.
    let first = page("?limit=3").await;
    assert_eq!(first["members"], json!(all[..3]));
    assert_eq!(first["nextCursor"], json!(all[2]));
    assert_eq!(
        (&first["memberCount"], &first["revision"]),
        (&json!(7), &json!(0))
    );
    let second = page(&format!("?limit=3&after={}", all[2])).await;
    assert_eq!(second["members"], json!(all[3..6]));
    let last = page(&format!("?limit=3&after={}", all[5])).await;
    assert_eq!(last["members"], json!(all[6..]));
    assert_eq!(last["nextCursor"], json!(null));
    let whole = page("").await;
    assert_eq!(
        (&whole["members"], &whole["nextCursor"]),
        (&json!(all), &json!(null))
    );

    // The member a cursor names leaves between two pages: the next page still starts after
    // their id, so nobody is skipped or repeated. (Not the admin: that would promote another.)
    let k = (1..=3).find(|&k| all[k] != admin.id).expect("a non-admin");
    let gone = app
        .delete(members[k], &format!("/api/chats/{id}/members/{}", all[k]))
        .await;
    assert_eq!(gone.status(), 200);
    let after_leave = page(&format!("?limit=3&after={}", all[k])).await;
    assert_eq!(after_leave["members"], json!(all[k + 1..k + 4]));
    assert_eq!(
        (&after_leave["memberCount"], &after_leave["revision"]),
        (&json!(6), &json!(1))
    );

    // Bad input, and a non-member.
    for query in ["?limit=0", "?limit=1001", "?after=nope", "?limit=x"] {
        let bad = app
            .get(pager, &format!("/api/chats/{id}/members{query}"))
            .await;
        assert_eq!(bad.status(), 422, "{query}");
        let body: serde_json::Value = bad.json().await.expect("json");
        assert_eq!(body["error"]["code"], "validation_failed", "{query}");
    }
    let outsider = app
        .get(&User::new(), &format!("/api/chats/{id}/members"))
        .await;
    assert_eq!(outsider.status(), 403);
    let missing = app
        .get(&admin, "/api/chats/0123456789abcdef01234567/members")
        .await;
    assert_eq!(missing.status(), 404);
}

async fn a_passcode_group_is_joined_with_the_right_passcode_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (admin, guest) = (User::new(), User::new());
    let group: serde_json::Value = app
        .post(
            &admin,
            "/api/chats",
            json!({"type": "group", "name": "Quick", "passcode": "open-sesame"}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(group["hasPasscode"], true);
    assert!(
        group.get("passcodeHash").is_none(),
        "the hash never leaves the server"
    );
    let id = group["id"].as_str().expect("id");
    let wrong = app
        .post(
            &guest,
            &format!("/api/chats/{id}/join"),
            json!({"passcode": "wrong-one"}),
        )
        .await;
    assert_eq!(wrong.status(), 403);
    let body: serde_json::Value = wrong.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_passcode");
    let right = app
        .post(
            &guest,
            &format!("/api/chats/{id}/join"),
            json!({"passcode": "open-sesame"}),
        )
        .await;
    assert_eq!(right.status(), 200);
    assert_eq!(
        app.get(&guest, &format!("/api/chats/{id}")).await.status(),
        200
    );
}

async fn rest_requires_a_valid_bearer_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let none = app
        .http
        .get(app.url("/api/chats"))
        .send()
        .await
        .expect("GET");
    assert_eq!(none.status(), 401);
    let bad = app
        .http
        .get(app.url("/api/chats"))
        .bearer_auth("garbage")
        .send()
        .await
        .expect("GET");
    assert_eq!(bad.status(), 401);
    let body: serde_json::Value = bad.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthorized");
}
