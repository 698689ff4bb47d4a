// The outbox: what the user writes is stored first (IndexedDB, durable before anything else),
// shown pending, then sent in order, oldest first, with its clientMsgId (the server dedupes
// resends), sealed or in clear as sealing.ts decides; what must wait (a key locked or withheld)
// waits with its chat's later messages behind it; what can never go (refused for good, or to a
// contact who deleted their account) is marked "Not sent". The store gives it the socket and
// takes in the messages acknowledged.
import type { Socket } from 'socket.io-client';
import { ApiError, attachments as attachmentsApi } from './api';
import * as attachments from './attachments';
import * as db from './db';
import * as e2e from './e2e';
import { Locked, Withheld, outgoing } from './sealing';
import { chatMessages, emit, ensureProfiles, fromOutbox, isClosed, keyOf, otherParticipant, state, subscribe, userDeleted } from './state';
import { C } from './events';
import type { Ack, Message, OutboxItem } from './types';

let current: () => Socket | null = () => null;
let ingest: (ms: Message[]) => Promise<void> = async () => {};
/** Gives this module the store's socket and its intake of messages acknowledged (stored, not live). */
export function useTransport(get: () => Socket | null, take: (ms: Message[]) => Promise<void>): void {
  current = get;
  ingest = take;
}

function newClientMsgId(): string {
  return crypto.randomUUID();
}

/** Sends `content` to the chat; `replyTo`: the id of the message it answers, if any. */
export async function sendMessage(chatId: string, content: string, replyTo?: string): Promise<void> {
  await queue(chatId, content, replyTo ? { replyTo } : {});
}

/**
 * Sends `file` to the chat, with `caption` if any (and as a reply to `replyTo`): sealed at once,
 * stored in the outbox with the message, uploaded when it is sent.
 */
export async function sendFile(chatId: string, file: File, caption = '', replyTo?: string): Promise<void> {
  const { type, content, sealed } = await attachments.seal(file, caption);
  await queue(chatId, content, { type, file: { sealed }, ...(replyTo ? { replyTo } : {}) }, file);
}

/** Queues a message; `picked`, the file it sends, is kept on this page as its sender's copy. */
async function queue(chatId: string, content: string, extra: Pick<OutboxItem, 'type' | 'file' | 'replyTo'> = {}, picked?: Blob): Promise<void> {
  if (!state.me) return;
  const item: OutboxItem = {
    clientMsgId: newClientMsgId(),
    chatId,
    senderId: state.me.id,
    content,
    createdAt: new Date().toISOString(),
    ...extra,
  };
  await db.addOutbox(item); // durable before anything else: survives a reload or a crash
  if (picked) attachments.keepPicked(item.clientMsgId, picked);
  const vm = fromOutbox(item);
  chatMessages(chatId).set(vm.key, vm);
  emit(`messages:${chatId}`);
  void flushOutbox();
}

/**
 * Where the item's file was uploaded: uploaded now unless it was before (the id is stored with
 * the item, so a resend after a lost ack does not upload it twice). Nothing for a text.
 */
async function uploaded(item: OutboxItem): Promise<{ attachmentId: string; fileSize: number } | undefined> {
  if (!item.file) return undefined;
  if (!item.file.attachmentId) {
    const id = item.clientMsgId;
    try {
      item.file.attachmentId = (await attachmentsApi.upload(item.chatId, item.file.sealed, (share) => attachments.uploadProgress(id, share))).id;
    } finally {
      attachments.uploadProgress(id, null);
    }
    await db.addOutbox(item);
  }
  return { attachmentId: item.file.attachmentId, fileSize: item.file.sealed.byteLength };
}

/**
 * An upload refused for good (too large, not a member, the user's storage full…), as opposed to
 * one to try again.
 */
function refusedForGood(e: unknown): e is ApiError {
  return e instanceof ApiError && ((e.status < 500 && ![401, 408, 429].includes(e.status)) || e.code === 'quota_exceeded');
}

let flushing = false;
let flushAgain = false;
let retryTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Runs `work` while no other tab of this user sends the outbox: tabs share it (IndexedDB), and
 * two tabs back online at once each sent every pending message (the server stores one, but fans
 * each resend out again, and the recipients get it twice). A Web Lock, where the browser has them.
 */
async function oneTabAtATime(work: () => Promise<void>): Promise<void> {
  const me = state.me?.id;
  if (!me || !navigator.locks) return work();
  await navigator.locks.request(`batiyoun:outbox:${me}`, work);
}

/** Sends every outbox item, oldest first, with its clientMsgId; the server dedupes resends. */
export async function flushOutbox(): Promise<void> {
  if (flushing) {
    flushAgain = true;
    return;
  }
  flushing = true;
  try {
    await oneTabAtATime(async () => {
      // Items whose upload the server no longer had, uploaded again in this flush (once).
      const uploadedAgain = new Set<string>();
      do {
        flushAgain = false;
        const items = (await db.outbox()).filter((o) => !o.failed);
        // Chats whose messages wait, in order: for this device to unlock the user's key, or for
        // a member's withdrawn key (or the user's choice to write in clear without it).
        const waiting = new Set<string>();
        for (const item of items) {
          const socket = current();
          if (!socket?.connected) return;
          if (waiting.has(item.chatId)) continue;
          // Written to a contact who deleted their account, it can never go. Perhaps deleted
          // while this page was away: their profile, asked again once per connection, is known
          // before anything goes to them (a profile held fresh is not asked for).
          const chat = state.chats.get(item.chatId);
          const other = chat && otherParticipant(chat);
          if (other) await ensureProfiles([other]);
          if (isClosed(item.chatId)) {
            await fail(item, CLOSED);
            continue;
          }
          let ack: Ack<{ message: Message }>;
          try {
            const body = await outgoing(item);
            const metadata = await uploaded(item);
            // A reply names the message it answers, never what it says (sealed or not, only its id).
            const payload = { chatId: item.chatId, clientMsgId: item.clientMsgId, ...body, type: item.type ?? 'text', ...(metadata ? { metadata } : {}), ...(item.replyTo ? { replyTo: item.replyTo } : {}) };
            ack = await socket.timeout(15_000).emitWithAck(C.SEND_MESSAGE, payload);
          } catch (e) {
            if (e instanceof Locked || e instanceof Withheld) {
              waiting.add(item.chatId); // sent once the key is unlocked, or a member's is back (below)
              continue;
            }
            if (refusedForGood(e)) {
              ack = { ok: false, error: e.body };
            } else {
              scheduleRetry(e instanceof ApiError ? e.body.retryAfter : undefined);
              return; // no ack (disconnected or slow): it stays in the outbox and is resent later
            }
          }
          if (ack.ok) {
            // Show it as stored at once: receipts for it may already be on their way.
            if (ack.message.encrypted) ack.message.plain = item.content;
            const file = attachments.takePicked(item.clientMsgId);
            const attachmentId = ack.message.metadata?.attachmentId;
            if (file && attachmentId) attachments.remember(attachmentId, file);
            await ingest([ack.message]);
            await db.settleOutbox(item.clientMsgId, ack.message);
          } else if (['unavailable', 'rate_limited', 'internal'].includes(ack.error.code)) {
            scheduleRetry(ack.error.retryAfter);
            return;
          } else if (item.file?.attachmentId && ack.error.fields?.['metadata.attachmentId'] && !uploadedAgain.has(item.clientMsgId)) {
            // Its upload is gone (the server deletes uploads no message named for a day): once
            // more, uploaded afresh.
            uploadedAgain.add(item.clientMsgId);
            delete item.file.attachmentId;
            await db.addOutbox(item);
            flushAgain = true;
            break;
          } else if (ack.error.code === 'account_deleted') {
            // The server knew before this page did (a `user_deleted` sent while it was away, and
            // a profile held fresh): the contact shows as deleted from now on.
            if (other) userDeleted(other);
            await fail(item, CLOSED);
          } else {
            await fail(item, ack.error.message || ack.error.code);
          }
        }
      } while (flushAgain);
    });
  } finally {
    flushing = false;
  }
}

/** Why a message to a deleted account is not sent. */
const CLOSED = 'This account was deleted: it cannot receive messages.';

/** Marks `item` "Not sent" for `reason`, kept (with a Discard button) rather than tried again. */
async function fail(item: OutboxItem, reason: string): Promise<void> {
  item.failed = reason;
  await db.addOutbox(item);
  const vm = chatMessages(item.chatId).get(keyOf(item.senderId, item.clientMsgId));
  if (vm) vm.failed = item.failed;
  emit(`messages:${item.chatId}`);
}

// A contact deleted their account: what waits for them (their key, gone with it, is withheld
// to the outbox's eyes) is marked "Not sent" rather than kept waiting for ever.
subscribe((topic) => {
  if (topic === 'deleted') void flushOutbox();
});

// Messages that waited for the key go once it is unlocked here; those that waited for a
// member's key, once it is back (or the user chose to write in clear).
e2e.onChange((e) => {
  if (e === 'opened' || e === 'peer') void flushOutbox();
});

/** The outbox is sent again after `seconds` (what a `rate_limited` ack says), or 3 s. */
function scheduleRetry(seconds?: number): void {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => void flushOutbox(), seconds ? seconds * 1000 : 3000);
}

export async function discardFailed(chatId: string, clientMsgId: string): Promise<void> {
  if (!state.me) return;
  await db.settleOutbox(clientMsgId);
  attachments.takePicked(clientMsgId);
  chatMessages(chatId).delete(keyOf(state.me.id, clientMsgId));
  emit(`messages:${chatId}`);
}

export async function loadOutbox(): Promise<void> {
  for (const o of await db.outbox()) {
    const vm = fromOutbox(o);
    chatMessages(o.chatId).set(vm.key, vm);
    emit(`messages:${o.chatId}`);
  }
}
