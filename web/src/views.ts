// Screens. Each returns its root element and an optional cleanup; main.ts routes between them.
import { ApiError, auth, chats as chatsApi, describeError, users as usersApi } from './api';
import { announce, errorBox, field, formatTime, h, setTitle } from './dom';
import { textOf } from './e2e';
import { MAX_PLAINTEXT_CHARS } from './events';
import { encryptionNote, encryptionPanel } from './keysView';
import { offerButton as offerNotifications } from './notify';
import * as store from './store';
import type { Chat, PublicProfile, User } from './types';

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
}

function title(text: string): HTMLHeadingElement {
  return h('h1', { tabindex: -1 }, text);
}

function busy(button: HTMLButtonElement, on: boolean, label?: string): void {
  button.disabled = on;
  button.setAttribute('aria-busy', String(on));
  if (label) button.textContent = label;
}

// --- auth screens -----------------------------------------------------------------------------

export function loginView(app: AppActions, notice?: string): View {
  const login = field({ id: 'login', label: 'Username or email', autocomplete: 'username' });
  const password = field({ id: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { 'data-testid': 'login-form', novalidate: true }, login.wrap, password.wrap, err, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    busy(submit, true, 'Logging in…');
    try {
      const user = await auth.login(login.input.value.trim(), password.input.value);
      await app.signedIn(user);
    } catch (e) {
      err.textContent = describeError(e);
      if (e instanceof ApiError && e.code === 'email_not_verified' && login.input.value.includes('@')) {
        const email = login.input.value.trim().toLowerCase();
        err.append(' ', h('a', { href: `#/verify?email=${encodeURIComponent(email)}` }, 'Verify now'));
      }
      busy(submit, false, 'Log in');
    }
  });
  const params = new URLSearchParams(location.search);
  const oauthError = params.get('error');
  const el = h(
    'section',
    { class: 'card auth' },
    brand(),
    title('Log in'),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    oauthError ? h('p', { class: 'error', role: 'alert' }, 'Google sign-in failed. Please try again.') : null,
    form,
    googleButton(),
    h('p', { class: 'alt' }, 'New to Batiyoun? ', h('a', { href: '#/signup' }, 'Create an account')),
  );
  return { el, focus: login.input };
}

function brand(): HTMLElement {
  return h('p', { class: 'brand', 'aria-hidden': 'true' }, h('img', { src: '/icons/icon.svg', alt: '', width: 40, height: 40 }), 'Batiyoun');
}

let googleProbe: Promise<boolean> | null = null;
/** Whether the server has Google sign-in configured (it answers 404 when not). */
function googleEnabled(): Promise<boolean> {
  googleProbe ??= fetch('/api/auth/google', { redirect: 'manual', credentials: 'same-origin' })
    .then((r) => r.type === 'opaqueredirect' || (r.status >= 300 && r.status < 400))
    .catch(() => true);
  return googleProbe;
}

function googleButton(): HTMLElement {
  // A plain navigation: auth-api redirects to Google and back to the app with the session cookie.
  const wrap = h('div', { class: 'google-wrap' }, h('div', { class: 'divider', role: 'separator' }, 'or'), h('a', { class: 'button google', href: '/api/auth/google', 'data-testid': 'google' }, 'Continue with Google'));
  void googleEnabled().then((on) => {
    if (!on) wrap.hidden = true;
  });
  return wrap;
}

export function signupView(app: AppActions): View {
  const email = field({ id: 'email', label: 'Email', type: 'email', autocomplete: 'email' });
  const username = field({
    id: 'username',
    label: 'Username',
    autocomplete: 'username',
    hint: '3–32 characters: a–z, 0–9, _ and .',
    attrs: { pattern: '[a-z0-9_.]{3,32}', autocapitalize: 'none', spellcheck: 'false' },
  });
  const displayName = field({ id: 'displayName', label: 'Display name (optional)', autocomplete: 'name', required: false });
  const password = field({
    id: 'new-password',
    label: 'Password',
    type: 'password',
    autocomplete: 'new-password',
    hint: 'At least 12 characters. A passphrase works well.',
    attrs: { minlength: 12, maxlength: 128 },
  });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign up');
  const form = h('form', { 'data-testid': 'signup-form', novalidate: true }, email.wrap, username.wrap, displayName.wrap, password.wrap, err, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const pw = password.input.value;
    if ([...pw].length < 12) {
      err.textContent = 'Password: must be at least 12 characters.';
      password.input.focus();
      return;
    }
    busy(submit, true, 'Signing up…');
    try {
      const addr = email.input.value.trim().toLowerCase();
      await auth.signup({
        email: addr,
        username: username.input.value.trim().toLowerCase(),
        password: pw,
        ...(displayName.input.value.trim() ? { displayName: displayName.input.value.trim() } : {}),
      });
      app.go(`#/verify?email=${encodeURIComponent(addr)}`);
    } catch (e) {
      err.textContent = describeError(e);
      busy(submit, false, 'Sign up');
    }
  });
  const el = h(
    'section',
    { class: 'card auth' },
    brand(),
    title('Create your account'),
    form,
    googleButton(),
    h('p', { class: 'alt' }, 'Already have an account? ', h('a', { href: '#/login' }, 'Log in')),
  );
  return { el, focus: email.input };
}

export function verifyView(app: AppActions, email: string): View {
  const emailField = field({ id: 'verify-email', label: 'Email', type: 'email', autocomplete: 'email', value: email });
  const code = field({
    id: 'code',
    label: 'Verification code',
    autocomplete: 'one-time-code',
    hint: 'The 6-digit code we emailed you. It is valid for 10 minutes.',
    attrs: { inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: 6 },
  });
  const err = errorBox();
  const info = h('p', { class: 'notice', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Verify');
  const resend = h('button', { type: 'button', class: 'link' }, 'Send a new code');
  const form = h('form', { 'data-testid': 'verify-form', novalidate: true }, email ? null : emailField.wrap, code.wrap, err, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const c = code.input.value.replace(/\s/g, '');
    if (!/^\d{6}$/.test(c)) {
      err.textContent = 'Enter the 6 digits from the email.';
      code.input.focus();
      return;
    }
    busy(submit, true, 'Verifying…');
    try {
      const user = await auth.verifyOtp((email || emailField.input.value).trim().toLowerCase(), c);
      await app.signedIn(user);
    } catch (e) {
      err.textContent = describeError(e);
      busy(submit, false, 'Verify');
    }
  });
  resend.addEventListener('click', async () => {
    err.textContent = '';
    busy(resend, true);
    try {
      await auth.requestOtp((email || emailField.input.value).trim().toLowerCase());
      info.textContent = 'If that address has an account, a new code is on its way. You can ask again in a minute.';
      setTimeout(() => busy(resend, false), 60_000);
    } catch (e) {
      err.textContent = describeError(e);
      busy(resend, false);
    }
  });
  const el = h(
    'section',
    { class: 'card auth' },
    brand(),
    title('Check your email'),
    email ? h('p', {}, 'We sent a 6-digit code to ', h('strong', {}, email), '.') : null,
    form,
    info,
    h('p', { class: 'alt' }, 'No email? ', resend, ' · ', h('a', { href: '#/login' }, 'Back to log in')),
  );
  return { el, focus: email ? code.input : emailField.input };
}

// --- chat list --------------------------------------------------------------------------------

function avatar(name: string, userId?: string): HTMLElement {
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
  return h('span', { class: 'avatar', 'aria-hidden': label ? undefined : 'true' }, h('span', { 'aria-hidden': 'true' }, (name[0] || '?').toUpperCase()), dot, label ? h('span', { class: 'sr-only' }, `(${label})`) : null);
}

function topBar(app: AppActions, heading: HTMLElement, ...extra: HTMLElement[]): HTMLElement {
  return h(
    'header',
    { class: 'topbar' },
    heading,
    ...extra,
    h('button', { type: 'button', class: 'ghost', 'data-testid': 'logout', onclick: () => void app.logout() }, 'Log out'),
  );
}

export function chatListView(app: AppActions): View {
  const list = h('ul', { class: 'chat-list', 'data-testid': 'chat-list', 'aria-label': 'Chats' });
  const empty = h('p', { class: 'empty' }, 'No chats yet. Start one with “New chat”.');
  const heading = title('Chats');
  const me = store.state.me;
  const render = () => {
    const chats = store.sortedChats();
    empty.hidden = chats.length > 0;
    // Keep keyboard focus on the same chat across re-renders.
    const focused = list.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.chatId : undefined;
    list.replaceChildren(
      ...chats.map((c) => {
        const name = store.chatTitle(c);
        const other = store.otherParticipant(c);
        const last = c.lastMessage;
        const who = !last ? '' : last.senderId === me?.id ? 'You: ' : c.type === 'group' ? `${store.displayName(last.senderId)}: ` : '';
        const preview = last ? `${who}${textOf(last)}` : c.type === 'group' ? 'Group created' : 'No messages yet';
        const unread = c.unreadCount > 0 ? h('span', { class: 'badge', 'data-testid': 'unread' }, String(c.unreadCount), h('span', { class: 'sr-only' }, ' unread')) : null;
        return h(
          'li',
          {},
          h(
            'a',
            { href: `#/chat/${c.id}`, class: 'chat-item', 'data-testid': 'chat-item', 'data-chat-id': c.id },
            avatar(name, other),
            h('span', { class: 'chat-main' }, h('span', { class: 'chat-name' }, name, c.type === 'group' ? h('span', { class: 'tag' }, 'group') : null), h('span', { class: 'preview' }, preview)),
            h('span', { class: 'chat-side' }, c.lastMessageAt ? h('time', { datetime: c.lastMessageAt }, formatTime(c.lastMessageAt)) : null, unread),
          ),
        );
      }),
    );
    if (focused) list.querySelector<HTMLElement>(`[data-chat-id="${focused}"]`)?.focus();
  };
  render();
  const off = store.subscribe((t) => {
    if (t === 'chats' || t === 'presence') render();
  });
  const keys = encryptionPanel();
  const el = h(
    'section',
    { class: 'page' },
    topBar(app, heading),
    me ? h('p', { class: 'whoami' }, 'Signed in as ', h('strong', {}, `@${me.username}`)) : null,
    keys.el,
    h(
      'nav',
      { class: 'actions', 'aria-label': 'Start a conversation' },
      h('a', { class: 'button primary', href: '#/new', 'data-testid': 'new-chat' }, 'New chat'),
      h('a', { class: 'button', href: '#/group', 'data-testid': 'new-group' }, 'New group'),
      h('a', { class: 'button', href: '#/join', 'data-testid': 'join-group' }, 'Join group'),
      offerNotifications(),
    ),
    empty,
    list,
  );
  return {
    el,
    focus: heading,
    cleanup: () => {
      off();
      keys.cleanup();
    },
  };
}

// --- user search (shared by new chat and new group) -------------------------------------------

function userSearch(onPick: (p: PublicProfile) => void, pickLabel: (p: PublicProfile) => string): { el: HTMLElement; input: HTMLInputElement } {
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
              h('button', { type: 'button', class: 'result', 'data-testid': 'user-result', 'data-username': u.username, onclick: () => onPick(u) }, avatar(u.displayName || u.username), h('span', {}, h('strong', {}, u.displayName || u.username), ` @${u.username}`), h('span', { class: 'sr-only' }, ` — ${pickLabel(u)}`)),
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
function memberPicker(legend: string, onChange: () => void = () => {}): { el: HTMLFieldSetElement; picked: () => string[]; clear: () => void } {
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

function backLink(): HTMLElement {
  return h('a', { href: '#/', class: 'back', 'aria-label': 'Back to chats' }, '←');
}

export function newChatView(app: AppActions): View {
  const err = errorBox();
  const search = userSearch(
    async (u) => {
      err.textContent = '';
      try {
        store.rememberProfile(u);
        const chat = await chatsApi.direct(u.id);
        store.upsertChat(chat);
        app.go(`#/chat/${chat.id}`);
      } catch (e) {
        err.textContent = describeError(e);
      }
    },
    (u) => `start a chat with ${u.username}`,
  );
  const el = h('section', { class: 'page' }, h('header', { class: 'topbar' }, backLink(), title('New chat')), h('div', { class: 'card' }, search.el, err));
  return { el, focus: search.input };
}

export function newGroupView(app: AppActions): View {
  const name = field({ id: 'group-name', label: 'Group name', attrs: { maxlength: 100 } });
  const passcode = field({ id: 'group-passcode', label: 'Passcode (optional)', type: 'password', required: false, autocomplete: 'new-password', hint: '4–64 characters. Anyone with the group ID and passcode can join.', attrs: { minlength: 4, maxlength: 64 } });
  const members = memberPicker('Members');
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create group');
  const form = h('form', { 'data-testid': 'group-form', novalidate: true }, name.wrap, members.el, passcode.wrap, err, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    if (!name.input.value.trim()) {
      err.textContent = 'Give the group a name.';
      name.input.focus();
      return;
    }
    busy(submit, true, 'Creating…');
    try {
      const chat = await chatsApi.group(name.input.value.trim(), members.picked(), passcode.input.value || undefined);
      store.upsertChat(chat);
      app.go(`#/chat/${chat.id}`);
    } catch (e) {
      err.textContent = describeError(e);
      busy(submit, false, 'Create group');
    }
  });
  const el = h('section', { class: 'page' }, h('header', { class: 'topbar' }, backLink(), title('New group')), h('div', { class: 'card' }, form));
  return { el, focus: name.input };
}

export function joinView(app: AppActions): View {
  const id = field({ id: 'join-id', label: 'Group ID', hint: 'Ask a member: it is shown in the group’s details.', attrs: { pattern: '[0-9a-fA-F]{24}', autocapitalize: 'none', spellcheck: 'false' } });
  const passcode = field({ id: 'join-passcode', label: 'Passcode', type: 'password', autocomplete: 'off' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Join');
  const form = h('form', { 'data-testid': 'join-form', novalidate: true }, id.wrap, passcode.wrap, err, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const chatId = id.input.value.trim().toLowerCase();
    if (!/^[0-9a-f]{24}$/.test(chatId)) {
      err.textContent = 'A group ID is 24 characters of 0–9 and a–f.';
      id.input.focus();
      return;
    }
    busy(submit, true, 'Joining…');
    try {
      const chat = await chatsApi.join(chatId, passcode.input.value);
      store.upsertChat(chat);
      app.go(`#/chat/${chat.id}`);
    } catch (e) {
      err.textContent = describeError(e);
      busy(submit, false, 'Join');
    }
  });
  const el = h('section', { class: 'page' }, h('header', { class: 'topbar' }, backLink(), title('Join a group')), h('div', { class: 'card' }, form));
  return { el, focus: id.input };
}

// --- a conversation ---------------------------------------------------------------------------

const STATUS_TEXT: Record<ReturnType<typeof store.statusOf>, [string, string]> = {
  pending: ['🕓', 'Pending: will be sent when you are online'],
  sent: ['✓', 'Sent'],
  delivered: ['✓✓', 'Delivered'],
  read: ['✓✓', 'Read'],
  failed: ['!', 'Not sent'],
};

/** Members a group's details list at first, and how many more each "Show more members" adds. */
const MEMBER_PAGE = 100;
/** How long a group's details wait before asking again for members they could not fetch. */
const MEMBERS_RETRY_MS = 5_000;
/**
 * How long they wait before reading again pages older than the chat we hold (a change that came
 * while they were on their way, or an instance whose chat cache has not caught up yet).
 */
const MEMBERS_BEHIND_MS = 1_000;

/**
 * A group's member list, a page at a time (`GET /api/chats/{id}/members`, ordered by id): a
 * group may have 1,000 members, and the chat list and `chat_changed` leave them out. `sync` is
 * called with the chat whenever it changes: while `open`, the list is (re)loaded when the chat's
 * revision is newer than the pages shown, as far as they went. `row` draws one member.
 */
function pagedMembers(chatId: string, row: (member: string, chat: Chat) => HTMLLIElement) {
  const list = h('ul', { class: 'members', 'aria-label': 'Members' });
  const more = h('button', { type: 'button', class: 'link', 'data-testid': 'more-members', hidden: true }, 'Show more members');
  let shown: string[] = [];
  let cursor: string | null = null;
  /** The revision of the chat the shown pages were read at; none before the first. */
  let pagedAt: number | undefined;
  let latest: Chat | undefined;
  let open = false;
  let loading = false;
  let failed = false;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const draw = () => {
    if (!latest) return;
    const chat = latest;
    const rows = shown.map((p) => row(p, chat));
    if (failed) rows.push(h('li', {}, 'Could not load the members; trying again…'));
    else if (pagedAt === undefined) rows.push(h('li', {}, 'Loading members…'));
    list.replaceChildren(...rows);
    more.hidden = cursor === null;
  };
  const later = (ms: number, next: boolean) => {
    retry = setTimeout(() => {
      retry = undefined;
      if (open) void load(next);
    }, ms);
  };
  /** The first pages again (as many members as shown), or with `next` the page after them. */
  const load = async (next: boolean): Promise<void> => {
    if (loading || retry) return;
    loading = true;
    try {
      const page = await chatsApi.members(chatId, next ? cursor : null, next ? MEMBER_PAGE : Math.min(1000, Math.max(MEMBER_PAGE, shown.length)));
      shown = next ? [...shown, ...page.members] : page.members;
      cursor = page.nextCursor;
      pagedAt = page.revision;
      failed = false;
      void store.ensureProfiles(page.members);
    } catch {
      failed = true;
      later(MEMBERS_RETRY_MS, next);
    } finally {
      loading = false;
    }
    draw();
    if (open && !failed && latest && latest.revision > (pagedAt ?? -1)) later(MEMBERS_BEHIND_MS, false);
  };
  more.addEventListener('click', () => void load(true));

  return {
    el: h('div', {}, list, more),
    sync(chat: Chat, isOpen: boolean) {
      latest = chat;
      open = isOpen;
      draw();
      if (open && chat.revision > (pagedAt ?? -1)) void load(false);
    },
    close() {
      open = false;
      clearTimeout(retry);
    },
  };
}

/**
 * A group's details: its ID, its members, and what the user may do. Built once per chat view
 * (a re-render on every presence or chat change would wipe what is being typed); `render` updates
 * the member list and which controls show.
 */
function groupDetails(app: AppActions, chatId: string): { el: HTMLDetailsElement; render: (chat: Chat) => void; close: () => void } {
  const me = store.state.me!;
  const err = errorBox();
  /** Runs one change, its button (if any) busy meanwhile; a refusal is shown, not thrown. */
  const act = async (button: HTMLButtonElement | null, work: () => Promise<void>) => {
    err.textContent = '';
    if (button) busy(button, true);
    try {
      await work();
    } catch (e) {
      err.textContent = describeError(e);
    } finally {
      if (button) busy(button, false);
    }
  };
  const id = h('code', { 'data-testid': 'group-id' }, chatId);
  const how = h('p', {});
  const members = pagedMembers(chatId, (p, chat) => {
    const who = store.displayName(p);
    const isAdmin = chat.admins.includes(p);
    if (!chat.admins.includes(me.id) || p === me.id) return h('li', {}, who, isAdmin ? ' (admin)' : '');
    const change = (work: () => Promise<Chat>) => (ev: Event) => void act(ev.currentTarget as HTMLButtonElement, async () => store.upsertChat(await work()));
    // An admin's tools for another member: make them admin or not, remove them.
    const role = h(
      'button',
      { type: 'button', class: 'link', 'data-testid': isAdmin ? 'remove-admin' : 'make-admin', 'aria-label': isAdmin ? `Remove ${who} as admin` : `Make ${who} an admin`, onclick: change(() => chatsApi.setAdmin(chatId, p, !isAdmin)) },
      isAdmin ? 'Remove admin' : 'Make admin',
    );
    const remove = h('button', { type: 'button', class: 'chip-x', 'aria-label': `Remove ${who} from the group`, onclick: change(() => chatsApi.removeMember(chatId, p)) }, '×');
    return h('li', {}, who, isAdmin ? ' (admin) ' : ' ', role, remove);
  });

  const name = field({ id: 'rename-group', label: 'Group name', attrs: { maxlength: 100 } });
  const renameButton = h('button', { type: 'submit' }, 'Rename');
  const rename = h('form', { class: 'inline', novalidate: true }, name.wrap, renameButton);
  rename.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = name.input.value.trim();
    if (!value) return;
    void act(renameButton, async () => {
      store.upsertChat(await chatsApi.rename(chatId, value));
      announce(`Group renamed to ${value}`);
    });
  });
  const addButton = h('button', { type: 'button', 'data-testid': 'add-members', disabled: true }, 'Add');
  const showPicked = () => {
    const n = add.picked().length;
    addButton.disabled = n === 0;
    addButton.textContent = n > 1 ? `Add ${n} members` : 'Add';
  };
  const add = memberPicker('Add members', showPicked);
  addButton.addEventListener('click', () => {
    const ids = add.picked();
    if (!ids.length) return;
    // One request for all of them (up to 100; the server refuses more).
    void act(addButton, async () => {
      store.upsertChat(await chatsApi.addMembers(chatId, ids));
      announce(ids.length === 1 ? '1 member added' : `${ids.length} members added`);
      add.clear();
    }).then(showPicked);
  });
  const remove = h('button', { type: 'button', class: 'ghost danger', 'data-testid': 'delete-group' }, 'Delete group');
  remove.addEventListener('click', () => {
    if (!confirm('Delete this group and its messages for everyone?')) return;
    void act(remove, async () => {
      await chatsApi.remove(chatId);
      store.removeChat(chatId);
      app.go('#/');
    });
  });
  const admin = h('div', { class: 'admin' }, rename, add.el, addButton, remove);

  const leave = h('button', { type: 'button', class: 'ghost danger', 'data-testid': 'leave-group' }, 'Leave group');
  leave.addEventListener('click', () => {
    if (!confirm('Leave this group? You will no longer receive its messages.')) return;
    void act(leave, async () => {
      await chatsApi.removeMember(chatId, me.id);
      store.removeChat(chatId);
      app.go('#/');
    });
  });

  const el = h('details', { class: 'chat-info' }, h('summary', {}, 'Group details'), h('p', {}, 'Group ID: ', id), how, members.el, admin, err, leave);
  let shownName: string | undefined;
  let latest: Chat | undefined;
  // The members are fetched when the details are first opened, not with every chat view.
  el.addEventListener('toggle', () => latest && members.sync(latest, el.open));
  const render = (chat: Chat) => {
    latest = chat;
    const isAdmin = chat.admins.includes(me.id);
    how.textContent = chat.hasPasscode ? 'Others can join with this ID and the passcode.' : 'Members are added by an admin.';
    // Only a rename replaces the field's text: a name being typed survives other updates.
    if (chat.name !== shownName && document.activeElement !== name.input) {
      shownName = chat.name;
      name.input.value = chat.name ?? '';
    }
    admin.hidden = !isAdmin;
    members.sync(chat, el.open);
  };
  return { el, render, close: members.close };
}

export function chatView(app: AppActions, chatId: string): View {
  const me = store.state.me!;
  const heading = title('Chat');
  const subtitle = h('p', { class: 'subtitle', 'data-testid': 'chat-subtitle' });
  const note = encryptionNote(chatId);
  const group = groupDetails(app, chatId);
  const info = group.el;
  const list = h('ol', { class: 'messages', 'data-testid': 'messages', 'aria-label': 'Messages', tabindex: 0 });
  const older = h('button', { type: 'button', class: 'link older', 'data-testid': 'load-older' }, 'Load older messages');
  const scroller = h('div', { class: 'scroller', 'data-testid': 'scroller' }, older, list);
  const typing = h('p', { class: 'typing', 'data-testid': 'typing', 'aria-live': 'polite' });
  const input = h('textarea', { id: 'composer', rows: 1, maxlength: MAX_PLAINTEXT_CHARS, placeholder: 'Write a message…', autocomplete: 'off', 'data-testid': 'composer' });
  const send = h('button', { type: 'submit', class: 'primary send', 'data-testid': 'send' }, 'Send');
  const composer = h('form', { class: 'composer', 'data-testid': 'composer-form' }, h('label', { for: 'composer', class: 'sr-only' }, 'Message'), input, send);
  const els = new Map<string, HTMLLIElement>();
  let loadingOlder = false;

  let shown = false;
  const renderHeader = () => {
    const chat = store.state.chats.get(chatId);
    heading.textContent = chat ? store.chatTitle(chat) : 'Chat';
    setTitle(`${heading.textContent} · Batiyoun`);
    if (!chat) {
      subtitle.textContent = '';
      // We left, were removed, or the group was deleted.
      if (shown) app.go('#/');
      return;
    }
    shown = true;
    note.render(chat);
    const typers = store.typingUsers(chatId);
    typing.textContent = typers.length ? `${typers.map(store.displayName).join(', ')} ${typers.length === 1 ? 'is' : 'are'} typing…` : '';
    const other = store.otherParticipant(chat);
    if (other) {
      const p = store.state.presence.get(other);
      subtitle.textContent = p?.online ? 'Online' : p?.lastSeen ? `Last seen ${formatTime(p.lastSeen)}` : '';
      subtitle.dataset.online = p?.online ? 'true' : 'false';
    } else {
      subtitle.textContent = `${chat.membersOmitted ? chat.memberCount : chat.participants.length} members`;
    }
    if (chat.type === 'group') {
      group.render(chat);
      info.hidden = false;
    } else info.hidden = true;
  };

  const renderMessages = () => {
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    const msgs = store.sortedMessages(chatId);
    const keep = new Set<string>();
    let prev: Element | null = null;
    let mineAdded = false;
    for (const m of msgs) {
      keep.add(m.key);
      let li = els.get(m.key);
      const mine = m.senderId === me.id;
      if (!li) {
        li = h('li', { class: `msg ${mine ? 'mine' : 'theirs'}`, 'data-testid': 'message', 'data-client-msg-id': m.clientMsgId, 'data-mine': String(mine) });
        els.set(m.key, li);
        if (mine) mineAdded = true;
      }
      const status = store.statusOf(m);
      // The sender's name is part of it: a profile can arrive after its message.
      const render = `${m.content}|${status}|${m.id ?? ''}|${mine ? '' : store.displayName(m.senderId)}`;
      if (li.dataset.render !== render) {
        li.dataset.render = render;
        li.dataset.status = mine ? status : '';
        if (m.id) li.dataset.id = m.id;
        const meta = h('span', { class: 'meta' }, h('time', { datetime: m.timestamp }, formatTime(m.timestamp)));
        if (mine) {
          const [glyph, label] = STATUS_TEXT[status];
          meta.append(h('span', { class: `tick ${status}`, 'data-testid': 'tick', role: 'img', 'aria-label': m.failed ? `Not sent: ${m.failed}` : label, title: label }, glyph));
          if (m.failed) meta.append(h('button', { type: 'button', class: 'link', onclick: () => void store.discardFailed(chatId, m.clientMsgId) }, 'Discard'));
        }
        li.replaceChildren(
          store.state.chats.get(chatId)?.type === 'group' && !mine ? h('span', { class: 'sender', 'aria-hidden': 'true' }, store.displayName(m.senderId)) : '',
          h('p', { class: 'body', 'data-testid': 'message-body' }, h('span', { class: 'sr-only' }, `${mine ? 'You' : store.displayName(m.senderId)}: `), m.content),
          meta,
        );
      }
      const expected: Element | null = prev ? prev.nextElementSibling : list.firstElementChild;
      if (expected !== li) list.insertBefore(li, expected);
      prev = li;
    }
    for (const [k, li] of els) {
      if (!keep.has(k)) {
        li.remove();
        els.delete(k);
      }
    }
    older.hidden = !store.hasMoreHistory(chatId);
    if (nearBottom || mineAdded) scroller.scrollTop = scroller.scrollHeight;
  };

  const loadOlder = async () => {
    if (loadingOlder || !store.hasMoreHistory(chatId)) return;
    loadingOlder = true;
    older.setAttribute('aria-busy', 'true');
    const before = scroller.scrollHeight - scroller.scrollTop;
    try {
      await store.loadOlder(chatId);
      scroller.scrollTop = scroller.scrollHeight - before; // keep the reader's place
    } catch {
      /* offline: the cached history stays */
    } finally {
      loadingOlder = false;
      older.removeAttribute('aria-busy');
      older.hidden = !store.hasMoreHistory(chatId);
    }
  };
  older.addEventListener('click', () => void loadOlder());
  scroller.addEventListener('scroll', () => {
    if (scroller.scrollTop < 80) void loadOlder();
  });

  input.addEventListener('input', () => {
    if (input.value.trim()) store.sendTyping(chatId);
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    input.style.height = 'auto';
    void store.sendMessage(chatId, text);
    input.focus();
  });

  const off = store.subscribe((t) => {
    if (t === `messages:${chatId}` || t === 'profiles') renderMessages();
    else if (t === `incoming:${chatId}`) {
      const last = store.sortedMessages(chatId).filter((m) => m.senderId !== me.id).pop();
      if (last) announce(`New message from ${store.displayName(last.senderId)}: ${last.content}`);
    } else if (t === `typing:${chatId}` || t === 'presence' || t === 'chats') renderHeader();
  });

  store.openChat(chatId);
  renderHeader();
  renderMessages();
  scroller.scrollTop = scroller.scrollHeight;
  void store.loadCachedMessages(chatId);
  if (!store.state.history.has(chatId)) {
    loadingOlder = true;
    void store
      .loadOlder(chatId)
      .then(() => {
        scroller.scrollTop = scroller.scrollHeight;
        store.markOpenChatRead();
      })
      .catch(() => {})
      .finally(() => {
        loadingOlder = false;
        older.hidden = !store.hasMoreHistory(chatId);
      });
  }
  store.markOpenChatRead();

  const el = h(
    'section',
    { class: 'page chat', 'data-testid': 'chat-view', 'data-chat-id': chatId },
    h('header', { class: 'topbar' }, backLink(), h('div', { class: 'chat-title' }, heading, subtitle), h('button', { type: 'button', class: 'ghost', 'data-testid': 'logout', onclick: () => void app.logout() }, 'Log out')),
    note.el,
    info,
    scroller,
    typing,
    composer,
  );
  return {
    el,
    focus: input,
    cleanup: () => {
      group.close();
      off();
      note.cleanup();
      store.openChat(null);
      setTitle('Batiyoun');
    },
  };
}
