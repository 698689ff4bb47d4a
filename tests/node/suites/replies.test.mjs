// Replies in the PWA, in Debian's chromium against the whole system (the launcher): in a sealed
// DM, Bob answers Alice's message from its row's "Reply" (the bar above the composer names it;
// Esc, Cancel, an edit begun or another chat leave reply mode); the reply shows a quote of it on
// both pages, and the server holds only its id (`replyTo`), never what it quotes; a file goes as a
// reply too, and a file's quote names it; a reply written offline keeps its `replyTo` through the
// outbox and a reload; the quotes follow the message's edit and its deletion, and survive a
// reload; a click on a quote shows the original, highlighted; a reply to a message older than the
// history loaded (Alice's new device) quotes it fetched alone, locked until her key is unlocked,
// then following its edit, and a click pages back to it. Skips like browser.test.mjs; under CI=true it fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, api, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { PASSWORD, pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

const PASSPHRASE = 'a long recovery passphrase';
const LOCKED = '🔒 Encrypted message';
/** A page of history, as the PWA reads it (store.ts's `loadOlder`). */
const HISTORY_PAGE = 30;

describe('replies in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 400_000 }, () => {
  const env = suiteSystem();
  const { newPage, signUp, openSealedDm, logIn, pollUntil, turnOn, send, message } = pageHelpers(() => env);

  /** A message's row, by the clientMsgId both sides know it by. */
  const row = (page, id) => page.locator(`[data-testid=message][data-client-msg-id="${id}"]`);
  const replyButton = (page, id) => row(page, id).getByRole('button', { name: 'Reply', exact: true });
  /** The quote on message `id` (a reply), saying `text`, under the name `who` if given. */
  const quote = (page, id, text, who) => {
    let q = row(page, id).getByTestId('reply-quote').filter({ has: page.getByTestId('reply-quote-text').filter({ hasText: text }) });
    if (who) q = q.filter({ has: page.getByTestId('reply-quote-name').getByText(who, { exact: true }) });
    return q;
  };
  const bar = (page) => page.getByTestId('reply-bar');
  const composer = (page) => page.getByTestId('composer');

  /** Sends `text` from `from`, waits until it is stored and `to` has it; answers its clientMsgId. */
  async function sent(from, to, text) {
    await send(from, text);
    return storedRow(from, to, text);
  }

  /** Waits until `from`'s own message saying `text` is stored and `to` shows it; its clientMsgId. */
  async function storedRow(from, to, text) {
    const mine = message(from, text).and(from.locator('[data-mine=true][data-id]'));
    await mine.waitFor();
    const id = await mine.getAttribute('data-client-msg-id');
    if (to) await row(to, id).filter({ hasText: text }).waitFor();
    return id;
  }

  /** Answers message `id` with `text` from `page`: "Reply", then the composer and Enter. */
  async function reply(page, id, text) {
    await replyButton(page, id).click();
    await bar(page).waitFor();
    await composer(page).fill(text);
    await composer(page).press('Enter');
    await bar(page).waitFor({ state: 'hidden' });
  }

  async function goOffline(ctx, offline) {
    await ctx.context.setOffline(offline);
    await ctx.page.locator(`[data-testid=conn-status][data-state=${offline ? 'offline' : 'online'}]`).waitFor({ state: 'attached' });
  }

  /** The texts of every quote of the message stored as `messageId` on `page`. */
  const quotesOf = (page, messageId) => page.locator(`[data-testid=reply-quote][data-reply-to="${messageId}"] [data-testid=reply-quote-text]`).allTextContents();

  test('a reply quotes its message on both pages, holds only its id on the server, and follows it', async (t) => {
    const a = await newPage({ width: 1280, height: 800 });
    const b = await newPage({ width: 375, height: 740 });
    let a2 = null; // Alice's new device, at the end
    const step = stepper(t.name, { a: a.page, b: b.page, get a2() {
      return a2?.page;
    } });
    // What Bob's page sends: a reply names its message, never what the message says.
    const bobSends = [];
    b.page.on('websocket', (ws) => ws.on('framesent', (f) => typeof f.payload === 'string' && f.payload.includes('"send_message"') && bobSends.push(f.payload)));
    try {
      const alice = await step('signup-a', () => signUp(a.page, 'alice'));
      const bob = await step('signup-b', () => signUp(b.page, 'bob'));
      await step('both-turn-encryption-on', async () => {
        await turnOn(a.page, PASSPHRASE);
        await turnOn(b.page, PASSPHRASE);
      });
      const asBob = await api(env.system.url, '/api/auth/login', { method: 'POST', body: { login: bob.username, password: PASSWORD } });
      const storedAsBob = async (chatId, id) => (await api(env.system.url, `/api/chats/${chatId}/messages`, { token: asBob.accessToken })).messages.find((m) => m.clientMsgId === id);

      const dmId = await step('a-opens-a-sealed-dm-and-b-opens-it', async () => {
        return openSealedDm(a.page, bob.username, b.page);
      });

      const question = 'Can you bring the 🍰 on Friday?';
      const { asked, askedId, answer } = await step('b-replies-and-both-pages-quote-alice', async () => {
        const asked = await sent(a.page, b.page, question);
        const askedId = await row(b.page, asked).getAttribute('data-id');
        await replyButton(b.page, asked).click();
        await bar(b.page).filter({ hasText: `Replying to ALICE: ${question} — Esc to cancel` }).waitFor();
        assert.equal(await b.page.evaluate(() => document.activeElement?.id), 'composer', 'the composer takes the focus');
        await composer(b.page).fill('Sure, see you then');
        await composer(b.page).press('Enter');
        await bar(b.page).waitFor({ state: 'hidden' });
        const answer = await storedRow(b.page, a.page, 'Sure, see you then');
        await quote(b.page, answer, question, 'ALICE').waitFor();
        await quote(a.page, answer, question, 'You').waitFor();
        // The quote is above the body, and the actions are Reply, React, Pin, Edit, Delete.
        const order = await row(b.page, answer).evaluate((li) => [...li.children].map((c) => c.dataset.testid ?? c.className));
        assert.ok(order.indexOf('reply-quote') >= 0 && order.indexOf('reply-quote') < order.indexOf('message-body'), `quote before body: ${order}`);
        assert.deepEqual(await row(b.page, answer).locator('.msg-actions > button').allTextContents(), ['Reply', 'React', 'Pin', 'Edit', 'Delete']);
        assert.equal(await row(b.page, asked).getByTestId('reply-quote').count(), 0, 'what is not a reply has no quote');
        return { asked, askedId, answer };
      });

      await step('the-server-holds-the-id-only-sealed', async () => {
        const stored = await storedAsBob(dmId, answer);
        assert.equal(stored.replyTo, askedId, `replyTo is the message answered: ${JSON.stringify(stored)}`);
        assert.equal(stored.encrypted, true, 'the reply is sealed');
        for (const word of ['bring', 'Friday', 'Sure']) assert.ok(!JSON.stringify(stored).includes(word), `no "${word}" in the stored reply`);
        const original = await storedAsBob(dmId, asked);
        assert.equal(original.replyTo, undefined, 'what is not a reply has no replyTo');
        const frame = bobSends.find((f) => f.includes(askedId));
        assert.ok(frame, 'the reply was sent naming its message');
        assert.ok(!frame.includes('bring') && !frame.includes('Friday'), 'and nothing of what it says');
      });

      await step('esc-cancel-an-edit-and-another-chat-leave-reply-mode', async () => {
        await replyButton(b.page, asked).click();
        await bar(b.page).waitFor();
        await composer(b.page).press('Escape');
        await bar(b.page).waitFor({ state: 'hidden' });
        const plain = await sent(b.page, a.page, 'not a reply');
        assert.equal(await row(b.page, plain).getByTestId('reply-quote').count(), 0);
        assert.equal(await row(a.page, plain).getByTestId('reply-quote').count(), 0);
        assert.equal((await storedAsBob(dmId, plain)).replyTo, undefined, 'sent with no replyTo');
        // The bar's Cancel.
        await replyButton(b.page, asked).click();
        await b.page.getByRole('button', { name: 'Cancel replying' }).click();
        await bar(b.page).waitFor({ state: 'hidden' });
        // An edit begun ends reply mode, and a reply begun ends the edit.
        await replyButton(b.page, asked).click();
        await row(b.page, plain).getByRole('button', { name: 'Edit message' }).click();
        await b.page.getByTestId('editing-bar').waitFor();
        await bar(b.page).waitFor({ state: 'hidden' });
        await replyButton(b.page, asked).click();
        await bar(b.page).waitFor();
        await b.page.getByTestId('editing-bar').waitFor({ state: 'hidden' });
        assert.equal(await composer(b.page).inputValue(), '', 'the edit is left: what the composer held comes back');
        // Another chat (the list, then back) leaves it too.
        await b.page.getByRole('link', { name: 'Back to chats' }).click();
        await b.page.locator(`[data-testid=chat-item][data-chat-id="${dmId}"]`).click();
        await b.page.getByTestId('chat-view').waitFor();
        assert.equal(await bar(b.page).isVisible(), false, 'no reply mode in the chat opened again');
      });

      await step('a-file-goes-as-a-reply-and-a-file-is-quoted-by-its-name', async () => {
        await a.page.getByTestId('attach-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('the agenda\n') });
        const notes = await storedRow(a.page, b.page, 'notes.txt');
        await replyButton(b.page, notes).click();
        await bar(b.page).filter({ hasText: 'Replying to ALICE: 📎 notes.txt' }).waitFor();
        await composer(b.page).fill('and mine');
        await b.page.getByTestId('attach-input').setInputFiles({ name: 'mine.txt', mimeType: 'text/plain', buffer: Buffer.from('my agenda\n') });
        await bar(b.page).waitFor({ state: 'hidden' });
        const mine = await storedRow(b.page, a.page, 'mine.txt');
        await quote(a.page, mine, '📎 notes.txt', 'You').waitFor();
        await quote(b.page, mine, '📎 notes.txt', 'ALICE').waitFor();
        await row(a.page, mine).getByTestId('attachment-caption').filter({ hasText: 'and mine' }).waitFor();
        const stored = await storedAsBob(dmId, mine);
        assert.equal(stored.replyTo, await row(b.page, notes).getAttribute('data-id'));
        assert.equal(stored.type, 'file');
      });

      const offlineReply = await step('a-reply-written-offline-keeps-its-replyTo-through-the-outbox-and-a-reload', async () => {
        await goOffline(b, true);
        await reply(b.page, asked, 'written offline');
        const pending = b.page.locator('[data-testid=message][data-mine=true][data-status=pending]').filter({ hasText: 'written offline' });
        await pending.waitFor();
        const id = await pending.getAttribute('data-client-msg-id');
        await quote(b.page, id, question, 'ALICE').waitFor();
        // The service worker serves the page offline; the outbox (IndexedDB) keeps the reply.
        await b.page.reload();
        await pending.waitFor();
        await quote(b.page, id, question, 'ALICE').waitFor();
        assert.equal(await storedAsBob(dmId, id), undefined, 'nothing sent while offline');
        await goOffline(b, false);
        await storedRow(b.page, a.page, 'written offline');
        await quote(a.page, id, question, 'You').waitFor();
        assert.equal((await storedAsBob(dmId, id)).replyTo, askedId, 'stored as a reply');
        return id;
      });

      const edited = 'Can you bring the 🍰 on Saturday instead?';
      await step('a-edits-the-quoted-message-and-both-pages-quotes-follow', async () => {
        await row(a.page, asked).getByRole('button', { name: 'Edit message' }).click();
        await composer(a.page).fill(edited);
        await composer(a.page).press('Enter');
        await a.page.getByTestId('editing-bar').waitFor({ state: 'hidden' });
        for (const page of [a.page, b.page]) {
          const texts = await pollUntil(() => quotesOf(page, askedId), (ts) => ts.length === 2 && ts.every((s) => s === edited));
          assert.deepEqual(texts, [edited, edited], 'both replies quote the edit');
        }
      });

      await step('after-a-reload-b-still-sees-the-quotes', async () => {
        await b.page.reload();
        await quote(b.page, answer, edited, 'ALICE').waitFor();
        await quote(b.page, offlineReply, edited, 'ALICE').waitFor();
      });

      await step('a-click-on-a-quote-shows-the-original-highlighted', async () => {
        await quote(b.page, answer, edited).click();
        await b.page.locator(`[data-testid=message].highlight[data-client-msg-id="${asked}"]`).waitFor();
        assert.equal(await b.page.evaluate(() => document.activeElement?.dataset.clientMsgId), asked, 'the original takes the focus');
        assert.ok(await row(b.page, asked).isVisible());
        await b.page.locator('[data-testid=message].highlight').waitFor({ state: 'detached' }); // it fades
      });

      await step('a-deletes-the-quoted-message-and-the-quotes-say-so', async () => {
        a.page.once('dialog', (d) => void d.accept());
        await row(a.page, asked).getByRole('button', { name: 'Delete message' }).click();
        for (const page of [a.page, b.page]) {
          const texts = await pollUntil(() => quotesOf(page, askedId), (ts) => ts.length === 2 && ts.every((s) => s === 'Deleted message'));
          assert.deepEqual(texts, ['Deleted message', 'Deleted message']);
        }
        assert.equal((await storedAsBob(dmId, answer)).replyTo, askedId, 'a reply keeps its replyTo when its message is deleted');
      });

      const { old, late } = await step('b-answers-a-message-older-than-a-page-of-history', async () => {
        const old = await sent(a.page, b.page, 'the old question');
        for (let i = 1; i <= HISTORY_PAGE; i++) {
          await composer(a.page).fill(`filler ${i} of ${HISTORY_PAGE}`);
          await composer(a.page).press('Enter');
        }
        await pollUntil(
          () => a.page.locator('[data-testid=message][data-mine=true][data-id]').filter({ hasText: /filler \d+ of/ }).count(),
          (n) => n === HISTORY_PAGE,
        );
        await message(b.page, `filler ${HISTORY_PAGE} of ${HISTORY_PAGE}`).waitFor();
        await reply(b.page, old, 'the late answer');
        const late = await storedRow(b.page, a.page, 'the late answer');
        await quote(a.page, late, 'the old question', 'You').waitFor();
        return { old, late };
      });

      await step('alice-new-device-quotes-it-fetched-locked-then-opened-and-pages-back-to-it', async () => {
        a2 = await newPage({ width: 1280, height: 800 });
        await logIn(a2.page, alice.username);
        await a2.page.locator('[data-testid=e2e-panel][data-state=locked]').waitFor();
        await a2.page.locator(`[data-testid=chat-item][data-chat-id="${dmId}"]`).click();
        // Locked: the quote, fetched alone, shows what any sealed message does.
        await quote(a2.page, late, LOCKED).waitFor();
        assert.equal(await row(a2.page, old).count(), 0, 'the message quoted is older than the page loaded');
        await a2.page.getByRole('link', { name: 'Back to chats' }).click();
        await a2.page.getByTestId('e2e-passphrase').fill(PASSPHRASE);
        await a2.page.getByTestId('e2e-unlock').click();
        await a2.page.getByTestId('e2e-panel').waitFor({ state: 'hidden' });
        await a2.page.locator(`[data-testid=chat-item][data-chat-id="${dmId}"]`).click();
        await quote(a2.page, late, 'the old question', 'You').waitFor();
        assert.equal(await row(a2.page, old).count(), 0, 'still not loaded');
        // The copy fetched for the quote follows an edit made on her first device.
        await row(a.page, old).getByRole('button', { name: 'Edit message' }).click();
        await composer(a.page).fill('the old question, reworded');
        await composer(a.page).press('Enter');
        await quote(a2.page, late, 'the old question, reworded', 'You').waitFor();
        assert.equal(await row(a2.page, old).count(), 0, 'still not loaded');
        // A click pages back through the history until the original is there.
        await quote(a2.page, late, 'the old question').click();
        await a2.page.locator(`[data-testid=message].highlight[data-client-msg-id="${old}"]`).waitFor();
        assert.ok(await row(a2.page, old).isVisible());
      });
    } finally {
      await a.context.close();
      await b.context.close();
      await a2?.context.close();
    }
  });
});
