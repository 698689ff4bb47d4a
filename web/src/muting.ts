// Muting a chat: this user's own setting, on all their devices. For a while ("for 8 hours", as
// WhatsApp and Slack offer) or until unmuted. A mute for a while ends by itself, here as on the
// server: nothing is sent when it ends, so every device compares its end with the time
// (`isMuted`) and draws again when it passes (`watchMuteEnds`).
import { chats as chatsApi, describeError } from './api';
import * as db from './db';
import { announce, h } from './dom';
import { emit, state, subscribe } from './state';
import type { Chat } from './types';

const HOUR = 3_600_000;

/** What "Mute" offers: how long, in ms (`null`: until unmuted). */
export const MUTE_CHOICES: ReadonlyArray<{ label: string; ms: number | null }> = [
  { label: 'For 1 hour', ms: HOUR },
  { label: 'For 8 hours', ms: 8 * HOUR },
  { label: 'For 1 week', ms: 7 * 24 * HOUR },
  { label: 'Until I unmute it', ms: null },
];

/** Whether the chat is muted for this user at `now`: a mute for a while holds until its end. */
export function isMuted(chat: Chat | undefined, now = Date.now()): boolean {
  if (!chat?.muted) return false;
  return !chat.mutedUntil || Date.parse(chat.mutedUntil) > now;
}

/** "until 18:30" today, "until Mon 18:30" within a week, "until 14 Dec 18:30" later. */
export function untilText(iso: string, now = new Date()): string {
  const end = new Date(iso);
  const time = end.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (end.toDateString() === now.toDateString()) return `until ${time}`;
  const day = end.getTime() - now.getTime() < 6 * 24 * HOUR ? end.toLocaleDateString([], { weekday: 'short' }) : end.toLocaleDateString([], { day: 'numeric', month: 'short' });
  return `until ${day} ${time}`;
}

/** The chat is muted (`muted`, until `until` if given) or not for this user now: set here or on another device. */
export function mutedHere(chatId: string, muted: boolean, until?: string): void {
  const chat = state.chats.get(chatId);
  const mutedUntil = muted ? until : undefined;
  if (!chat || (chat.muted === muted && chat.mutedUntil === mutedUntil)) return;
  state.chats.set(chatId, { ...chat, muted, mutedUntil });
  db.putChats([state.chats.get(chatId)!]).catch(() => {});
  emit('chats');
}

/**
 * Mutes the chat for this user on all their devices, for `ms` (`null`: until unmuted), or
 * unmutes it: said at once here, and by `chat_muted` to the others.
 */
export async function setMuted(chatId: string, muted: boolean, ms: number | null = null): Promise<void> {
  const until = muted && ms !== null ? new Date(Date.now() + ms).toISOString() : undefined;
  await chatsApi.setMuted(chatId, muted, until);
  mutedHere(chatId, muted, until);
}

// A mute for a while ends with nothing sent: the chats are drawn again when one ends.
subscribe((topic) => {
  if (topic === 'chats') watchMuteEnds(state.chats.values(), () => emit('chats'));
});

let timer: ReturnType<typeof setTimeout> | undefined;

/**
 * Calls `ended` once the soonest of `chats`' mutes for a while has ended (then again, as the
 * caller draws the chats again and calls this anew). One timer for them all, replaced by each call.
 */
export function watchMuteEnds(chats: Iterable<Chat>, ended: () => void): void {
  clearTimeout(timer);
  const now = Date.now();
  let soonest = Infinity;
  for (const c of chats) {
    if (!c.muted || !c.mutedUntil) continue;
    const end = Date.parse(c.mutedUntil);
    if (end > now && end < soonest) soonest = end;
  }
  if (soonest === Infinity) return;
  // A timer holds at most 2^31 - 1 ms (~24.8 days): a later end is looked at again then.
  timer = setTimeout(ended, Math.min(soonest - now + 50, 2 ** 31 - 1));
}

/**
 * A chat header's "Mute" button, with its menu of how long, or "Unmute"; and where its errors
 * show. `render` draws it for the chat as it is now.
 */
export function muteControl(chatId: string, setMuted: (chatId: string, muted: boolean, ms: number | null) => Promise<void>, current: () => Chat | undefined): { el: HTMLElement; error: HTMLElement; render: () => void } {
  const button = h('button', { type: 'button', class: 'ghost', 'data-testid': 'mute', 'aria-haspopup': 'menu', 'aria-expanded': 'false' }, 'Mute');
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'mute-error' });
  const menu = h('div', { class: 'menu', role: 'menu', 'data-testid': 'mute-menu', hidden: true, 'aria-label': 'Mute for how long' });
  const el = h('div', { class: 'mute-control' }, button, menu);
  const close = (focusButton: boolean) => {
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (focusButton) button.focus();
  };
  const apply = (muted: boolean, ms: number | null) => {
    close(false);
    error.textContent = '';
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    setMuted(chatId, muted, ms)
      .then(() => announce(muted ? `Chat muted${ms === null ? '' : ` ${untilText(new Date(Date.now() + ms).toISOString())}`}: its messages will not notify you.` : 'Chat unmuted.'))
      .catch((e) => (error.textContent = describeError(e)))
      .finally(() => {
        button.disabled = false;
        button.setAttribute('aria-busy', 'false');
        render();
        button.focus();
      });
  };
  for (const choice of MUTE_CHOICES) {
    menu.append(h('button', { type: 'button', role: 'menuitem', class: 'ghost', 'data-testid': 'mute-choice', onclick: () => apply(true, choice.ms) }, choice.label));
  }
  button.addEventListener('click', () => {
    if (isMuted(current())) return apply(false, null);
    if (!menu.hidden) return close(true);
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    menu.querySelector<HTMLElement>('[role=menuitem]')?.focus();
  });
  // Escape, or the focus going anywhere else (a click elsewhere), closes the menu.
  menu.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') close(true);
  });
  el.addEventListener('focusout', (e) => {
    if (!menu.hidden && !el.contains(e.relatedTarget as Node | null)) close(false);
  });
  const render = () => {
    const chat = current();
    const muted = isMuted(chat);
    button.textContent = muted ? 'Unmute' : 'Mute';
    const until = muted && chat?.mutedUntil ? ` (muted ${untilText(chat.mutedUntil)})` : '';
    button.title = muted ? `Notify me of this chat’s messages again${until}` : 'Stop notifying me of this chat’s messages';
    button.dataset.muted = String(muted);
    button.dataset.until = muted && chat?.mutedUntil ? chat.mutedUntil : '';
  };
  return { el, error, render };
}
