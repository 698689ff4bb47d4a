// The account's email address, on the Account page (account.ts): shown, and moved to another
// address in two steps. The password proves it is the user (`POST /api/auth/email`), then the
// code mailed to the new address proves the address is theirs (`POST /api/auth/email/confirm`);
// only then does it change. The old address is told, and every session stays signed in.
import { ApiError, auth, describeError, waitText } from './api';
import { errorBox, field, h } from './dom';
import * as store from './store';
import { busy, card, codeField, formError, markInvalid, type AppActions } from './viewKit';

/**
 * What the first step sent. The password is kept (its field is emptied) because "Send a new
 * code" is the same request again, which the server takes only with it; it goes on success or
 * Cancel.
 */
interface Pending {
  email: string;
  password: string;
}

export function emailSection(app: AppActions): HTMLElement {
  const current = h('dd', { 'data-testid': 'account-email' });
  const showCurrent = () => (current.textContent = store.state.me?.email ?? '');
  showCurrent();

  // Step 1: the new address and the password.
  const address = field({
    id: 'new-email',
    label: 'New email address',
    type: 'email',
    autocomplete: 'email',
    hint: 'We email a code there to check that it is yours. Until you enter it, your email stays as it is.',
    attrs: { autocapitalize: 'none', spellcheck: 'false' },
  });
  const password = field({ id: 'email-password', label: 'Your password', type: 'password', autocomplete: 'current-password' });
  const askErr = errorBox();
  const ask = h('button', { type: 'submit', class: 'primary' }, 'Change email');
  const askForm = h('form', { 'data-testid': 'email-form', novalidate: true }, address.wrap, password.wrap, askErr, ask);

  // Step 2: the code mailed to the new address.
  const sentTo = h('strong', { 'data-testid': 'email-sent-to' });
  const code = codeField('email-code', 'Code', 'The 6-digit code in the email. It is valid for 10 minutes.');
  const codeErr = errorBox();
  const confirm = h('button', { type: 'submit', class: 'primary' }, 'Confirm');
  const resend = h('button', { type: 'button' }, 'Send a new code');
  const cancel = h('button', { type: 'button', class: 'ghost' }, 'Cancel');
  const codeForm = h(
    'form',
    { 'data-testid': 'email-code-form', novalidate: true, hidden: true },
    h('p', {}, 'We sent a 6-digit code to ', sentTo, '. Enter it to make that your email address.'),
    code.wrap,
    codeErr,
    h('div', { class: 'form-actions' }, confirm, resend, cancel),
  );

  const status = h('p', { class: 'notice', role: 'status', 'data-testid': 'email-status' });
  const el = card('email-title', 'Email address', h('dl', { class: 'details' }, h('dt', {}, 'Email'), current), askForm, codeForm, status);
  const heading = el.querySelector('h2')!;
  let pending: Pending | null = null;
  /** The address this page last had a code sent to (its code may still be waiting there). */
  let lastSent: string | null = null;

  /** Says `text` in the alert `err` and sends the focus to `input`, marked invalid. */
  const refuse = (err: HTMLElement, input: HTMLInputElement, text: string) => {
    err.textContent = text;
    markInvalid(input);
    input.focus();
  };
  const clearMessages = () => {
    askErr.textContent = '';
    codeErr.textContent = '';
    status.textContent = '';
  };
  const toCode = (p: Pending) => {
    pending = p;
    sentTo.textContent = p.email;
    password.input.value = '';
    code.input.value = '';
    askForm.hidden = true;
    codeForm.hidden = false;
    code.input.focus();
  };
  /** Back to the first step; the address typed stays (to be corrected), the password goes. */
  const toAddress = () => {
    pending = null;
    code.input.value = '';
    password.input.value = '';
    codeForm.hidden = true;
    askForm.hidden = false;
  };

  /** Says in the first step why the server refused the address or the password. */
  const refusedAsk = (e: unknown) => {
    if (e instanceof ApiError && e.code === 'invalid_credentials') {
      refuse(askErr, password.input, 'Your password is wrong.');
    } else if (e instanceof ApiError && e.code === 'email_taken') {
      refuse(askErr, address.input, 'Another account has that email address. Choose another.');
    } else {
      // `newEmail` (not an address, or already this account's) or `password` (none to give).
      formError(askErr, e, { newEmail: address.input, password: password.input });
      // An account made with Google has no password: it sets one as a forgotten one is.
      if (e instanceof ApiError && e.body.fields?.password) askErr.append(' To set a password, log out and use “Forgot password?” on the login screen.');
    }
  };

  askForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearMessages();
    // The server trims and lowercases it too: the code is for that spelling.
    const email = address.input.value.trim().toLowerCase();
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) return refuse(askErr, address.input, 'Enter the new email address.');
    if (!password.input.value) return refuse(askErr, password.input, 'Enter your password.');
    // Not compared with the address shown: the server says when it is already the account's,
    // and the page's copy is out of date if another device changed it.
    const p: Pending = { email, password: password.input.value };
    busy(ask, true, 'Sending a code…');
    try {
      await auth.requestEmailChange(p.email, p.password);
      lastSent = email;
      toCode(p);
    } catch (e) {
      refusedAsk(e);
      // Asked again within the address's cooldown (after Cancel, say): the code already sent
      // there is still good (a refused request makes none).
      if (e instanceof ApiError && e.code === 'rate_limited' && email === lastSent) {
        const already = h('button', { type: 'button', class: 'link' }, 'Enter the code already sent');
        already.addEventListener('click', () => {
          clearMessages();
          toCode(p);
        });
        askErr.append(' ', already);
      }
    } finally {
      busy(ask, false, 'Change email');
    }
  });

  resend.addEventListener('click', async () => {
    if (!pending) return;
    const p = pending;
    clearMessages();
    busy(resend, true);
    try {
      await auth.requestEmailChange(p.email, p.password);
      lastSent = p.email;
      code.input.value = '';
      status.textContent = `A new code is on its way to ${p.email}. The one sent before no longer works.`;
      code.input.focus();
    } catch (e) {
      if (e instanceof ApiError && e.code === 'rate_limited') {
        // Refused before a code was made: the last one is still good.
        const wait = e.body.retryAfter ? waitText(e.body.retryAfter) : 'a little';
        codeErr.textContent = `No new code was sent. Please wait ${wait} before asking again; the code sent before still works.`;
      } else if (e instanceof ApiError && ['invalid_credentials', 'email_taken', 'validation_failed'].includes(e.code)) {
        // The password changed on another device, or the address was taken meanwhile: the
        // first step says which.
        toAddress();
        refusedAsk(e);
      } else {
        codeErr.textContent = describeError(e);
      }
    } finally {
      busy(resend, false);
    }
  });

  codeForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!pending) return;
    const { email } = pending;
    clearMessages();
    const c = code.input.value.replace(/\s/g, '');
    if (!/^\d{6}$/.test(c)) return refuse(codeErr, code.input, 'Enter the 6 digits from the email.');
    busy(confirm, true, 'Confirming…');
    try {
      const user = await auth.confirmEmailChange(email, c);
      // The app's user (what this card shows, and what an offline start shows) is the new one.
      app.userChanged(user);
      lastSent = null;
      toAddress();
      address.input.value = '';
      showCurrent();
      status.textContent = `Your email is now ${user.email}.`;
      // The code's form is hidden, and the focus was in it.
      heading.focus();
    } catch (e) {
      if (e instanceof ApiError && e.code === 'invalid_otp') {
        refuse(codeErr, code.input, 'That code is wrong or has expired. Check it, or send a new code.');
      } else if (e instanceof ApiError && e.code === 'email_taken') {
        toAddress();
        refuse(askErr, address.input, `Another account took ${email} meanwhile. Choose another address.`);
      } else {
        formError(codeErr, e, { code: code.input });
      }
    } finally {
      busy(confirm, false, 'Confirm');
    }
  });

  cancel.addEventListener('click', () => {
    clearMessages();
    toAddress();
    address.input.focus();
  });
  return el;
}
