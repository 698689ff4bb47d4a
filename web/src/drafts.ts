// Drafts: what the user wrote in a chat's composer and has not sent, kept per chat on this
// device, as Slack, Telegram and WhatsApp keep them: leaving the chat (or reloading, or going
// offline) loses nothing, the chat list shows "Draft: …" in place of the last message, and the
// composer holds it again when the chat is opened. Kept in the user's IndexedDB (`meta`, one
// row), so they go at logout with the rest of the cache; not sent to the server or to the
// user's other devices (a draft may be the start of a sealed message).
import * as db from './db';
import { emit } from './state';

const KEY = 'drafts';
/** How long typing pauses before the drafts are written. */
const WRITE_AFTER_MS = 300;

const drafts = new Map<string, string>();
let writing: ReturnType<typeof setTimeout> | undefined;

/** Loads the signed-in user's drafts (their database is open). */
export async function loadDrafts(): Promise<void> {
  drafts.clear();
  const kept = await db.meta<Record<string, string>>(KEY).catch(() => undefined);
  for (const [chatId, text] of Object.entries(kept ?? {})) if (text.trim()) drafts.set(chatId, text);
}

/** Forgets the drafts held in memory (signed out; the database goes or stays with the cache). */
export function forgetDrafts(): void {
  clearTimeout(writing);
  drafts.clear();
}

/** The draft of `chatId`, or '' when there is none. */
export function draftOf(chatId: string): string {
  return drafts.get(chatId) ?? '';
}

/**
 * Keeps `text` as the draft of `chatId` (none when it is blank: sent, or cleared), written to the
 * database once typing pauses. The chat list hears of a draft begun or ended (`chats`).
 */
export function setDraft(chatId: string, text: string): void {
  const had = drafts.has(chatId);
  if (text.trim()) drafts.set(chatId, text);
  else drafts.delete(chatId);
  if (had !== drafts.has(chatId)) emit('chats');
  clearTimeout(writing);
  writing = setTimeout(() => void db.putMeta(KEY, Object.fromEntries(drafts)).catch(() => {}), WRITE_AFTER_MS);
}

/** Writes the drafts now (the chat, or the page, is being left). */
export function flushDrafts(): void {
  if (writing === undefined) return;
  clearTimeout(writing);
  writing = undefined;
  void db.putMeta(KEY, Object.fromEntries(drafts)).catch(() => {});
}

addEventListener('pagehide', flushDrafts);
