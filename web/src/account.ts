// Account settings (#/account, from the chat list's top bar): the display name, the profile
// picture (picture.ts), the email address (emailChange.ts), the password, where the user is
// signed in (their sessions, each of which they can sign out), and last the account deleted
// (deleteAccount.ts). A forgotten password is reset from the login screen instead (authViews.ts).
import { ApiError, auth, describeError, users } from './api';
import { announce, errorBox, field, h, setTitle } from './dom';
import * as store from './store';
import type { Session } from './types';
import { describeUserAgent } from './userAgent';
import { emailSection } from './emailChange';
import { pictureSection } from './picture';
import { deleteSection } from './deleteAccount';
import { backLink, busy, card, formError, markInvalid, newPasswordFields, title, type AppActions, type View } from './viewKit';

export function accountView(app: AppActions): View {
  const heading = title('Account');
  const sessions = sessionsSection();
  const picture = pictureSection(app);
  const el = h(
    'section',
    { class: 'page account', 'data-testid': 'account-view' },
    h('header', { class: 'topbar' }, backLink(), heading, h('button', { type: 'button', class: 'ghost', 'data-testid': 'logout', onclick: () => void app.logout() }, 'Log out')),
    profileSection(app),
    picture.el,
    emailSection(app),
    // A changed password signs the other sessions out: the list is read again.
    passwordSection(() => void sessions.load()),
    sessions.el,
    deleteSection(app),
  );
  setTitle('Account · Batiyoun');
  void sessions.load();
  return {
    el,
    focus: heading,
    cleanup: () => {
      picture.cleanup();
      setTitle('Batiyoun');
    },
  };
}

// --- profile ----------------------------------------------------------------------------------

function profileSection(app: AppActions): HTMLElement {
  const me = store.state.me!;
  const name = field({
    id: 'display-name',
    label: 'Display name',
    autocomplete: 'nickname',
    required: false,
    value: me.displayName ?? '',
    hint: 'What others see instead of your username: up to 64 characters. Leave it empty to show your username.',
  });
  const err = errorBox();
  const status = h('p', { class: 'notice', role: 'status', 'data-testid': 'profile-status' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save name');
  const clear = h('button', { type: 'button', 'data-testid': 'clear-name' }, 'Clear name');
  const form = h('form', { 'data-testid': 'profile-form', novalidate: true }, name.wrap, err, h('div', { class: 'form-actions' }, save, clear));
  const details = h('dl', { class: 'details' });
  const renderDetails = () => {
    const u = store.state.me ?? me;
    // The email address has a card of its own, with its change.
    details.replaceChildren(h('dt', {}, 'Username'), h('dd', { 'data-testid': 'account-username' }, `@${u.username}`));
    clear.disabled = !u.displayName;
  };
  renderDetails();

  /** Sends `value` (null clears the name), then shows what others now see. */
  const update = async (value: string | null, button: HTMLButtonElement) => {
    err.textContent = '';
    status.textContent = '';
    busy(button, true);
    try {
      const user = await users.updateMe(value);
      app.userChanged(user);
      name.input.value = user.displayName ?? '';
      status.textContent = user.displayName ? `Saved. Others now see you as ${user.displayName}.` : `Name cleared. Others now see your username, @${user.username}.`;
    } catch (e) {
      formError(err, e, { displayName: name.input });
    } finally {
      busy(button, false);
      renderDetails();
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    // The server trims it; an empty name is no name (the username shows).
    const value = name.input.value.trim();
    void update(value || null, save);
  });
  clear.addEventListener('click', () => void update(null, clear));
  return card('profile-title', 'Profile', details, form, status);
}

// --- password ---------------------------------------------------------------------------------

function passwordSection(changed: () => void): HTMLElement {
  const current = field({ id: 'current-password', label: 'Current password', type: 'password', autocomplete: 'current-password' });
  const { next, again, problem } = newPasswordFields({ next: 'new-password', again: 'new-password-again' });
  const err = errorBox();
  const status = h('p', { class: 'notice', role: 'status', 'data-testid': 'password-status' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Change password');
  const form = h('form', { 'data-testid': 'password-form', novalidate: true }, current.wrap, next.wrap, again.wrap, err, submit);

  /** Refuses locally what the server would refuse (or the user did not mean): the focus goes to `input`. */
  const refuse = (input: HTMLInputElement, text: string) => {
    err.textContent = text;
    markInvalid(input);
    input.focus();
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    status.textContent = '';
    const pw = next.input.value;
    if (!current.input.value) return refuse(current.input, 'Enter your current password.');
    const wrong = problem();
    if (wrong) return refuse(wrong.input, wrong.message);
    if (pw === current.input.value) return refuse(next.input, 'The new password is your current one. Choose another.');
    busy(submit, true, 'Changing…');
    try {
      const revoked = await auth.changePassword(current.input.value, pw);
      for (const f of [current, next, again]) f.input.value = '';
      status.textContent = `Password changed. ${revoked === 0 ? 'No other session was signed in.' : `${revoked} other session${revoked === 1 ? ' was' : 's were'} signed out.`}`;
      changed();
    } catch (e) {
      if (e instanceof ApiError && e.code === 'invalid_credentials') {
        refuse(current.input, 'Your current password is wrong.');
      } else if (e instanceof ApiError && e.body.fields?.currentPassword) {
        // An account made with Google has no password to give: it sets one as a forgotten one is.
        formError(err, e, { currentPassword: current.input, newPassword: next.input });
        err.append(' To set a password, log out and use “Forgot password?” on the login screen.');
      } else {
        formError(err, e, { currentPassword: current.input, newPassword: next.input });
      }
    } finally {
      busy(submit, false, 'Change password');
    }
  });
  return card('password-title', 'Password', form, status);
}

// --- sessions ---------------------------------------------------------------------------------

/** "just now", "5 minutes ago", "3 hours ago", else the date and time. */
function when(instant: string): HTMLTimeElement {
  const d = new Date(instant);
  const ago = Date.now() - d.getTime();
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const text =
    ago < 60_000
      ? 'just now'
      : ago < 3_600_000
        ? rtf.format(-Math.floor(ago / 60_000), 'minute')
        : ago < 86_400_000
          ? rtf.format(-Math.floor(ago / 3_600_000), 'hour')
          : d.toLocaleString([], { year: d.getFullYear() === new Date().getFullYear() ? undefined : 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, text);
}

/**
 * Where the user is signed in, most recently active first, this browser marked "This device".
 * Every other session can be signed out, one at a time or all at once; this one is not offered
 * (Log out does that).
 */
function sessionsSection(): { el: HTMLElement; load: () => Promise<void> } {
  const list = h('ul', { class: 'sessions', 'data-testid': 'sessions', 'aria-label': 'Sessions' });
  const err = errorBox();
  const status = h('p', { class: 'notice', role: 'status', 'data-testid': 'sessions-status' });
  const others = h('button', { type: 'button', 'data-testid': 'revoke-others', hidden: true }, 'Sign out all other sessions');
  const reload = h('button', { type: 'button', class: 'link', 'data-testid': 'reload-sessions' }, 'Refresh');
  const el = card(
    'sessions-title',
    'Where you’re signed in',
    h('p', { class: 'hint' }, 'Sign out a device you no longer use or do not recognise. Its next request fails, and it returns to the login screen.'),
    list,
    err,
    status,
    h('div', { class: 'form-actions' }, others, reload),
  );
  const headingEl = el.querySelector('h2')!;
  let seq = 0;

  const load = async () => {
    const mine = ++seq;
    list.setAttribute('aria-busy', 'true');
    try {
      const sessions = await auth.sessions();
      if (mine !== seq) return;
      err.textContent = '';
      list.replaceChildren(...sessions.map(row));
      others.hidden = !sessions.some((s) => !s.current);
    } catch (e) {
      if (mine === seq) err.textContent = `Could not read your sessions: ${describeError(e)}`;
    } finally {
      if (mine === seq) list.removeAttribute('aria-busy');
    }
  };

  const row = (s: Session): HTMLLIElement => {
    const name = describeUserAgent(s.userAgent);
    const li = h(
      'li',
      { class: 'session', 'data-testid': 'session', 'data-session-id': s.id, 'data-current': String(s.current) },
      h('p', { class: 'session-name' }, h('strong', { title: s.userAgent ?? '' }, name), s.current ? h('span', { class: 'tag', 'data-testid': 'this-device' }, 'This device') : null),
      h('p', { class: 'hint' }, 'Signed in ', when(s.createdAt), ' · last active ', when(s.lastActiveAt)),
    );
    if (!s.current) {
      const out = h('button', { type: 'button', class: 'ghost', 'data-testid': 'revoke-session', 'aria-label': `Sign out ${name}, signed in ${when(s.createdAt).textContent}` }, 'Sign out');
      out.addEventListener('click', () => void revoke(s, name, out));
      li.append(out);
    }
    return li;
  };

  const revoke = async (s: Session, name: string, button: HTMLButtonElement) => {
    err.textContent = '';
    status.textContent = '';
    busy(button, true);
    try {
      await auth.revokeSession(s.id);
      status.textContent = `Signed out ${name}.`;
    } catch (e) {
      // Gone already (it logged out, or expired): the list was out of date.
      if (!(e instanceof ApiError && e.code === 'not_found')) {
        err.textContent = describeError(e);
        busy(button, false);
        return;
      }
      status.textContent = `${name} was already signed out.`;
    }
    // Its button is gone with its row: the focus goes to the section's heading.
    headingEl.focus();
    await load();
  };

  others.addEventListener('click', async () => {
    err.textContent = '';
    status.textContent = '';
    busy(others, true);
    try {
      const n = await auth.revokeOtherSessions();
      status.textContent = n === 0 ? 'No other session was signed in.' : `Signed out ${n} other session${n === 1 ? '' : 's'}.`;
      headingEl.focus();
      await load();
    } catch (e) {
      err.textContent = describeError(e);
    } finally {
      busy(others, false);
    }
  });
  reload.addEventListener('click', () => {
    status.textContent = '';
    void load().then(() => announce('Sessions refreshed'));
  });
  return { el, load };
}
