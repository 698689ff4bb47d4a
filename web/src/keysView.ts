// The end-to-end encryption panel of the chat list (set up, unlock, start over) and the line a
// direct chat's header shows about its encryption. The keys themselves: e2e.ts.
import { ApiError, NetworkError, describeError } from './api';
import { errorBox, field, h } from './dom';
import * as e2e from './e2e';
import * as store from './store';
import type { Chat } from './types';

/** Fewest characters of a recovery passphrase: it alone guards the key backup. */
const MIN_PASSPHRASE = 10;

/**
 * Shown on the chat list while this device cannot seal or open messages: "set up" when the user
 * has no key, "unlock" when this device does not hold the published one. Hidden once it does.
 */
export function encryptionPanel(): { el: HTMLElement; cleanup: () => void } {
  const el = h('section', { class: 'e2e-panel', 'data-testid': 'e2e-panel', 'aria-labelledby': 'e2e-title' });
  const render = () => {
    const s = e2e.state();
    el.hidden = s === 'ready' || s === 'unknown';
    el.dataset.state = s;
    if (s === 'none') el.replaceChildren(...setUpForm(false));
    else if (s === 'locked') el.replaceChildren(...unlockForm());
  };
  render();
  return { el, cleanup: e2e.onChange(render) };
}

/** `replace`: the user starts over, replacing the key published (whose passphrase they lost). */
function setUpForm(replace: boolean): HTMLElement[] {
  const pass = field({ id: 'e2e-passphrase', label: 'Recovery passphrase', type: 'password', autocomplete: 'new-password', hint: `At least ${MIN_PASSPHRASE} characters, not your password. You need it to read your messages on another device or after logging out; nobody can recover it for you.`, attrs: { minlength: MIN_PASSPHRASE, 'data-testid': 'e2e-passphrase' } });
  const again = field({ id: 'e2e-again', label: 'The passphrase again', type: 'password', autocomplete: 'new-password', attrs: { minlength: MIN_PASSPHRASE, 'data-testid': 'e2e-again' } });
  const error = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'e2e-set-up' }, 'Turn on encryption');
  const form = h('form', {}, pass.wrap, again.wrap, error, submit);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (pass.input.value !== again.input.value) {
      error.textContent = 'The two passphrases differ.';
      return;
    }
    void run(submit, error, 'Turning on…', () => e2e.setUp(pass.input.value, replace));
  });
  return [
    h('h2', { id: 'e2e-title' }, 'End-to-end encryption'),
    h('p', {}, 'Turn it on and your direct messages are encrypted in this browser: the server stores only what it cannot read. Until then, they are sent in clear.'),
    form,
  ];
}

function unlockForm(): HTMLElement[] {
  const pass = field({ id: 'e2e-passphrase', label: 'Recovery passphrase', type: 'password', autocomplete: 'current-password', attrs: { 'data-testid': 'e2e-passphrase' } });
  const error = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'e2e-unlock' }, 'Unlock');
  const form = h('form', {}, pass.wrap, error, submit);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void run(submit, error, 'Unlocking…', () => e2e.restore(pass.input.value));
  });
  const reset = h('button', { type: 'button', class: 'link', 'data-testid': 'e2e-start-over' }, 'Forgot it? Start over with a new key');
  reset.addEventListener('click', () => {
    const ok = confirm('A new key cannot open the messages encrypted before: they stay unreadable here and on your other devices until those unlock with the old passphrase. Start over?');
    if (ok) reset.parentElement?.replaceChildren(...setUpForm(true));
  });
  return [
    h('h2', { id: 'e2e-title' }, 'Unlock your messages'),
    h('p', {}, 'Your direct messages are end-to-end encrypted. Enter your recovery passphrase to read and send them on this device.'),
    form,
    reset,
  ];
}

async function run(submit: HTMLButtonElement, error: HTMLElement, label: string, work: () => Promise<void>): Promise<void> {
  const text = submit.textContent;
  submit.disabled = true;
  submit.textContent = label;
  error.textContent = '';
  try {
    await work();
  } catch (e) {
    error.textContent = e instanceof ApiError || e instanceof NetworkError ? describeError(e) : e instanceof Error ? e.message : String(e);
  } finally {
    submit.disabled = false;
    submit.textContent = text;
  }
}

/**
 * What a chat's header says about its encryption: whether the messages sent now are sealed, and
 * why not. Updated when the keys change.
 */
export function encryptionNote(chatId: string): { el: HTMLElement; render: (chat: Chat) => void; cleanup: () => void } {
  const el = h('p', { class: 'e2e-note', 'data-testid': 'e2e-note' });
  let last: Chat | undefined;
  let asked = 0;
  const render = (chat: Chat) => {
    last = chat;
    const other = store.otherParticipant(chat);
    if (chat.type === 'group' || !other) {
      say('clear', 'Group messages are not end-to-end encrypted yet.');
      return;
    }
    if (!e2e.canSeal()) {
      say('clear', e2e.state() === 'locked' ? 'Not encrypted on this device: unlock your messages in the chat list.' : 'Not end-to-end encrypted: turn encryption on in the chat list.');
      return;
    }
    const mine = ++asked;
    e2e
      .peerKey(other)
      .then((key) => {
        if (mine !== asked) return;
        if (key) say('sealed', '🔒 Messages are end-to-end encrypted.');
        else say('clear', `Not end-to-end encrypted: ${store.displayName(other)} has not turned encryption on.`);
      })
      .catch(() => {});
  };
  const say = (state: string, text: string) => {
    el.dataset.state = state;
    el.textContent = text;
  };
  const off = e2e.onChange(() => {
    const chat = last ?? store.state.chats.get(chatId);
    if (chat) render(chat);
  });
  return { el, render, cleanup: off };
}
