// A conversation's part in replies (a message answering another, as in Slack, Matrix, Telegram
// and WhatsApp): among a row's actions, "Reply", which puts the composer in reply mode under a
// bar naming the message answered (Esc or the bar's Cancel leaves it; what is sent next, a text
// or a file, goes with `replyTo`); above a reply's body, a quote of the message it answers, which
// shows that message when clicked. Only the id travels (the outbox keeps it through resends): the
// server never sees what is quoted, so the quote is drawn here from the message held, opened as
// any is, or fetched alone (`GET /api/chats/{id}/messages/{messageId}`) when it is older than the
// history held. A quote follows its message: edited, deleted, opened once a key is unlocked.
import { chats as chatsApi } from './api';
import { fileRef } from './attachments';
import { announce, h } from './dom';
import * as e2e from './e2e';
import { displayName, emit, ensureProfiles, fromMessage, sortedMessages, state, subscribe, type ViewMessage } from './state';
import { hasMoreHistory } from './store';

/** Most characters of a message a quote shows (one line; the rest is cut, with an ellipsis). */
export const QUOTE_CHARS = 100;
/** Most pages of history a click on a quote loads to find the message it quotes. */
const MAX_PAGES_BACK = 10;
/** How long the message shown from a quote stays highlighted. */
const HIGHLIGHT_MS = 2500;

// --- quoted messages not held as rows ---------------------------------------------------------

/** Quoted messages being fetched, by id. */
const fetching = new Set<string>();
/** Quoted messages whose fetch failed (id → chat): fetched again once back online. */
const unavailable = new Map<string, string>();

/** Fetches the message `id` of `chatId` for the quotes of its replies (see `state.quoted`). */
function fetchQuoted(chatId: string, id: string): void {
  if (fetching.has(id) || unavailable.has(id) || state.quoted.has(id)) return;
  fetching.add(id);
  const me = state.me?.id;
  void (async () => {
    try {
      const m = await chatsApi.message(chatId, id);
      await e2e.openAll([m]);
      if (state.me?.id !== me) return;
      void ensureProfiles([m.senderId]);
      state.quoted.set(id, fromMessage(m));
    } catch {
      if (state.me?.id === me) unavailable.set(id, chatId);
    } finally {
      fetching.delete(id);
      emit(`messages:${chatId}`);
    }
  })();
}

/** What failed offline is asked again once the connection is back. */
subscribe((topic) => {
  if (topic !== 'conn' || state.conn !== 'online' || !unavailable.size) return;
  const chats = new Set(unavailable.values());
  unavailable.clear();
  for (const chatId of chats) emit(`messages:${chatId}`);
});

/** A key newly held here may open what was fetched sealed: fetched again, then opened. */
e2e.onChange((e) => {
  if (e !== 'opened') return;
  for (const [id, q] of state.quoted) {
    if (q.content !== e2e.LOCKED_TEXT) continue;
    state.quoted.delete(id);
    emit(`messages:${q.chatId}`);
  }
});

/**
 * The message `id` as held: a row of the view (`rows`, by id), or fetched for its quotes (or the
 * pinned bar, pins.ts); `loading` while it is fetched, `unavailable` when it could not be.
 */
export function original(chatId: string, id: string, rows: Map<string, ViewMessage>): ViewMessage | 'loading' | 'unavailable' {
  const held = rows.get(id) ?? state.quoted.get(id);
  if (held) return held;
  if (unavailable.has(id)) return 'unavailable';
  fetchQuoted(chatId, id);
  return 'loading';
}

/** What a quote says of `q`: one line of its text, a file by its name (and caption). */
export function snippet(q: ViewMessage): string {
  if (q.deletedAt) return 'Deleted message';
  const ref = q.type === 'text' ? null : fileRef(q.content);
  const text = ref ? `${q.type === 'image' ? '🖼' : '📎'} ${ref.name}${ref.caption ? ` — ${ref.caption}` : ''}` : q.content;
  const chars = [...text.replace(/\s+/g, ' ').trim()];
  return chars.length > QUOTE_CHARS ? `${chars.slice(0, QUOTE_CHARS - 1).join('')}…` : chars.join('');
}

// --- a chat view's part -----------------------------------------------------------------------

/** What a row shows of replies: drawn again when `stamp` changes. */
export interface RowReply {
  stamp: string;
  /** Above its body, for a reply: the quote of the message it answers. */
  quote: HTMLElement | null;
  /** Among its actions: "Reply". */
  button: HTMLElement | null;
}

export interface Replying {
  /** The reply bar, shown above the composer while replying. */
  bar: HTMLElement;
  /** The id of the message being answered, if any; reply mode ends (what is sent goes with it). */
  take(): string | undefined;
  /** Answers the message `id` again (a send that failed before it was queued), if still held. */
  resume(id: string): void;
  /** Leaves reply mode, if in it (an edit begins). */
  cancel(): void;
  /**
   * Shows the message `id` (scrolled to, highlighted, focused), loading older history to find it
   * if need be: a quote's original, or a message a search found.
   */
  show(id: string): Promise<void>;
  /** The rows' part, for one drawing of `msgs` (the view's messages, in order). */
  rows(msgs: ViewMessage[]): (m: ViewMessage) => RowReply;
}

/**
 * Replies in the chat view of `chatId`. `list` holds its rows (`data-id` on stored ones); `older`
 * loads the page of history before the oldest held; `starting` is called as reply mode begins
 * (an edit the composer held ends).
 */
export function replying(chatId: string, input: HTMLTextAreaElement, list: HTMLElement, older: () => Promise<void>, starting: () => void): Replying {
  const text = h('span', { id: 'reply-bar-text', 'data-testid': 'reply-bar-text' });
  const cancelButton = h('button', { type: 'button', class: 'link', 'data-testid': 'reply-cancel', 'aria-label': 'Cancel replying' }, 'Cancel');
  const bar = h('div', { class: 'editing-bar reply-bar', 'data-testid': 'reply-bar', hidden: true }, text, cancelButton);
  /** The message being answered. */
  let answering: string | null = null;
  /** The view's stored rows, by id, as last drawn. */
  let held = new Map<string, ViewMessage>();
  let unlit: ReturnType<typeof setTimeout> | undefined;

  /** The bar names the message answered as it is now (edited or deleted meanwhile). */
  const drawBar = () => {
    if (!answering) return;
    const q = original(chatId, answering, held);
    const who = typeof q === 'string' ? '' : q.senderId === state.me?.id ? 'yourself' : displayName(q.senderId);
    const what = q === 'loading' ? 'Loading…' : q === 'unavailable' ? 'Original message unavailable' : snippet(q);
    text.replaceChildren('Replying to ', h('strong', {}, who), who ? ': ' : '', h('span', { 'data-testid': 'reply-bar-snippet' }, what), ' — Esc to cancel');
  };

  const start = (id: string) => {
    starting();
    answering = id;
    drawBar();
    bar.hidden = false;
    input.setAttribute('aria-describedby', 'reply-bar-text');
    input.focus();
  };
  const stop = (focus: boolean) => {
    if (!answering) return;
    answering = null;
    bar.hidden = true;
    input.removeAttribute('aria-describedby');
    if (focus) input.focus();
  };
  cancelButton.addEventListener('click', () => stop(true));
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && answering) {
      ev.preventDefault();
      stop(true);
    }
  });

  const rowOf = (id: string) => list.querySelector<HTMLElement>(`[data-testid=message][data-id="${CSS.escape(id)}"]`);

  /**
   * Shows the message `id` (scrolled to, highlighted, focused), loading older history to find it
   * when it is further back than the rows held.
   */
  const show = async (id: string) => {
    let row = rowOf(id);
    for (let page = 0; !row && page < MAX_PAGES_BACK && hasMoreHistory(chatId); page++) {
      if (page === 0) announce('Loading older messages to find the original…');
      const before = sortedMessages(chatId).length;
      await older();
      row = rowOf(id);
      if (sortedMessages(chatId).length === before) break; // nothing came (offline)
    }
    if (!row) {
      announce(state.quoted.has(id) ? 'The original message is further back than the messages loaded.' : 'The original message is unavailable.');
      return;
    }
    const found = row;
    for (const lit of list.querySelectorAll('.highlight')) lit.classList.remove('highlight');
    found.scrollIntoView({ block: 'center' });
    found.classList.add('highlight');
    found.tabIndex = -1;
    found.focus({ preventScroll: true });
    clearTimeout(unlit);
    unlit = setTimeout(() => found.classList.remove('highlight'), HIGHLIGHT_MS);
  };

  const quote = (m: ViewMessage): { stamp: string; el: HTMLElement | null } => {
    if (!m.replyTo) return { stamp: '', el: null };
    const id = m.replyTo;
    const q = original(chatId, id, held);
    const kind = typeof q === 'string' ? q : q.deletedAt ? 'deleted' : 'shown';
    const who = typeof q === 'string' ? '' : displayName(q.senderId);
    const what = q === 'loading' ? 'Loading…' : q === 'unavailable' ? 'Original message unavailable' : snippet(q);
    const el = h(
      'button',
      { type: 'button', class: 'reply-quote', 'data-testid': 'reply-quote', 'data-state': kind, 'data-reply-to': id, title: 'Show the original message', onclick: () => void show(id) },
      h('span', { class: 'sr-only' }, 'In reply to '),
      who ? h('span', { class: 'reply-quote-name', 'data-testid': 'reply-quote-name' }, who) : null,
      h('span', { class: 'sr-only' }, ': '),
      h('span', { class: 'reply-quote-text', 'data-testid': 'reply-quote-text' }, what),
    );
    return { stamp: `${kind}|${who}|${what}`, el };
  };

  const rows = (msgs: ViewMessage[]) => {
    held = new Map(msgs.flatMap((m) => (m.id ? [[m.id, m] as const] : [])));
    drawBar();
    return (m: ViewMessage): RowReply => {
      const canReply = Boolean(m.id) && !m.pending && !m.deletedAt;
      const { stamp, el } = quote(m);
      const button = canReply ? h('button', { type: 'button', class: 'link', 'data-testid': 'reply-message', onclick: () => start(m.id!) }, 'Reply') : null;
      return { stamp: `${canReply}|${stamp}`, quote: el, button };
    };
  };

  return {
    bar,
    take: () => {
      const id = answering ?? undefined;
      stop(false);
      return id;
    },
    resume: (id) => {
      if (!answering && (held.has(id) || state.quoted.has(id))) start(id);
    },
    cancel: () => stop(false),
    show,
    rows,
  };
}
