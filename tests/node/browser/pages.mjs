// Page helpers shared by the browser suites: users signed up through the UI or over REST, a DM
// opened by username search, messages sent and found, async reads polled.
import { after, before } from 'node:test';
import { api, buildWeb, launchBrowser, randomName, readOtp, startSystem } from './harness.mjs';

export const TIMEOUT = 20_000;
export const PASSWORD = 'correct horse battery staple';
/**
 * realtime's `sync` answers from SYNC_LOOKBACK_SECS before the newest message a client has, as
 * those messages are now: a change to an older one (an edit, a deletion, a reaction) reaches a
 * client that was away only through `sync_changes`. The suites that test it start the server
 * with this look-back (15 s by default); `SYNC_LOOKBACK_MS` is that, the second the newest is
 * in, and a margin.
 */
export const SYNC_LOOKBACK_SECS = 1;
export const SYNC_LOOKBACK_MS = (SYNC_LOOKBACK_SECS + 2) * 1000;

/**
 * Registers a browser suite's hooks (inside its `describe`): before, `web/dist` built, the whole
 * system started (the launcher) and chromium launched; after, both stopped, and the suite fails
 * if any of its pages broke the Content Security Policy the launcher serves (something blocked,
 * which a user would meet as a feature that silently does nothing). `launcherEnv`: variables
 * the launcher gets besides its own. Answers the suite's `{ system, browser }`, set once `before`
 * has run.
 */
export function suiteSystem(launcherEnv = {}) {
  const env = { system: null, browser: null, cspViolations: [] };
  before(async () => {
    buildWeb();
    env.system = await startSystem({ env: launcherEnv });
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close().catch(() => {});
    await env.system?.stop();
    if (env.cspViolations.length > 0) throw new Error(`the pages broke the Content Security Policy:\n${env.cspViolations.join('\n')}`);
  });
  return env;
}

/**
 * The helpers of one suite. `env()` answers the suite's `{ browser, system }` (set in its
 * `before`, so read when a helper runs).
 */
export function pageHelpers(env) {
  /** A page in a context of its own (a device); `options` are the context's besides those (a `userAgent`). */
  async function newPage(viewport, options = {}) {
    const context = await env().browser.newContext({ ...options, viewport, baseURL: env().system.url });
    context.setDefaultTimeout(TIMEOUT);
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && m.text().includes('Content Security Policy')) env().cspViolations.push(m.text());
    });
    return { context, page };
  }

  /** Signs up through the UI, reads the code from the dev mailbox, verifies; ends on the chat list. */
  async function signUp(page, who) {
    const username = randomName(`${who}_`);
    const email = `${username.replace('_', '.')}@example.test`;
    await page.goto('/');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Username', { exact: true }).fill(username);
    await page.getByLabel('Display name (optional)').fill(who.toUpperCase());
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    const code = await readOtp(env().system.mailbox, email);
    await page.getByLabel('Verification code').fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Chats' }).waitFor();
    return { username, email };
  }

  /** Signs a user up over REST, with no page (a member others add). */
  async function signUpByApi(who) {
    const username = randomName(`${who}_`);
    const email = `${username.replace('_', '.')}@example.test`;
    await api(env().system.url, '/api/auth/signup', { method: 'POST', body: { email, username, password: PASSWORD, displayName: who.toUpperCase() } });
    await api(env().system.url, '/api/auth/verify-otp', { method: 'POST', body: { email, code: await readOtp(env().system.mailbox, email) } });
    return { username, email };
  }

  async function openDm(page, otherUsername) {
    await page.getByTestId('new-chat').click();
    await page.getByLabel('Search by username').fill(otherUsername);
    await page.locator(`[data-testid=user-result][data-username="${otherUsername}"]`).click();
    await page.getByTestId('chat-view').waitFor();
  }

  /**
   * Routes the page's Socket.IO WebSocket through the test, which can drop the next
   * `chat_changed` the server sends it (as a change made on another instance can fail to come
   * before the next one). `dropNextChatChange()` arms it and resolves with the dropped frame.
   */
  async function routeChatChanges(page) {
    let armed = null;
    await page.routeWebSocket(/\/socket\.io\//, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((frame) => {
        if (armed && typeof frame === 'string' && frame.startsWith('42["chat_changed"')) {
          armed(frame);
          armed = null;
          return;
        }
        ws.send(frame);
      });
      ws.onMessage((frame) => server.send(frame));
    });
    return { dropNextChatChange: () => new Promise((resolve) => (armed = resolve)) };
  }

  /**
   * Calls `read` every `everyMs` until `done(answer)` or TIMEOUT, and resolves with the last answer
   * for the caller to assert on (for async reads: waitForFunction does not wait for their answer).
   */
  async function pollUntil(read, done, everyMs = 50) {
    const deadline = Date.now() + TIMEOUT;
    let answer = await read();
    while (!done(answer) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, everyMs));
      answer = await read();
    }
    return answer;
  }

  /** Turns end-to-end encryption on from the chat list's panel, with `passphrase`. */
  async function turnOn(page, passphrase) {
    const panel = page.getByTestId('e2e-panel');
    await page.getByTestId('e2e-again').waitFor();
    await page.getByTestId('e2e-passphrase').fill(passphrase);
    await page.getByTestId('e2e-again').fill(passphrase);
    await page.getByTestId('e2e-set-up').click();
    await panel.waitFor({ state: 'hidden' });
  }

  async function send(page, text) {
    await page.getByLabel('Message', { exact: true }).fill(text);
    await page.getByRole('button', { name: 'Send', exact: true }).click();
  }

  const message = (page, text) => page.getByTestId('message').filter({ hasText: text });
  const myMessageWithStatus = (page, text, statuses) =>
    page.locator(statuses.map((s) => `[data-testid=message][data-mine=true][data-status=${s}]`).join(', ')).filter({ hasText: text });

  /** Logs `username` in through the login form, on a page signed out. */
  async function logIn(page, username, password = PASSWORD) {
    await page.goto('/');
    await page.getByLabel('Username or email').fill(username);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Chats' }).waitFor();
  }

  /**
   * `a` opens a sealed DM with `bUsername` (both have encryption on) and says "Hi Bob"; each of
   * `bPages` opens it from the chat list. Answers the chat's id.
   */
  async function openSealedDm(a, bUsername, ...bPages) {
    await openDm(a, bUsername);
    await a.locator('[data-testid=e2e-note][data-state=sealed]').waitFor();
    await send(a, 'Hi Bob');
    for (const b of bPages) {
      await b.getByTestId('chat-item').filter({ hasText: 'Hi Bob' }).click();
      await message(b, 'Hi Bob').waitFor();
    }
    return a.getByTestId('chat-view').getAttribute('data-chat-id');
  }

  /** Opens Account settings from the chat list. */
  async function openAccount(page) {
    await page.getByTestId('account').click();
    await page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
  }

  return { newPage, signUp, signUpByApi, openDm, routeChatChanges, pollUntil, turnOn, send, message, myMessageWithStatus, logIn, openSealedDm, openAccount };
}
