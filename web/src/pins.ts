// Pinned messages, as Slack, WhatsApp and Telegram pin them: any member of a chat pins a message
// for everyone ("Pin" among a row's actions, "Unpin" once pinned), and the chat's view shows a
// bar under its header naming the newest pin, with how many there are. Clicking the bar shows the
// message it names (scrolled to and highlighted, as a reply's quote does) and steps the bar to the
// next pin, older, round to the newest again (Telegram's bar). The server keeps the list
// (`Chat.pins`, ids only, newest first) and tells every member of a change (`chat_changed
// {pins}`, applied by the store in revision order); the page shows each pinned message as it
// holds it, or reads it alone when it is older than the history held (as a quote is, so a sealed
// one is opened here and the server never repeats what it says). A refusal (50 pinned already,
// the message deleted, too many changes this minute) says why where an edit's error does; a pin
// or an unpin made offline is kept and sent once back (changesOutbox.ts), shown meanwhile.
import { chats as chatsApi, describeError } from './api';
import * as changes from './changesOutbox';
import { announce, h } from './dom';
import { original, snippet } from './replies';
import { displayName, isClosed, sortedMessages, state, type ViewMessage } from './state';
import { upsertChat } from './store';

/** The ids of the messages pinned in `chatId`, newest pin first (with those made offline, not sent yet). */
export function pinsOf(chatId: string): string[] {
  return changes.pinsShown(chatId, state.chats.get(chatId)?.pins ?? []);
}

/** Pins the message `messageId` of `chatId` (first among its pins), or unpins it; the answer is the chat as changed. */
export async function setPinned(chatId: string, messageId: string, pinned: boolean): Promise<void> {
  upsertChat(await chatsApi.setPinned(chatId, messageId, pinned));
}
changes.usePinning(setPinned);

/** What a row shows of its pin: drawn again when `stamp` changes. */
export interface RowPin {
  stamp: string;
  /** Beside its time, while it is pinned. */
  mark: HTMLElement | null;
  /** Among its actions: "Pin", or "Unpin" once pinned. */
  button: HTMLElement | null;
}

export interface Pinning {
  /** The pinned bar, under the chat's header; hidden while nothing is pinned. */
  bar: HTMLElement;
  /** Draws the bar again: the pins, or the messages they name, may have changed. */
  render(): void;
  row(m: ViewMessage): RowPin;
}

/**
 * Pins in the chat view of `chatId`. `problem` is where errors are shown; `show` shows a message
 * of the chat (scrolled to, highlighted, older history loaded to find it: replies' `show`).
 */
export function pinning(chatId: string, problem: HTMLElement, show: (id: string) => Promise<void>): Pinning {
  /** Pins and unpins on their way, by message id: a second click waits for the first. */
  const sending = new Set<string>();
  const count = h('span', { class: 'pinned-count', 'data-testid': 'pinned-count' });
  const name = h('strong', { class: 'pinned-name', 'data-testid': 'pinned-name' });
  const text = h('span', { class: 'pinned-text', 'data-testid': 'pinned-text' });
  const go = h(
    'button',
    { type: 'button', class: 'pinned-go', 'data-testid': 'pinned-go', title: 'Show this message (then the next pinned one)' },
    h('span', { class: 'pinned-label' }, h('span', { 'aria-hidden': 'true' }, '📌 '), 'Pinned message', count),
    h('span', { class: 'pinned-line' }, name, text),
  );
  const unpin = h('button', { type: 'button', class: 'link', 'data-testid': 'pinned-unpin', 'aria-label': 'Unpin this message' }, 'Unpin');
  const bar = h('div', { class: 'pinned-bar', role: 'region', 'aria-label': 'Pinned messages', 'data-testid': 'pinned-bar', hidden: true }, go, unpin);
  /** The pin the bar names (its message's id), and the newest pin when it was drawn. */
  let at: string | null = null;
  let newest: string | null = null;

  const toggle = async (id: string, pin: boolean) => {
    if (sending.has(id)) return;
    problem.textContent = '';
    sending.add(id);
    try {
      const taken = await changes.setPinned(chatId, id, pin);
      announce(`${pin ? 'Message pinned' : 'Message unpinned'}${taken === 'sent' ? '' : ': sent once you are back online'}`);
    } catch (e) {
      problem.textContent = `Cannot ${pin ? 'pin' : 'unpin'} the message: ${describeError(e)}`;
    } finally {
      sending.delete(id);
    }
  };

  /** The view's stored messages, by id. */
  const heldRows = () => new Map(sortedMessages(chatId).flatMap((m) => (m.id ? [[m.id, m] as const] : [])));
  /** The pins the bar steps through: a message held deleted is on its way out (the server unpins it). */
  const shownPins = (rows: Map<string, ViewMessage>) => pinsOf(chatId).filter((id) => !rows.get(id)?.deletedAt);

  const render = () => {
    const rows = heldRows();
    const pins = shownPins(rows);
    bar.hidden = pins.length === 0;
    if (!pins.length) {
      at = newest = null;
      return;
    }
    // A new pin is shown at once; otherwise the bar stays where the user stepped to, while pinned.
    if (pins[0] !== newest || !at || !pins.includes(at)) at = pins[0];
    newest = pins[0];
    const q = original(chatId, at, rows);
    count.textContent = pins.length > 1 ? ` ${pins.indexOf(at) + 1} of ${pins.length}` : '';
    name.textContent = typeof q === 'string' ? '' : `${q.senderId === state.me?.id ? 'You' : displayName(q.senderId)}: `;
    text.textContent = q === 'loading' ? 'Loading…' : q === 'unavailable' ? 'Message unavailable' : snippet(q);
    bar.dataset.messageId = at;
    // Read-only (the other member deleted their account): the pins are shown, not changed.
    unpin.hidden = isClosed(chatId);
  };

  go.addEventListener('click', () => {
    if (!at) return;
    const id = at;
    const pins = shownPins(heldRows());
    at = pins[(pins.indexOf(id) + 1) % pins.length] ?? null;
    render();
    void show(id);
  });
  unpin.addEventListener('click', () => {
    if (at) void toggle(at, false);
  });

  const row = (m: ViewMessage): RowPin => {
    const pinned = Boolean(m.id) && pinsOf(chatId).includes(m.id!);
    const canPin = Boolean(m.id) && !m.pending && !m.deletedAt && !m.queued?.delete;
    const pending = Boolean(m.id) && changes.pinPending(m.id!);
    const stamp = `${pinned}|${canPin}|${pending}`;
    if (!canPin) return { stamp, mark: null, button: null };
    const label = pending ? 'Pinned (sent once back online)' : 'Pinned';
    const mark = pinned ? h('span', { class: pending ? 'pinned-mark pending-change' : 'pinned-mark', 'data-testid': 'pinned-mark', 'data-pending': String(pending), role: 'img', 'aria-label': label, title: label }, '📌') : null;
    // One test id for both, so the focus stays on it as its row is drawn again.
    const button = h('button', { type: 'button', class: 'link', 'data-testid': 'pin-message', 'data-pinned': String(pinned), 'aria-label': pinned ? 'Unpin message' : 'Pin message', onclick: () => void toggle(m.id!, !pinned) }, pinned ? 'Unpin' : 'Pin');
    return { stamp, mark, button };
  };

  return { bar, render, row };
}
