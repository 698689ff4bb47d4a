// What the screens share: the view contract main.ts routes with, headings, busy buttons, avatars
// (a profile picture or an initial), and the username search (with its picker of several users).
import { ApiError, describeError, users as usersApi } from './api';
import { chatPictureSrc, heldChatPicture, loadChatPicture } from './chatPictures';
import { announce, field, formatTime, h } from './dom';
import * as store from './store';
import type { DeleteAccountProof, PublicProfile, User } from './types';

export interface View {
  el: HTMLElement;
  /** What gets focus after navigation (defaults to the h1). */
  focus?: HTMLElement;
  cleanup?: () => void;
}

export interface AppActions {
  signedIn(user: User): Promise<void>;
  logout(): Promise<void>;
  go(hash: string): void;
  /** The signed-in user's account changed (their display name): kept, and shown where they are. */
  userChanged(user: User): void;
  /**
   * Deletes the account with `proof`, then forgets it in this browser and shows the login
   * screen saying so; throws the server's refusal (nothing deleted, still signed in).
   */
  deleteAccount(proof: DeleteAccountProof): Promise<void>;
}

export function title(text: string): HTMLHeadingElement {
  return h('h1', { tabindex: -1 }, text);
}

/** A card of a settings page, named by its heading (an h2 that can take the focus). */
export function card(id: string, heading: string, ...children: (Node | string | null)[]): HTMLElement {
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id, tabindex: -1 }, heading), ...children);
}

export function backLink(): HTMLElement {
  return h('a', { href: '#/', class: 'back', 'aria-label': 'Back to chats' }, '←');
}

/** The server's bounds on a password (`validate_password`), checked here first to save a round trip. */
const MIN_PASSWORD = 12;
const MAX_PASSWORD = 128;

/**
 * A new password and its repetition (the Password card, the reset form), and the check the page
 * makes before sending it: what is wrong, with the field to mark, or null.
 */
export function newPasswordFields(ids: { next: string; again: string }, label = 'New password'): {
  next: ReturnType<typeof field>;
  again: ReturnType<typeof field>;
  problem: () => { input: HTMLInputElement; message: string } | null;
} {
  const next = field({
    id: ids.next,
    label,
    type: 'password',
    autocomplete: 'new-password',
    hint: `${MIN_PASSWORD}–${MAX_PASSWORD} characters. A passphrase works well. Your other devices will be signed out.`,
  });
  const again = field({ id: ids.again, label: `${label} again`, type: 'password', autocomplete: 'new-password' });
  const problem = () => {
    const length = [...next.input.value].length;
    if (length < MIN_PASSWORD || length > MAX_PASSWORD) return { input: next.input, message: `New password: must be ${MIN_PASSWORD}–${MAX_PASSWORD} characters.` };
    if (next.input.value !== again.input.value) return { input: again.input, message: 'The two new passwords differ.' };
    return null;
  };
  return { next, again, problem };
}

/** A field for a 6-digit code mailed to the user (valid for 10 minutes). */
export function codeField(id: string, label: string, hint: string): ReturnType<typeof field> {
  return field({ id, label, autocomplete: 'one-time-code', hint, attrs: { inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: 6 } });
}

/** Marks `input` invalid for screen readers until it is edited. */
export function markInvalid(input: HTMLInputElement): void {
  input.setAttribute('aria-invalid', 'true');
  input.addEventListener('input', () => input.removeAttribute('aria-invalid'), { once: true });
}

/**
 * Says in a form's alert `err` why its request failed. The fields the server names (`fields`,
 * by their JSON names: `newPassword`) are called by their labels ("New password: must be…"),
 * marked invalid, and the first of them gets the focus.
 */
export function formError(err: HTMLElement, e: unknown, inputs: Record<string, HTMLInputElement> = {}): void {
  const labels = Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, input.labels?.[0]?.textContent ?? name]));
  err.textContent = describeError(e, labels);
  const named = e instanceof ApiError ? Object.keys(e.body.fields ?? {}).flatMap((f) => (inputs[f] ? [inputs[f]] : [])) : [];
  for (const input of named) markInvalid(input);
  named[0]?.focus();
}

export function busy(button: HTMLButtonElement, on: boolean, label?: string): void {
  button.disabled = on;
  button.setAttribute('aria-busy', String(on));
  if (label) button.textContent = label;
}

/**
 * Where a profile picture may be loaded from: `url` when it is this origin's `/api/users/…` (as
 * auth-api names a picture), else null. A third-party image would tell its site who looks at
 * whom, and an older server gave Google accounts Google's picture URL.
 */
export function avatarSrc(url: string | null | undefined): string | null {
  if (!url?.startsWith('/api/users/')) return null;
  try {
    const u = new URL(url, location.origin);
    return u.origin === location.origin && u.pathname.startsWith('/api/users/') ? url : null;
  } catch {
    return null;
  }
}

/**
 * Pictures that failed to load in this page (offline, gone): their initials show instead, and
 * the lists drawn again on every presence change do not ask for them again until the browser is
 * back online.
 */
const brokenPictures = new Set<string>();
addEventListener('online', () => brokenPictures.clear());

/**
 * A user's (or a group's) circle: their picture, else the initial of `name`, with `userId`'s
 * presence dot. `picture` defaults to `userId`'s (`store.pictureOf`); a group's is its
 * `Chat.picture`. A picture is decorative (alt="", the name is written beside it) and falls back
 * to the initial if it fails. A profile picture is loaded by its address; a group's is fetched
 * with the token (chatPictures.ts), the initial showing until it comes.
 */
export function avatar(name: string, userId?: string, picture: string | null = userId ? store.pictureOf(userId) : null): HTMLElement {
  const p = userId ? store.state.presence.get(userId) : undefined;
  const dot = userId
    ? h('span', {
        class: `presence ${p?.online ? 'online' : p ? 'offline' : 'unknown'}`,
        'data-testid': 'presence',
        'data-online': p?.online ? 'true' : 'false',
        title: p?.online ? 'Online' : p?.lastSeen ? `Last seen ${formatTime(p.lastSeen)}` : 'Offline',
      })
    : null;
  const label = userId ? (p?.online ? 'online' : 'offline') : '';
  const initial = h('span', { 'aria-hidden': 'true' }, (name[0] || '?').toUpperCase());
  const src = avatarSrc(picture);
  const group = src ? null : chatPictureSrc(picture);
  const address = src ?? group;
  let img: HTMLImageElement | null = null;
  if (address && !brokenPictures.has(address)) {
    const shown = h('img', { alt: '', 'aria-hidden': 'true', draggable: 'false', decoding: 'async', 'data-testid': 'avatar-image' });
    img = shown;
    const show = (url: string) => {
      shown.src = url;
      initial.hidden = true;
    };
    const broken = () => {
      brokenPictures.add(address);
      shown.remove();
      initial.hidden = false;
    };
    shown.addEventListener('error', broken, { once: true });
    if (src) show(src);
    else if (group) {
      const held = heldChatPicture(group);
      if (held) show(held);
      else loadChatPicture(group).then(show, broken);
    }
  }
  return h('span', { class: 'avatar', 'data-testid': 'avatar', 'aria-hidden': label ? undefined : 'true' }, initial, img, dot, label ? h('span', { class: 'sr-only' }, `(${label})`) : null);
}

// --- user search (shared by new chat and new group) -------------------------------------------

export function userSearch(onPick: (p: PublicProfile) => void, pickLabel: (p: PublicProfile) => string): { el: HTMLElement; input: HTMLInputElement } {
  const q = field({ id: 'user-search', label: 'Search by username', type: 'search', required: false, autocomplete: 'off', attrs: { autocapitalize: 'none', spellcheck: 'false', 'aria-controls': 'user-results' } });
  const results = h('ul', { id: 'user-results', class: 'results', 'aria-label': 'Matching users', 'data-testid': 'user-results' });
  const status = h('p', { class: 'hint', role: 'status' });
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  q.input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const term = q.input.value.trim().toLowerCase().replace(/^@/, '');
      const mine = ++seq;
      if (!term) {
        results.replaceChildren();
        status.textContent = '';
        return;
      }
      try {
        const found = (await usersApi.search(term)).filter((u) => u.id !== store.state.me?.id);
        if (mine !== seq) return;
        status.textContent = found.length ? `${found.length} user${found.length === 1 ? '' : 's'} found` : 'No users found';
        results.replaceChildren(
          ...found.map((u) =>
            h(
              'li',
              {},
              h('button', { type: 'button', class: 'result', 'data-testid': 'user-result', 'data-username': u.username, onclick: () => onPick(u) }, avatar(u.displayName || u.username, undefined, u.avatar), h('span', {}, h('strong', {}, u.displayName || u.username), ` @${u.username}`), h('span', { class: 'sr-only' }, ` — ${pickLabel(u)}`)),
            ),
          ),
        );
      } catch (e) {
        if (mine === seq) status.textContent = describeError(e);
      }
    }, 200);
  });
  return { el: h('div', { class: 'search' }, q.wrap, status, results), input: q.input };
}

/**
 * A username search whose picks gather as removable chips: the members of a new group, or
 * members to add to one in a single request. `onChange` runs after every pick or removal.
 */
export function memberPicker(legend: string, onChange: () => void = () => {}): { el: HTMLFieldSetElement; picked: () => string[]; clear: () => void } {
  const members = new Map<string, PublicProfile>();
  const chips = h('ul', { class: 'chips', 'aria-label': 'Picked users' });
  const changed = () => {
    chips.replaceChildren(
      ...[...members.values()].map((m) =>
        h('li', {}, `@${m.username} `, h('button', { type: 'button', class: 'chip-x', 'aria-label': `Remove ${m.username}`, onclick: () => (members.delete(m.id), changed()) }, '×')),
      ),
    );
    onChange();
  };
  const search = userSearch(
    (u) => {
      members.set(u.id, u);
      store.rememberProfile(u);
      changed();
      announce(`${u.username} picked`);
    },
    (u) => `pick ${u.username}`,
  );
  const clear = () => {
    members.clear();
    search.input.value = '';
    search.input.dispatchEvent(new Event('input'));
    changed();
  };
  return { el: h('fieldset', {}, h('legend', {}, legend), search.el, chips), picked: () => [...members.keys()], clear };
}
