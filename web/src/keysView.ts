// The end-to-end encryption panel of the chat list (set up, unlock, start over) and the line a
// direct chat's header shows about its encryption. The keys themselves: e2e.ts.
import { ApiError, NetworkError, describeError } from './api';
import { errorBox, field, h } from './dom';
import * as e2e from './e2e';
import * as peers from './peerKeys';
import * as store from './store';
import { busy } from './viewKit';
import type { Chat } from './types';

/** Fewest characters of a recovery passphrase: it alone guards the key backup. */
const MIN_PASSPHRASE = 10;

/**
 * Shown on the chat list while this device cannot seal or open messages: "set up" when the user
 * has no key, "unlock" when this device does not hold the published one, "publish it again" when
 * the server no longer gives out the key this device holds. Hidden once it does.
 */
export function encryptionPanel(): { el: HTMLElement; cleanup: () => void } {
  const el = h('section', { class: 'e2e-panel', 'data-testid': 'e2e-panel', 'aria-labelledby': 'e2e-title' });
  const render = () => {
    const s = e2e.state();
    el.hidden = s === 'ready' || s === 'unknown';
    el.dataset.state = s;
    if (s === 'none') el.replaceChildren(...setUpForm(false));
    else if (s === 'locked') el.replaceChildren(...unlockForm());
    else if (s === 'withdrawn') el.replaceChildren(...republishForm());
  };
  render();
  // Not on a contact's key change: a passphrase being typed stays.
  return { el, cleanup: e2e.onChange((e) => e !== 'peer' && render()) };
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
  const reset = startOver('Forgot it? Start over with a new key', 'A new key cannot open the messages encrypted before: they stay unreadable here and on your other devices until those unlock with the old passphrase. Start over?');
  return [
    h('h2', { id: 'e2e-title' }, 'Unlock your messages'),
    h('p', {}, 'Your direct messages are end-to-end encrypted. Enter your recovery passphrase to read and send them on this device.'),
    form,
    reset,
  ];
}

/** A link that, once `question` is confirmed, turns its panel into the form that sets up a new key. */
function startOver(label: string, question: string): HTMLButtonElement {
  const reset = h('button', { type: 'button', class: 'link', 'data-testid': 'e2e-start-over' }, label);
  reset.addEventListener('click', () => {
    if (confirm(question)) reset.parentElement?.replaceChildren(...setUpForm(true));
  });
  return reset;
}

function republishForm(): HTMLElement[] {
  const error = errorBox();
  const submit = h('button', { type: 'button', class: 'primary', 'data-testid': 'e2e-republish' }, 'Publish it again');
  submit.addEventListener('click', () => void run(submit, error, 'Publishing…', () => e2e.republish()));
  // Should publishing it again keep failing, a new key (with a new backup) ends the wait too.
  const reset = startOver('Or start over with a new key', 'Your other devices will need the new passphrase to read what is sent from now on; this one still reads what came before. Start over?');
  return [
    h('h2', { id: 'e2e-title' }, '⚠ Your encryption key is missing'),
    h('p', {}, 'The server no longer gives out your encryption key: a fault, or someone trying to have you write in clear. What you write to be encrypted waits until it is published again. This device still holds it.'),
    error,
    submit,
    reset,
  ];
}

async function run(submit: HTMLButtonElement, error: HTMLElement, label: string, work: () => Promise<void>): Promise<void> {
  const text = submit.textContent ?? undefined;
  busy(submit, true, label);
  error.textContent = '';
  try {
    await work();
  } catch (e) {
    error.textContent = e instanceof ApiError || e instanceof NetworkError ? describeError(e) : e instanceof Error ? e.message : String(e);
  } finally {
    busy(submit, false, text);
  }
}

/**
 * What a chat's header says about its encryption: whether the messages sent now are sealed, and
 * why not; a warning when a member's key changed since first seen; in a direct chat, both safety
 * numbers and the other's key marked verified or not.
 * The other's key is fetched afresh when the chat opens. Updated when the keys change.
 */
export function encryptionNote(chatId: string): { el: HTMLElement; render: (chat: Chat) => void; cleanup: () => void } {
  const line = h('p', { class: 'e2e-note', 'data-testid': 'e2e-note' });
  const warning = h('div', { class: 'e2e-warning', role: 'status', 'data-testid': 'e2e-key-changed', hidden: true });
  const numbers = h('details', { class: 'e2e-numbers', 'data-testid': 'e2e-safety-numbers', hidden: true });
  const el = h('div', { class: 'e2e' }, line, warning, numbers);
  let last: Chat | undefined;
  let asked = 0;
  let fresh = true;
  // The header re-renders on every typing and presence event: the note only when what it says
  // about changes (and a safety numbers' disclosure the user opened stays open).
  let shownFor = '';
  const say = (state: string, text: string) => {
    line.dataset.state = state;
    line.textContent = text;
    if (state !== 'sealed') warning.hidden = numbers.hidden = true;
  };
  /** What is written here waits: the server withholds the keys of `ids` (`peers.withdrawn`). */
  const withheld = async (ids: string[], ask: number) => {
    await store.ensureProfiles(ids.slice(0, 3));
    if (ask !== asked) return;
    say('withheld', '');
    const names = ids.slice(0, 3).map(store.displayName);
    const more = ids.length > 3 ? ` and ${ids.length - 3} more` : '';
    const whose = ids.length === 1 ? `${names[0]}'s encryption key` : `the encryption keys of ${names.join(', ')}${more}`;
    const send = h('button', { type: 'button', class: 'link', 'data-testid': 'e2e-send-in-clear' }, 'Send without encryption');
    send.addEventListener('click', () => void peers.acceptClear(ids));
    line.replaceChildren(`⚠ The server no longer gives out ${whose}: a fault, or someone trying to read along. What you write here waits until it is back. `, send);
  };
  /**
   * Warns of the members of `ids` whose key changed since first seen, until dismissed; of a key
   * the user had verified, until they accept the new one (what they write waits meanwhile).
   */
  const warnOfChanges = async (ids: string[], ask: number) => {
    const seen = await peers.rememberedOf(ids);
    const changed = seen.filter((k) => k.changedAt).map((k) => k.userId);
    const wasVerified = seen.some((k) => k.verifiedChanged);
    await store.ensureProfiles(changed);
    if (ask !== asked) return;
    warning.hidden = changed.length === 0;
    if (!changed.length) return;
    const names = changed.map(store.displayName);
    const whose = names.length === 1 ? `${names[0]}'s encryption key` : `The encryption keys of ${names.join(', ')}`;
    const accept = h('button', { type: 'button', class: 'link', 'data-testid': wasVerified ? 'e2e-accept-key' : 'e2e-dismiss-change' }, wasVerified ? 'Accept the new key' : 'Dismiss');
    accept.addEventListener('click', () => void Promise.all(changed.map(peers.acceptKeyChange)).then(() => (warning.hidden = true)));
    const text = wasVerified
      ? `⚠ ${whose} changed since you verified it: a reset, or someone in between. What you write here waits until you accept the new key; compare safety numbers with them first.`
      : `⚠ ${whose} changed: a reset, or someone in between. Compare safety numbers with them before sending anything sensitive.`;
    warning.replaceChildren(h('p', {}, text), accept);
  };
  /** Both safety numbers, and whether the user verified `key`, the other member's, with a button to mark it or clear the mark. */
  const showNumbers = async (other: string, key: Uint8Array<ArrayBuffer>, mine: Uint8Array<ArrayBuffer>, ask: number) => {
    const name = store.displayName(other);
    const [yours, theirs, verified] = await Promise.all([peers.safetyNumber(mine), peers.safetyNumber(key), peers.isVerified(other, key)]);
    if (ask !== asked) return;
    const open = numbers.open;
    const mark = h('button', { type: 'button', class: 'link', 'data-testid': verified ? 'e2e-unverify' : 'e2e-verify' }, verified ? 'Clear verification' : 'Mark as verified');
    mark.addEventListener('click', () => void peers.setVerified(other, key, !verified).then(() => showNumbers(other, key, mine, ask)));
    numbers.hidden = false;
    numbers.replaceChildren(
      h('summary', {}, verified ? 'Safety numbers · ✓ verified' : 'Safety numbers'),
      h('p', {}, `Yours: ${yours}`),
      h('p', {}, `${name}'s: ${theirs}`),
      h('p', { class: 'hint' }, verified ? `You verified ${name}'s key: should it change, what you write waits until you accept the new one.` : 'Compare them with theirs in person or on a call: if they match, nobody is in between.'),
      mark,
    );
    numbers.open = open;
  };
  const render = (chat: Chat) => {
    last = chat;
    const other = store.otherParticipant(chat);
    const about = `${chat.type}|${chat.revision}|${other}|${other ? store.displayName(other) : ''}|${e2e.state()}`;
    if (about === shownFor) return;
    shownFor = about;
    const mine = e2e.ownKey();
    if (!mine) {
      const s = e2e.state();
      if (s === 'withdrawn') say('withheld', '⚠ The server no longer gives out your encryption key: what you write here to be encrypted waits until you publish it again in the chat list.');
      else say('clear', s === 'locked' ? 'Locked on this device: what you write here to be encrypted waits until you unlock your messages in the chat list.' : 'Not end-to-end encrypted: turn encryption on in the chat list.');
      return;
    }
    if (chat.type === 'group') {
      const ask = ++asked;
      store
        .groupSealing(chat, fresh)
        .then(async (how) => {
          fresh = false;
          if ('clear' in how && how.clear === 'no-keys') await store.ensureProfiles(how.missing.slice(0, 3));
          if (ask !== asked) return;
          if ('keys' in how) {
            say('sealed', '🔒 Messages are end-to-end encrypted.');
            await warnOfChanges(how.members, ask);
          } else if (how.clear === 'no-keys' && how.withdrawn.length) await withheld(how.withdrawn, ask);
          else if (how.clear === 'too-big') say('clear', `Not end-to-end encrypted: groups of more than ${e2e.MAX_SEALED_MEMBERS} members are not yet.`);
          else {
            const names = how.missing.slice(0, 3).map(store.displayName).join(', ');
            const more = how.missing.length > 3 ? ` and ${how.missing.length - 3} more` : '';
            say('clear', `Not end-to-end encrypted: ${names}${more} ${how.missing.length === 1 ? 'has' : 'have'} not turned encryption on.`);
          }
        })
        .catch(() => {});
      return;
    }
    if (!other) return;
    const ask = ++asked;
    const name = store.displayName(other);
    void (async () => {
      const key = await peers.peerKey(other, fresh);
      fresh = false;
      if (ask !== asked) return;
      if (!key) {
        const [gone, seen] = await Promise.all([peers.withdrawn([other]), peers.remembered(other)]);
        if (ask !== asked) return;
        if (gone.length) await withheld(gone, ask);
        else if (seen?.clearAccepted) say('clear', `Not end-to-end encrypted: you chose to write in clear while the server does not give out ${name}'s key.`);
        else say('clear', `Not end-to-end encrypted: ${name} has not turned encryption on.`);
        return;
      }
      say('sealed', '🔒 Messages are end-to-end encrypted.');
      await showNumbers(other, key, mine, ask);
      await warnOfChanges([other], ask);
    })().catch(() => {});
  };
  const off = e2e.onChange(() => {
    shownFor = '';
    const chat = last ?? store.state.chats.get(chatId);
    if (chat) render(chat);
  });
  return { el, render, cleanup: off };
}
