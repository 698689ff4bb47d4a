// @mentions, entirely in the page. A sealed message's text is only ever read here, so a mention
// is found in it here too: nothing is sent to the server besides the text (sealed or not), no
// list of who is mentioned (Matrix keeps its mentions inside the encrypted content as well).
// `@username` at the start of a text or after a character that is not part of a word, naming a
// member of the chat whose profile the page holds, is drawn as a mention; it notifies the user
// it names even in a muted chat (notify.ts) and marks the chat in the list until it is read.
// The composer's autocomplete is mentionPicker.ts.
import { chats as chatsApi } from './api';
import { fileRef } from './attachments';
import { h } from './dom';
import { emit, ensureProfiles, sortedMessages, state, type ViewMessage } from './state';
import type { Chat, MessageType } from './types';

/**
 * `@` and what follows it that a username may hold (a–z, 0–9, `_`, `.`, ignoring case), not
 * after a letter, digit or `_` ("bob@example.com" mentions nobody).
 */
const CANDIDATE = /(?<![\p{L}\p{N}_])@([a-z0-9_.]+)/giu;
const USERNAME_CHARS = { min: 3, max: 32 };

/** One `@word` in a text that may be a mention: where it is, and the username it would name (lower case). */
export interface Candidate {
  start: number;
  end: number;
  username: string;
}

/**
 * The `@word`s of `text` that could name an account. A sentence's full stop is not part of the
 * name ("ask @bob." names bob): dots at the end are left out.
 */
export function candidates(text: string): Candidate[] {
  const found: Candidate[] = [];
  for (const match of text.matchAll(CANDIDATE)) {
    const name = match[1].replace(/\.+$/, '');
    if (name.length < USERNAME_CHARS.min || name.length > USERNAME_CHARS.max) continue;
    const start = match.index ?? 0;
    found.push({ start, end: start + 1 + name.length, username: name.toLowerCase() });
  }
  return found;
}

/** What a message says that may mention someone: its text, or a file's caption. */
export function mentionableText(m: { type?: MessageType; content: string }): string {
  if (!m.type || m.type === 'text') return m.content;
  return fileRef(m.content)?.caption ?? '';
}

/** Whether `text` mentions this user (by their username: the viewer is a member of any chat they read). */
export function mentionsMe(text: string): boolean {
  const me = state.me?.username.toLowerCase();
  return !!me && candidates(text).some((c) => c.username === me);
}

// --- who may be mentioned ---------------------------------------------------------------------

/** Every member of a group in one read: a group has at most 1,000 (`MAX_GROUP_MEMBERS`). */
const ALL_MEMBERS = 1000;
/** How long a read that failed, or one older than the chat held, waits before being asked again. */
const READ_AGAIN_MS = 5_000;
/** Per group held without its members: every member, as read at a revision of the chat. */
const readMembers = new Map<string, { revision: number; members: string[] }>();
const reading = new Set<string>();
const lastAsked = new Map<string, number>();

/**
 * The members of `chatId` this page knows: the chat's own list (with the profiles it lacks
 * fetched, at most every READ_AGAIN_MS), or for a group held without it
 * (`membersOmitted`, as the chat list reads groups) every member read once for it (one
 * request of up to 1,000 ids, and their profiles, 100 per request, as "Find a member" does),
 * again once the group has changed. Until then: none but the user. Only asked for when wanted
 * (a message shown with an `@word`, an `@` typed in the composer): opening a group reads
 * neither its members nor their profiles (a group may have 1,000; state.ts).
 */
function membersOf(chatId: string): string[] {
  const chat = state.chats.get(chatId);
  if (!chat) return [];
  const due = Date.now() - (lastAsked.get(chatId) ?? 0) >= READ_AGAIN_MS;
  if (!chat.membersOmitted) {
    // A group gained whole comes with no profiles (state.ts): those it lacks, asked for once.
    if (due && chat.participants.some((id) => id !== state.me?.id && !state.profiles.has(id))) {
      lastAsked.set(chatId, Date.now());
      void ensureProfiles(chat.participants);
    }
    return chat.participants;
  }
  const held = readMembers.get(chatId);
  if ((!held || held.revision < chat.revision) && !reading.has(chatId) && due) void readAll(chatId);
  return held?.members ?? (state.me ? [state.me.id] : []);
}

async function readAll(chatId: string): Promise<void> {
  reading.add(chatId);
  lastAsked.set(chatId, Date.now());
  try {
    const page = await chatsApi.members(chatId, null, ALL_MEMBERS);
    readMembers.set(chatId, { revision: page.revision, members: page.members });
    await ensureProfiles(page.members);
  } catch {
    // Offline or server trouble: asked again the next time they are wanted, a little later.
  } finally {
    reading.delete(chatId);
  }
  // The rows and the autocomplete are drawn again with who may be mentioned now.
  emit('profiles');
}

/** Forgets the members read (logout). */
export function forgetMembers(): void {
  readMembers.clear();
  lastAsked.clear();
}

/** A member who may be mentioned: their id, username (lower case) and the name shown. */
export interface Mentionable {
  id: string;
  username: string;
  name: string;
}

/** The members of `chatId` whose profiles the page holds (the user too), by username. */
export function mentionable(chatId: string): Map<string, Mentionable> {
  const byName = new Map<string, Mentionable>();
  const me = state.me;
  for (const id of membersOf(chatId)) {
    if (me && id === me.id) {
      byName.set(me.username.toLowerCase(), { id, username: me.username.toLowerCase(), name: me.displayName || me.username });
      continue;
    }
    const p = state.profiles.get(id);
    if (!p || p.deleted || !p.username) continue;
    byName.set(p.username.toLowerCase(), { id, username: p.username.toLowerCase(), name: p.displayName || p.username });
  }
  return byName;
}

// --- drawn ------------------------------------------------------------------------------------

/**
 * `text` as nodes, its mentions of `chatId`'s members as `<span class="mention">` (the name shown
 * in its title; `mention-me` when it names the user), the rest as text: never parsed as HTML.
 * An `@word` naming no member stays text, as typed.
 */
export function withMentions(text: string, chatId: string): (Node | string)[] {
  const found = candidates(text);
  if (!found.length) return [text];
  const members = mentionable(chatId);
  const me = state.me?.id;
  const parts: (Node | string)[] = [];
  let at = 0;
  for (const c of found) {
    const who = members.get(c.username);
    if (!who) continue;
    if (c.start > at) parts.push(text.slice(at, c.start));
    parts.push(h('span', { class: who.id === me ? 'mention mention-me' : 'mention', 'data-testid': 'mention', 'data-user-id': who.id, title: who.name }, text.slice(c.start, c.end)));
    at = c.end;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

/**
 * What a message's mentions are drawn from besides its text, for its row's render stamp: who
 * each names and their name now (a member read or a profile arriving later draws the row again).
 */
export function mentionStamp(m: ViewMessage): string {
  const found = candidates(mentionableText(m));
  if (!found.length) return '';
  const members = mentionable(m.chatId);
  return found.map((c) => members.get(c.username)?.name ?? '').join(',');
}

// --- unread -----------------------------------------------------------------------------------

/**
 * Whether one of `chat`'s unread messages mentions the user: among the last `unreadCount`
 * messages from others that this page holds (live, synced, paged, cached, or the chat list's
 * last message). Derived, not stored: reading the chat (its count back to 0) ends it.
 */
export function unreadMention(chat: Chat): boolean {
  const me = state.me?.id;
  if (!me || !(chat.unreadCount > 0)) return false;
  const unread = sortedMessages(chat.id)
    .filter((m) => !m.pending && m.senderId !== me && !m.readBy.includes(me))
    .slice(-chat.unreadCount);
  return unread.some((m) => !m.deletedAt && mentionsMe(mentionableText(m)));
}
