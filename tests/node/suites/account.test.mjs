// Account settings in the PWA, in Debian's chromium against the whole system (the launcher): the
// display name (saved, shown to the user, to a contact and on the user's other device at once
// and after a reload, refused when too long, cleared); where the user is signed in (each device named from its User-Agent, "This device"
// marked, another signed out from the list, or all others at once, and those devices back on the
// login screen); the password changed (a wrong current one refused once, without a retry, and
// the user still signed in; the other devices signed out; the old password refused and the new
// one taken); and a forgotten password reset from the login form with a code from the dev
// mailbox (asking again too soon, a wrong code and a common password refused; signed in at the
// end, the other devices signed out, the old password refused); and the email address changed
// with the password and a code mailed to the new address (a wrong password, the account's own
// address, another account's, asking again too soon and a wrong code refused; the new address
// shown, after a reload too, and logging in where the old one no longer does); and the account
// deleted with the password (a wrong one refused once, without a retry) or a code mailed to the
// address: nothing of it left in the browser, the login screen saying so, and a contact's page
// showing "Deleted account" and the direct chat read-only at once, after a reload, after being
// offline, and not on a lookup that failed; the deleting user's other tab, and a start after an
// answer that never came, saying it was deleted and keeping nothing. Skips like
// browser.test.mjs; under CI=true it fails. It waits out one OTP cooldown in its third test and
// one in its last: the suite's launcher sets it to COOLDOWN_SECS (auth-api's default is a minute).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { IN_CI, api, missingPrerequisite, randomName, readOtp, stepper } from '../browser/harness.mjs';
import { PASSWORD, TIMEOUT, pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

const NEW_PASSWORD = 'a brand new passphrase for carol';
const PASSPHRASE = 'a long recovery passphrase';
const FIREFOX_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const SAFARI_ON_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** auth-api's code cooldown in this suite's launcher: longer than a test's steps from a signup to
 * the next code request (which must be refused), shorter than the default minute to wait out. */
const COOLDOWN_SECS = 20;

describe('account settings in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  const env = suiteSystem({ OTP_RESEND_COOLDOWN_SECS: String(COOLDOWN_SECS) });
  const { newPage, signUp, signUpByApi, openDm, send, message, myMessageWithStatus, logIn, pollUntil, turnOn, openSealedDm, openAccount } = pageHelpers(() => env);
  // An account made as the suite starts, whose address the email test finds taken. The server
  // answers a request for an address that was mailed a code within the cooldown (this one's
  // signup code) with `rate_limited` before it looks whether the address is taken; after the
  // tests before (the third waits out a cooldown), it has passed.
  let elder;
  before(async () => {
    elder = await signUpByApi('frank');
  });

  const desktop = { width: 1280, height: 800 };
  const phone = { width: 375, height: 740 };

  async function backToChats(page) {
    await page.getByRole('link', { name: 'Back to chats' }).click();
    await page.getByRole('heading', { name: 'Chats' }).waitFor();
  }
  /** The page is on the login screen because its session ended (not because it logged out). */
  async function signedOut(page) {
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.getByText('Your session has ended. Please log in again.').waitFor();
  }
  /** Logging in through the form is refused as a wrong password; the page stays on the form. */
  async function loginRefused(page, login, password) {
    await page.goto('/');
    await page.getByLabel('Username or email').fill(login);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('form-error').filter({ hasText: 'Wrong username/email or password.' }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Log in' }).count(), 1);
  }
  const restLogin = (login, password) => api(env.system.url, '/api/auth/login', { method: 'POST', body: { login, password } });
  const sessionRows = (page) => page.getByTestId('session');
  const countIs = async (locator, n) => {
    await locator.nth(n - 1).waitFor();
    await locator.nth(n).waitFor({ state: 'detached' });
  };
  /** The alert of the form `testId`, once it says `text`. */
  const alertOf = (page, testId, text) => page.getByTestId(testId).getByRole('alert').filter({ hasText: text });

  test('the display name: saved, shown to the user and to a contact, refused when too long, cleared', async (t) => {
    const a = await newPage(desktop);
    const b = await newPage(phone);
    const a2 = await newPage(phone); // Alice's second device
    const step = stepper(t.name, { a: a.page, b: b.page, a2: a2.page });
    try {
      const alice = await step('signup-a', () => signUp(a.page, 'alice'));
      await step('alice-second-device', () => logIn(a2.page, alice.username));
      await step('signup-b', () => signUp(b.page, 'bob'));
      await step('bob-writes-to-alice', async () => {
        await openDm(b.page, alice.username);
        await send(b.page, 'Hi Alice');
        await message(b.page, 'Hi Alice').waitFor();
        await backToChats(b.page);
        // Bob's page holds her profile as she signed up: "ALICE".
        await b.page.getByTestId('chat-item').filter({ hasText: 'ALICE' }).waitFor();
        await a.page.getByTestId('chat-item').filter({ hasText: 'Hi Alice' }).filter({ hasText: 'BOB' }).waitFor();
      });
      await step('alice-sees-her-account', async () => {
        await a.page.getByTestId('whoami').filter({ hasText: `ALICE (@${alice.username})` }).waitFor();
        await openAccount(a.page);
        assert.equal(await a.page.getByTestId('account-username').textContent(), `@${alice.username}`);
        assert.equal(await a.page.getByTestId('account-email').textContent(), alice.email);
        assert.equal(await a.page.getByLabel('Display name').inputValue(), 'ALICE');
      });
      await step('alice-renames-herself', async () => {
        await a.page.getByLabel('Display name').fill('  Alice Liddell ');
        await a.page.getByRole('button', { name: 'Save name' }).click();
        await a.page.getByTestId('profile-status').filter({ hasText: 'Saved. Others now see you as Alice Liddell.' }).waitFor();
        // Trimmed by the server, and what it stored.
        assert.equal(await a.page.getByLabel('Display name').inputValue(), 'Alice Liddell');
        assert.equal((await restLogin(alice.username, PASSWORD)).user.displayName, 'Alice Liddell');
        await backToChats(a.page);
        await a.page.getByTestId('whoami').filter({ hasText: `Alice Liddell (@${alice.username})` }).waitFor();
      });
      await step('told-at-once-to-bob-and-her-other-device', async () => {
        // No reload: realtime passes the change on (profile_changed).
        await b.page.getByTestId('chat-item').filter({ hasText: 'Hi Alice' }).filter({ hasText: 'Alice Liddell' }).waitFor();
        await a2.page.getByTestId('whoami').filter({ hasText: `Alice Liddell (@${alice.username})` }).waitFor();
        // Her other device starts offline as who she now is.
        const kept = await a2.page.evaluate(() => JSON.parse(localStorage.getItem('batiyoun.lastUser') ?? 'null'));
        assert.equal(kept?.displayName, 'Alice Liddell');
      });
      await step('kept-after-a-reload', async () => {
        await a.page.reload();
        await a.page.getByTestId('whoami').filter({ hasText: `Alice Liddell (@${alice.username})` }).waitFor();
        await openAccount(a.page);
        assert.equal(await a.page.getByLabel('Display name').inputValue(), 'Alice Liddell');
      });
      await step('a-name-too-long-is-refused', async () => {
        await a.page.getByLabel('Display name').fill('x'.repeat(65));
        await a.page.getByRole('button', { name: 'Save name' }).click();
        await alertOf(a.page, 'profile-form', /^Display name: /).waitFor();
        assert.equal(await a.page.getByLabel('Display name').getAttribute('aria-invalid'), 'true');
        assert.equal((await restLogin(alice.username, PASSWORD)).user.displayName, 'Alice Liddell');
      });
      await step('bob-sees-her-new-name-after-a-reload', async () => {
        await b.page.reload();
        const item = b.page.getByTestId('chat-item').filter({ hasText: 'Hi Alice' });
        await item.filter({ hasText: 'Alice Liddell' }).waitFor();
        await item.click();
        await b.page.getByRole('heading', { name: 'Alice Liddell' }).waitFor();
        await backToChats(b.page);
      });
      await step('alice-clears-it', async () => {
        await a.page.getByTestId('clear-name').click();
        await a.page.getByTestId('profile-status').filter({ hasText: `Name cleared. Others now see your username, @${alice.username}.` }).waitFor();
        assert.equal(await a.page.getByLabel('Display name').inputValue(), '');
        assert.equal(await a.page.getByTestId('clear-name').isDisabled(), true);
        assert.equal((await restLogin(alice.username, PASSWORD)).user.displayName, null);
        await backToChats(a.page);
        await a.page.getByTestId('whoami').filter({ hasText: new RegExp(`^Signed in as @${alice.username}$`) }).waitFor();
        await b.page.reload();
        await b.page.getByTestId('chat-item').filter({ hasText: 'Hi Alice' }).filter({ hasText: alice.username }).waitFor();
        assert.equal(await b.page.getByTestId('chat-item').filter({ hasText: 'Alice Liddell' }).count(), 0);
      });
    } finally {
      await a.context.close();
      await b.context.close();
      await a2.context.close();
    }
  });

  test('where the user is signed in, and the password changed', async (t) => {
    const a = await newPage(desktop); // Carol's first device: headless chromium on Linux
    const b = await newPage(phone, { userAgent: FIREFOX_ON_WINDOWS });
    const c = await newPage(phone, { userAgent: SAFARI_ON_IPHONE });
    const step = stepper(t.name, { a: a.page, b: b.page, c: c.page });
    try {
      const carol = await step('signup', () => signUp(a.page, 'carol'));
      await step('a-second-device-logs-in', () => logIn(b.page, carol.username));
      await step('the-list-names-both', async () => {
        await openAccount(a.page);
        await countIs(sessionRows(a.page), 2);
        const here = a.page.locator('[data-testid=session][data-current=true]');
        assert.equal(await here.count(), 1);
        await here.getByTestId('this-device').filter({ hasText: 'This device' }).waitFor();
        assert.match(await here.locator('.session-name').textContent(), /^Headless Chrome on Linux/);
        assert.equal(await here.getByRole('button').count(), 0, 'this device is not offered to be signed out');
        const there = a.page.locator('[data-testid=session][data-current=false]');
        assert.equal(await there.count(), 1);
        assert.match(await there.locator('.session-name').textContent(), /^Firefox on Windows$/);
        assert.match(await there.textContent(), /Signed in just now · last active just now/);
      });
      await step('the-other-is-signed-out-from-the-list', async () => {
        await a.page.getByRole('button', { name: /^Sign out Firefox on Windows/ }).click();
        await a.page.getByTestId('sessions-status').filter({ hasText: 'Signed out Firefox on Windows.' }).waitFor();
        await countIs(sessionRows(a.page), 1);
        await a.page.locator('[data-testid=session][data-current=true]').waitFor();
        assert.equal(await a.page.getByTestId('revoke-others').isHidden(), true);
        await signedOut(b.page);
        // Its cookie is dead: a reload does not sign it in again.
        await b.page.reload();
        await b.page.getByRole('heading', { name: 'Log in' }).waitFor();
      });
      await step('all-others-are-signed-out', async () => {
        await logIn(b.page, carol.username);
        await logIn(c.page, carol.username);
        await a.page.getByTestId('reload-sessions').click();
        await countIs(sessionRows(a.page), 3);
        await sessionRows(a.page).filter({ hasText: 'Safari on iPhone' }).waitFor();
        await a.page.getByRole('button', { name: 'Sign out all other sessions' }).click();
        await a.page.getByTestId('sessions-status').filter({ hasText: 'Signed out 2 other sessions.' }).waitFor();
        await countIs(sessionRows(a.page), 1);
        await signedOut(b.page);
        await signedOut(c.page);
        // This one goes on.
        await a.page.reload();
        await a.page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
        await countIs(sessionRows(a.page), 1);
      });

      // Every request the first device makes to change the password. A refresh is not counted:
      // the socket's (re)connect after a reload refreshes whenever it gets there, and the retry
      // that must not happen would show as a second password request anyway.
      const asked = [];
      a.page.on('request', (r) => {
        const path = new URL(r.url()).pathname;
        if (path === '/api/auth/password') asked.push(path);
      });
      await step('a-wrong-current-password-is-refused-once', async () => {
        await logIn(b.page, carol.username);
        await a.page.getByLabel('Current password').fill('not my password at all');
        await a.page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
        await a.page.getByLabel('New password again').fill(NEW_PASSWORD);
        await a.page.getByRole('button', { name: 'Change password' }).click();
        await alertOf(a.page, 'password-form', 'Your current password is wrong.').waitFor();
        assert.equal(await a.page.getByLabel('Current password').getAttribute('aria-invalid'), 'true');
        // A 401 that is not about the token is not refreshed and sent again (a second failure).
        assert.deepEqual(asked, ['/api/auth/password']);
        // Nobody was signed out (and the password is as it was: the next steps give it as current).
        await a.page.getByTestId('reload-sessions').click();
        await countIs(sessionRows(a.page), 2);
        await a.page.reload();
        await a.page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
        await b.page.getByRole('heading', { name: 'Chats' }).waitFor();
      });
      await step('differing-and-common-new-passwords-are-refused', async () => {
        asked.length = 0;
        await a.page.getByLabel('Current password').fill(PASSWORD);
        await a.page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
        await a.page.getByLabel('New password again').fill(`${NEW_PASSWORD}!`);
        await a.page.getByRole('button', { name: 'Change password' }).click();
        await alertOf(a.page, 'password-form', 'The two new passwords differ.').waitFor();
        assert.deepEqual(asked, [], 'checked on the page');
        await a.page.getByLabel('New password', { exact: true }).fill('Password1234');
        await a.page.getByLabel('New password again').fill('Password1234');
        await a.page.getByRole('button', { name: 'Change password' }).click();
        await alertOf(a.page, 'password-form', /^New password: /).waitFor();
        assert.equal(await a.page.getByLabel('New password', { exact: true }).getAttribute('aria-invalid'), 'true');
        assert.deepEqual(asked, ['/api/auth/password']);
      });
      await step('the-password-is-changed', async () => {
        await a.page.getByLabel('Current password').fill(PASSWORD);
        await a.page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
        await a.page.getByLabel('New password again').fill(NEW_PASSWORD);
        await a.page.getByRole('button', { name: 'Change password' }).click();
        await a.page.getByTestId('password-status').filter({ hasText: 'Password changed. 1 other session was signed out.' }).waitFor();
        assert.equal(await a.page.getByLabel('Current password').inputValue(), '');
        await signedOut(b.page);
        await countIs(sessionRows(a.page), 1);
        // This device stays signed in.
        await a.page.reload();
        await a.page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
      });
      await step('the-old-password-is-refused-and-the-new-one-taken', async () => {
        await loginRefused(b.page, carol.username, PASSWORD);
        await logIn(b.page, carol.username, NEW_PASSWORD);
        await a.page.getByTestId('reload-sessions').click();
        await countIs(sessionRows(a.page), 2);
      });
    } finally {
      await a.context.close();
      await b.context.close();
      await c.context.close();
    }
  });

  test('a forgotten password is reset from the login form with a code by email', async (t) => {
    const a = await newPage(phone);
    const b = await newPage(desktop); // another device of Dave's, signed in before the reset
    const step = stepper(t.name, { a: a.page, b: b.page });
    const mailbox = () => env.system.mailbox;
    try {
      const dave = await step('signup', () => signUp(a.page, 'dave'));
      const signupCode = await readOtp(mailbox(), dave.email);
      await step('another-device-and-log-out', async () => {
        await logIn(b.page, dave.username);
        await a.page.getByTestId('logout').click();
        await a.page.getByText('You have been logged out.').waitFor();
        assert.equal(await a.page.getByTestId('conn-status').isHidden(), true, 'no "offline" banner once logged out');
      });
      const wait = await step('forgot-password-too-soon-after-the-signup-code', async () => {
        await a.page.getByLabel('Username or email').fill(dave.email);
        await a.page.getByRole('link', { name: 'Forgot password?' }).click();
        await a.page.getByRole('heading', { name: 'Reset your password' }).waitFor();
        assert.equal(await a.page.getByLabel('Email').inputValue(), dave.email, 'the address typed is carried');
        // The signup mailed a code seconds ago: another is refused for the cooldown
        // (COOLDOWN_SECS here), and the page says how long.
        await a.page.getByRole('button', { name: 'Send code' }).click();
        const refused = alertOf(a.page, 'forgot-form', /^Too many attempts\. Please wait \d+ seconds? and try again\. Enter a code you already have$/);
        await refused.waitFor();
        await refused.getByRole('link', { name: 'Enter a code you already have' }).waitFor();
        return Number(/wait (\d+) second/.exec(await refused.textContent())[1]);
      });
      await step('forgot-password-asks-a-code', async () => {
        // As long as the server said, and the code is sent.
        await new Promise((r) => setTimeout(r, wait * 1000 + 500));
        await a.page.getByRole('button', { name: 'Send code' }).click();
        await a.page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
        await a.page.getByText(`If ${dave.email} has an account, we sent it a 6-digit code.`).waitFor();
      });
      await step('asking-again-at-once-is-refused', async () => {
        await a.page.getByRole('button', { name: 'Send a new code' }).click();
        await alertOf(a.page, 'reset-form', /^Too many attempts\. Please wait \d+ seconds? and try again\.$/).waitFor();
      });
      const code = await step('the-code-arrives', async () => {
        const deadline = Date.now() + TIMEOUT;
        for (;;) {
          const got = await readOtp(mailbox(), dave.email);
          if (got !== signupCode) return got;
          if (Date.now() > deadline) throw new Error('no new code was mailed');
          await new Promise((r) => setTimeout(r, 100)); // polling interval, bounded by the deadline
        }
      });
      const fill = async (c, pw, again = pw) => {
        await a.page.getByLabel('Code').fill(c);
        await a.page.getByLabel('New password', { exact: true }).fill(pw);
        await a.page.getByLabel('New password again').fill(again);
        await a.page.getByRole('button', { name: 'Set password and log in' }).click();
      };
      await step('differing-passwords-are-refused-on-the-page', async () => {
        await fill(code, NEW_PASSWORD, `${NEW_PASSWORD}?`);
        await alertOf(a.page, 'reset-form', 'The two new passwords differ.').waitFor();
      });
      await step('a-common-password-is-refused', async () => {
        await fill(code, 'Password1234');
        await alertOf(a.page, 'reset-form', /^New password: /).waitFor();
        assert.equal(await a.page.getByLabel('New password', { exact: true }).getAttribute('aria-invalid'), 'true');
      });
      await step('a-wrong-code-is-refused', async () => {
        const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
        await fill(wrong, NEW_PASSWORD);
        await alertOf(a.page, 'reset-form', 'That code is wrong or has expired. Request a new one.').waitFor();
        assert.equal(await a.page.getByLabel('Code').getAttribute('aria-invalid'), 'true');
        await a.page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
      });
      await step('the-right-code-sets-it-and-signs-in', async () => {
        await fill(code, NEW_PASSWORD);
        await a.page.getByRole('heading', { name: 'Chats' }).waitFor();
        await a.page.getByTestId('whoami').filter({ hasText: `@${dave.username}` }).waitFor();
        // Signed in for real: the session survives a reload.
        await a.page.reload();
        await a.page.getByRole('heading', { name: 'Chats' }).waitFor();
        // The device signed in before the reset is signed out.
        await signedOut(b.page);
      });
      await step('the-old-password-is-refused-and-the-new-one-taken', async () => {
        await loginRefused(b.page, dave.username, PASSWORD);
        await logIn(b.page, dave.email, NEW_PASSWORD);
      });
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });

  test('the email address changed, with the password and a code mailed to the new address', async (t) => {
    const a = await newPage(phone);
    const step = stepper(t.name, { a: a.page });
    const mailbox = () => readFileSync(env.system.mailbox, 'utf8');
    const askForm = a.page.getByTestId('email-form');
    const codeForm = a.page.getByTestId('email-code-form');
    const newAddress = a.page.getByLabel('New email address');
    const password = a.page.getByLabel('Your password');
    const code = a.page.getByLabel('Code', { exact: true });
    const shown = () => a.page.getByTestId('account-email').textContent();
    /** The first step, sent: the new address and the password. */
    const ask = async (address, pw = PASSWORD) => {
      await newAddress.fill(address);
      await password.fill(pw);
      await a.page.getByRole('button', { name: 'Change email' }).click();
    };
    const confirmWith = async (c) => {
      await code.fill(c);
      await a.page.getByRole('button', { name: 'Confirm' }).click();
    };
    // Every request the page makes to ask for a code.
    const asked = [];
    a.page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/auth/email') asked.push(r.method());
    });
    try {
      const erin = await step('signup', () => signUp(a.page, 'erin'));
      // No digits (randomName), so the address never reads as a code in the mailbox.
      const moved = `${randomName('erin.moved.')}@example.test`;
      await step('the-page-shows-the-address', async () => {
        await openAccount(a.page);
        assert.equal(await shown(), erin.email);
        assert.equal(await codeForm.isHidden(), true);
      });
      await step('a-wrong-password-is-refused', async () => {
        await ask(moved, 'not my password at all');
        await alertOf(a.page, 'email-form', 'Your password is wrong.').waitFor();
        assert.equal(await password.getAttribute('aria-invalid'), 'true');
        assert.equal(await codeForm.isHidden(), true, 'still on the first step');
        assert.equal(mailbox().includes(moved), false, 'no code was mailed');
        // Its 401 is not refreshed and sent again (which would count a second failure).
        assert.deepEqual(asked, ['POST']);
      });
      await step('the-account-own-address-is-refused', async () => {
        // Trimmed and lowercased (by the page, and the server), it is hers: 422 on newEmail.
        await ask(` ${erin.email.toUpperCase()} `);
        await alertOf(a.page, 'email-form', 'New email address: is already your email').waitFor();
        assert.equal(await newAddress.getAttribute('aria-invalid'), 'true');
        assert.equal(await codeForm.isHidden(), true);
      });
      const first = await step('the-right-request-mails-a-code-to-the-new-address', async () => {
        await ask(moved);
        await codeForm.waitFor();
        assert.equal(await askForm.isHidden(), true);
        assert.equal(await a.page.getByTestId('email-sent-to').textContent(), moved);
        assert.equal(await a.page.evaluate(() => document.activeElement?.id), 'email-code');
        assert.equal(await password.inputValue(), '', 'the password is not left in the page');
        return readOtp(env.system.mailbox, moved);
      });
      await step('a-new-code-at-once-is-refused-with-the-wait', async () => {
        await a.page.getByRole('button', { name: 'Send a new code' }).click();
        await alertOf(a.page, 'email-code-form', /^No new code was sent\. Please wait \d+ seconds? before asking again; the code sent before still works\.$/).waitFor();
      });
      await step('cancelled-then-asked-again-the-code-sent-is-offered', async () => {
        await a.page.getByRole('button', { name: 'Cancel' }).click();
        await askForm.waitFor();
        assert.equal(await codeForm.isHidden(), true);
        assert.equal(await newAddress.inputValue(), moved, 'the address typed stays');
        assert.equal(await password.inputValue(), '');
        await ask(moved);
        const refused = alertOf(a.page, 'email-form', /^Too many attempts\. Please wait \d+ seconds? and try again\. Enter the code already sent$/);
        await refused.waitFor();
        await refused.getByRole('button', { name: 'Enter the code already sent' }).click();
        await codeForm.waitFor();
        assert.equal(await a.page.getByTestId('email-sent-to').textContent(), moved);
      });
      await step('a-wrong-code-is-refused', async () => {
        await confirmWith(String((Number(first) + 1) % 1_000_000).padStart(6, '0'));
        await alertOf(a.page, 'email-code-form', 'That code is wrong or has expired. Check it, or send a new code.').waitFor();
        assert.equal(await code.getAttribute('aria-invalid'), 'true');
        assert.equal(await shown(), erin.email);
        await assert.rejects(restLogin(moved, PASSWORD), / → 401: /);
      });
      await step('the-code-makes-it-the-account-address', async () => {
        // Neither the refused "Send a new code" nor the wrong code spent it.
        await confirmWith(first);
        await a.page.getByTestId('email-status').filter({ hasText: `Your email is now ${moved}.` }).waitFor();
        assert.equal(await shown(), moved);
        // Back to the first step, empty.
        assert.equal(await codeForm.isHidden(), true);
        assert.equal(await askForm.isHidden(), false);
        assert.equal(await newAddress.inputValue(), '');
        // The app's user is the new one (an offline start shows it).
        const kept = await a.page.evaluate(() => JSON.parse(localStorage.getItem('batiyoun.lastUser') ?? 'null'));
        assert.equal(kept?.email, moved);
      });
      await step('kept-after-a-reload', async () => {
        await a.page.reload();
        await a.page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
        assert.equal(await shown(), moved);
      });
      await step('the-new-address-logs-in-and-the-old-one-no-longer', async () => {
        assert.equal((await restLogin(moved, PASSWORD)).user.email, moved);
        await assert.rejects(restLogin(erin.email, PASSWORD), / → 401: /);
        // The old address is told.
        const notice = `To: ${erin.email}\nSubject: Your Batiyoun email address was changed\n`;
        assert.ok((await pollUntil(mailbox, (text) => text.includes(notice))).includes(notice), 'no notice mailed to the old address');
      });
      await step('an-address-another-account-has-is-refused', async () => {
        await ask(elder.email);
        const alert = askForm.getByRole('alert');
        await alert.filter({ hasText: /./ }).waitFor();
        // Run on its own (not after the rest of the suite), the elder's signup code is within
        // the cooldown, and the server refuses before it looks; the page says how long to wait
        // (whole seconds, rounded up; a second more to be safe).
        const early = /^Too many attempts\. Please wait (\d+) seconds? and try again\.$/.exec(await alert.textContent());
        if (early) {
          await new Promise((r) => setTimeout(r, (Number(early[1]) + 1) * 1000 + 200));
          await ask(elder.email);
        }
        await alertOf(a.page, 'email-form', 'Another account has that email address. Choose another.').waitFor();
        assert.equal(await newAddress.getAttribute('aria-invalid'), 'true');
        assert.equal(await codeForm.isHidden(), true);
        assert.equal(await shown(), moved);
      });
    } finally {
      await a.context.close();
    }
  });

  /**
   * What this browser holds of the user `id`: the names of its IndexedDB databases, whether the
   * keyring (`batiyoun-keys`) has their private key, and the user an offline start would show.
   */
  const localData = (page, id) =>
    page.evaluate(async (userId) => {
      const key = await new Promise((resolve, reject) => {
        const open = indexedDB.open('batiyoun-keys', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('keys', { keyPath: 'userId' });
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const read = open.result.transaction('keys').objectStore('keys').get(userId);
          read.onsuccess = () => {
            open.result.close();
            resolve(read.result !== undefined);
          };
          read.onerror = () => reject(read.error);
        };
      });
      return { dbs: (await indexedDB.databases()).map((d) => d.name), key, lastUser: localStorage.getItem('batiyoun.lastUser') };
    }, id);
  const READ_ONLY = 'This account was deleted. You can read your messages, but no new ones can be sent.';

  test('deleting the account: a wrong password refused once, then deleted; nothing left in the browser; contacts see "Deleted account"', async (t) => {
    const a = await newPage(desktop); // Alice
    const b = await newPage(phone); // Bob, on their direct chat as she deletes her account
    const b2 = await newPage(desktop); // Bob's laptop, offline meanwhile
    const b3 = await newPage(desktop); // Bob on a new device, whose profile lookups fail at first
    const step = stepper(t.name, { a: a.page, b: b.page, b2: b2.page, b3: b3.page });
    const deletes = [];
    a.page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/auth/delete-account') deletes.push(r.method());
    });
    const dmItem = (page) => page.locator(`[data-testid=chat-item][data-chat-id="${dmId}"]`);
    const closedLine = (page) => page.getByTestId('chat-closed').filter({ hasText: READ_ONLY });
    const passwordField = a.page.getByTestId('delete-form').getByLabel('Password', { exact: true });
    const deleteButton = a.page.getByRole('button', { name: 'Delete my account' });
    let dmId;
    try {
      const alice = await signUpByApi('alice');
      const bob = await signUpByApi('bob');
      await step('both-log-in-and-turn-encryption-on', async () => {
        await logIn(a.page, alice.username);
        await turnOn(a.page, PASSPHRASE);
        await logIn(b.page, bob.username);
        await turnOn(b.page, PASSPHRASE);
      });
      const asAlice = await restLogin(alice.username, PASSWORD);
      const asBob = await restLogin(bob.username, PASSWORD);
      const aliceId = asAlice.user.id;
      dmId = await step('a-sealed-dm-with-a-message-from-each', async () => {
        const id = await openSealedDm(a.page, bob.username, b.page);
        await send(b.page, 'Hi Alice');
        await message(a.page, 'Hi Alice').waitFor();
        return id;
      });
      await step('a-group-where-she-writes', async () => {
        await api(env.system.url, '/api/chats', { method: 'POST', token: asAlice.accessToken, body: { type: 'group', name: 'Book club', memberIds: [asBob.user.id] } });
        await backToChats(a.page);
        await a.page.getByTestId('chat-item').filter({ hasText: 'Book club' }).click();
        await send(a.page, 'Hello club');
        await myMessageWithStatus(a.page, 'Hello club', ['sent', 'delivered', 'read']).waitFor();
      });
      await step('bob-laptop-writes-to-her-offline', async () => {
        await logIn(b2.page, bob.username);
        await b2.page.getByTestId('e2e-unlock').waitFor();
        await b2.page.getByTestId('e2e-passphrase').fill(PASSPHRASE);
        await b2.page.getByTestId('e2e-unlock').click();
        await b2.page.getByTestId('e2e-panel').waitFor({ state: 'hidden' });
        await dmItem(b2.page).click();
        await message(b2.page, 'Hi Bob').waitFor();
        await b2.context.setOffline(true);
        await b2.page.locator('[data-testid=conn-status][data-state=offline]').waitFor();
        await send(b2.page, 'Are you still there?');
        await myMessageWithStatus(b2.page, 'Are you still there?', ['pending']).waitFor();
      });
      await step('her-browser-holds-her-account', async () => {
        await backToChats(a.page);
        const held = await localData(a.page, aliceId);
        assert.ok(held.dbs.includes(`batiyoun:${aliceId}`), 'her cache');
        assert.equal(held.key, true, 'her private key');
        assert.equal(JSON.parse(held.lastUser)?.id, aliceId, 'the offline start user');
        // Served by the service worker, the page can be reloaded offline (below).
        await a.page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null, null, { timeout: TIMEOUT });
      });
      await step('a-wrong-password-is-refused-once-and-nothing-deleted', async () => {
        await openAccount(a.page);
        assert.equal(await deleteButton.isDisabled(), true, 'not before the confirmation');
        await passwordField.fill('not my password at all');
        await a.page.getByLabel('I understand this cannot be undone').check();
        await deleteButton.click();
        await alertOf(a.page, 'delete-form', 'Your password is wrong. Nothing was deleted.').waitFor();
        assert.equal(await passwordField.getAttribute('aria-invalid'), 'true');
        // Its 401 is not refreshed and sent again (a second failure counted against her).
        assert.deepEqual(deletes, ['POST']);
        await a.page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
        assert.equal((await restLogin(alice.username, PASSWORD)).user.id, aliceId, 'the account is there');
        assert.equal(await b.page.getByTestId('chat-closed').isHidden(), true);
      });
      await step('the-right-password-deletes-it', async () => {
        // The server drops her socket as it deletes the account, and her page finds its session
        // gone (a refresh refused) before the answer may come: it is held until then here, and
        // the page still says why and forgets everything, not "Your session has ended".
        await a.page.route('**/api/auth/delete-account', async (route) => {
          const refused = a.page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/refresh' && r.status() === 401);
          const response = await route.fetch();
          await refused;
          await route.fulfill({ response });
        });
        await passwordField.fill(PASSWORD);
        await deleteButton.click();
        await a.page.getByRole('heading', { name: 'Log in' }).waitFor();
        await a.page.getByText('Your account was deleted.').waitFor();
        assert.deepEqual(deletes, ['POST', 'POST']);
        assert.equal(await a.page.getByTestId('conn-status').isHidden(), true, 'no "offline" banner');
      });
      await step('nothing-of-it-is-left-in-her-browser', async () => {
        const left = await localData(a.page, aliceId);
        assert.equal(left.dbs.includes(`batiyoun:${aliceId}`), false, 'her cache');
        assert.equal(left.key, false, 'her private key');
        assert.equal(left.lastUser, null, 'the offline start user');
        // No offline start as her either.
        await a.context.setOffline(true);
        await a.page.reload();
        await a.page.getByRole('heading', { name: 'Log in' }).waitFor();
        assert.equal(await a.page.getByTestId('chat-item').count(), 0);
        await a.context.setOffline(false);
        await a.page.reload();
        await a.page.getByRole('heading', { name: 'Log in' }).waitFor();
      });
      await step('her-credentials-no-longer-log-in-and-she-is-mailed', async () => {
        await loginRefused(a.page, alice.username, PASSWORD);
        await assert.rejects(restLogin(alice.email, PASSWORD), / → 401: /);
        const notice = `To: ${alice.email}\nSubject: Your Batiyoun account was deleted\n`;
        const mailbox = () => readFileSync(env.system.mailbox, 'utf8');
        assert.ok((await pollUntil(mailbox, (text) => text.includes(notice))).includes(notice), 'no notice mailed');
      });
      await step('bob-sees-it-at-once-and-the-chat-is-read-only', async () => {
        await b.page.getByRole('heading', { name: 'Deleted account' }).waitFor();
        await closedLine(b.page).waitFor();
        assert.equal(await b.page.getByTestId('composer-form').isHidden(), true, 'no composer');
        assert.equal(await b.page.getByTestId('e2e-note').isHidden(), true, 'no word about her key');
        for (const text of ['Hi Bob', 'Hi Alice']) await message(b.page, text).waitFor();
        assert.equal(await b.page.getByTestId('messages').getByRole('button', { name: /^(Reply|Add reaction|Edit message|Delete message)$/ }).count(), 0, 'nothing to do on the rows');
      });
      await step('bob-sees-her-name-gone-from-the-list-and-her-from-the-group', async () => {
        await backToChats(b.page);
        await dmItem(b.page).filter({ hasText: 'Deleted account' }).waitFor();
        await b.page.getByTestId('chat-item').filter({ hasText: 'Book club' }).click();
        await message(b.page, 'Hello club').locator('.sender').filter({ hasText: 'Deleted account' }).waitFor();
        await b.page.getByText('Group details').click();
        const members = b.page.getByRole('list', { name: 'Members' }).getByRole('listitem');
        await members.filter({ hasText: 'You (admin)' }).waitFor();
        assert.equal(await members.count(), 1, 'she left the group');
      });
      await step('after-a-reload-the-same', async () => {
        await b.page.reload();
        await message(b.page, 'Hello club').locator('.sender').filter({ hasText: 'Deleted account' }).waitFor();
        await backToChats(b.page);
        await dmItem(b.page).filter({ hasText: 'Deleted account' }).click();
        await b.page.getByRole('heading', { name: 'Deleted account' }).waitFor();
        await closedLine(b.page).waitFor();
        for (const text of ['Hi Bob', 'Hi Alice']) await message(b.page, text).waitFor();
        assert.equal(await b.page.getByTestId('composer-form').isHidden(), true);
      });
      await step('bob-laptop-back-online-learns-it-and-its-waiting-message-is-not-sent', async () => {
        // It missed `user_deleted`: her profile, asked again on reconnecting, is gone.
        await b2.context.setOffline(false);
        await b2.page.getByRole('heading', { name: 'Deleted account' }).waitFor();
        await closedLine(b2.page).waitFor();
        await myMessageWithStatus(b2.page, 'Are you still there?', ['failed']).waitFor();
        const stored = await api(env.system.url, `/api/chats/${dmId}/messages`, { token: asBob.accessToken });
        assert.equal(stored.messages.length, 2, 'nothing sent to a deleted account');
      });
      await step('a-lookup-that-fails-does-not-take-her-for-deleted', async () => {
        let failed = 0;
        const lookups = /\/api\/users\?ids=/;
        await b3.page.route(lookups, (route) => {
          failed++;
          return route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'unavailable', message: 'Service unavailable' } }) });
        });
        await logIn(b3.page, bob.username);
        await dmItem(b3.page).click();
        // Asked again once the first failure was taken in (the chat list's, then the history's).
        assert.ok((await pollUntil(() => failed, (n) => n >= 2)) >= 2, 'her profile was asked for twice');
        await b3.page.getByRole('heading', { name: 'Someone' }).waitFor();
        // Read-only all the same: the server says the chat is closed (her account is gone),
        // whatever this page could learn of her name.
        await closedLine(b3.page).waitFor();
        assert.equal(await b3.page.getByTestId('composer-form').isHidden(), true);
        // Answered at last: she is left out, so deleted.
        await b3.page.unroute(lookups);
        await b3.page.reload();
        await b3.page.getByRole('heading', { name: 'Deleted account' }).waitFor();
        await closedLine(b3.page).waitFor();
      });
    } finally {
      for (const p of [a, b, b2, b3]) await p.context.close();
    }
  });

  test('deleting the account with a code mailed to the address', async (t) => {
    const a = await newPage(phone);
    const step = stepper(t.name, { a: a.page });
    const deleteButton = a.page.getByRole('button', { name: 'Delete my account' });
    const code = a.page.getByLabel('Code from the email');
    try {
      const gina = await signUpByApi('gina');
      const signupCode = await readOtp(env.system.mailbox, gina.email);
      await step('log-in-and-open-account', async () => {
        await logIn(a.page, gina.username);
        await openAccount(a.page);
      });
      const wait = await step('a-code-asked-within-the-signup-code-cooldown', async () => {
        // The signup mailed one seconds ago: none now, and the page says how long to wait; the
        // code's field shows all the same.
        await a.page.getByRole('button', { name: 'Use a code sent to your email instead' }).click();
        const refused = alertOf(a.page, 'delete-form', /^No code was sent just now: please wait \d+ seconds? before asking again\. A code we emailed you in the last 10 minutes still works\.$/);
        await refused.waitFor();
        assert.equal(await a.page.getByTestId('delete-sent-to').textContent(), gina.email);
        assert.equal(await a.page.getByTestId('delete-form').getByLabel('Password', { exact: true }).isHidden(), true);
        return Number(/wait (\d+) second/.exec(await refused.textContent())[1]);
      });
      const mailed = await step('another-code-is-mailed', async () => {
        await new Promise((r) => setTimeout(r, wait * 1000 + 500));
        await a.page.getByRole('button', { name: 'Email me another code' }).click();
        await a.page.getByTestId('delete-status').filter({ hasText: `Another code is on its way to ${gina.email}.` }).waitFor();
        return pollUntil(() => readOtp(env.system.mailbox, gina.email), (c) => c !== signupCode);
      });
      await step('a-wrong-code-is-refused', async () => {
        assert.notEqual(mailed, signupCode, 'a new code was mailed');
        await code.fill(String((Number(mailed) + 1) % 1_000_000).padStart(6, '0'));
        await a.page.getByLabel('I understand this cannot be undone').check();
        await deleteButton.click();
        await alertOf(a.page, 'delete-form', 'That code is wrong or has expired. Check it, or ask for another. Nothing was deleted.').waitFor();
        assert.equal(await code.getAttribute('aria-invalid'), 'true');
        await restLogin(gina.username, PASSWORD);
      });
      await step('the-code-deletes-it', async () => {
        await code.fill(mailed);
        await deleteButton.click();
        await a.page.getByRole('heading', { name: 'Log in' }).waitFor();
        await a.page.getByText('Your account was deleted.').waitFor();
        await assert.rejects(restLogin(gina.username, PASSWORD), / → 401: /);
      });
    } finally {
      await a.context.close();
    }
  });

  test('deleting the account: its other tab says so, and so does a start after an answer that never came', async (t) => {
    const a = await newPage(desktop); // Hank, in two tabs of one browser
    const a2 = await a.context.newPage();
    const c = await newPage(phone); // Ivy, whose deletion's answer is lost
    const step = stepper(t.name, { a: a.page, a2, c: c.page });
    const deleteWith = async (page) => {
      await openAccount(page);
      await page.getByTestId('delete-form').getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByLabel('I understand this cannot be undone').check();
      await page.getByRole('button', { name: 'Delete my account' }).click();
    };
    const deletedNotice = async (page) => {
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      await page.getByText('Your account was deleted.').waitFor();
    };
    try {
      const hank = await signUpByApi('hank');
      const ivy = await signUpByApi('ivy');
      const hankId = (await restLogin(hank.username, PASSWORD)).user.id;
      const ivyId = (await restLogin(ivy.username, PASSWORD)).user.id;
      await step('hank-in-two-tabs', async () => {
        await logIn(a.page, hank.username);
        await a2.goto('/');
        await a2.getByRole('heading', { name: 'Chats' }).waitFor();
      });
      await step('the-other-tab-says-it-was-deleted-and-keeps-nothing', async () => {
        await deleteWith(a.page);
        await deletedNotice(a.page);
        // Its session ends too (its socket dropped, its refresh refused): not "Your session has
        // ended", which would keep the cache for the next login.
        await deletedNotice(a2);
        const left = await localData(a2, hankId);
        assert.equal(left.dbs.includes(`batiyoun:${hankId}`), false, 'his cache');
        assert.equal(left.lastUser, null, 'the offline start user');
      });
      await step('ivy-with-encryption-on', async () => {
        await logIn(c.page, ivy.username);
        await turnOn(c.page, PASSPHRASE);
        assert.equal((await localData(c.page, ivyId)).key, true, 'her private key');
      });
      await step('the-answer-never-comes', async () => {
        // The request reaches the server, which deletes the account, but the page is offline by
        // then (so it does not see its socket dropped either), and the answer never comes.
        await c.page.route('**/api/auth/delete-account', async (route) => {
          await c.context.setOffline(true);
          await c.page.locator('[data-testid=conn-status][data-state=offline]').waitFor();
          await route.fetch();
          await route.abort('internetdisconnected');
        });
        await deleteWith(c.page);
        await c.page.getByTestId('delete-form').getByRole('alert').waitFor();
        assert.equal(await c.page.getByRole('heading', { name: 'Account', exact: true }).count(), 1, 'still signed in here');
        await assert.rejects(restLogin(ivy.username, PASSWORD), / → 401: /, 'deleted on the server');
      });
      await step('the-next-start-finds-it-deleted-and-keeps-nothing', async () => {
        await c.page.close();
        await c.context.setOffline(false);
        const page = await c.context.newPage();
        await page.goto('/');
        await deletedNotice(page);
        const left = await localData(page, ivyId);
        assert.equal(left.dbs.includes(`batiyoun:${ivyId}`), false, 'her cache');
        assert.equal(left.key, false, 'her private key');
        assert.equal(left.lastUser, null, 'the offline start user');
      });
    } finally {
      await a.context.close();
      await c.context.close();
    }
  });
});
