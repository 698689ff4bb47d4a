// The screens before signing in: log in (password or Google), sign up, the emailed code, and a
// forgotten password (a code by email, then a new password: signed in as by the code).
import { ApiError, auth, describeError } from './api';
import { announce, errorBox, field, h } from './dom';
import type { User } from './types';
import { busy, codeField, formError, markInvalid, newPasswordFields, title, type AppActions, type View } from './viewKit';

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
  // The address typed to log in, if it is one, is carried to the next screen.
  const forgot = h('a', { href: '#/forgot', 'data-testid': 'forgot-password' }, 'Forgot password?');
  forgot.addEventListener('click', () => {
    const typed = login.input.value.trim().toLowerCase();
    forgot.href = typed.includes('@') ? `#/forgot?email=${encodeURIComponent(typed)}` : '#/forgot';
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
    h('p', { class: 'alt' }, forgot),
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
  const code = codeField('code', 'Verification code', 'The 6-digit code we emailed you. It is valid for 10 minutes.');
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
      await signIn(app, () => auth.verifyOtp((email || emailField.input.value).trim().toLowerCase(), c));
    } catch (e) {
      err.textContent = describeError(e);
      busy(submit, false, 'Verify');
    }
  });
  resend.addEventListener('click', () => void sendAgain(resend, err, info, (email || emailField.input.value).trim().toLowerCase()));
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

/**
 * Signs in with what `call` answers (a code checked, a password reset): both are answered as
 * `verify-otp` is, with the user, an access token and the session cookie.
 */
async function signIn(app: AppActions, call: () => Promise<User>): Promise<void> {
  await app.signedIn(await call());
}

/** "Send a new code": asks for one (`request-otp`), then waits a minute before offering it again. */
async function sendAgain(button: HTMLButtonElement, err: HTMLElement, info: HTMLElement, email: string): Promise<void> {
  err.textContent = '';
  info.textContent = '';
  busy(button, true);
  try {
    await auth.requestOtp(email);
    info.textContent = 'If that address has an account, a new code is on its way. You can ask again in a minute.';
    setTimeout(() => busy(button, false), 60_000);
  } catch (e) {
    err.textContent = describeError(e);
    busy(button, false);
  }
}

// --- a forgotten password ---------------------------------------------------------------------

/** The server's bounds on a password, checked here first. */

/** Asks for the account's email and sends it a code (`request-otp`), then on to `resetView`. */
export function forgotView(app: AppActions, email: string): View {
  const addr = field({ id: 'forgot-email', label: 'Email', type: 'email', autocomplete: 'email', value: email });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Send code');
  const form = h('form', { 'data-testid': 'forgot-form', novalidate: true }, addr.wrap, err, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const value = addr.input.value.trim().toLowerCase();
    if (!/^[^@\s]+@[^@\s]+$/.test(value)) {
      err.textContent = 'Enter the email address of your account.';
      markInvalid(addr.input);
      addr.input.focus();
      return;
    }
    const next = `#/reset?email=${encodeURIComponent(value)}`;
    busy(submit, true, 'Sending…');
    try {
      await auth.requestOtp(value);
      app.go(next);
    } catch (e) {
      err.textContent = describeError(e);
      // Refused for asking again too soon: the code sent a moment ago still works.
      if (e instanceof ApiError && e.code === 'rate_limited') err.append(' ', h('a', { href: next }, 'Enter a code you already have'));
      busy(submit, false, 'Send code');
    }
  });
  const el = h(
    'section',
    { class: 'card auth' },
    brand(),
    title('Reset your password'),
    h('p', {}, 'Enter the email address of your account. We will send it a 6-digit code to set a new password with.'),
    form,
    h('p', { class: 'alt' }, h('a', { href: '#/login' }, 'Back to log in')),
  );
  return { el, focus: addr.input };
}

/**
 * The code and a new password (`reset-password`): the user is signed in as after `verify-otp`,
 * and every other session of the account is signed out.
 */
export function resetView(app: AppActions, email: string): View {
  const emailField = field({ id: 'reset-email', label: 'Email', type: 'email', autocomplete: 'email', value: email });
  const code = codeField('reset-code', 'Code', 'The 6-digit code we emailed you. It is valid for 10 minutes.');
  const { next: password, again, problem } = newPasswordFields({ next: 'reset-password', again: 'reset-again' });
  const err = errorBox();
  const info = h('p', { class: 'notice', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Set password and log in');
  const resend = h('button', { type: 'button', class: 'link', 'data-testid': 'resend-code' }, 'Send a new code');
  const form = h('form', { 'data-testid': 'reset-form', novalidate: true }, email ? null : emailField.wrap, code.wrap, password.wrap, again.wrap, err, submit);
  const address = () => (email || emailField.input.value).trim().toLowerCase();
  const refuse = (input: HTMLInputElement, text: string) => {
    err.textContent = text;
    markInvalid(input);
    input.focus();
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const c = code.input.value.replace(/\s/g, '');
    const pw = password.input.value;
    if (!/^\d{6}$/.test(c)) return refuse(code.input, 'Enter the 6 digits from the email.');
    const wrong = problem();
    if (wrong) return refuse(wrong.input, wrong.message);
    busy(submit, true, 'Setting password…');
    try {
      await signIn(app, () => auth.resetPassword(address(), c, pw));
      announce('Your new password is set, and your other devices are signed out.');
    } catch (e) {
      if (e instanceof ApiError && e.code === 'invalid_otp') refuse(code.input, describeError(e));
      else formError(err, e, { code: code.input, newPassword: password.input, email: emailField.input });
      busy(submit, false, 'Set password and log in');
    }
  });
  resend.addEventListener('click', () => void sendAgain(resend, err, info, address()));
  const el = h(
    'section',
    { class: 'card auth' },
    brand(),
    title('Choose a new password'),
    email ? h('p', {}, 'If ', h('strong', {}, email), ' has an account, we sent it a 6-digit code.') : null,
    form,
    info,
    h('p', { class: 'alt' }, 'No email? ', resend, ' · ', h('a', { href: '#/login' }, 'Back to log in')),
  );
  return { el, focus: email ? code.input : emailField.input };
}
