// Reactions in the PWA, in Debian's chromium against the whole system (the launcher): one chosen
// from a row's palette shows as a chip ("👍 1") live on the other side and in the reactor's
// other tab, pressed only for who reacted; a chip adds the user's reaction or takes it back; the
// state survives a reload; offline, a reaction is kept pending and sent once back, in order; a
// copy older than the one held (by revision) does not undo a reaction; a reader who was offline
// learns of one from `sync_changes`; a deleted message has no reactions and no "React". Skips like
// browser.test.mjs; under CI=true it fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, api, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { PASSWORD, SYNC_LOOKBACK_MS, SYNC_LOOKBACK_SECS, pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

const PASSPHRASE = 'a long recovery passphrase';

describe('reactions in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  const env = suiteSystem({ SYNC_LOOKBACK_SECS: String(SYNC_LOOKBACK_SECS) });
  const { newPage, signUp, logIn, openDm, openSealedDm, pollUntil, turnOn, send, message } = pageHelpers(() => env);

  /** A message's row, by the clientMsgId both sides know it by. */
  const row = (page, id) => page.locator(`[data-testid=message][data-client-msg-id="${id}"]`);
  /** The chip of `emoji` on message `id` saying `count`, pressed (this user reacted) or not. */
  const chip = (page, id, emoji, count, pressed) => row(page, id).getByRole('button', { name: `${emoji} ${count}`, exact: true, pressed });
  /** Any chip of `emoji` on message `id`, whatever its count. */
  const anyChip = (page, id, emoji) => row(page, id).locator(`[data-testid=reaction][data-emoji="${emoji}"]`);
  const reactButton = (page, id) => row(page, id).getByRole('button', { name: 'Add reaction' });
  const palette = (page, id) => row(page, id).getByRole('group', { name: 'Choose a reaction' });
  const problem = (page) => page.getByTestId('attach-error');

  /** Sends `text` from `from`, waits until it is stored and `to` has it; answers its clientMsgId. */
  async function sent(from, to, text) {
    await send(from, text);
    const mine = message(from, text).and(from.locator('[data-mine=true][data-id]'));
    await mine.waitFor();
    const id = await mine.getAttribute('data-client-msg-id');
    await row(to, id).filter({ hasText: text }).waitFor();
    return id;
  }

  /** Sends `text` from `page` and waits until it is stored; answers its clientMsgId. */
  async function stored(page, text) {
    await send(page, text);
    const mine = message(page, text).and(page.locator('[data-mine=true][data-id]'));
    await mine.waitFor();
    return mine.getAttribute('data-client-msg-id');
  }

  /** Reacts to message `id` with `emoji` through its "React" and the palette, which closes. */
  async function reactFromPalette(page, id, emoji) {
    await reactButton(page, id).click();
    await palette(page, id).getByRole('button', { name: emoji, exact: true }).click();
    await palette(page, id).waitFor({ state: 'detached' });
  }

  async function goOffline(ctx, offline) {
    await ctx.context.setOffline(offline);
    await ctx.page.locator(`[data-testid=conn-status][data-state=${offline ? 'offline' : 'online'}]`).waitFor({ state: 'attached' });
  }

  /**
   * Routes the page's Socket.IO WebSocket through the test, which can hold the `message_updated`
   * events the server sends it (`hold()`), wait until `n` are held (`held(n)`), and let them
   * through in another order (`release(order)`, indexes in the order they came), as copies of a
   * message can arrive crossed (events from two server instances, a catch-up read before a change).
   */
  async function routeMessageUpdates(page) {
    let holding = false;
    const frames = [];
    await page.routeWebSocket(/\/socket\.io\//, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((frame) => {
        if (holding && typeof frame === 'string' && frame.startsWith('42["message_updated"')) {
          frames.push(() => ws.send(frame));
          return;
        }
        ws.send(frame);
      });
      ws.onMessage((frame) => server.send(frame));
    });
    return {
      hold: () => (holding = true),
      held: async (n) => assert.ok((await pollUntil(() => frames.length, (k) => k >= n)) >= n, `${n} message_updated held`),
      release: (order) => {
        holding = false;
        for (const i of order) frames[i]();
        frames.length = 0;
      },
    };
  }

  test('reactions show live on both sides, toggle, survive a reload and a time offline, and go with a deletion', async (t) => {
    const a = await newPage({ width: 1280, height: 800 });
    const b = await newPage({ width: 375, height: 740 });
    const b2 = await b.context.newPage(); // Bob's other tab, whose socket the test routes
    const b2Socket = await routeMessageUpdates(b2);
    const step = stepper(t.name, { a: a.page, b: b.page, b2 });
    try {
      const alice = await step('signup-a', () => signUp(a.page, 'alice'));
      const bob = await step('signup-b', () => signUp(b.page, 'bob'));
      await step('both-turn-encryption-on', async () => {
        await turnOn(a.page, PASSPHRASE);
        await turnOn(b.page, PASSPHRASE);
      });
      const login = (who) => api(env.system.url, '/api/auth/login', { method: 'POST', body: { login: who.username, password: PASSWORD } });
      const asAlice = await login(alice);
      const asBob = await login(bob);
      const storedAsBob = async (chatId, id) => (await api(env.system.url, `/api/chats/${chatId}/messages`, { token: asBob.accessToken })).messages.find((m) => m.clientMsgId === id);

      const dmId = await step('a-opens-a-sealed-dm-and-b-opens-it-in-two-tabs', async () => {
        await b2.goto('/');
        return openSealedDm(a.page, bob.username, b.page, b2);
      });
      // Reacted to while Bob is offline, at the end: by then older than `sync` looks back.
      const later = await step('a-sends-one-for-later', () => sent(a.page, b.page, 'to be celebrated while Bob is away'));
      const laterSentAt = Date.now();

      const id = await step('b-reacts-from-the-palette-and-a-and-his-other-tab-see-it-live', async () => {
        const id = await sent(a.page, b.page, 'React to me');
        await message(b2, 'React to me').waitFor();
        // Esc closes the palette, sending nothing, and gives the focus back to "React".
        await reactButton(b.page, id).click();
        await palette(b.page, id).getByRole('button', { name: '👍', exact: true }).waitFor();
        assert.equal(await b.page.evaluate(() => document.activeElement?.textContent), '👍', 'the palette takes the focus');
        await b.page.keyboard.press('Escape');
        await palette(b.page, id).waitFor({ state: 'detached' });
        assert.equal(await b.page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Add reaction');
        await reactFromPalette(b.page, id, '👍');
        await chip(b.page, id, '👍', 1, true).waitFor();
        await chip(a.page, id, '👍', 1, false).waitFor();
        await chip(b2, id, '👍', 1, true).waitFor();
        assert.equal(await anyChip(a.page, id, '👍').getAttribute('title'), 'Reacted with 👍 by BOB');
        assert.equal(await anyChip(b.page, id, '👍').getAttribute('title'), 'Reacted with 👍 by you');
        return id;
      });

      await step('a-adds-hers-by-the-chip', async () => {
        await chip(a.page, id, '👍', 1, false).click();
        await chip(a.page, id, '👍', 2, true).waitFor();
        await chip(b.page, id, '👍', 2, true).waitFor();
        assert.equal(await anyChip(b.page, id, '👍').getAttribute('title'), 'Reacted with 👍 by you and ALICE', 'in the order they reacted');
      });

      await step('b-takes-his-back-by-his-pressed-chip', async () => {
        await chip(b.page, id, '👍', 2, true).click();
        await chip(b.page, id, '👍', 1, false).waitFor();
        await chip(a.page, id, '👍', 1, true).waitFor();
        assert.deepEqual((await storedAsBob(dmId, id)).reactions, [{ emoji: '👍', users: [asAlice.user.id] }], 'as the server holds it');
      });

      await step('after-a-reload-b-sees-the-same', async () => {
        await b.page.reload();
        await chip(b.page, id, '👍', 1, false).waitFor();
        assert.equal(await row(b.page, id).getByTestId('reaction').count(), 1);
      });

      await step('offline-a-reaction-is-kept-pending-and-sent-in-order-once-back', async () => {
        // Added, then taken back, offline: both go, in that order (the server ends without it).
        await goOffline(b, true);
        await reactFromPalette(b.page, id, '😂');
        await row(b.page, id).locator('[data-testid=reaction][data-emoji="😂"][data-pending=true]').waitFor();
        await chip(b.page, id, '😂', 1, true).click();
        await anyChip(b.page, id, '😂').waitFor({ state: 'detached' });
        assert.equal(await problem(b.page).textContent(), '', 'kept, not refused');
        await chip(b.page, id, '👍', 1, false).waitFor();
        await goOffline(b, false);
        await b.page.locator('[data-testid=message][data-change-pending=true]').first().waitFor({ state: 'detached' });
        assert.deepEqual((await storedAsBob(dmId, id)).reactions, [{ emoji: '👍', users: [asAlice.user.id] }], 'the 😂 added and taken back');
        await chip(a.page, id, '👍', 1, true).waitFor();
        assert.equal(await row(a.page, id).getByTestId('reaction').count(), 1);
      });

      await step('a-copy-crossed-by-a-newer-one-does-not-undo-a-reaction', async () => {
        // Bob's other tab gets Alice's ❤️ (a newer revision) before her 😮 (older), then the
        // 🎉 to another message, which says both were taken in.
        await b2.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
        const other = await sent(a.page, b.page, 'the marker');
        await message(b2, 'the marker').waitFor();
        b2Socket.hold();
        await reactFromPalette(a.page, id, '😮');
        await chip(a.page, id, '😮', 1, true).waitFor();
        await reactFromPalette(a.page, id, '❤️');
        await chip(a.page, id, '❤️', 1, true).waitFor();
        await reactFromPalette(a.page, other, '🎉');
        await chip(a.page, other, '🎉', 1, true).waitFor();
        await b2Socket.held(3);
        b2Socket.release([1, 0, 2]);
        await chip(b2, other, '🎉', 1, false).waitFor();
        // Read once, not waited for: the ❤️ shows between the two copies, and must stay.
        const shown = await row(b2, id).getByTestId('reaction').evaluateAll((els) => els.map((el) => `${el.dataset.emoji} ${el.textContent.split(' ')[1]}`));
        assert.deepEqual(shown, ['👍 1', '😮 1', '❤️ 1'], 'the older copy is ignored; each emoji in the order it was first used');
      });

      await step('a-deletes-a-reacted-message-and-its-reactions-go', async () => {
        const doomed = await sent(a.page, b.page, 'to be deleted with its reactions');
        await reactFromPalette(b.page, doomed, '😢');
        await chip(a.page, doomed, '😢', 1, false).waitFor();
        a.page.once('dialog', (d) => void d.accept());
        await row(a.page, doomed).getByRole('button', { name: 'Delete message' }).click();
        for (const page of [a.page, b.page]) {
          await row(page, doomed).getByTestId('deleted').waitFor();
          assert.equal(await row(page, doomed).getByTestId('reaction').count(), 0, 'a tombstone has no reactions');
          assert.equal(await reactButton(page, doomed).count(), 0, 'nor a "React"');
        }
        assert.equal((await storedAsBob(dmId, doomed)).reactions, undefined, 'nor on the server');
      });

      await step('b-offline-learns-of-a-reaction-when-back', async () => {
        await row(a.page, later).waitFor();
        // Bob's newest message of the chat must be past `sync`'s look-back from the one reacted to.
        const wait = SYNC_LOOKBACK_MS - (Date.now() - laterSentAt);
        if (wait > 0) await a.page.waitForTimeout(wait);
        await sent(a.page, b.page, 'the newest before Bob goes');
        await goOffline(b, true);
        // Alice reacts to her own message: any member may.
        await reactFromPalette(a.page, later, '🎉');
        await chip(a.page, later, '🎉', 1, true).waitFor();
        assert.equal(await row(b.page, later).getByTestId('reaction').count(), 0, 'Bob is offline');
        await goOffline(b, false);
        await chip(b.page, later, '🎉', 1, false).waitFor();
      });
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });

  test('a reaction to her message notifies Alice when she is not looking, and nothing else does', async (t) => {
    const a = await newPage({ width: 1280, height: 800 });
    const a2 = await newPage({ width: 375, height: 740 }); // Alice's phone
    const b = await newPage({ width: 1280, height: 800 });
    const step = stepper(t.name, { a: a.page, a2: a2.page, b: b.page });
    /** The notifications Alice's service worker shows now (title, body). */
    const shown = () =>
      a.page.evaluate(async () => {
        const registration = await navigator.serviceWorker.getRegistration();
        return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body }));
      });
    const closeAll = () =>
      a.page.evaluate(async () => {
        const registration = await navigator.serviceWorker.getRegistration();
        for (const n of await registration.getNotifications()) n.close();
      });
    const item = a.page.getByTestId('chat-item').filter({ hasText: 'BOB' });
    try {
      const alice = await signUp(a.page, 'alice');
      const bob = await signUp(b.page, 'bob');
      await logIn(a2.page, alice.username);
      await a.context.grantPermissions(['notifications'], { origin: env.system.url });
      let lunch;
      let sure;

      await step('she-asks-and-looks-elsewhere', async () => {
        await openDm(a.page, bob.username);
        lunch = await stored(a.page, 'Lunch at noon?');
        await b.page.getByTestId('chat-item').filter({ hasText: 'ALICE' }).click();
        await row(b.page, lunch).filter({ hasText: 'Lunch at noon?' }).waitFor();
        await a.page.getByRole('link', { name: 'Back to chats' }).click();
        await item.waitFor();
      });
      await step('bob-reacts-and-she-is-told', async () => {
        await reactFromPalette(b.page, lunch, '👍');
        const told = await pollUntil(() => shown(), (n) => n.length > 0);
        assert.deepEqual(told, [{ title: 'BOB', body: 'Reacted 👍 to “Lunch at noon?”' }]);
        await closeAll();
      });
      await step('taking-it-back-or-reacting-to-his-own-tells-her-nothing', async () => {
        await chip(b.page, lunch, '👍', 1, true).click();
        await anyChip(b.page, lunch, '👍').waitFor({ state: 'detached' });
        sure = await stored(b.page, 'Sure');
        await pollUntil(() => shown(), (n) => n.length > 0); // his message does notify her
        await closeAll();
        await reactFromPalette(b.page, sure, '🎉');
        // Nor does her own, from her phone.
        await a2.page.getByTestId('chat-item').filter({ hasText: 'BOB' }).click();
        await reactFromPalette(a2.page, lunch, '😂');
        await chip(b.page, lunch, '😂', 1, false).waitFor();
        await a.page.waitForTimeout(800); // a notification would be on its way by now
        assert.deepEqual(await shown(), [], 'a reaction to his own message, one taken back, or her own');
      });
      await step('not-while-she-looks-at-the-chat', async () => {
        await item.click();
        await row(a.page, lunch).waitFor();
        await reactFromPalette(b.page, lunch, '❤️');
        await chip(a.page, lunch, '❤️', 1, false).waitFor();
        await chip(a.page, lunch, '😂', 1, true).waitFor();
        await a.page.waitForTimeout(500);
        assert.deepEqual(await shown(), [], 'she sees it as it comes');
      });
    } finally {
      await a.context.close();
      await a2.context.close();
      await b.context.close();
    }
  });
});
