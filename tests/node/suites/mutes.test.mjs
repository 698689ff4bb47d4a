// Muted chats in the PWA, in Debian's chromium against the whole system (the launcher): Bob mutes
// his chat with Alice from its header; his other device shows it muted at once (`chat_muted`),
// and so does a reload (the chat list says so to him alone); her messages still arrive and count
// as unread, in grey, but notify nothing and are left out of the tab's title; unmuted from his
// other device, the next one notifies him again. Alice sees nothing of it. Muted "for 1 hour", a
// chat is quiet; its end moved to a few seconds away (over REST), both his devices see it come
// by themselves, and her next message notifies him. Skips like browser.test.mjs; under CI=true
// it fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, api, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { PASSWORD, pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

describe('muted chats in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  const env = suiteSystem();
  const { newPage, signUp, logIn, openDm, send, message, pollUntil } = pageHelpers(() => env);
  const desktop = { width: 1280, height: 800 };
  const phone = { width: 375, height: 740 };

  /** The notifications the page's service worker shows now (title, body). */
  const shown = (page) =>
    page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body }));
    });
  const item = (page, name) => page.getByTestId('chat-item').filter({ hasText: name });
  const mutedTag = (page, name) => item(page, name).getByTestId('muted');
  const backToChats = async (page) => {
    await page.getByRole('link', { name: 'Back to chats' }).click();
    await page.getByRole('heading', { name: 'Chats' }).waitFor();
  };

  test('a chat muted on one device notifies none of them, stays muted after a reload, and is unmuted from another', async (t) => {
    const a = await newPage(desktop);
    const b = await newPage(desktop);
    const b2 = await newPage(phone); // Bob's phone
    const step = stepper(t.name, { a: a.page, b: b.page, b2: b2.page });
    try {
      await signUp(a.page, 'alice');
      const bob = await signUp(b.page, 'bob');
      await logIn(b2.page, bob.username);
      await b.context.grantPermissions(['notifications'], { origin: env.system.url });

      await step('alice-says-hello', async () => {
        await openDm(a.page, bob.username);
        await send(a.page, 'Hello Bob');
        await item(b.page, 'ALICE').filter({ hasText: 'Hello Bob' }).waitFor();
        await item(b2.page, 'ALICE').filter({ hasText: 'Hello Bob' }).waitFor();
      });
      await step('bob-mutes-the-chat-and-his-phone-hears-it', async () => {
        await item(b.page, 'ALICE').click();
        await message(b.page, 'Hello Bob').waitFor();
        const mute = b.page.getByTestId('mute');
        assert.equal(await mute.textContent(), 'Mute');
        await mute.click();
        const menu = b.page.getByRole('menu', { name: 'Mute for how long' });
        assert.deepEqual(await menu.getByRole('menuitem').allTextContents(), ['For 1 hour', 'For 8 hours', 'For 1 week', 'Until I unmute it']);
        await menu.getByRole('menuitem', { name: 'Until I unmute it' }).click();
        await b.page.locator('[data-testid=mute][data-muted=true]').waitFor();
        assert.equal(await mute.getAttribute('data-until'), '', 'until he unmutes it');
        assert.equal(await menu.isHidden(), true);
        assert.equal(await mute.textContent(), 'Unmute');
        await backToChats(b.page);
        await mutedTag(b.page, 'ALICE').waitFor();
        await mutedTag(b2.page, 'ALICE').waitFor(); // no reload: `chat_muted`
        // Alice's own chat list says nothing of it.
        await backToChats(a.page);
        await item(a.page, 'BOB').waitFor();
        assert.equal(await mutedTag(a.page, 'BOB').count(), 0, 'muting is his own');
        await item(a.page, 'BOB').click();
      });
      await step('her-messages-arrive-and-count-but-notify-nothing', async () => {
        await send(a.page, 'Psst, quietly');
        await item(b.page, 'ALICE').filter({ hasText: 'Psst, quietly' }).waitFor();
        const badge = item(b.page, 'ALICE').getByTestId('unread');
        await badge.waitFor();
        assert.equal(await badge.getAttribute('class'), 'badge quiet', 'counted, in grey');
        await b.page.waitForTimeout(500); // a notification would be on its way by now
        assert.deepEqual(await shown(b.page), [], 'no notification of a muted chat');
        assert.equal(await b.page.title(), 'Batiyoun', 'not counted in the title');
      });
      await step('muted-after-a-reload', async () => {
        await b.page.reload();
        await mutedTag(b.page, 'ALICE').waitFor();
        assert.equal(await b.page.title(), 'Batiyoun');
      });
      await step('unmuted-from-his-phone-it-notifies-again', async () => {
        await item(b2.page, 'ALICE').click();
        await b2.page.getByTestId('mute').click();
        await b2.page.locator('[data-testid=mute][data-muted=false]').waitFor();
        await backToChats(b2.page);
        await mutedTag(b.page, 'ALICE').waitFor({ state: 'detached' }); // `chat_muted`
        assert.equal(await mutedTag(b2.page, 'ALICE').count(), 0);
        await send(a.page, 'Now loudly');
        const notified = await pollUntil(() => shown(b.page), (n) => n.length > 0);
        assert.deepEqual(notified, [{ title: 'ALICE', body: 'Now loudly' }]);
        await b.page.waitForFunction(() => /^\(\d+\) Batiyoun$/.test(document.title));
      });
    } finally {
      await a.context.close();
      await b.context.close();
      await b2.context.close();
    }
  });

  test('a chat muted for a while is quiet until its end, on his other device too, and notifies again after it by itself', async (t) => {
    const a = await newPage(desktop);
    const b = await newPage(desktop);
    const b2 = await newPage(phone);
    const step = stepper(t.name, { a: a.page, b: b.page, b2: b2.page });
    try {
      await signUp(a.page, 'alice');
      const bob = await signUp(b.page, 'bob');
      await logIn(b2.page, bob.username);
      await b.context.grantPermissions(['notifications'], { origin: env.system.url });
      let chatId;
      let accessToken; // Bob's, in a third session

      await step('bob-mutes-the-chat-for-an-hour', async () => {
        await openDm(a.page, bob.username);
        await send(a.page, 'Hello Bob');
        await item(b.page, 'ALICE').filter({ hasText: 'Hello Bob' }).click();
        await message(b.page, 'Hello Bob').waitFor();
        await b.page.getByTestId('mute').click();
        const asked = Date.now();
        await b.page.getByRole('menuitem', { name: 'For 1 hour' }).click();
        await b.page.locator('[data-testid=mute][data-muted=true]').waitFor();
        const until = Date.parse(await b.page.getByTestId('mute').getAttribute('data-until'));
        assert.ok(Math.abs(until - asked - 3_600_000) < 60_000, `an hour from now: ${new Date(until).toISOString()}`);
        assert.match(await b.page.getByTestId('mute').getAttribute('title'), /\(muted until .+\)/);
        await backToChats(b.page);
        await mutedTag(b.page, 'ALICE').waitFor();
        await mutedTag(b2.page, 'ALICE').waitFor(); // `chat_muted`, with its end
        // The server holds the same end: Bob's own read says so.
        chatId = await item(b.page, 'ALICE').getAttribute('data-chat-id');
        ({ accessToken } = await api(env.system.url, '/api/auth/login', { method: 'POST', body: { login: bob.username, password: PASSWORD } }));
        const held = await api(env.system.url, `/api/chats/${chatId}`, { token: accessToken });
        assert.equal(Date.parse(held.mutedUntil), until, 'muted until the same instant');
      });
      await step('quiet-meanwhile', async () => {
        await send(a.page, 'Psst');
        await item(b.page, 'ALICE').filter({ hasText: 'Psst' }).waitFor();
        await b.page.waitForTimeout(500); // a notification would be on its way by now
        assert.deepEqual(await shown(b.page), [], 'muted');
      });
      await step('its-end-comes-and-both-devices-see-it-by-themselves', async () => {
        // Bob, in his third session, moves the end to a few seconds from now (the menu's
        // shortest is an hour): both devices hear the new end, and nothing when it comes.
        const end = Date.now() + 4_000;
        await api(env.system.url, `/api/chats/${chatId}/mute`, { method: 'PUT', token: accessToken, body: { until: new Date(end).toISOString() } });
        assert.equal(await mutedTag(b.page, 'ALICE').count(), 1);
        await mutedTag(b.page, 'ALICE').waitFor({ state: 'detached' });
        await mutedTag(b2.page, 'ALICE').waitFor({ state: 'detached' });
        assert.ok(Date.now() >= end - 1_000, 'not before its end');
        assert.equal(await b.page.getByTestId('conn-status').getAttribute('data-state'), 'online', 'no reconnect drew the list again');
      });
      await step('her-next-message-notifies-him', async () => {
        await send(a.page, 'Ring ring');
        const notified = await pollUntil(() => shown(b.page), (n) => n.length > 0);
        assert.deepEqual(notified, [{ title: 'ALICE', body: 'Ring ring' }]);
        await item(b.page, 'ALICE').click();
        await b.page.locator('[data-testid=mute][data-muted=false]').waitFor();
        assert.equal(await b.page.getByTestId('mute').textContent(), 'Mute');
      });
    } finally {
      await a.context.close();
      await b.context.close();
      await b2.context.close();
    }
  });
});
