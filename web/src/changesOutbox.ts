// The outbox of changes to messages: an edit, a deletion, a reaction (added or taken back), a pin
// or an unpin made while the socket is down is stored first (IndexedDB `changes`, so it survives
// a reload), shown at once as pending (`shown`, `pinsShown`: the views draw the message as the
// changes waiting make it, marked), and sent in the order made once the connection is back, after
// the messages' outbox (as WhatsApp and Slack do). Every change is safe to send again after an
// unknown outcome: an edit replaces the content, a reaction and a pin are idempotent, a deletion
// of a deleted message answers its tombstone. One the server refuses (the message deleted
// meanwhile, not a member any more…) is dropped, and said where the chat's errors show; the
// message is then drawn as the server has it (`sync_changes` follows). Online, changes go at once
// as they always did (edits.ts, pins.ts), unless one to the same message still waits here: then
// they queue behind it.
import { ApiError, describeError } from './api';
import { announce } from './dom';
import * as db from './db';
import * as e2e from './e2e';
import * as edits from './edits';
import { Locked, Withheld } from './sealing';
import { emit, state, type ViewMessage } from './state';
import type { QueuedChange } from './types';

/** The changes waiting, in the order made (read again from IndexedDB after each sending). */
let queued: QueuedChange[] = [];
/** Per chat, the refusals not shown yet: its view shows them (`takeRefusals`) as it draws its rows. */
const refusals = new Map<string, string[]>();

let sendPin: (chatId: string, messageId: string, pinned: boolean) => Promise<void> = async () => {
  throw new Error('pins are not loaded');
};
/** Gives this module how a pin is sent and its answer applied (pins.ts's `setPinned`). */
export function usePinning(send: typeof sendPin): void {
  sendPin = send;
}

/** Reads the changes waiting (at start, offline too) and draws them. */
export async function loadChanges(): Promise<void> {
  queued = await db.changes();
  for (const chatId of new Set(queued.map((c) => c.chatId))) emit(`messages:${chatId}`);
}

export function forgetChanges(): void {
  queued = [];
  refusals.clear();
}

/** Whether a change to `messageId` waits here: one made now goes after it, not before. */
function waits(messageId: string | undefined): boolean {
  return queued.some((c) => c.messageId === messageId);
}

/** How a change was taken: sent now (and applied), or kept to send once back online. */
export type Taken = 'sent' | 'queued';

async function queue(chatId: string, messageId: string, change: QueuedChange['change']): Promise<Taken> {
  queued.push(await db.addChange({ chatId, messageId, change })); // durable before it is shown
  emit(`messages:${chatId}`);
  void flushChanges(); // back meanwhile, or waiting behind an earlier change of this message
  return 'queued';
}

/** Edits `m` to `text` (edits.ts's `editMessage`), or keeps the edit, in clear, to seal and send once back. */
export async function editMessage(m: ViewMessage, text: string): Promise<Taken> {
  const content = edits.editedContent(m, text); // what cannot be sent is said now, offline too
  if (!m.id || (edits.connectedSocket() && !waits(m.id))) return edits.editMessage(m, text).then(() => 'sent');
  return queue(m.chatId, m.id, { kind: 'edit', content, senderId: m.senderId, clientMsgId: m.clientMsgId, timestamp: m.timestamp });
}

export async function deleteMessage(m: ViewMessage): Promise<Taken> {
  if (!m.id || (edits.connectedSocket() && !waits(m.id))) return edits.deleteMessage(m).then(() => 'sent');
  return queue(m.chatId, m.id, { kind: 'delete' });
}

export async function reactToMessage(m: ViewMessage, emoji: string, add: boolean): Promise<Taken> {
  if (!m.id || (edits.connectedSocket() && !waits(m.id))) return edits.reactToMessage(m, emoji, add).then(() => 'sent');
  return queue(m.chatId, m.id, { kind: 'react', emoji, add });
}

/** Pins or unpins `messageId` of `chatId` (over REST), or keeps it to send once back. */
export async function setPinned(chatId: string, messageId: string, pinned: boolean): Promise<Taken> {
  if (edits.connectedSocket() && !waits(messageId)) return sendPin(chatId, messageId, pinned).then(() => 'sent');
  return queue(chatId, messageId, { kind: 'pin', pinned });
}

// --- what is shown meanwhile ------------------------------------------------------------------

/**
 * `m` as the changes waiting make it, marked (`queued`) so its row says they are pending: an
 * edit's text, a deletion on its way, this user's reactions added or taken back. A message the
 * server holds deleted is shown so: what waits for it will be refused.
 */
export function shown(m: ViewMessage): ViewMessage {
  const mine = m.id && !m.deletedAt ? queued.filter((c) => c.messageId === m.id) : [];
  if (!mine.length) return m;
  const me = state.me?.id ?? '';
  const out: ViewMessage = { ...m, reactions: m.reactions.map((r) => ({ ...r, users: [...r.users] })), queued: { edit: false, delete: false, reactions: [] } };
  for (const { change } of mine) {
    if (change.kind === 'edit') {
      out.content = change.content;
      out.queued!.edit = true;
    } else if (change.kind === 'delete') out.queued!.delete = true;
    else if (change.kind === 'react') {
      let r = out.reactions.find((x) => x.emoji === change.emoji);
      if (change.add && !r) out.reactions.push((r = { emoji: change.emoji, users: [] }));
      if (r) r.users = change.add ? [...r.users.filter((u) => u !== me), me] : r.users.filter((u) => u !== me);
      out.queued!.reactions.push(change.emoji);
    }
  }
  out.reactions = out.reactions.filter((r) => r.users.length > 0);
  return out;
}

/** `pins` (a chat's, newest first) as the pins and unpins waiting make them. */
export function pinsShown(chatId: string, pins: string[]): string[] {
  let out = pins;
  for (const c of queued) {
    if (c.chatId !== chatId || c.change.kind !== 'pin') continue;
    out = out.filter((id) => id !== c.messageId);
    if (c.change.pinned) out = [c.messageId, ...out];
  }
  return out;
}

/** Whether a pin or unpin of `messageId` waits to be sent. */
export function pinPending(messageId: string): boolean {
  return queued.some((c) => c.messageId === messageId && c.change.kind === 'pin');
}

/** The refusals of changes to `chatId`'s messages not shown yet, as one text (then forgotten), or ''. */
export function takeRefusals(chatId: string): string {
  const said = refusals.get(chatId) ?? [];
  refusals.delete(chatId);
  return said.join(' ');
}

// --- sending ----------------------------------------------------------------------------------

let flushing = false;
let flushAgain = false;
let retryTimer: ReturnType<typeof setTimeout> | undefined;

/** Runs `work` while no other tab of this user sends the changes (they share them, as the outbox). */
async function oneTabAtATime(work: () => Promise<void>): Promise<void> {
  const me = state.me?.id;
  if (!me || !navigator.locks) return work();
  await navigator.locks.request(`batiyoun:changes:${me}`, work);
}

/**
 * Sends every change waiting, in the order made, while connected. An edit that must wait for a
 * key (locked here, or a member's withheld) holds the later changes of its message behind it;
 * no answer (or `unavailable`, `rate_limited`) stops here, tried again 3 s later and on the next
 * connect; a refusal drops the change and says so.
 */
export async function flushChanges(): Promise<void> {
  if (flushing) {
    flushAgain = true;
    return;
  }
  flushing = true;
  let refused = false;
  try {
    await oneTabAtATime(async () => {
      do {
        flushAgain = false;
        queued = await db.changes(); // another tab may have sent some meanwhile
        const held = new Set<string>(); // messages whose changes wait for a key
        for (const c of [...queued]) {
          const socket = edits.connectedSocket();
          if (!socket) return;
          if (held.has(c.messageId)) continue;
          try {
            await send(socket, c);
          } catch (e) {
            if (e instanceof Locked || e instanceof Withheld) {
              held.add(c.messageId); // sent once the key is unlocked, or the member's is back
              continue;
            }
            if (!refusedForGood(e)) {
              scheduleRetry();
              return;
            }
            refuse(c, e instanceof ApiError ? describeError(e) : e.message);
            refused = true;
          }
          await db.removeChange(c.seq);
          queued = queued.filter((q) => q.seq !== c.seq);
          emit(`messages:${c.chatId}`);
        }
      } while (flushAgain);
    });
  } finally {
    flushing = false;
  }
  // The message as the server has it now (deleted meanwhile, say): the refusal's cause, shown.
  if (refused) void edits.syncChanges();
}

async function send(socket: NonNullable<ReturnType<typeof edits.connectedSocket>>, c: QueuedChange): Promise<void> {
  const { change } = c;
  const held = [...(state.messages.get(c.chatId)?.values() ?? [])].find((m) => m.id === c.messageId);
  const target = held ?? { chatId: c.chatId, id: c.messageId, senderId: '', clientMsgId: '', timestamp: '', reactions: [] };
  switch (change.kind) {
    case 'edit':
      return edits.sendEdit(socket, { ...target, senderId: change.senderId, clientMsgId: change.clientMsgId, timestamp: change.timestamp }, change.content);
    case 'delete':
      return edits.sendDeletion(socket, target);
    case 'react':
      return edits.sendReaction(socket, target, change.emoji, change.add);
    case 'pin':
      return sendPin(c.chatId, c.messageId, change.pinned);
  }
}

/** Refusals to try again later, as opposed to for good. */
const TRANSIENT = ['unavailable', 'rate_limited', 'internal'];

function refusedForGood(e: unknown): e is Error {
  if (e instanceof edits.Refused) return !TRANSIENT.includes(e.code);
  return e instanceof ApiError && e.status < 500 && ![401, 408, 429].includes(e.status);
}

/** Says, where the chat's errors show, that `c` was refused and why. */
function refuse(c: QueuedChange, why: string): void {
  const { change } = c;
  const what =
    change.kind === 'edit' ? 'Your edit' : change.kind === 'delete' ? 'Your deletion' : change.kind === 'react' ? `Your reaction ${change.emoji}` : change.pinned ? 'Your pin' : 'Your unpin';
  const text = `${what} was not sent: ${why}`;
  refusals.set(c.chatId, [...(refusals.get(c.chatId) ?? []), text]);
  announce(text);
}

function scheduleRetry(): void {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => void flushChanges(), 3000);
}

// An edit that waited for the key goes once it is unlocked here, or a member's is back.
e2e.onChange((e) => {
  if (e === 'opened' || e === 'peer') void flushChanges();
});
