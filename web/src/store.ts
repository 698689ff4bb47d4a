// The store: the socket and what it says, the chat list, messages taken in (opened first when
// sealed), resync after a reconnect, and the session's start and stop. The state it changes is in
// state.ts (views subscribe to its topics); chats and their changes in chats.ts; receipts and
// typing in receipts.ts; the outbox in outbox.ts; what encryption asks of it in sealing.ts; edits,
// deletions and reactions in edits.ts.
import { io, type Socket } from 'socket.io-client';
import { ApiError, NetworkError, chats as chatsApi, refresh } from './api';
import { forgetFiles } from './attachments';
import { forgetChatPictures } from './chatPictures';
import { applyChatChange, removeChat, upsertChat, watchListing } from './chats';
import { flushChanges, forgetChanges, loadChanges } from './changesOutbox';
import { forgetDrafts, loadDrafts } from './drafts';
import * as db from './db';
import * as e2e from './e2e';
import { applyUpdates, isOlder, syncChanges, useEdits } from './edits';
import { applyStashedReceipts, deliveries, markOpenChatRead, onReceipt, onTyping, useSocket } from './receipts';
import { forgetMembers } from './mentions';
import { mutedHere } from './muting';
import { forgetSealing } from './sealing';
import { flushOutbox, loadOutbox, useTransport } from './outbox';
import { chatMessages, compareInstants, emit, ensureProfiles, forgetProfiles, fromMessage, keyOf, loadCachedProfiles, newestStoredId, profileChanged, profilesMayHaveChanged, replacing, state, userDeleted, type ConnState } from './state';
import * as tabs from './tabs';
import { C, S } from './events';
import type { Ack, Chat, ChatMutedEvent, ChatUpdatedEvent, Message, PresenceEvent, PresenceSnapshot, PresenceUpdate, ReceiptEvent, SyncResume, User, UserDeletedEvent } from './types';

// What the views read, from the modules it is kept in.
export { chatPicture, chatTitle, displayName, ensureProfiles, isClosed, isDeleted, otherParticipant, pictureOf, rememberProfile, sortedMessages, state, subscribe, type ConnState, type ViewMessage } from './state';
export { markOpenChatRead, onChatRead, sendTyping, statusOf, typingUsers } from './receipts';
export { onMessageDeleted, onReactionToMine } from './edits';
export { groupSealing, type GroupSealing } from './sealing';
export { discardFailed, flushOutbox, sendFile, sendMessage } from './outbox';
export { draftOf, flushDrafts, setDraft } from './drafts';
export { setMuted } from './muting';
export { removeChat, sortedChats, upsertChat } from './chats';

type UnseenListener = (m: Message, chat: Chat) => void;
let unseenListener: UnseenListener | undefined;
/**
 * Called once per message from someone else that arrives live for a chat open in no visible tab
 * (this one or another of this browser).
 */
export function onUnseenMessage(fn: UnseenListener): void {
  unseenListener = fn;
}

let socket: Socket | null = null;
useSocket(() => socket);
useTransport(() => socket, (ms) => ingest(ms, { live: false }));
useEdits(() => socket, () => opening);

export async function loadChats(): Promise<void> {
  const { touched, done } = watchListing();
  let list: Chat[];
  try {
    list = await chatsApi.list();
  } finally {
    done();
  }
  const seen = new Set(list.map((c) => c.id));
  // A chat gained while the list was on its way (`chat_updated`) is not dropped for missing from
  // it, and one dropped meanwhile (left, removed, deleted) is not brought back by it.
  for (const id of [...state.chats.keys()]) if (!seen.has(id) && !touched.has(id)) removeChat(id);
  for (const c of list) {
    if (touched.has(c.id) && !state.chats.has(c.id)) continue;
    upsertChat(c);
    if (c.lastMessage) void ingest([c.lastMessage], { live: false, deliver: true });
  }
}

// --- messages ---------------------------------------------------------------------------------

/** Messages waiting, in the order they came, for encrypted ones among them to be opened. */
let opening: Promise<void> = Promise.resolve();
let waiting = 0;

/**
 * Adds or updates stored messages, once the encrypted ones this device can open are opened (see
 * `ingestOpened`). In the order they came: those behind an encrypted one wait for it.
 */
function ingest(ms: Message[], opts: { live: boolean; deliver?: boolean }): Promise<void> {
  if (waiting === 0 && !ms.some(e2e.sealed)) {
    ingestOpened(ms, opts);
    return Promise.resolve();
  }
  waiting++;
  const run = () => {
    waiting--;
    ingestOpened(ms, opts);
  };
  opening = opening.then(() => e2e.openAll(ms)).then(run, run);
  return opening;
}

/**
 * Adds or updates stored messages. `live` means they just arrived from the server (new_message or
 * sync): messages from others are then acknowledged as delivered and counted as unread.
 */
function ingestOpened(ms: Message[], opts: { live: boolean; deliver?: boolean }): void {
  // The names of senders and of who reacted come with their messages (a group's members are
  // paged, not held).
  void ensureProfiles(ms.flatMap((m) => [m.senderId, ...(m.reactions ?? []).flatMap((r) => r.users)]));
  const touched = new Set<string>();
  const fresh: Message[] = [];
  const taken: Message[] = [];
  for (const m of ms) {
    const map = chatMessages(m.chatId);
    const key = keyOf(m.senderId, m.clientMsgId);
    const prev = map.get(key);
    // A copy read before an edit or a deletion we already applied does not undo it.
    if (prev && !prev.pending && isOlder(m, prev)) continue;
    taken.push(m);
    map.set(key, prev && !prev.pending ? replacing(prev, m) : fromMessage(m));
    touched.add(m.chatId);
    if (!prev || prev.pending) fresh.push(m);
    const chat = state.chats.get(m.chatId);
    if (chat && (!chat.lastMessageAt || compareInstants(chat.lastMessageAt, m.timestamp) <= 0)) {
      chat.lastMessage = m;
      chat.lastMessageAt = m.timestamp;
    }
  }
  db.putMessages(taken).catch(() => {});
  if (opts.deliver && !opts.live) {
    for (const m of fresh) {
      if (m.senderId !== state.me?.id && !m.deliveredTo.includes(state.me?.id ?? '')) {
        deliveries.add(m.chatId, m.id);
      }
    }
  }
  if (opts.live) {
    for (const m of fresh) {
      if (m.senderId === state.me?.id) continue;
      if (state.typing.get(m.chatId)?.delete(m.senderId)) emit(`typing:${m.chatId}`);
      deliveries.add(m.chatId, m.id);
      const chat = state.chats.get(m.chatId);
      if (chat && !(state.openChat === m.chatId && document.visibilityState === 'visible')) {
        chat.unreadCount = (chat.unreadCount ?? 0) + 1;
        if (!tabs.shownElsewhere(m.chatId)) unseenListener?.(m, chat);
      }
    }
    const unknown = fresh.filter((m) => !state.chats.has(m.chatId));
    if (unknown.length) loadChats().catch(() => {});
  }
  for (const id of touched) {
    applyStashedReceipts(id);
    emit(`messages:${id}`);
  }
  if (touched.size) emit('chats');
  if (opts.live && fresh.some((m) => m.senderId !== state.me?.id)) {
    for (const m of fresh) if (m.senderId !== state.me?.id) emit(`incoming:${m.chatId}`);
    markOpenChatRead();
  }
}

/** Loads the cached history (and pending outbox) of a chat from IndexedDB. */
export async function loadCachedMessages(chatId: string): Promise<void> {
  const ms = await db.messagesOf(chatId);
  const map = chatMessages(chatId);
  for (const m of ms) {
    const key = keyOf(m.senderId, m.clientMsgId);
    if (!map.has(key)) map.set(key, fromMessage(m));
  }
  emit(`messages:${chatId}`);
}

/** Fetches the newest page (first call) or the page before the oldest message we show. */
export async function loadOlder(chatId: string): Promise<boolean> {
  const cursor = state.history.get(chatId);
  if (cursor === null) return false; // reached the start
  const before = cursor === undefined ? undefined : cursor;
  const limit = 30;
  const page = await chatsApi.messages(chatId, before, limit);
  // A short page is the start of the chat, whatever the cursor says.
  state.history.set(chatId, page.messages.length < limit ? null : (page.nextCursor ?? null));
  await ingest(page.messages, { live: false });
  return page.messages.length > 0;
}

export function hasMoreHistory(chatId: string): boolean {
  return state.history.get(chatId) !== null;
}

// --- the connection ---------------------------------------------------------------------------

function setConn(c: ConnState): void {
  if (state.conn === c) return;
  state.conn = c;
  emit('conn');
}

let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
let resyncTimer: ReturnType<typeof setTimeout> | undefined;
/** A `resync` is answered within this many milliseconds, at random. */
const RESYNC_SPREAD_MS = 5000;
let backoff = 1000;
let onSessionLostCb: () => void = () => {};

function scheduleReconnect(): void {
  clearTimeout(reconnectTimer);
  if (!navigator.onLine) return; // the 'online' event reconnects
  reconnectTimer = setTimeout(() => {
    // Gone offline meanwhile: the 'online' event reconnects.
    if (socket && !socket.connected && state.me && navigator.onLine) socket.connect();
  }, backoff);
  backoff = Math.min(backoff * 2, 30_000);
}

export function connect(onSessionLost: () => void): void {
  onSessionLostCb = onSessionLost;
  if (!socket) {
    socket = io({
      path: '/socket.io/',
      autoConnect: false,
      transports: ['websocket', 'polling'],
      // Called on every (re)connect: always a fresh access token from the refresh cookie.
      auth: (cb) => {
        refresh()
          .then((token) => cb({ token }))
          .catch(() => cb({ token: '' }));
      },
    });
    // A presence snapshot in parts (`more`) is applied whole, with what changes said since the
    // connection began: the server leaves out of the snapshot the contacts its presence rounds
    // tell this socket, and a round may come before the snapshot (even before 'connect', as
    // socket.io-client delivers the events it buffered first). What a dropped connection said is
    // forgotten.
    let snapshot = new Set<string>();
    socket.on('connect', () => {
      backoff = 1000;
      setConn('online');
      void afterConnect();
    });
    socket.on('disconnect', (reason) => {
      snapshot = new Set();
      setConn(navigator.onLine ? 'connecting' : 'offline');
      // The server closed us (e.g. the session was revoked): check the session, then retry.
      if (reason === 'io server disconnect') void checkSessionThenReconnect();
    });
    socket.on('connect_error', () => {
      setConn(navigator.onLine ? 'connecting' : 'offline');
      // socket.active is false when the server refused the handshake (unauthorized): the client
      // will not retry on its own, so we do, after confirming the session still exists.
      if (!socket!.active) void checkSessionThenReconnect();
    });
    socket.on(S.NEW_MESSAGE, (m: Message) => void ingest([m], { live: true }));
    socket.on(S.MESSAGE_DELIVERED, (e: ReceiptEvent) => onReceipt(e, 'delivered'));
    socket.on(S.MESSAGE_READ, (e: ReceiptEvent) => onReceipt(e, 'read'));
    socket.on(S.USER_TYPING, onTyping);
    // Presence changes: `user_online`/`user_offline` for one contact, `presence_update` for
    // several of one server round. Entries are states, not changes: a repeat changes nothing,
    // and our own id (listed when we changed in the same round as the contacts the update is
    // about) is skipped.
    const onPresence = (e: PresenceUpdate) => {
      const me = state.me?.id;
      for (const userId of e.online ?? []) {
        if (userId === me) continue;
        snapshot.add(userId);
        state.presence.set(userId, { online: true });
      }
      for (const { userId, lastSeen } of e.offline ?? []) {
        if (userId === me) continue;
        snapshot.delete(userId);
        state.presence.set(userId, { online: false, lastSeen });
      }
      emit('presence');
    };
    socket.on(S.USER_ONLINE, (e: PresenceEvent) => onPresence({ online: [e.userId] }));
    socket.on(S.USER_OFFLINE, (e: PresenceEvent) => onPresence({ offline: [e] }));
    socket.on(S.PRESENCE_UPDATE, onPresence);
    // After a reconnect, whoever we last saw online but is not listed went offline meanwhile.
    socket.on(S.PRESENCE_SNAPSHOT, (e: PresenceSnapshot) => {
      const online = snapshot;
      for (const userId of e.online) {
        online.add(userId);
        state.presence.set(userId, { online: true });
      }
      if (!e.more) {
        for (const [userId, p] of state.presence) {
          if (p.online && !online.has(userId)) state.presence.set(userId, { online: false, lastSeen: p.lastSeen });
        }
        snapshot = new Set();
      }
      emit('presence');
    });
    // Fan-out between server instances was out: live events may be lost though we stayed
    // connected. Every socket is told at once, so the catch-up is spread over a few seconds.
    socket.on(S.RESYNC, () => {
      clearTimeout(resyncTimer);
      resyncTimer = setTimeout(() => {
        if (socket?.connected) void afterConnect();
      }, Math.random() * RESYNC_SPREAD_MS);
    });
    socket.on(S.CHAT_UPDATED, (e: ChatUpdatedEvent) => upsertChat(e.chat));
    socket.on(S.KEY_CHANGED, (e: { userId: string }) => e2e.peerChanged(e.userId));
    socket.on(S.PROFILE_CHANGED, profileChanged);
    socket.on(S.USER_DELETED, (e: UserDeletedEvent) => userDeleted(e.userId));
    socket.on(S.CHAT_CHANGED, applyChatChange);
    socket.on(S.CHAT_MUTED, (e: ChatMutedEvent) => mutedHere(e.chatId, e.muted, e.until));
    socket.on(S.MESSAGE_UPDATED, (m: Message) => void applyUpdates([m], { live: true }));
  }
  if (navigator.onLine) {
    setConn('connecting');
    socket.connect();
  }
}

async function checkSessionThenReconnect(): Promise<void> {
  try {
    await refresh();
    scheduleReconnect();
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) onSessionLostCb();
    else scheduleReconnect();
  }
}

export function disconnect(): void {
  clearTimeout(reconnectTimer);
  socket?.disconnect();
  socket = null;
  setConn('offline');
}

/** After every (re)connect: refresh the chat list, send the outbox, then fetch what we missed. */
async function afterConnect(): Promise<void> {
  // Taken before the chat list adds its last messages: the newest message of each chat that we
  // received (live, by sync or history, now or in an earlier session), for `sync` to look back from.
  const received = receivedCursors();
  // Our key is checked beside the chat list: the outbox is sealed, or not, by what it says.
  const checked = e2e.check();
  // Names changed and accounts deleted while we were away: asked again as they are shown.
  profilesMayHaveChanged();
  try {
    await loadChats();
  } catch (e) {
    if (!(e instanceof NetworkError)) console.warn('loading chats failed', e);
  }
  if (state.openChat) socket?.emit(C.JOIN_CHAT, { chatId: state.openChat }, () => {});
  await checked;
  await flushOutbox();
  await flushChanges(); // edits, deletions, reactions and pins made offline: after the messages
  await resync(received);
  // What `sync` cannot tell: edits and deletions of messages we already had.
  await syncChanges();
  void deliveries.flush();
  markOpenChatRead();
}

function receivedCursors(): Record<string, string> {
  const cursors: Record<string, string> = {};
  for (const chatId of state.chats.keys()) {
    const newest = newestStoredId(chatId);
    if (newest) cursors[chatId] = newest;
  }
  return cursors;
}

/**
 * Fetches what we missed, page by page. The server answers each chat in `cursors` from a look-back
 * window before our cursor (ids do not always follow the order messages reach us), so some
 * messages come again: `ingest` dedupes them. A chat we know only from the chat list, read while
 * connected, needs nothing before its last message (older ones are history, paged on opening;
 * later ones reach us live): it goes in `after`, answered exactly. A next page continues exactly
 * where the last stopped (`resume`).
 */
async function resync(received: Record<string, string>): Promise<void> {
  const cursors: Record<string, string> = {};
  const after: Record<string, string> = {};
  for (const [chatId, chat] of state.chats) {
    if (received[chatId]) cursors[chatId] = received[chatId];
    else if (chat.lastMessage?.id) after[chatId] = chat.lastMessage.id;
  }
  let resume: SyncResume | undefined;
  for (let i = 0; i < 50 && socket?.connected; i++) {
    let ack: Ack<{ messages: Message[]; hasMore: boolean; resume?: SyncResume }>;
    try {
      ack = await socket.timeout(15_000).emitWithAck(C.SYNC, { cursors, after, resume, limit: 200 });
    } catch {
      return;
    }
    if (!ack.ok) return;
    // Not "live": the chat list we just loaded already counts these as unread.
    if (ack.messages.length) await ingest(ack.messages, { live: false, deliver: true });
    if (!ack.hasMore || !ack.resume) return;
    resume = ack.resume;
  }
}

export function openChat(chatId: string | null): void {
  if (state.openChat && state.openChat !== chatId && socket?.connected) {
    socket.emit(C.LEAVE_CHAT, { chatId: state.openChat }, () => {});
  }
  state.openChat = chatId;
  if (chatId && socket?.connected) socket.emit(C.JOIN_CHAT, { chatId }, () => {});
  tellOtherTabs();
}

/** Tells this user's other tabs which chat this one shows, visible (they notify none of it). */
function tellOtherTabs(): void {
  tabs.showing(state.me?.id ?? null, document.visibilityState === 'visible' ? state.openChat : null);
}

// --- lifecycle --------------------------------------------------------------------------------

/** Loads the signed-in user's cached state (works offline). */
export async function start(me: User): Promise<void> {
  state.me = me;
  await db.openDb(me.id);
  // Shown at once, fetched again once wanted (a contact may have changed their name meanwhile).
  loadCachedProfiles(await db.allProfiles());
  for (const c of await db.allChats()) state.chats.set(c.id, c);
  await Promise.all([...state.chats.keys()].map((id) => loadCachedMessages(id)));
  await loadOutbox();
  await loadChanges();
  await loadDrafts(me.id);
  // After the cache: the key held opens the chats' last messages cached sealed (offline too).
  await e2e.load(me.id);
  emit('chats');
  tellOtherTabs();
}

/** The signed-in user's account changed (Account settings): kept, and told to the views (`me`). */
export function setMe(me: User): void {
  if (state.me?.id !== me.id) return;
  state.me = me;
  emit('me');
}

export async function stop(wipe: boolean): Promise<void> {
  disconnect();
  deliveries.clear();
  if (wipe) await db.deleteDb();
  // Logging out forgets this device's key too (shared devices): the key backup restores it.
  if (wipe && state.me) await e2e.forget(state.me.id);
  else e2e.stop();
  state.me = null;
  state.chats.clear();
  state.messages.clear();
  state.history.clear();
  forgetProfiles();
  state.presence.clear();
  state.typing.clear();
  state.quoted.clear();
  state.openChat = null;
  forgetFiles();
  forgetChatPictures();
  forgetDrafts();
  forgetMembers();
  forgetSealing();
  forgetChanges();
  emit('chats');
  tellOtherTabs();
}

window.addEventListener('online', () => {
  backoff = 1000;
  if (socket && state.me && !socket.connected) {
    setConn('connecting');
    socket.connect();
  }
});
window.addEventListener('offline', () => {
  // Don't wait for a heartbeat timeout: go to the outbox path at once.
  if (socket) {
    socket.disconnect();
    setConn('offline');
  }
});
document.addEventListener('visibilitychange', () => {
  tellOtherTabs();
  markOpenChatRead();
});
