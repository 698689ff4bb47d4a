// Wire types: mirror crates/common/src/contracts/{auth,chat,events}.rs (JSON is camelCase).

export interface User {
  id: string;
  email: string;
  username: string;
  displayName: string | null;
  avatar: string | null;
  provider: string;
  verified: boolean;
  createdAt: string;
}

export interface PublicProfile {
  id: string;
  username: string;
  displayName: string | null;
  avatar: string | null;
}

export interface AuthResponse {
  user: User;
  accessToken: string;
  expiresIn: number;
}

export interface TokenResponse {
  accessToken: string;
  expiresIn: number;
}

export type MessageType = 'text' | 'image' | 'file';

export interface Message {
  id: string;
  chatId: string;
  senderId: string;
  clientMsgId: string;
  content: string;
  iv?: string;
  encrypted: boolean;
  type: MessageType;
  metadata?: { fileName?: string; fileSize?: number; mimeType?: string; attachmentId?: string };
  timestamp: string;
  readBy: string[];
  deliveredTo: string[];
  /** When its sender last edited it (`edit_message`); absent when never. */
  editedAt?: string;
  /**
   * When it was deleted (`delete_message`): a tombstone, whose `content` is empty and whose `iv`
   * and `metadata` are gone (its attachment's file too). Its `type` is kept.
   */
  deletedAt?: string;
  /** Who deleted it: its sender, or an admin of its group. */
  deletedBy?: string;
  /**
   * Its reactions (`react_message`), one per emoji in the order each was first used; absent when
   * none, and on a tombstone. Not encrypted (as Matrix's are not): the server sees them.
   */
  reactions?: Reaction[];
  /**
   * The changes made to it since it was sent (edits, its deletion, reactions added or removed),
   * each counted in the same write as the change: of two copies, the higher is newer. Absent: 0.
   */
  revision?: number;
  /** When it last changed, of any of those (an instant, as `editedAt`); absent when never. */
  updatedAt?: string;
  /**
   * The message of the same chat this one answers (a reply, as Slack's and Matrix's): its id
   * only, never what it says (the server must not see what an encrypted chat quotes). Absent when
   * not a reply, and on a tombstone; an edit keeps it.
   */
  replyTo?: string;
  /** This client's own: the text of an `encrypted` message, once opened (see e2e.ts). */
  plain?: string;
}

/** One emoji's reactions to a message: who reacted with it, in the order they did. */
export interface Reaction {
  emoji: string;
  users: string[];
}

/** An ECDH P-256 public key (`PublicKeyJwk` in common's contracts). */
export interface PublicKeyJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

/** A private key sealed on the client under a recovery passphrase (`WrappedKey`). */
export interface WrappedKey {
  kdf: 'PBKDF2-SHA256';
  iterations: number;
  salt: string;
  iv: string;
  ciphertext: string;
}

export interface Chat {
  id: string;
  type: 'direct' | 'group';
  participants: string[];
  name?: string;
  /** A group's topic, set by its admins. */
  topic?: string;
  /**
   * A group's picture, set by its admins: this origin's `/api/chats/{id}/picture?v=…` (a new
   * picture, a new address), for members only (see chatPictures.ts). Absent: none. A direct
   * chat has none: it shows its other member's profile picture.
   */
  picture?: string;
  /**
   * The ids of the messages pinned in the chat by any member, the newest pin first (at most
   * `MAX_PINS`); absent when none. Ids only: the page shows the message it holds, or reads it
   * (see pins.ts).
   */
  pins?: string[];
  admins: string[];
  hasPasscode: boolean;
  lastMessage: Message | null;
  lastMessageAt: string | null;
  createdAt: string;
  /** Changes made to the chat since its creation (0); orders its copies and `chat_changed` events. */
  revision: number;
  memberCount: number;
  /** `participants` were left out (a group read with `?members=direct`): they come in pages (`MemberPage`). */
  membersOmitted?: boolean;
  /** A direct chat whose other member deleted their account: readable, but it takes no new messages. */
  closed?: boolean;
  unreadCount: number;
  /**
   * This user muted the chat (on any device): its messages notify nobody here. Only the user's own
   * reads of the chat say it (`chats.list`, `chats.get`, which make it a boolean); other copies
   * (events, answers to changes, sent to every member alike) leave it out, and `upsertChat`
   * keeps what it held. A mute for a while has ended once `mutedUntil` has passed: see
   * `muting.isMuted`, which every reader asks.
   */
  muted?: boolean;
  /** When this user's mute ends by itself (a mute "for 8 hours"); absent: until they unmute it. */
  mutedUntil?: string;
}

/** `GET /api/chats/{id}/members`: members ordered by id; pass `nextCursor` as `after` for more. */
export interface MemberPage {
  members: string[];
  nextCursor: string | null;
  revision: number;
  memberCount: number;
}

export interface MessagePage {
  messages: Message[];
  nextCursor: string | null;
}

/** A message the user sent that the server has not acknowledged yet (kept in the outbox). */
export interface OutboxItem {
  clientMsgId: string;
  chatId: string;
  senderId: string;
  content: string;
  createdAt: string;
  /** `image` or `file`: `content` describes the file (attachments.ts), `file` holds its bytes. */
  type?: MessageType;
  /** The file, sealed, until it is uploaded (then `attachmentId` says where it went). */
  file?: { sealed: ArrayBuffer; attachmentId?: string };
  /** Set when the server refused it for good (validation, not a member…). */
  failed?: string;
  /** The id of the message it answers (kept through resends: the server dedupes on clientMsgId). */
  replyTo?: string;
}

/**
 * A change to a stored message made while the socket was down (changesOutbox.ts), kept until it
 * is sent: an edit (`content` in clear, sealed when it is sent as an outbox message is, under
 * the message's sender, clientMsgId and time), a deletion, a reaction added or taken back, a pin
 * or an unpin.
 */
export interface QueuedChange {
  /** Its place in the queue (IndexedDB's key, counted up). */
  seq: number;
  chatId: string;
  messageId: string;
  change:
    | { kind: 'edit'; content: string; senderId: string; clientMsgId: string; timestamp: string }
    | { kind: 'delete' }
    | { kind: 'react'; emoji: string; add: boolean }
    | { kind: 'pin'; pinned: boolean };
}

export interface ErrorBody {
  code: string;
  message: string;
  fields?: Record<string, string[]>;
  /** Socket acks of `rate_limited`: seconds before a retry may succeed. */
  retryAfter?: number;
}

export type Ack<T> = ({ ok: true } & T) | { ok: false; error: ErrorBody };

export interface ReceiptEvent {
  chatId: string;
  messageId: string;
  userId: string;
}
export interface TypingEvent {
  chatId: string;
  userId: string;
}
/** `user_online` / `user_offline`: one contact's presence changed. */
export interface PresenceEvent {
  userId: string;
  lastSeen?: string;
}
/** `presence_update`: the state now of several contacts whose presence changed. */
export interface PresenceUpdate {
  online?: string[];
  offline?: PresenceEvent[];
}
/** Where a `sync` answer stopped; sent back unchanged for the next page. */
export interface SyncResume {
  chatId: string;
  messageId: string;
}
/** Where a `sync_changes` answer stopped; sent back unchanged, with the same `since`. */
export interface ChangesResume {
  at: string;
  messageId: string;
}
/**
 * The `sync_changes` answer: messages edited, deleted or reacted to since `since`, as they are
 * now, oldest change first. The first page's `until` is the next request's `since`.
 */
export interface ChangesPage {
  messages: Message[];
  hasMore: boolean;
  resume?: ChangesResume;
  until: string;
}
/** Sent after every (re)connect: the contacts online right now, in parts while `more`. */
export interface PresenceSnapshot {
  online: string[];
  more?: boolean;
}
/** `chat_updated`: a chat in full, to users who just gained it (created, added, joined). */
export interface ChatUpdatedEvent {
  chat: Chat;
}
/** `chat_changed`: one change to a chat we had, numbered by the chat's revision after it. */
export interface ChatChangedEvent {
  chatId: string;
  revision: number;
  name?: string;
  /** The new topic; '' when it was cleared. */
  topic?: string;
  /** The group's new picture's address; '' when it was removed. */
  picture?: string;
  added?: string[];
  removed?: string[];
  /** The member count after the change, when it changed the members. */
  memberCount?: number;
  /** The admins, when this change set them (the last admin left: the longest-standing member). */
  admins?: string[];
  /** The pinned messages, when this change pinned or unpinned one: the whole list now, `[]` when none. */
  pins?: string[];
  deleted?: boolean;
  /** The direct chat was closed: its other member deleted their account. */
  closed?: boolean;
}
/**
 * `user_deleted`: a contact deleted their account. They left every group already (each its
 * `chat_changed`); direct chats with them stay, with their history, read-only.
 */
/** `chat_muted`: this user muted or unmuted a chat, on this device or another. */
export interface ChatMutedEvent {
  chatId: string;
  muted: boolean;
  /** When the mute ends by itself, for a mute for a while. */
  until?: string;
}

export interface UserDeletedEvent {
  userId: string;
}

/** What proves it is the user deleting their account (`POST /api/auth/delete-account`): exactly one. */
export type DeleteAccountProof = { password: string } | { code: string };

/** `GET /api/auth/sessions`: one place the user is signed in (a session cookie). */
export interface Session {
  id: string;
  /** The session this request came with (this browser). */
  current: boolean;
  /** An instant as every other on the wire (RFC 3339, `…T09:31:12.345Z`), as is `lastActiveAt`. */
  createdAt: string;
  /** When it last signed in or refreshed its access token. */
  lastActiveAt: string;
  /** The `User-Agent` it signed in with (at most 256 characters), if it sent one. */
  userAgent: string | null;
}
