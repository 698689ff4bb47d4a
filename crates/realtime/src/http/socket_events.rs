//! The Socket.IO interface, described in the OpenAPI document's `info.description` (OpenAPI has
//! no notion of events). The payload types named here are components of the document
//! (`#/components/schemas/<name>`), so clients can generate types for them too; the tests check
//! that every event name is described and every named schema exists.

use common::contracts::events::{client, server};

/// A client → server event: its name, the schema of its payload and of its successful ack, and
/// what it does.
pub struct ClientEvent {
    pub name: &'static str,
    pub payload: &'static str,
    pub ack: &'static str,
    pub effect: &'static str,
}

/// A server → client event: its name, the schema of its payload, and when it is sent.
pub struct ServerEvent {
    pub name: &'static str,
    pub payload: &'static str,
    pub when: &'static str,
}

/// Every event a client may emit.
pub const CLIENT_EVENTS: &[ClientEvent] = &[
    ClientEvent {
        name: client::SEND_MESSAGE,
        payload: "SendMessage",
        ack: "SendMessageAck",
        effect: "Stores the message (idempotent per `clientMsgId`), sends `new_message` to every \
                 participant's sockets except the sending one, then acks. A reply names the \
                 message it answers in `replyTo`, one of the same chat.",
    },
    ClientEvent {
        name: client::JOIN_CHAT,
        payload: "ChatRef",
        ack: "`{ok: true}`",
        effect: "Subscribes the socket to the chat's typing indicators.",
    },
    ClientEvent {
        name: client::LEAVE_CHAT,
        payload: "ChatRef",
        ack: "`{ok: true}`",
        effect: "Unsubscribes the socket from the chat's typing indicators.",
    },
    ClientEvent {
        name: client::TYPING,
        payload: "ChatRef",
        ack: "`{ok: true}`",
        effect: "`user_typing` to the chat's subscribed sockets, not the typist's own.",
    },
    ClientEvent {
        name: client::READ_RECEIPT,
        payload: "MessageRef",
        ack: "`{ok: true}`",
        effect: "This message and every earlier one are read by the caller; `message_read` to \
                 the senders of those nobody had read before, and to the caller's other sockets.",
    },
    ClientEvent {
        name: client::DELIVERED,
        payload: "Delivered",
        ack: "`{ok: true}`",
        effect: "Recorded in each message's `deliveredTo` (one message, or up to 100 of a chat at \
                 once); `message_delivered` to the sender of each that had reached nobody \
                 before. Every id must be a message of the chat, else `not_found` and nothing \
                 is recorded.",
    },
    ClientEvent {
        name: client::SYNC,
        payload: "SyncRequest",
        ack: "SyncResponse",
        effect: "Missed messages, oldest first per chat, from a look-back window before each \
                 cursor (so some the client has come again: dedupe by id), exactly after each \
                 `after` id; while `hasMore`, send the request again with the answer's \
                 `resume`.",
    },
    ClientEvent {
        name: client::EDIT_MESSAGE,
        payload: "EditMessage",
        ack: "SendMessageAck",
        effect: "Replaces the content (and `encrypted`, `iv`) of the caller's own message, sets \
                 its `editedAt`, acks with it as it is now and sends it in `message_updated` to \
                 every participant's sockets. `forbidden` for another's message, `conflict` \
                 once it is deleted.",
    },
    ClientEvent {
        name: client::DELETE_MESSAGE,
        payload: "MessageRef",
        ack: "SendMessageAck",
        effect: "Deletes a message of the caller's, or any message of a group the caller is an \
                 admin of: it stays as a tombstone (`deletedAt` and `deletedBy` set; content \
                 empty, `iv` and `metadata` gone, its attachment's file deleted). Acks with the \
                 tombstone and sends it in `message_updated` to every participant's sockets; \
                 again for an already deleted one.",
    },
    ClientEvent {
        name: client::REACT_MESSAGE,
        payload: "ReactMessage",
        ack: "SendMessageAck",
        effect: "Adds (`add: true`) or takes back the caller's reaction with `emoji` (one of \
                 Unicode's emoji) to a message of their chat; idempotent. Acks with the message \
                 as it is now (`reactions`, one more `revision`) and sends it in \
                 `message_updated` to every participant's sockets. `conflict` once it is \
                 deleted, or for a 21st different emoji. Reactions are not encrypted.",
    },
    ClientEvent {
        name: client::SYNC_CHANGES,
        payload: "SyncChanges",
        ack: "ChangesResponse",
        effect: "Messages of the caller's chats edited, deleted or reacted to since `since` (from a \
                 look-back window before it), as they are now, oldest change first; keep the \
                 answer's `until` as the next `since`. Without `since`: no messages, only \
                 `until`. While `hasMore`, send the request again with the answer's `resume`.",
    },
];

/// Every event the server emits.
pub const SERVER_EVENTS: &[ServerEvent] = &[
    ServerEvent {
        name: server::NEW_MESSAGE,
        payload: "Message",
        when: "A message was sent to a chat of the user (to the sender's other sockets too).",
    },
    ServerEvent {
        name: server::MESSAGE_UPDATED,
        payload: "Message",
        when: "A message of a chat of the user was edited, deleted or reacted to: the message as \
               it is now (to the changer's other sockets too). A deleted one (`deletedAt`) wins \
               over any other copy; else the higher `revision`.",
    },
    ServerEvent {
        name: server::MESSAGE_DELIVERED,
        payload: "ReceiptEvent",
        when: "A message's first recipient confirmed delivery (to its sender; the others are in \
               its `deliveredTo`).",
    },
    ServerEvent {
        name: server::MESSAGE_READ,
        payload: "ReceiptEvent",
        when: "A member read up to this message: to the senders of the messages nobody had read \
               before (a sender shows \"read\" once anyone has), and to the reader's other \
               sockets.",
    },
    ServerEvent {
        name: server::USER_TYPING,
        payload: "TypingEvent",
        when: "A member is typing (to sockets that joined the chat).",
    },
    ServerEvent {
        name: server::USER_ONLINE,
        payload: "PresenceEvent",
        when: "A user sharing a chat came online (when the receiver's round of presence changes \
               names only them; see presence_update).",
    },
    ServerEvent {
        name: server::USER_OFFLINE,
        payload: "PresenceEvent",
        when: "A user sharing a chat went offline (`lastSeen` set; when the receiver's round \
               names only them; see presence_update).",
    },
    ServerEvent {
        name: server::PRESENCE_UPDATE,
        payload: "PresenceUpdate",
        when: "Several users sharing a chat came online or went offline (`offline` entries \
               are `OfflineUser`, with `lastSeen`). Presence changes go out in rounds: a \
               change after a quiet spell at once, the ones within the next PRESENCE_BATCH_MS \
               (1 s) together; a round naming several users to a receiver is one \
               presence_update. Each entry is the user's state when sent; the receiver's own id \
               may be listed (ignored).",
    },
    ServerEvent {
        name: server::PRESENCE_SNAPSHOT,
        payload: "PresenceSnapshot",
        when: "After connect: which users sharing a chat are online now, up to 1,000 per event; \
               `more: true` says another part follows, and the last part completes it. Users \
               whose change a presence round tells this socket (before or after the snapshot) \
               are left out: apply it together with the changes received since connecting.",
    },
    ServerEvent {
        name: server::CHAT_UPDATED,
        payload: "ChatUpdatedEvent",
        when: "The chat in full, to users who gain it: its members when it is created, users \
               added to it or joining it.",
    },
    ServerEvent {
        name: server::CHAT_CHANGED,
        payload: "ChatChangedEvent",
        when: "A chat the receiver had was renamed, gained or lost members or admins, or was \
               deleted: the change alone, numbered by the chat's `revision`. Apply it when it \
               is one more than the held chat's, ignore it when not more; fetch the chat on any \
               other gap. A removed member (own id in `removed`) drops the chat; `deleted: true` \
               drops it whatever its revision.",
    },
    ServerEvent {
        name: server::KEY_CHANGED,
        payload: "KeyChanged",
        when: "A user sharing a chat with the receiver, or the receiver on another device, \
               published a new end-to-end key: fetch it before sealing anything more to them \
               (the client keeps keys for a few seconds), and warn that it changed.",
    },
    ServerEvent {
        name: server::PROFILE_CHANGED,
        payload: "PublicProfile",
        when: "A user sharing a chat with the receiver, or the receiver on another device, \
               changed their profile (the display name): the profile as it now is, to show \
               wherever the user is named.",
    },
    ServerEvent {
        name: server::USER_DELETED,
        payload: "UserDeleted",
        when: "A user sharing a chat with the receiver deleted their account. They have left \
               every group (each group's `chat_changed` says so); a direct chat with them stays, \
               with its history, but nothing more can reach them there. Their profile and key \
               are gone (`not_found`): show them as a deleted account.",
    },
    ServerEvent {
        name: server::CHAT_MUTED,
        payload: "ChatMutedEvent",
        when: "The receiver muted a chat or unmuted it (`PUT` / `DELETE /api/chats/{id}/mute`), \
               on this device or another: notify them of its messages, or not. Only the user's \
               own sockets hear it.",
    },
    ServerEvent {
        name: server::RESYNC,
        payload: "Resync",
        when: "Fan-out between instances was out and is back: live events may have been lost \
               though the socket stayed up; catch up as after a reconnect (chat list, `sync`), \
               after a random delay of a few seconds (every socket gets it at once).",
    },
];

/// A schema name (a component of the document) in code style; prose is kept as is.
fn schema(name: &str) -> String {
    if name.starts_with('`') {
        name.to_owned()
    } else {
        format!("`{name}`")
    }
}

/// The document's `info.description`: the REST conventions and the Socket.IO events.
pub fn description() -> String {
    let mut out = String::from(
        "Chats, membership, message history and live messaging. REST routes take an access \
         token from auth-api as `Authorization: Bearer <token>`; errors are \
         `{\"error\":{\"code\",\"message\",\"fields\"?}}` (`ErrorResponse`) with a stable \
         `code`.\n\n\
         ## Socket.IO\n\n\
         Connect to path `/socket.io/`, namespace `/` (websocket or polling) with \
         `auth: {token: <access token>}`. A refusal arrives as `connect_error` with message \
         `unauthorized` or `origin_not_allowed`. Every client event is answered through its ack: \
         on success the schema below, on failure `{ok: false, error: ErrorBody}` (codes \
         `invalid_json`, `validation_failed`, `not_a_member`, `not_found`, `rate_limited`, \
         `conflict`, `unavailable`; after `unavailable` nothing was broadcast — resend with the \
         same `clientMsgId`).\n\n\
         | client → server | payload | ack | effect |\n\
         |---|---|---|---|\n",
    );
    for e in CLIENT_EVENTS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            e.name,
            schema(e.payload),
            schema(e.ack),
            e.effect
        ));
    }
    out.push_str("\n| server → client | payload | sent when |\n|---|---|---|\n");
    for e in SERVER_EVENTS {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            e.name,
            schema(e.payload),
            e.when
        ));
    }
    out
}
