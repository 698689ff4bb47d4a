// The composer's @mention autocomplete: `@` typed at a word's start, then what follows it, lists
// the chat's members whose username or name begins so (mentions.ts `mentionable`), as Slack and
// Element do. The textarea keeps its own role (a multi-line text box) and tells assistive
// technology of the list as GitHub's comment box does: `aria-autocomplete`, `aria-expanded`,
// `aria-controls`, and `aria-activedescendant` naming the option chosen by the arrows. The list
// takes ArrowUp/ArrowDown, Enter and Tab (choose: Enter does not send), Escape (close) and
// clicks before the composer's own keys do, so it must be made before them.
import { h } from './dom';
import { mentionable, type Mentionable } from './mentions';
import { state, subscribe } from './state';

/** Most members the list shows. */
const MAX_OPTIONS = 8;
/** The `@word` being written just before the caret: `@` at a word's start and up to 32 username characters. */
const TYPING = /(?<![\p{L}\p{N}_])@([a-z0-9_.]{0,32})$/iu;

/** Lower case, accents left out: "Éva" is found by "eva". */
const fold = (s: string) => s.normalize('NFKD').replace(/\p{M}/gu, '').toLocaleLowerCase();

/**
 * Those of `members` that `query` (lower case) starts the username of, or the name or one of its
 * words: the username's matches first, then by name; at most MAX_OPTIONS, the user left out.
 */
export function matching(members: Iterable<Mentionable>, query: string, me: string | undefined): Mentionable[] {
  const q = fold(query);
  const scored: { m: Mentionable; rank: number }[] = [];
  for (const m of members) {
    if (m.id === me) continue;
    const name = fold(m.name);
    const rank = m.username.startsWith(q) ? 0 : name.startsWith(q) || name.split(/\s+/).some((w) => w.startsWith(q)) ? 1 : -1;
    if (rank >= 0) scored.push({ m, rank });
  }
  scored.sort((a, b) => a.rank - b.rank || a.m.name.localeCompare(b.m.name) || a.m.username.localeCompare(b.m.username));
  return scored.slice(0, MAX_OPTIONS).map((s) => s.m);
}

/**
 * The autocomplete of `input`, the composer of `chatId`: `el` (the listbox, to place just
 * above the textarea) and `cleanup`. Choosing puts `@username ` in place of what was typed
 * after the `@`, the caret after it, and tells the composer (`input` event: draft, size, typing).
 */
export function mentionPicker(input: HTMLTextAreaElement, chatId: string): { el: HTMLElement; cleanup: () => void } {
  const listId = `mention-options-${chatId}`;
  const el = h('ul', { id: listId, class: 'mention-options', role: 'listbox', 'aria-label': 'Members to mention', 'data-testid': 'mention-options', hidden: true });
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-haspopup', 'listbox');
  input.setAttribute('aria-controls', listId);
  input.setAttribute('aria-expanded', 'false');
  let options: Mentionable[] = [];
  let active = 0;
  /** Where the `@` being completed starts, and where Escape closed the list last (not reopened there). */
  let start = -1;
  let dismissedAt = -1;

  const close = () => {
    options = [];
    start = -1;
    el.hidden = true;
    el.replaceChildren();
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  };
  const draw = () => {
    el.replaceChildren(
      ...options.map((m, i) =>
        h(
          'li',
          { id: `${listId}-${i}`, role: 'option', class: 'mention-option', 'aria-selected': String(i === active), 'data-testid': 'mention-option', 'data-username': m.username },
          h('strong', {}, m.name),
          h('span', { class: 'username' }, ` @${m.username}`),
        ),
      ),
    );
    el.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    input.setAttribute('aria-activedescendant', `${listId}-${active}`);
  };
  /** Looks at what is typed before the caret: an `@word` opens (or narrows) the list, anything else closes it. */
  const update = () => {
    const caret = input.selectionStart;
    const typed = caret === input.selectionEnd ? TYPING.exec(input.value.slice(0, caret)) : null;
    if (!typed) {
      dismissedAt = -1;
      return close();
    }
    const at = caret - typed[0].length;
    if (at === dismissedAt) return close();
    const found = matching(mentionable(chatId).values(), typed[1], state.me?.id);
    if (!found.length) return close();
    if (at !== start || found[active]?.username !== options[active]?.username) active = 0;
    start = at;
    options = found;
    draw();
  };
  const choose = (m: Mentionable) => {
    const caret = input.selectionStart;
    input.setRangeText(`@${m.username} `, start, caret, 'end');
    close();
    input.focus();
    input.dispatchEvent(new Event('input', { bubbles: true }));
  };

  input.addEventListener('input', update);
  input.addEventListener('click', update);
  input.addEventListener('keyup', (ev) => {
    if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight' || ev.key === 'Home' || ev.key === 'End') update();
  });
  input.addEventListener('blur', close);
  input.addEventListener('keydown', (ev) => {
    if (el.hidden || ev.isComposing) return;
    const handled = () => {
      ev.preventDefault();
      // Before the composer's own keys: Enter does not send, Escape ends no edit or reply.
      ev.stopImmediatePropagation();
    };
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      handled();
      active = (active + (ev.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length;
      draw();
    } else if ((ev.key === 'Enter' && !ev.shiftKey) || ev.key === 'Tab') {
      handled();
      choose(options[active]);
    } else if (ev.key === 'Escape') {
      handled();
      dismissedAt = start;
      close();
    }
  });
  // A click chooses, and the textarea keeps the focus (and so its caret).
  el.addEventListener('mousedown', (ev) => ev.preventDefault());
  el.addEventListener('click', (ev) => {
    const option = (ev.target as Element).closest<HTMLElement>('[role=option]');
    const m = option && options[Number(option.id.slice(listId.length + 1))];
    if (m) choose(m);
  });
  // The chat's members, read as it opens, or a profile come since: the list shows them.
  const off = subscribe((topic) => {
    if (topic === 'profiles' && document.activeElement === input) update();
  });
  return { el, cleanup: off };
}
