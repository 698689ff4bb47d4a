// Google sign-in in the browser (Debian's chromium, playwright-core) against the whole system (the
// launcher, given Google's settings) and the local OpenID Connect provider that stands in for
// Google (tests/node/oauth/provider.mjs, at TEST_OAUTH_URL): "Continue with Google" signs a new
// user in and back in, and that user, who has no password, deletes the account with a code
// mailed to the address Google vouched for; signing in with Google again then works (a new
// account).
// Skips like browser.test.mjs, and without TEST_OAUTH_URL; under CI=true it fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, missingPrerequisite, readOtp, stepper } from '../browser/harness.mjs';
import { pageHelpers, suiteSystem } from '../browser/pages.mjs';

const provider = process.env.TEST_OAUTH_URL?.replace(/\/$/, '');
/** The user the provider signs in when not told which (see tests/node/oauth/provider.mjs). */
const GOOGLE_USER = 'google-user@example.com';
const missing =
  missingPrerequisite() ??
  (process.env.BATIYOUN_URL ? 'BATIYOUN_URL is set: the system under test is not ours to give Google settings' : null) ??
  (provider ? null : 'TEST_OAUTH_URL (the local OAuth provider, tests/node/oauth/provider.mjs) is not set');
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

describe('Google sign-in in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  const env = suiteSystem({
    GOOGLE_CLIENT_ID: 'batiyoun-browser-suite',
    GOOGLE_CLIENT_SECRET: 'browser-suite-secret',
    GOOGLE_AUTH_URL: `${provider}/authorize`,
    GOOGLE_TOKEN_URL: `${provider}/token`,
    GOOGLE_JWKS_URL: `${provider}/jwks`,
    GOOGLE_ISSUER: provider,
  });
  const { newPage, openAccount } = pageHelpers(() => env);

  /**
   * Signs in with Google. The provider signs in its default user (Google would ask the user to
   * choose an account): `GOOGLE_USER`, new to this suite's fresh system.
   */
  async function continueWithGoogle(page) {
    await page.goto('/');
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.getByTestId('google').click();
    await page.getByRole('heading', { name: 'Chats' }).waitFor();
  }

  test('a Google account signs in, and deletes itself with a code as it has no password', async (t) => {
    const a = await newPage({ width: 1024, height: 768 });
    const step = stepper(t.name, { a: a.page });
    const email = GOOGLE_USER;
    const alert = a.page.getByTestId('delete-form').getByRole('alert');
    try {
      const username = await step('continue-with-google-makes-an-account', async () => {
        await continueWithGoogle(a.page);
        await openAccount(a.page);
        const shown = (await a.page.getByTestId('account-username').textContent()).trim();
        assert.match(shown, /^@\w+/);
        return shown;
      });
      await step('signed-out-and-back-in-to-the-same-account', async () => {
        await a.page.getByTestId('logout').click();
        await a.page.getByRole('heading', { name: 'Log in' }).waitFor();
        await continueWithGoogle(a.page);
        await openAccount(a.page);
        assert.equal((await a.page.getByTestId('account-username').textContent()).trim(), username);
      });
      await step('a-password-is-refused-as-it-has-none', async () => {
        await a.page.getByTestId('delete-form').getByLabel('Password', { exact: true }).fill('any password at all');
        await a.page.getByLabel('I understand this cannot be undone').check();
        await a.page.getByRole('button', { name: 'Delete my account' }).click();
        await alert.filter({ hasText: 'Your account has no password (it was made with Google): use a code sent to your email instead.' }).waitFor();
      });
      await step('a-code-mailed-to-its-address-deletes-it', async () => {
        await a.page.getByRole('button', { name: 'Use a code sent to your email instead' }).click();
        await a.page.getByTestId('delete-sent-to').filter({ hasText: email }).waitFor();
        const code = await readOtp(env.system.mailbox, email);
        await a.page.getByLabel('Code from the email').fill(code);
        await a.page.getByRole('button', { name: 'Delete my account' }).click();
        await a.page.getByRole('heading', { name: 'Log in' }).waitFor();
        await a.page.getByText('Your account was deleted.').waitFor();
      });
      await step('google-again-makes-a-new-account', async () => {
        // The deleted account's link to this Google user went with it: a new one is made.
        await continueWithGoogle(a.page);
        await openAccount(a.page);
        assert.match((await a.page.getByTestId('account-username').textContent()).trim(), /^@\w+/);
      });
    } finally {
      await a.context.close();
    }
  });
});
