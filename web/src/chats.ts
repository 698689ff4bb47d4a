// Chats as this page holds them, and their changes: a chat taken in whole (`upsertChat`: from the
// list, a `chat_updated`, an answer to a change made here) is weighed against the copy held, a
// `chat_changed` applied in order of the chat's revision (a gap mended by fetching the chat), a
// chat left or deleted dropped with what the page keeps of it. The store takes the socket's
// events here; the views call `upsertChat` with the chats their changes answer.
import { ApiError, chats as chatsApi } from './api';
import { setDraft } from './drafts';
import * as db from './db';
import { isOlder } from './edits';
import { compareInstants, emit, ensureProfiles, state } from './state';
import type { Chat, ChatChangedEvent } from './types';

/** Per chat list on its way: the chats gained or dropped meanwhile, which it may not know of. */
const listings = new Set<Set<string>>();

/**
 * Watches for chats gained or dropped while a chat list is on its way: `touched` collects their
 * ids until `done`.
 */
export function watchListing(): { touched: Set<string>; done: () => void } {
  const touched = new Set<string>();
  listings.add(touched);
  return { touched, done: () => listings.delete(touched) };
}

export function sortedChats(): Chat[] {
  return [...state.chats.values()].sort((a, b) => compareInstants(b.lastMessageAt ?? b.createdAt, a.lastMessageAt ?? a.createdAt));
}

export function upsertChat(chat: Chat): void {
  const prev = state.chats.get(chat.id);
  for (const touched of listings) touched.add(chat.id);
  // Only this user's own reads say whether they muted it; other copies keep what we held.
  if (chat.muted === undefined) chat = { ...chat, muted: prev?.muted ?? false, mutedUntil: prev?.mutedUntil };
  // A copy older than the changes we applied keeps our name, topic, picture, pins and members
  // (chats cached by an older version of this app have no revision: any server copy replaces them).
  if (prev && (prev.revision ?? -1) > (chat.revision ?? -1)) {
    const { name, topic, picture, pins, participants, admins, revision, memberCount, membersOmitted } = prev;
    chat = { ...chat, name, topic, picture, pins, participants, admins, revision, memberCount, membersOmitted };
  } else if (chat.membersOmitted && prev && !prev.membersOmitted && prev.revision === chat.revision) {
    // The list leaves a group's members out; ours are as of the same revision.
    chat = { ...chat, participants: prev.participants, admins: prev.admins, membersOmitted: false };
  }
  // Keep our own unread/lastMessage if the server's copy is older than what we saw live.
  if (prev && prev.lastMessageAt && chat.lastMessageAt && compareInstants(prev.lastMessageAt, chat.lastMessageAt) > 0) {
    chat = { ...chat, lastMessage: prev.lastMessage, lastMessageAt: prev.lastMessageAt };
  } else if (prev?.lastMessage && chat.lastMessage?.id === prev.lastMessage.id && isOlder(chat.lastMessage, prev.lastMessage)) {
    chat = { ...chat, lastMessage: prev.lastMessage }; // read before an edit or deletion we applied
  }
  state.chats.set(chat.id, chat);
  db.putChats([chat]).catch(() => {});
  // The names shown without opening anything: a direct chat's other member, the last message's
  // sender. Not a group's members, which may be a thousand: its details fetch them a page at a
  // time, and senders and typers come when they send or type.
  const shown = chat.type === 'direct' ? [...chat.participants] : [];
  if (chat.lastMessage) shown.push(chat.lastMessage.senderId);
  void ensureProfiles(shown);
  emit('chats');
}

export function removeChat(chatId: string): void {
  for (const touched of listings) touched.add(chatId);
  state.chats.delete(chatId);
  state.messages.delete(chatId);
  for (const [id, q] of state.quoted) if (q.chatId === chatId) state.quoted.delete(id);
  // Added back later, the chat's history is paged again from the start.
  state.history.delete(chatId);
  setDraft(chatId, ''); // a chat left or deleted keeps no draft
  db.deleteChat(chatId).catch(() => {});
  emit('chats');
}

/**
 * Applies a `chat_changed`: in order of the chat's revision. One we applied already is ignored;
 * a gap (changes made on different server instances can arrive crossed) or a chat we do not
 * hold is mended by fetching the chat.
 */
export function applyChatChange(e: ChatChangedEvent): void {
  const chat = state.chats.get(e.chatId);
  // A deletion is final, whatever its revision.
  if (e.deleted) {
    if (chat) removeChat(e.chatId);
    return;
  }
  const held = chat?.revision ?? -1;
  if (chat && e.revision <= held) return;
  if (state.me && e.removed?.includes(state.me.id)) {
    if (chat) removeChat(e.chatId);
    return;
  }
  if (!chat || e.revision !== held + 1) {
    void refetchChat(e.chatId);
    return;
  }
  const keep = (next: Chat) => {
    state.chats.set(next.id, next);
    db.putChats([next]).catch(() => {});
    emit('chats');
  };
  const removed = new Set(e.removed ?? []);
  const admins = e.admins ?? chat.admins.filter((p) => !removed.has(p));
  const closed = e.closed || chat.closed;
  const topic = e.topic === undefined ? chat.topic : e.topic || undefined;
  const picture = e.picture === undefined ? chat.picture : e.picture || undefined;
  const pins = e.pins === undefined ? chat.pins : e.pins.length ? e.pins : undefined;
  if (chat.membersOmitted) {
    // We hold no member list to apply it to (a group's details page through its members): the
    // name, topic, picture and pins, the admins and the count.
    keep({ ...chat, name: e.name ?? chat.name, topic, picture, pins, admins, memberCount: e.memberCount ?? chat.memberCount, revision: e.revision, closed });
    return;
  }
  const participants = chat.participants.filter((p) => !removed.has(p));
  for (const p of e.added ?? []) if (!participants.includes(p)) participants.push(p);
  keep({
    ...chat,
    name: e.name ?? chat.name,
    topic,
    picture,
    pins,
    participants,
    admins,
    memberCount: participants.length,
    revision: e.revision,
    closed,
  });
}

/** Chats being fetched after a gap in their changes; true: fetch again when done. */
const refetching = new Map<string, boolean>();

/**
 * Fetches a chat again after a gap in its changes (a group without its members, as in the list).
 * If that fails (offline, server trouble), the next change finds the gap again, and the next
 * connect reloads the chat list.
 */
async function refetchChat(chatId: string): Promise<void> {
  if (refetching.has(chatId)) {
    refetching.set(chatId, true);
    return;
  }
  refetching.set(chatId, false);
  try {
    const fetched = await chatsApi.get(chatId);
    // Keep our unread count: it follows the messages taken in since, the fetched one may not.
    const prev = state.chats.get(chatId);
    upsertChat(prev ? { ...fetched, unreadCount: prev.unreadCount } : fetched);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 403 || e.status === 404)) {
      if (state.chats.has(chatId)) removeChat(chatId);
      return;
    }
    console.warn('fetching a changed chat failed', e);
  } finally {
    const again = refetching.get(chatId);
    refetching.delete(chatId);
    if (again) void refetchChat(chatId);
  }
}
