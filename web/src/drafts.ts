// Drafts: what the user wrote in a chat's composer and has not sent, kept per chat on this
// device, as Slack, Telegram and WhatsApp keep them: leaving the chat (or reloading, or going
// offline) loses nothing, the chat list shows "Draft: …" in place of the last message, and the
// composer holds it again when the chat is opened. Kept in the user's IndexedDB (`meta`, one
// row), so they go at logout with the rest of the cache; not sent to the server or to the
// user's other devices (a draft may be the start of a sealed message). The tabs of this browser
// tell each other (a `BroadcastChannel`), so a draft sent or cleared in one is not left showing
// in another's chat list.
import * as db from './db';
import { emit } from './state';

const KEY = 'drafts';
/** How long typing pauses before a draft is written and told to the other tabs. */
const WRITE_AFTER_MS = 300;

const drafts = new Map<string, string>();
/** The user whose drafts these are. */
let owner: string | null = null;
let writing: ReturnType<typeof setTimeout> | undefined;
/** Changes not yet told to the other tabs (chat → text, '' for none). */
const untold = new Map<string, string>();

type Told = { user: string; chatId: string; text: string };
const channel = 'BroadcastChannel' in window ? new BroadcastChannel('batiyoun-drafts') : null;
if (channel) {
  channel.onmessage = (ev: MessageEvent<Told>) => {
    const { user, chatId, text } = ev.data ?? ({} as Told);
    if (!owner || user !== owner || typeof chatId !== 'string' || typeof text !== 'string') return;
    if (text.trim()) drafts.set(chatId, text);
    else drafts.delete(chatId);
    emit('chats');
  };
}

/** Loads `userId`'s drafts (their database is open). */
export async function loadDrafts(userId: string): Promise<void> {
  forgetDrafts();
  owner = userId;
  const kept = await db.meta<Record<string, string>>(KEY).catch(() => undefined);
  if (owner !== userId) return;
  for (const [chatId, text] of Object.entries(kept ?? {})) if (!drafts.has(chatId) && text.trim()) drafts.set(chatId, text);
}

/** Forgets the drafts held in memory (signed out; the database goes or stays with the cache). */
export function forgetDrafts(): void {
  clearTimeout(writing);
  writing = undefined;
  untold.clear();
  drafts.clear();
  owner = null;
}

/** The draft of `chatId`, or '' when there is none. */
export function draftOf(chatId: string): string {
  return drafts.get(chatId) ?? '';
}

/**
 * Keeps `text` as the draft of `chatId` (none when it is blank: sent, or cleared). A draft is
 * written and told to the other tabs once typing pauses; its end at once (a message sent, which
 * another tab starting now must not find a draft still). The chat list hears of a draft begun or
 * ended (`chats`).
 */
export function setDraft(chatId: string, text: string): void {
  const had = drafts.has(chatId);
  if (text.trim()) drafts.set(chatId, text);
  else drafts.delete(chatId);
  if (had !== drafts.has(chatId)) emit('chats');
  untold.set(chatId, drafts.get(chatId) ?? '');
  clearTimeout(writing);
  writing = undefined;
  if (drafts.has(chatId)) writing = setTimeout(flushDrafts, WRITE_AFTER_MS);
  else flushDrafts();
}

/** Writes the drafts and tells the other tabs now (a draft ended, the chat or the page left). */
export function flushDrafts(): void {
  clearTimeout(writing);
  writing = undefined;
  if (!owner || untold.size === 0) return;
  for (const [chatId, text] of untold) channel?.postMessage({ user: owner, chatId, text } satisfies Told);
  untold.clear();
  void db.putMeta(KEY, Object.fromEntries(drafts)).catch(() => {});
}

addEventListener('pagehide', flushDrafts);
