// A conversation's part in reactions: under a message, a chip per emoji (its count; pressed when
// this user is among who reacted, whose names its title lists), which takes this user's reaction
// back or adds it; among the row's actions, "React", which opens a palette of a few emoji. One
// refused says why where an edit's error does; one made offline is kept and sent once back
// (changesOutbox.ts), its chip marked pending meanwhile. The store's side is in edits.ts.
import * as changes from './changesOutbox';
import { announce, h } from './dom';
import * as edits from './edits';
import { displayName, state, type ViewMessage } from './state';
import type { Reaction } from './types';

/** What the palette offers (any other emoji is still shown and counted, when others use it). */
export const PALETTE = ['👍', '❤️', '😂', '🎉', '😮', '😢'] as const;

/** Most names a chip's title lists; the rest are counted. */
const MAX_NAMES = 20;

/** What a row shows of its reactions: drawn again when `stamp` changes. */
export interface RowReactions {
  stamp: string;
  /** Under its body: a chip per emoji, when it has reactions. */
  chips: HTMLElement | null;
  /** Among its actions: "React", which opens the palette. */
  button: HTMLElement | null;
  /** After its actions, while open. */
  palette: HTMLElement | null;
}

export interface Reacting {
  row(m: ViewMessage): RowReactions;
}

/**
 * Reactions in a chat view. `problem` is where errors are shown; `redraw` draws the rows again
 * (the palette opening or closing changes its row's stamp).
 */
export function reacting(problem: HTMLElement, redraw: () => void): Reacting {
  /** The message whose palette is open (its key): one at a time. */
  let open: string | null = null;
  /** Reactions on their way (message key and emoji): a second click waits for the first. */
  const sending = new Set<string>();

  /** Adds this user's reaction with `emoji` to the message held now as `m`, or takes it back. */
  const toggle = async (m: ViewMessage, emoji: string) => {
    const stored = state.messages.get(m.chatId)?.get(m.key);
    const held = stored ? changes.shown(stored) : m;
    const what = `${held.key}|${emoji}`;
    if (sending.has(what)) return;
    const add = !reactedWith(held, emoji);
    problem.textContent = '';
    sending.add(what);
    try {
      const taken = await changes.reactToMessage(held, emoji, add);
      announce(`${add ? `Reacted with ${emoji}` : `Reaction ${emoji} taken back`}${taken === 'sent' ? '' : ': sent once you are back online'}`);
    } catch (e) {
      problem.textContent = `Cannot react to the message: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      sending.delete(what);
    }
  };

  /** Opens or closes `key`'s palette; the focus goes to its first emoji, or back to "React". */
  const show = (key: string | null, inRow: Element | null) => {
    open = key;
    redraw();
    const target = key ? '.reaction-palette button' : '[data-testid=react-message]';
    inRow?.querySelector<HTMLElement>(target)?.focus();
  };

  const palette = (m: ViewMessage): HTMLElement => {
    const choose = (ev: Event, emoji: string) => {
      show(null, (ev.currentTarget as HTMLElement).closest('li'));
      void toggle(m, emoji);
    };
    return h(
      'div',
      {
        class: 'reaction-palette',
        role: 'group',
        'aria-label': 'Choose a reaction',
        'data-testid': 'reaction-palette',
        onkeydown: (ev: Event) => {
          if ((ev as KeyboardEvent).key !== 'Escape') return;
          ev.preventDefault();
          show(null, (ev.currentTarget as HTMLElement).closest('li'));
        },
      },
      PALETTE.map((emoji) => h('button', { type: 'button', 'aria-pressed': String(reactedWith(m, emoji)), onclick: (ev: Event) => choose(ev, emoji) }, emoji)),
    );
  };

  const chip = (m: ViewMessage, r: Reaction): HTMLElement =>
    h(
      'button',
      {
        type: 'button',
        class: pending(m, r.emoji) ? 'reaction pending-change' : 'reaction',
        'data-testid': 'reaction',
        'data-emoji': r.emoji,
        'data-pending': String(pending(m, r.emoji)),
        'aria-pressed': String(reactedWith(m, r.emoji)),
        title: `Reacted with ${r.emoji} by ${reactors(r)}${pending(m, r.emoji) ? ' (yours sent once back online)' : ''}`,
        onclick: () => void toggle(m, r.emoji),
      },
      h('span', { class: 'reaction-emoji' }, r.emoji),
      ' ',
      h('span', { class: 'reaction-count', 'data-testid': 'reaction-count' }, String(r.users.length)),
    );

  const row = (m: ViewMessage): RowReactions => {
    if (!edits.canReact(m)) return { stamp: '', chips: null, button: null, palette: null };
    const isOpen = open === m.key;
    // Names are part of it: a profile can arrive after its reaction.
    const stamp = `${isOpen}|${m.reactions.map((r) => `${r.emoji}:${reactedWith(m, r.emoji)}:${reactors(r)}`).join('|')}|${m.queued?.reactions ?? ''}`;
    const chips = m.reactions.length ? h('div', { class: 'reactions', 'data-testid': 'reactions' }, m.reactions.map((r) => chip(m, r))) : null;
    const button = h(
      'button',
      {
        type: 'button',
        class: 'link',
        'data-testid': 'react-message',
        'aria-label': 'Add reaction',
        'aria-expanded': String(isOpen),
        onclick: (ev: Event) => show(isOpen ? null : m.key, (ev.currentTarget as HTMLElement).closest('li')),
      },
      'React',
    );
    return { stamp, chips, button, palette: isOpen ? palette(m) : null };
  };

  return { row };
}

/**
 * Keeps the focus on the same control of `row` while it is drawn again (a chip clicked is
 * replaced by its recount; gone, "React" takes the focus): call it before, and its answer after.
 */
export function keepFocus(row: HTMLElement): () => void {
  const el = document.activeElement;
  if (!(el instanceof HTMLElement) || !row.contains(el) || !el.dataset.testid) return () => {};
  const emoji = el.dataset.emoji;
  const selector = `[data-testid="${el.dataset.testid}"]${emoji ? `[data-emoji="${CSS.escape(emoji)}"]` : ''}`;
  const fallback = emoji ? '[data-testid=react-message]' : selector;
  return () => (row.querySelector<HTMLElement>(selector) ?? row.querySelector<HTMLElement>(fallback))?.focus({ preventScroll: true });
}

/** Whether this user's reaction with `emoji` to `m` (added or taken back) waits to be sent. */
function pending(m: ViewMessage, emoji: string): boolean {
  return Boolean(m.queued?.reactions.includes(emoji));
}

function reactedWith(m: ViewMessage, emoji: string): boolean {
  const me = state.me?.id;
  return Boolean(me) && m.reactions.some((r) => r.emoji === emoji && r.users.includes(me!));
}

/** Who reacted, by name ("you" for this user), in the order they did: "ALICE, BOB and you". */
function reactors(r: Reaction): string {
  const names = r.users.slice(0, MAX_NAMES).map((id) => (id === state.me?.id ? 'you' : displayName(id)));
  const more = r.users.length - names.length;
  if (more > 0) names.push(`${more} more`);
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : (names[0] ?? '');
}
