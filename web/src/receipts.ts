// Receipts and typing: delivery receipts gathered per chat, read receipts at most one a second
// per chat, receipts applied to the messages shown (or kept until they come), typing both ways.
import type { Socket } from 'socket.io-client';
import * as db from './db';
import { DeliveryQueue } from './deliveries';
import { C } from './events';
import { emit, ensureProfiles, sortedMessages, state, union, type ViewMessage } from './state';
import type { Ack, ReceiptEvent, TypingEvent } from './types';

let connected: () => Socket | null = () => null;
/** Gives this module the store's socket, when connected (the store replaces it on logout). */
export function useSocket(get: () => Socket | null): void {
  connected = () => {
    const socket = get();
    return socket?.connected ? socket : null;
  };
}

let readListener: ((chatId: string) => void) | undefined;
/** Called when this user reads a chat, here or on another device or tab. */
export function onChatRead(fn: (chatId: string) => void): void {
  readListener = fn;
}

/** What reached this tab, told to the server a chat and up to 100 messages at a time. */
export const deliveries = new DeliveryQueue((chatId, messageIds) => {
  const socket = connected();
  return socket ? socket.timeout(10_000).emitWithAck(C.DELIVERED, { chatId, messageIds }) : Promise.reject(new Error('not connected'));
});

const lastReadSent = new Map<string, string>();
/**
 * At most one read receipt a second per chat: it covers every earlier message, so in a busy open
 * chat one a second says all an event per arriving message would (which spent the socket's budget
 * of events). The newest message seen meanwhile goes at the end of the second, even if the chat
 * was left since.
 */
const READ_EVERY_MS = 1000;
const lastReadAt = new Map<string, number>();
const readLater = new Map<string, { messageId: string; timer: ReturnType<typeof setTimeout> }>();

function sendReadLater(chatId: string, messageId: string, ms: number): void {
  const later = readLater.get(chatId);
  if (later) {
    later.messageId = messageId;
    return;
  }
  const timer = setTimeout(() => {
    const due = readLater.get(chatId);
    readLater.delete(chatId);
    if (due) sendRead(chatId, due.messageId);
  }, ms);
  readLater.set(chatId, { messageId, timer });
}

function sendRead(chatId: string, messageId: string): void {
  const wait = (lastReadAt.get(chatId) ?? 0) + READ_EVERY_MS - Date.now();
  if (wait > 0) return sendReadLater(chatId, messageId, wait);
  const socket = connected();
  if (!socket) return; // a reconnect marks the open chat read
  lastReadAt.set(chatId, Date.now());
  lastReadSent.set(chatId, messageId);
  readListener?.(chatId); // the server tells this user's other sockets, not this one
  socket.emit(C.READ_RECEIPT, { chatId, messageId }, (ack: Ack<object>) => {
    if (ack?.ok) return;
    lastReadSent.delete(chatId);
    if (ack?.error.code === 'rate_limited') sendReadLater(chatId, messageId, (ack.error.retryAfter ?? 1) * 1000);
  });
}

/** Tells the server the newest message from others in the open chat is read (if visible). */
export function markOpenChatRead(): void {
  const chatId = state.openChat;
  if (!chatId || !state.me || document.visibilityState !== 'visible') return;
  const chat = state.chats.get(chatId);
  if (chat && chat.unreadCount) {
    chat.unreadCount = 0;
    emit('chats');
  }
  const newest = sortedMessages(chatId)
    .filter((m) => !m.pending && m.senderId !== state.me!.id)
    .pop();
  if (!newest?.id || newest.readBy.includes(state.me.id) || lastReadSent.get(chatId) === newest.id) return;
  sendRead(chatId, newest.id);
}

let lastTypingSent = 0;
export function sendTyping(chatId: string): void {
  const now = Date.now();
  const socket = connected();
  if (now - lastTypingSent < 2000 || !socket) return;
  lastTypingSent = now;
  socket.emit(C.TYPING, { chatId }, () => {});
}

export function typingUsers(chatId: string): string[] {
  const m = state.typing.get(chatId);
  if (!m) return [];
  const now = Date.now();
  return [...m.entries()].filter(([, until]) => until > now).map(([u]) => u);
}

export function onTyping(e: TypingEvent): void {
  if (e.userId === state.me?.id) return;
  let m = state.typing.get(e.chatId);
  if (!m) {
    m = new Map();
    state.typing.set(e.chatId, m);
  }
  m.set(e.userId, Date.now() + 3500);
  emit(`typing:${e.chatId}`);
  // A member of a big group who has not written yet: their name is fetched now.
  if (!state.profiles.has(e.userId)) void ensureProfiles([e.userId]).then(() => emit(`typing:${e.chatId}`));
  setTimeout(() => emit(`typing:${e.chatId}`), 3600);
}

/** Receipts for messages we do not hold yet (e.g. they beat our own send ack). */
let stashed: { e: ReceiptEvent; kind: 'read' | 'delivered' }[] = [];

export function applyStashedReceipts(chatId: string): void {
  const mine = stashed.filter((r) => r.e.chatId === chatId);
  if (!mine.length) return;
  stashed = stashed.filter((r) => r.e.chatId !== chatId);
  for (const r of mine) onReceipt(r.e, r.kind);
}

export function onReceipt(e: ReceiptEvent, kind: 'read' | 'delivered'): void {
  const list = sortedMessages(e.chatId).filter((m) => !m.pending);
  const idx = list.findIndex((m) => m.id === e.messageId);
  if (idx < 0) {
    stashed.push({ e, kind });
    if (stashed.length > 200) stashed.shift();
    return;
  }
  const changed: ViewMessage[] = [];
  // A read receipt covers that message and every earlier one; delivered covers just the one.
  const targets = kind === 'read' ? list.slice(0, idx + 1) : [list[idx]];
  for (const m of targets) {
    if (m.senderId === e.userId) continue;
    const arr = kind === 'read' ? m.readBy : m.deliveredTo;
    if (!arr.includes(e.userId)) {
      arr.push(e.userId);
      if (kind === 'read' && !m.deliveredTo.includes(e.userId)) m.deliveredTo.push(e.userId);
      changed.push(m);
    }
  }
  // Read on another device or tab: what is unread here is what came after it.
  if (kind === 'read' && e.userId === state.me?.id) {
    const me = e.userId;
    const unread = list.slice(idx + 1).filter((m) => m.senderId !== me && !m.readBy.includes(me)).length;
    const chat = state.chats.get(e.chatId);
    if (chat && (chat.unreadCount ?? 0) > unread) {
      chat.unreadCount = unread;
      emit('chats');
    }
    readListener?.(e.chatId);
  }
  if (changed.length) {
    // Added to the stored copies as they are when written (a change may have replaced one since).
    const byId = new Map(changed.map((c) => [c.id!, c]));
    void db
      .changeMessages([...byId.keys()], (id, stored) => {
        const c = byId.get(id)!;
        return stored && { ...stored, readBy: union(stored.readBy, c.readBy), deliveredTo: union(stored.deliveredTo, c.deliveredTo) };
      })
      .catch(() => {});
    emit(`messages:${e.chatId}`);
  }
}

/** ✓ sent, ✓✓ delivered, ✓✓ (coloured) read — for our own messages. */
export function statusOf(m: ViewMessage): 'failed' | 'pending' | 'sent' | 'delivered' | 'read' {
  if (m.failed) return 'failed';
  if (m.pending) return 'pending';
  const others = (l: string[]) => l.some((u) => u !== m.senderId);
  if (others(m.readBy)) return 'read';
  if (others(m.deliveredTo)) return 'delivered';
  return 'sent';
}
