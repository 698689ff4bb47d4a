// Edited, deleted and reacted-to messages: sending an edit (sealed as a send is), a deletion or
// a reaction, and taking in the messages they change — live (`message_updated`, a change's ack)
// or, after a reconnect or a `resync`, from `sync_changes`, which tells what changed while this
// client was away (`sync` answers by message id, so it cannot). What is here sends at once, over
// the connection; changesOutbox.ts keeps what is made without one and sends it here once back.
import type { Socket } from 'socket.io-client';
import { fileRef, withCaption } from './attachments';
import * as db from './db';
import * as e2e from './e2e';
import { C, MAX_REACTION_KINDS } from './events';
import { Locked, Withheld, outgoing } from './sealing';
import { compareInstants, emit, ensureProfiles, fromMessage, keyOf, replacing, state, union, type ViewMessage } from './state';
import * as tabs from './tabs';
import type { Ack, ChangesPage, ChangesResume, Chat, ErrorBody, Message } from './types';

let deletedListener: (m: Message) => void = () => {};
/** Called with each message that arrives deleted (live or from `sync_changes`): its notification goes. */
export function onMessageDeleted(fn: (m: Message) => void): void {
  deletedListener = fn;
}

/** Someone else's reaction, new, to one of this user's messages. */
export type NewReaction = { emoji: string; userId: string };
let reactionListener: (m: Message, chat: Chat, added: NewReaction[]) => void = () => {};
/**
 * Called with a message of this user's that arrives live (`message_updated`) with reactions of
 * others it did not have here, for a chat open in no visible tab (as `onUnseenMessage`):
 * WhatsApp and Signal tell the sender of a reaction to their message. Weighed against the copy
 * held (its row, or the chat's last message); one not held here is not told, nor is one taken
 * back.
 */
export function onReactionToMine(fn: (m: Message, chat: Chat, added: NewReaction[]) => void): void {
  reactionListener = fn;
}

/** The reactions in `now` that `before` did not have, other than `me`'s. */
export function reactionsAdded(before: Pick<Message, 'reactions'>, now: Pick<Message, 'reactions'>, me: string): NewReaction[] {
  const had = new Set((before.reactions ?? []).flatMap((r) => r.users.map((u) => `${r.emoji} ${u}`)));
  return (now.reactions ?? []).flatMap((r) => r.users.filter((u) => u !== me && !had.has(`${r.emoji} ${u}`)).map((userId) => ({ emoji: r.emoji, userId })));
}

let current: () => Socket | null = () => null;
let ingested: () => Promise<void> = async () => {};
/**
 * Gives this module the store's socket, and what waits for the messages the store is taking in
 * (an update that follows its message closely must find it held, though it is still being opened).
 */
export function useEdits(get: () => Socket | null, taken: () => Promise<void>): void {
  current = get;
  ingested = taken;
}

// --- the apply rule ---------------------------------------------------------------------------

/** What orders the versions of one message. */
type Version = Pick<Message, 'editedAt' | 'deletedAt' | 'revision'>;

/**
 * Whether `next` is an older version of a message than `held`, and must not replace it. Copies
 * arrive in any order (an event, an ack, a chat list or a sync read before the change), so each
 * is weighed, not trusted: a deletion wins over anything (nothing changes a tombstone but
 * itself); otherwise the higher `revision`, which the server counts up with each change in the
 * same write, so it orders changes made at once by different users (two reactions) where a
 * time would not. At equal revisions (copies written before revisions were counted, cached or
 * still stored so) the later edit wins.
 */
export function isOlder(next: Version, held: Version): boolean {
  if (held.deletedAt) return !next.deletedAt;
  if (next.deletedAt) return false;
  const nextRev = next.revision ?? 0;
  const heldRev = held.revision ?? 0;
  if (nextRev !== heldRev) return nextRev < heldRev;
  if (!held.editedAt) return false;
  return !next.editedAt || compareInstants(next.editedAt, held.editedAt) < 0;
}

/**
 * Takes in messages as they are now (edited, deleted or reacted to): each replaces the copy
 * held, in memory and in the cache, unless that copy is newer; the chat list's preview follows.
 * A message not held here is left alone: history or `sync` brings it as it is now. A change is
 * not a new message: only a reaction to this user's own, arriving `live`, is told
 * (`onReactionToMine`).
 */
export async function applyUpdates(ms: Message[], opts: { live?: boolean } = {}): Promise<void> {
  // Who reacted is shown by name (a group's members are paged, not held).
  void ensureProfiles(ms.flatMap((m) => (m.reactions ?? []).flatMap((r) => r.users)));
  // A change that left the text as it was (a reaction: the same iv, which every sealing draws
  // anew) keeps what was opened: no second decryption, and a key locked since hides nothing.
  for (const m of ms) {
    const held = state.messages.get(m.chatId)?.get(keyOf(m.senderId, m.clientMsgId));
    if (m.encrypted && m.iv && held?.iv === m.iv && held.content !== e2e.LOCKED_TEXT) m.plain = held.content;
  }
  await e2e.openAll(ms.filter((m) => !m.deletedAt));
  await ingested();
  if (opts.live) tellReactions(ms);
  const kept: Message[] = [];
  const touched = new Set<string>();
  for (const m of ms) {
    if (updateLastMessage(m)) touched.add(m.chatId);
    if (updateQuoted(m)) touched.add(m.chatId);
    const map = state.messages.get(m.chatId);
    const key = keyOf(m.senderId, m.clientMsgId);
    const held = map?.get(key);
    if (!map || !held || held.pending || isOlder(m, held)) continue;
    map.set(key, replacing(held, m));
    kept.push(m);
    touched.add(m.chatId);
  }
  // Weighed again against the cache's copies, with their receipts kept, as in memory.
  const byId = new Map(kept.map((m) => [m.id, m]));
  await db
    .changeMessages([...byId.keys()], (id, stored) => {
      const m = byId.get(id)!;
      if (stored && isOlder(m, stored)) return undefined;
      return stored ? { ...m, readBy: union(stored.readBy, m.readBy), deliveredTo: union(stored.deliveredTo, m.deliveredTo) } : m;
    })
    .catch(() => {});
  for (const chatId of touched) emit(`messages:${chatId}`);
  if (touched.size) emit('chats');
  for (const m of ms) if (m.deletedAt && m.id) deletedListener(m);
}

/** Tells the reactions of others new on this user's messages, before the copies held are replaced. */
function tellReactions(ms: Message[]): void {
  const me = state.me?.id;
  if (!me) return;
  for (const m of ms) {
    if (m.senderId !== me || m.deletedAt) continue;
    const lastMessage = state.chats.get(m.chatId)?.lastMessage;
    const held = state.messages.get(m.chatId)?.get(keyOf(m.senderId, m.clientMsgId)) ?? (lastMessage?.id === m.id ? lastMessage : undefined);
    if (!held || isOlder(m, held)) continue;
    const added = reactionsAdded(held, m, me);
    const chat = state.chats.get(m.chatId);
    const seen = (state.openChat === m.chatId && document.visibilityState === 'visible') || tabs.shownElsewhere(m.chatId);
    if (added.length && chat && !seen) reactionListener(m, chat, added);
  }
}

/** Replaces the chat's last message (its preview) when `m` is a newer version of it. */
function updateLastMessage(m: Message): boolean {
  const chat = state.chats.get(m.chatId);
  if (!chat?.lastMessage || chat.lastMessage.id !== m.id || isOlder(m, chat.lastMessage)) return false;
  chat.lastMessage = m;
  db.putChats([chat]).catch(() => {});
  return true;
}

/**
 * Replaces the copy of `m` fetched for the replies quoting it (not a row: see `state.quoted`)
 * when `m` is newer, so their quotes follow its edits and its deletion.
 */
function updateQuoted(m: Message): boolean {
  const held = state.quoted.get(m.id);
  if (!held || isOlder(m, held)) return false;
  state.quoted.set(m.id, fromMessage(m));
  return true;
}

// --- catching up ------------------------------------------------------------------------------

/** Where the next `sync_changes` starts (the first page's `until`), kept with the cache it is about. */
const SINCE_KEY = 'changesSince';
let syncing: Promise<void> | null = null;
let syncAgain = false;

/**
 * Asks what changed since the last time (`sync_changes`), page by page, and applies it. The
 * first time, with no `since`, the answer only says where to start: what is held then came from
 * reads made now. `until` is kept once every page is applied, so an interrupted catch-up is
 * asked again from the same point (repeats are versions already held: they change nothing).
 * One at a time; a call meanwhile runs again after it.
 */
export function syncChanges(): Promise<void> {
  if (syncing) {
    syncAgain = true;
    return syncing;
  }
  syncing = (async () => {
    try {
      do {
        syncAgain = false;
        await catchUp();
      } while (syncAgain);
    } finally {
      syncing = null;
    }
  })();
  return syncing;
}

/** Most pages one catch-up reads before it stops (and starts from the same point next time). */
const MAX_PAGES = 200;

async function catchUp(): Promise<void> {
  const me = state.me?.id;
  if (!me) return;
  const since = await db.meta<string>(SINCE_KEY);
  let resume: ChangesResume | undefined;
  let until: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const socket = current();
    if (!socket?.connected) return;
    let ack: Ack<ChangesPage>;
    try {
      ack = await socket.timeout(15_000).emitWithAck(C.SYNC_CHANGES, { since, resume, limit: 200 });
    } catch {
      return; // no answer: asked again from `since` at the next connect
    }
    if (!ack.ok) return;
    // The first page's: changes made while paging come after it.
    until ??= ack.until;
    if (ack.messages.length) await applyUpdates(ack.messages);
    if (!ack.hasMore || !ack.resume) {
      if (state.me?.id === me) await db.putMeta(SINCE_KEY, until).catch(() => {});
      return;
    }
    resume = ack.resume;
  }
}

// --- editing, deleting and reacting -----------------------------------------------------------

/** Whether this user may edit `m`: their own, stored, not deleted, and readable here. */
export function canEdit(m: ViewMessage): boolean {
  if (!m.id || m.deletedAt || m.senderId !== state.me?.id || m.content === e2e.LOCKED_TEXT) return false;
  return m.type === 'text' || fileRef(m.content) !== null;
}

/** Whether this user may delete `m`: their own, or anyone's in a group they are an admin of. */
export function canDelete(m: ViewMessage): boolean {
  const me = state.me?.id;
  if (!me || !m.id || m.deletedAt) return false;
  if (m.senderId === me) return true;
  const chat = state.chats.get(m.chatId);
  return chat?.type === 'group' && chat.admins.includes(me);
}

/** What an edit of `m` starts from: its text, or a file's caption. */
export function editableText(m: ViewMessage): string {
  return m.type === 'text' ? m.content : (fileRef(m.content)?.caption ?? '');
}

/** What a change names of its message: enough to seal an edit and to word a refusal. */
export type Target = Pick<ViewMessage, 'chatId' | 'id' | 'senderId' | 'clientMsgId' | 'timestamp' | 'deletedAt' | 'reactions'>;

/** A change the server refused (`code`), said in a sentence. */
export class Refused extends Error {
  constructor(
    public code: string,
    why: string,
  ) {
    super(why);
  }
}

/** The socket, while it is connected (changesOutbox.ts sends or queues by it). */
export function connectedSocket(): Socket | null {
  const socket = current();
  return socket?.connected ? socket : null;
}

/**
 * What an edit of `m` to `text` sends: the text, or a file message's description with `text` as
 * its caption (the same file). Throws, with a sentence to show, when it cannot be edited so.
 */
export function editedContent(m: Pick<ViewMessage, 'type' | 'content'>, text: string): string {
  if (m.type === 'text') {
    if (!text) throw new Error('a message cannot be empty: delete it instead.');
    return text;
  }
  const ref = fileRef(m.content);
  if (!ref) throw new Error('this file’s description cannot be read here.');
  return JSON.stringify(withCaption(ref, text));
}

/**
 * Replaces `m`'s text (a file message's caption: the same file, described again) with `text`,
 * sealed as a send to its chat is, under the message's own clientMsgId. Throws, with a sentence
 * to show, when offline or refused; the message is then as it was.
 */
export async function editMessage(m: ViewMessage, text: string): Promise<void> {
  const socket = connected();
  try {
    await sendEdit(socket, m, editedContent(m, text));
  } catch (e) {
    if (e instanceof Locked) throw new Error('unlock your encryption key first (see the chat list).');
    if (e instanceof Withheld) throw new Error('this chat’s messages are waiting on a key: see the note above.');
    throw e;
  }
}

/**
 * Sends `content` as `m`'s new content, sealed as a send to its chat is (`Locked` or `Withheld`
 * thrown as sealing.ts throws them), and applies the answer; throws `Refused` when refused.
 */
export async function sendEdit(socket: Socket, m: Target, content: string): Promise<void> {
  const body = await outgoing({ chatId: m.chatId, clientMsgId: m.clientMsgId, senderId: m.senderId, content, createdAt: m.timestamp });
  const message = await request(socket, C.EDIT_MESSAGE, { chatId: m.chatId, messageId: m.id, ...body });
  // Ours: no need to open what we just sealed.
  if (message.encrypted && !message.deletedAt) message.plain = content;
  await applyUpdates([message]);
}

/** Deletes `m` (a tombstone stays in its place, for everyone). Throws as `editMessage`. */
export async function deleteMessage(m: ViewMessage): Promise<void> {
  await sendDeletion(connected(), m);
}

/** Sends `m`'s deletion and applies the answer (a deleted message's answer is its tombstone). */
export async function sendDeletion(socket: Socket, m: Target): Promise<void> {
  await applyUpdates([await request(socket, C.DELETE_MESSAGE, { chatId: m.chatId, messageId: m.id })]);
}

/** Whether this user may react to `m`: any stored message of theirs or others', not deleted (nor being deleted). */
export function canReact(m: ViewMessage): boolean {
  return Boolean(m.id) && !m.pending && !m.deletedAt && !m.queued?.delete;
}

/**
 * Adds (`add`) or takes back this user's reaction with `emoji` to `m`; both are idempotent.
 * Reactions are not sealed: the server sees them (as Matrix's), since it counts and orders them.
 * Throws as `editMessage`.
 */
export async function reactToMessage(m: ViewMessage, emoji: string, add: boolean): Promise<void> {
  await sendReaction(connected(), m, emoji, add);
}

/** Sends a reaction and applies the answer; a refusal is worded from `m`, as held. */
export async function sendReaction(socket: Socket, m: Target, emoji: string, add: boolean): Promise<void> {
  const payload = { chatId: m.chatId, messageId: m.id, emoji, add };
  await applyUpdates([await request(socket, C.REACT_MESSAGE, payload, (error) => reactionRefusal(error, m, emoji))]);
}

function connected(): Socket {
  const socket = current();
  if (!socket?.connected) throw new Error('you are offline: this needs a connection. Try again once you are back online.');
  return socket;
}

/**
 * Sends a change (an edit, a deletion, a reaction) and answers the message as it is now, or
 * throws why not: `Refused`, as `why` words the server's refusal, or an `Error` when no answer came.
 */
async function request(socket: Socket, event: string, payload: object, why: (error: ErrorBody) => string = refusal): Promise<Message> {
  let ack: Ack<{ message: Message }>;
  try {
    ack = await socket.timeout(15_000).emitWithAck(event, payload);
  } catch {
    throw new Error('the server did not answer. Try again.');
  }
  if (!ack.ok) throw new Refused(ack.error.code, why(ack.error));
  return ack.message;
}

/** Why the server refused an edit or a deletion, as a sentence. */
function refusal(error: ErrorBody): string {
  switch (error.code) {
    case 'forbidden':
      return 'only its sender (or, in a group, an admin) may change this message.';
    case 'conflict':
      return 'this message was deleted.';
    case 'not_a_member':
      return 'you are no longer a member of this chat.';
    case 'not_found':
      return 'this message no longer exists.';
    case 'rate_limited':
      return 'too many changes at once. Wait a moment and try again.';
    case 'unavailable':
      return 'the server is busy. Try again in a moment.';
    default:
      return error.message || error.code;
  }
}

/** Why the server refused a reaction with `emoji` to `m`, as a sentence. */
function reactionRefusal(error: ErrorBody, m: Pick<Target, 'deletedAt' | 'reactions'>, emoji: string): string {
  switch (error.code) {
    case 'validation_failed':
      return `${emoji} cannot be a reaction.`;
    case 'conflict':
      // Deleted, or a new emoji beyond the most a message may have: what we hold says which.
      if (!m.deletedAt && m.reactions.length >= MAX_REACTION_KINDS && !m.reactions.some((r) => r.emoji === emoji)) {
        return `a message may have reactions with ${MAX_REACTION_KINDS} different emoji: add yours to one of those.`;
      }
      return 'this message was deleted.';
    default:
      return refusal(error);
  }
}
