// The client's state and what reads it: chats, messages as shown, names, and the topics views
// subscribe to. The store (store.ts) changes it; receipts.ts and sealing.ts share it.
import { MAX_PROFILE_IDS, users as usersApi } from './api';
import * as db from './db';
import * as e2e from './e2e';
import type { Chat, Message, MessageType, OutboxItem, PublicProfile, Reaction, User } from './types';

/** A message as the UI shows it: stored (has id) or still in the outbox (pending). */
export interface ViewMessage {
  key: string; // senderId/clientMsgId — the server's idempotency key, so ack and new_message match
  id?: string;
  chatId: string;
  senderId: string;
  clientMsgId: string;
  content: string;
  /** `image` and `file` messages' `content` describes their attachment (attachments.ts). */
  type: MessageType;
  /** Where the attachment is stored (none while it is still in the outbox). */
  attachmentId?: string;
  timestamp: string;
  readBy: string[];
  deliveredTo: string[];
  pending: boolean;
  failed?: string;
  /** When its sender last edited it. */
  editedAt?: string;
  /** Deleted: shown as a tombstone (`content` is empty). */
  deletedAt?: string;
  /** Who deleted it, when it is. */
  deletedBy?: string;
  /** Its reactions, one per emoji (none on a tombstone, or while pending). */
  reactions: Reaction[];
  /**
   * A sealed message's iv, new at every sealing: a copy with the same one has the same text (see
   * edits.applyUpdates).
   */
  iv?: string;
  /** Its changes since it was sent, which order its copies (see edits.isOlder). */
  revision?: number;
  /** The id of the message it answers, when it is a reply (none on a tombstone). */
  replyTo?: string;
  /**
   * Changes to it made offline and not sent yet (changesOutbox.ts's `shown`, which draws them):
   * an edit (its text is then the edit's), a deletion, reactions (by emoji).
   */
  queued?: { edit: boolean; delete: boolean; reactions: string[] };
}

export type ConnState = 'offline' | 'connecting' | 'online';

/**
 * A contact's profile as this page holds it. `deleted` is this client's mark, never the server's:
 * the account was deleted (`user_deleted`, or a profile lookup that left it out), and its
 * profile is gone; it is kept, and cached, in place of the profile it was.
 */
export type HeldProfile = PublicProfile & { deleted?: true };

/** What an account that was deleted is called wherever its name would show. */
const DELETED_NAME = 'Deleted account';

type Listener = (topic: string) => void;
const listeners = new Set<Listener>();
export function subscribe(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
export function emit(topic: string): void {
  for (const l of [...listeners]) l(topic);
}

export const state = {
  me: null as User | null,
  conn: 'offline' as ConnState,
  chats: new Map<string, Chat>(),
  messages: new Map<string, Map<string, ViewMessage>>(),
  /** Per chat: the cursor for older history; null once the start is reached; absent = not fetched. */
  history: new Map<string, string | null>(),
  profiles: new Map<string, HeldProfile>(),
  presence: new Map<string, { online: boolean; lastSeen?: string }>(),
  typing: new Map<string, Map<string, number>>(),
  openChat: null as string | null,
  /**
   * Messages fetched one by one for the replies quoting them (replies.ts), by id: older than the
   * history held, so not shown as rows (nor cached), but kept up to date as rows are (edits.ts).
   */
  quoted: new Map<string, ViewMessage>(),
};

export const keyOf = (senderId: string, clientMsgId: string) => `${senderId}/${clientMsgId}`;

export function fromMessage(m: Message): ViewMessage {
  return {
    key: keyOf(m.senderId, m.clientMsgId),
    id: m.id,
    chatId: m.chatId,
    senderId: m.senderId,
    clientMsgId: m.clientMsgId,
    // A tombstone has nothing to show, not even "encrypted": its content is gone.
    content: m.deletedAt ? '' : e2e.textOf(m),
    type: m.type ?? 'text',
    attachmentId: m.metadata?.attachmentId,
    timestamp: m.timestamp,
    readBy: m.readBy ?? [],
    deliveredTo: m.deliveredTo ?? [],
    pending: false,
    editedAt: m.editedAt,
    deletedAt: m.deletedAt,
    deletedBy: m.deletedBy,
    reactions: m.deletedAt ? [] : (m.reactions ?? []),
    iv: m.iv,
    revision: m.revision,
    replyTo: m.deletedAt ? undefined : m.replyTo,
  };
}

/**
 * `m` in place of `held`, the copy of it shown until now: receipts come on their own, so those
 * applied to `held` since `m` was read are kept. All else (its text, edits, reactions, revision)
 * is `m`'s: the caller has weighed it newer (edits.isOlder).
 */
export function replacing(held: ViewMessage, m: Message): ViewMessage {
  const vm = fromMessage(m);
  vm.readBy = union(held.readBy, vm.readBy);
  vm.deliveredTo = union(held.deliveredTo, vm.deliveredTo);
  return vm;
}

/** The ids of `a`, then those of `b` not in it (receipts only ever grow). */
export function union(a: string[] | undefined, b: string[] | undefined): string[] {
  return [...new Set([...(a ?? []), ...(b ?? [])])];
}

export function fromOutbox(o: OutboxItem): ViewMessage {
  return {
    key: keyOf(o.senderId, o.clientMsgId),
    chatId: o.chatId,
    senderId: o.senderId,
    clientMsgId: o.clientMsgId,
    content: o.content,
    type: o.type ?? 'text',
    attachmentId: o.file?.attachmentId,
    timestamp: o.createdAt,
    readBy: [],
    deliveredTo: [],
    pending: true,
    failed: o.failed,
    reactions: [],
    replyTo: o.replyTo,
  };
}

export function chatMessages(chatId: string): Map<string, ViewMessage> {
  let m = state.messages.get(chatId);
  if (!m) {
    m = new Map();
    state.messages.set(chatId, m);
  }
  return m;
}

/**
 * Orders two instants of the server's (RFC 3339) by value, not as strings: servers before the
 * fixed three-digit fraction sent `…:12Z` for an exact second, which sorts after `…:12.340Z`,
 * and messages cached from them stay in IndexedDB.
 */
export function compareInstants(a: string, b: string): number {
  return Date.parse(a) - Date.parse(b);
}

/** Stored messages first by time, then by id; pending ones last in the order they were written. */
export function sortedMessages(chatId: string): ViewMessage[] {
  return [...chatMessages(chatId).values()].sort((a, b) => {
    if (a.pending !== b.pending) return a.pending ? 1 : -1;
    const t = compareInstants(a.timestamp, b.timestamp);
    if (t !== 0) return t;
    return (a.id ?? a.clientMsgId).localeCompare(b.id ?? b.clientMsgId);
  });
}

export function newestStoredId(chatId: string): string | undefined {
  const list = sortedMessages(chatId).filter((m) => !m.pending);
  return list.length ? list[list.length - 1].id : undefined;
}

export function oldestStoredId(chatId: string): string | undefined {
  return sortedMessages(chatId).find((m) => !m.pending)?.id;
}

// --- names ------------------------------------------------------------------------------------

export function displayName(userId: string): string {
  if (state.me && userId === state.me.id) return 'You';
  const p = state.profiles.get(userId);
  if (p?.deleted) return DELETED_NAME;
  return p ? p.displayName || p.username : 'Someone';
}

/**
 * `userId`'s profile picture as the server names it (`/api/users/{id}/avatar?v=…`), or null: the
 * user's own from `state.me`, a contact's from their profile (none once the account is deleted).
 * Whether it may be loaded is the avatar's to decide (viewKit.ts `avatarSrc`).
 */
export function pictureOf(userId: string): string | null {
  if (state.me && userId === state.me.id) return state.me.avatar;
  const p = state.profiles.get(userId);
  return p && !p.deleted ? p.avatar : null;
}

/** Whether `userId`'s account is known to be deleted. */
export function isDeleted(userId: string): boolean {
  return state.profiles.get(userId)?.deleted === true;
}

/**
 * Whether nothing can be sent to `chatId` any more: a direct chat whose other member deleted
 * their account, as the server says (`closed`) or as this page learnt first. Its history stays
 * readable (a group simply loses the member).
 */
export function isClosed(chatId: string): boolean {
  const chat = state.chats.get(chatId);
  const other = chat && otherParticipant(chat);
  return chat?.closed === true || (other !== undefined && isDeleted(other));
}

export function chatTitle(chat: Chat): string {
  if (chat.type === 'group') return chat.name || 'Group';
  const other = chat.participants.find((p) => p !== state.me?.id);
  return other ? displayName(other) : 'Just you';
}

export function otherParticipant(chat: Chat): string | undefined {
  return chat.type === 'direct' ? chat.participants.find((p) => p !== state.me?.id) : undefined;
}

/**
 * The picture a chat's circle shows, as the server names it, or null: a group's own
 * (`Chat.picture`: only a group picture's address, `/api/chats/…`, which the avatar fetches with
 * the token, never a profile picture's), a direct chat's other member's profile picture.
 */
export function chatPicture(chat: Chat): string | null {
  if (chat.type === 'group') return chat.picture?.startsWith('/api/chats/') ? chat.picture : null;
  const other = otherParticipant(chat);
  return other ? pictureOf(other) : null;
}

const profileFetches = new Map<string, Promise<void>>();
/**
 * Profiles read from this device's cache at start: shown at once, and fetched again the first
 * time one is wanted, so a name changed since (Account settings) reaches this page on its next
 * load. Only those shown are fetched: never a whole group's cached members.
 */
const staleProfiles = new Set<string>();
/** Ids wanted within this task, fetched together (a chat list of 200 DMs is 2 requests, not 200). */
let queued: string[] = [];
let queuedFetch: Promise<void> | null = null;

/**
 * Profiles from the cache, shown until `ensureProfiles` has fetched them again. A deleted
 * account's mark is asked about again too, as a profile is: it goes if the server answers one.
 */
export function loadCachedProfiles(profiles: HeldProfile[]): void {
  for (const p of profiles) {
    state.profiles.set(p.id, p);
    staleProfiles.add(p.id);
  }
}

/**
 * Every profile held is fetched again the first time it is wanted from now on: after a
 * (re)connect, since a `profile_changed` or a `user_deleted` sent while this page was away is
 * not sent again. What the chat list shows is asked as it is reloaded (100 per request).
 */
export function profilesMayHaveChanged(): void {
  for (const id of state.profiles.keys()) staleProfiles.add(id);
}

export function forgetProfiles(): void {
  state.profiles.clear();
  staleProfiles.clear();
}

/**
 * Fetches the profiles we lack (or hold only from the cache), up to MAX_PROFILE_IDS per request:
 * a group of 1,000 members is 10 requests, not 1,000. A profile already being fetched is waited
 * for, not asked again; those asked for within one task go together.
 */
export async function ensureProfiles(ids: string[]): Promise<void> {
  const wanted = [...new Set(ids)].filter((id) => (!state.profiles.has(id) || staleProfiles.has(id)) && id !== state.me?.id);
  for (const id of wanted) {
    if (profileFetches.has(id)) continue;
    queued.push(id);
    queuedFetch ??= new Promise((r) => setTimeout(r, 0)).then(fetchQueued);
    profileFetches.set(id, queuedFetch);
  }
  await Promise.all(wanted.map((id) => profileFetches.get(id)));
}

async function fetchQueued(): Promise<void> {
  const ids = queued;
  queued = [];
  queuedFetch = null;
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += MAX_PROFILE_IDS) batches.push(ids.slice(i, i + MAX_PROFILE_IDS));
  await Promise.all(
    batches.map((batch) =>
      usersApi
        .many(batch)
        .then(async (profiles) => {
          // A profile answered replaces what was held, a deleted account's mark too.
          for (const p of profiles) state.profiles.set(p.id, p);
          // Asked for and answered: not asked again this session. The ids left out are
          // accounts that no longer exist (deleted): only such a definite answer says so, never
          // a request that failed (caught below: asked again the next time one is wanted).
          for (const id of batch) staleProfiles.delete(id);
          const answered = new Set(profiles.map((p) => p.id));
          const gone = markDeleted(batch.filter((id) => !answered.has(id)));
          await db.putProfiles([...profiles, ...gone]);
        })
        .catch(() => {})
        .finally(() => {
          for (const id of batch) profileFetches.delete(id);
        }),
    ),
  );
  emit('chats');
  emit('profiles');
}

/**
 * Marks the accounts `ids` deleted in place of their profiles (their names show as
 * `DELETED_NAME`), forgets their presence and typing, and answers the marks to cache. The
 * caller stores and redraws; `deleted` tells the outbox (what waits for them cannot go).
 */
function markDeleted(ids: string[]): HeldProfile[] {
  const marks: HeldProfile[] = [];
  for (const id of ids) {
    if (id === state.me?.id) continue;
    const mark: HeldProfile = { id, username: '', displayName: null, avatar: null, deleted: true };
    state.profiles.set(id, mark);
    staleProfiles.delete(id);
    state.presence.delete(id);
    for (const [chatId, typers] of state.typing) if (typers.delete(id)) emit(`typing:${chatId}`);
    marks.push(mark);
  }
  if (marks.length) emit('deleted');
  return marks;
}

/**
 * `user_deleted`: a contact deleted their account. Their name shows as deleted everywhere at
 * once, and a direct chat with them becomes read-only (`isClosed`); the groups they were in
 * lose them by their own `chat_changed`.
 */
export function userDeleted(userId: string): void {
  const marks = markDeleted([userId]);
  if (!marks.length) return;
  db.putProfiles(marks).catch(() => {});
  emit('chats');
  emit('profiles');
}

/**
 * `profile_changed`: a contact, or this user on another device, changed their profile (the
 * display name, the picture). A contact's is kept as fetched (no need to ask again) and every
 * name and picture shown is redrawn; this user's own goes to `state.me`, and the views showing it
 * hear `me`.
 */
export function profileChanged(p: PublicProfile): void {
  if (p.id === state.me?.id) {
    state.me = { ...state.me, username: p.username, displayName: p.displayName, avatar: p.avatar };
    emit('me');
    return;
  }
  state.profiles.set(p.id, p);
  staleProfiles.delete(p.id);
  db.putProfiles([p]).catch(() => {});
  emit('chats');
  emit('profiles');
}

/** A profile the user picked (a search result): as fetched, whatever was held before. */
export function rememberProfile(p: PublicProfile): void {
  state.profiles.set(p.id, p);
  db.putProfiles([p]).catch(() => {});
}
