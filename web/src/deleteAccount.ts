// Deleting the account, on the Account page (account.ts), last and marked as a danger zone: what
// goes and what stays said plainly, the password (or, for an account made with Google or a
// forgotten password, a code mailed to the address with `request-otp`) and an explicit "I
// understand this cannot be undone" before the button is enabled. Once the server has deleted it,
// main.ts forgets the account in this browser and shows the login screen saying so.
import { ApiError, auth, describeError, waitText } from './api';
import { errorBox, field, h } from './dom';
import * as store from './store';
import type { DeleteAccountProof } from './types';
import { busy, card, codeField, formError, markInvalid, type AppActions } from './viewKit';

const DELETE_LABEL = 'Delete my account';
/** The server takes at most this many bytes of a password here; a password is at most 128 characters. */
const MAX_PASSWORD_BYTES = 1024;

export function deleteSection(app: AppActions): HTMLElement {
  const password = field({ id: 'delete-password', label: 'Password', type: 'password', autocomplete: 'current-password' });
  const useCode = h('button', { type: 'button', class: 'link', 'data-testid': 'delete-use-code' }, 'Use a code sent to your email instead');
  const passwordPart = h('div', {}, password.wrap, h('p', { class: 'form-actions' }, useCode));

  // The code's part, instead of the password's once asked for.
  const sentTo = h('strong', { 'data-testid': 'delete-sent-to' });
  const code = codeField('delete-code', 'Code from the email', 'The 6-digit code we emailed you. It is valid for 10 minutes.');
  const resend = h('button', { type: 'button', class: 'link', 'data-testid': 'delete-resend' }, 'Email me another code');
  const usePassword = h('button', { type: 'button', class: 'link', 'data-testid': 'delete-use-password' }, 'Use your password instead');
  const codePart = h('div', { hidden: true }, h('p', {}, 'We sent a 6-digit code to ', sentTo, '. Enter it to confirm it is you.'), code.wrap, h('p', { class: 'form-actions' }, resend, usePassword));

  const understood = h('input', { type: 'checkbox', id: 'delete-understood', 'data-testid': 'delete-understood' });
  const err = errorBox();
  const status = h('p', { class: 'notice', role: 'status', 'data-testid': 'delete-status' });
  const submit = h('button', { type: 'submit', class: 'danger-button', 'data-testid': 'delete-account', disabled: true }, DELETE_LABEL);
  const form = h(
    'form',
    { 'data-testid': 'delete-form', novalidate: true },
    passwordPart,
    codePart,
    h('div', { class: 'check' }, understood, h('label', { for: 'delete-understood' }, 'I understand this cannot be undone')),
    err,
    status,
    submit,
  );
  // The one confirmation asked: the button waits for it.
  understood.addEventListener('change', () => (submit.disabled = !understood.checked));

  const el = card(
    'delete-title',
    'Delete account',
    h('p', {}, h('strong', {}, 'This deletes your account for good. It cannot be undone.')),
    h(
      'ul',
      { class: 'consequences' },
      h('li', {}, 'Your profile, your encryption key and its backup are deleted, and every device signed in to your account is signed out.'),
      h('li', {}, 'You leave every group you are in.'),
      h('li', {}, 'The messages you sent stay with the people you sent them to, under the name “Deleted account”.'),
      h('li', {}, 'Messages not sent yet are lost, and so is everything this browser keeps of your account.'),
    ),
    form,
  );
  el.classList.add('danger-zone');
  el.dataset.testid = 'delete-card';

  /** Whether the code proves it is the user (else the password). */
  let byCode = false;
  const refuse = (input: HTMLInputElement, text: string) => {
    err.textContent = text;
    markInvalid(input);
    input.focus();
  };
  const clearMessages = () => {
    err.textContent = '';
    status.textContent = '';
  };

  /**
   * Mails a code to the account's address (`request-otp`, as a forgotten password does) and
   * shows its field. Refused for asking too soon, the field shows all the same: a code mailed
   * in the last 10 minutes still works.
   */
  const requestCode = async (button: HTMLButtonElement) => {
    const email = store.state.me?.email;
    if (!email) return;
    clearMessages();
    busy(button, true);
    try {
      await auth.requestOtp(email);
      if (byCode) status.textContent = `Another code is on its way to ${email}. Use the newest one.`;
      toCode(email);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'rate_limited') {
        toCode(email);
        const wait = e.body.retryAfter ? waitText(e.body.retryAfter) : 'a little';
        err.textContent = `No code was sent just now: please wait ${wait} before asking again. A code we emailed you in the last 10 minutes still works.`;
      } else {
        err.textContent = describeError(e);
      }
    } finally {
      busy(button, false);
    }
  };
  const toCode = (email: string) => {
    byCode = true;
    sentTo.textContent = email;
    password.input.value = '';
    passwordPart.hidden = true;
    codePart.hidden = false;
    code.input.focus();
  };
  useCode.addEventListener('click', () => void requestCode(useCode));
  resend.addEventListener('click', () => void requestCode(resend));
  usePassword.addEventListener('click', () => {
    clearMessages();
    byCode = false;
    code.input.value = '';
    codePart.hidden = true;
    passwordPart.hidden = false;
    password.input.focus();
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearMessages();
    if (!understood.checked) return;
    let proof: DeleteAccountProof;
    if (byCode) {
      const c = code.input.value.replace(/\s/g, '');
      if (!/^\d{6}$/.test(c)) return refuse(code.input, 'Enter the 6 digits from the email.');
      proof = { code: c };
    } else {
      if (!password.input.value) return refuse(password.input, 'Enter your password.');
      // Longer than the server reads, it cannot be the password: so a `password` refusal below
      // is always the account having none.
      if (new TextEncoder().encode(password.input.value).length > MAX_PASSWORD_BYTES) return refuse(password.input, 'Your password is wrong. Nothing was deleted.');
      proof = { password: password.input.value };
    }
    busy(submit, true, 'Deleting…');
    try {
      // Done, the login screen replaces this page.
      await app.deleteAccount(proof);
    } catch (e) {
      busy(submit, false, DELETE_LABEL);
      if (e instanceof ApiError && e.code === 'invalid_credentials') {
        refuse(password.input, 'Your password is wrong. Nothing was deleted.');
      } else if (e instanceof ApiError && e.code === 'invalid_otp') {
        refuse(code.input, 'That code is wrong or has expired. Check it, or ask for another. Nothing was deleted.');
      } else if (e instanceof ApiError && e.body.fields?.password && !byCode) {
        // An account made with Google has no password to give: a code proves it is them.
        refuse(password.input, 'Your account has no password (it was made with Google): use a code sent to your email instead.');
      } else {
        formError(err, e, { password: password.input, code: code.input });
      }
    }
  });
  return el;
}
