// Searching messages (`#/search`), as Element and Signal do with end-to-end encryption: on this
// device, in the messages it holds, opened. The server cannot search what it cannot read, and
// is not asked to for what it could (plaintext chats), so one search covers both alike. What
// this device never loaded (history further back than it scrolled) is not found; the page says
// so. Matching ignores case and accents ("CAFE" finds "café"); each result names its chat, its
// sender and when, with the words found marked, and opens the chat at that message.
import { summary } from './attachments';
import * as db from './db';
import { field, formatTime, h } from './dom';
import { textOf } from './e2e';
import * as store from './store';
import type { Message } from './types';
import { backLink, title, type View } from './viewKit';

/** Most results one search shows. */
export const MAX_RESULTS = 50;
/** Fewest characters searched for. */
const MIN_CHARS = 2;
/** How long typing pauses before the search runs. */
const PAUSE_MS = 200;

/** `s` as searched: lower-cased, accents and other combining marks taken off. */
export function folded(s: string): string {
  return s.normalize('NFKD').replace(/\p{M}/gu, '').toLocaleLowerCase();
}

/** What a message is searched by: its text or its file's name, once opened; null if it has none. */
function searchable(m: Message): string | null {
  if (m.deletedAt || (m.encrypted && m.plain == null)) return null;
  return summary(m.type, textOf(m));
}

/**
 * `text` with what matches `query` (folded) marked. Folding keeps a character's length for all
 * but a few (ligatures), so positions found in the folded text are mapped back character by
 * character; where they cannot be, the text is shown unmarked.
 */
function marked(text: string, query: string): (Node | string)[] {
  const chars = [...text];
  const foldedChars = chars.map(folded);
  if (foldedChars.some((c) => [...c].length !== 1)) return [text];
  const hay = foldedChars.join('');
  const parts: (Node | string)[] = [];
  let from = 0;
  for (let at = hay.indexOf(query); at !== -1; at = hay.indexOf(query, at + query.length)) {
    parts.push(chars.slice(from, at).join(''), h('mark', {}, chars.slice(at, at + query.length).join('')));
    from = at + query.length;
  }
  parts.push(chars.slice(from).join(''));
  return parts;
}

export function searchView(): View {
  const heading = title('Search messages');
  const box = field({
    id: 'message-search',
    label: 'Search messages on this device',
    type: 'search',
    required: false,
    autocomplete: 'off',
    hint: 'Messages are end-to-end encrypted, so only those this device has loaded are searched.',
    attrs: { 'data-testid': 'message-search', spellcheck: 'false' },
  });
  const status = h('p', { class: 'hint', role: 'status', 'data-testid': 'search-status' });
  const results = h('ul', { class: 'results search-results', 'aria-label': 'Messages found', 'data-testid': 'search-results' });
  let asked = 0;
  let pause: ReturnType<typeof setTimeout> | undefined;

  const run = async () => {
    const query = folded(box.input.value.trim());
    const mine = ++asked;
    if ([...query].length < MIN_CHARS) {
      results.replaceChildren();
      status.textContent = query ? `Type at least ${MIN_CHARS} characters.` : '';
      return;
    }
    const found = await db.findMessages((m) => {
      const text = searchable(m);
      return text !== null && store.state.chats.has(m.chatId) && folded(text).includes(query);
    }, MAX_RESULTS);
    if (mine !== asked) return; // a newer search is on its way
    await store.ensureProfiles([...new Set(found.map((m) => m.senderId))]);
    if (mine !== asked) return;
    results.replaceChildren(...found.map((m) => row(m, query)));
    status.textContent =
      found.length === 0
        ? 'No messages on this device match.'
        : `${found.length}${found.length === MAX_RESULTS ? '+' : ''} message${found.length === 1 ? '' : 's'} found.`;
  };
  box.input.addEventListener('input', () => {
    clearTimeout(pause);
    pause = setTimeout(() => void run(), PAUSE_MS);
  });

  const row = (m: Message, query: string) => {
    const chat = store.state.chats.get(m.chatId);
    const where = chat ? store.chatTitle(chat) : 'A chat';
    const who = m.senderId === store.state.me?.id ? 'You' : store.displayName(m.senderId);
    return h(
      'li',
      {},
      h(
        'a',
        { class: 'result search-result', href: `#/chat/${m.chatId}?m=${encodeURIComponent(m.id)}`, 'data-testid': 'search-result', 'data-chat-id': m.chatId, 'data-id': m.id },
        h('span', { class: 'result-head' }, h('strong', {}, where), ' · ', who, ' · ', h('time', { datetime: m.timestamp }, formatTime(m.timestamp))),
        h('span', { class: 'preview' }, ...marked(searchable(m) ?? '', query)),
      ),
    );
  };

  const el = h('section', { class: 'page' }, h('header', { class: 'topbar' }, backLink(), heading), h('div', { class: 'card' }, box.wrap, status, results));
  return { el, focus: box.input, cleanup: () => clearTimeout(pause) };
}
