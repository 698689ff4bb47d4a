// Searching messages in the PWA, in Debian's chromium against the whole system (the launcher):
// Bob, with end-to-end encryption on, searches the messages his device holds, sealed (his chat
// with Alice, opened on his device) and plain (his chat with Carol, who has no key) alike; case
// and accents are ignored, the words found are marked, each result names its chat, and opening
// one shows the chat at that message. Too short a query and one nothing matches say so. Skips
// like browser.test.mjs; under CI=true it fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

const PASSPHRASE = 'a long recovery passphrase';

describe('searching messages in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  const env = suiteSystem();
  const { newPage, signUp, openDm, send, message, turnOn, openSealedDm } = pageHelpers(() => env);
  const desktop = { width: 1280, height: 800 };
  const phone = { width: 375, height: 740 };

  /** The results shown: each one's chat and text, and the words marked in it. */
  const results = (page) =>
    page.getByTestId('search-result').evaluateAll((rows) =>
      rows.map((r) => ({
        chat: r.querySelector('.result-head strong').textContent,
        text: r.querySelector('.preview').textContent,
        marked: [...r.querySelectorAll('mark')].map((m) => m.textContent),
      })),
    );
  const search = async (page, query, status) => {
    await page.getByTestId('message-search').fill(query);
    await page.getByTestId('search-status').filter({ hasText: status }).waitFor();
  };

  test('sealed and plain messages held on the device are found, and a result opens the chat at its message', async (t) => {
    const a = await newPage(desktop);
    const b = await newPage(phone);
    const c = await newPage(desktop);
    const step = stepper(t.name, { a: a.page, b: b.page, c: c.page });
    try {
      await signUp(a.page, 'alice');
      const bob = await signUp(b.page, 'bob');
      await signUp(c.page, 'carol');

      await step('alice-and-bob-talk-sealed', async () => {
        await turnOn(a.page, PASSPHRASE);
        await turnOn(b.page, PASSPHRASE);
        await openSealedDm(a.page, bob.username, b.page);
        for (const text of ['Bananas are yellow', 'I like the café on Main Street', 'See you there']) {
          await send(a.page, text);
          await message(b.page, text).waitFor();
        }
        await b.page.getByRole('link', { name: 'Back to chats' }).click();
      });
      await step('carol-writes-plain', async () => {
        await openDm(c.page, bob.username);
        assert.equal(await c.page.locator('[data-testid=e2e-note][data-state=sealed]').count(), 0, 'Carol has no key: plain');
        await send(c.page, 'Banana split tonight?');
        await b.page.getByTestId('chat-item').filter({ hasText: 'Banana split tonight?' }).waitFor();
      });
      await step('bob-finds-both-ignoring-case', async () => {
        await b.page.getByTestId('search').click();
        await b.page.getByRole('heading', { name: 'Search messages' }).waitFor();
        await search(b.page, 'banana', '2 messages found.');
        assert.deepEqual(await results(b.page), [
          { chat: 'CAROL', text: 'Banana split tonight?', marked: ['Banana'] },
          { chat: 'ALICE', text: 'Bananas are yellow', marked: ['Banana'] },
        ]);
      });
      await step('accents-are-ignored', async () => {
        await search(b.page, 'CAFE', '1 message found.');
        assert.deepEqual(await results(b.page), [{ chat: 'ALICE', text: 'I like the café on Main Street', marked: ['café'] }]);
      });
      await step('too-short-and-nothing-found-say-so', async () => {
        await search(b.page, 'q', 'Type at least 2 characters.');
        assert.equal(await b.page.getByTestId('search-result').count(), 0);
        await search(b.page, 'durian', 'No messages on this device match.');
        assert.equal(await b.page.getByTestId('search-result').count(), 0);
      });
      await step('a-result-opens-its-chat-at-the-message', async () => {
        await search(b.page, 'yellow', '1 message found.');
        const id = await b.page.getByTestId('search-result').getAttribute('data-id');
        await b.page.getByTestId('search-result').click();
        await b.page.getByTestId('chat-view').waitFor();
        await b.page.locator(`[data-testid=message][data-id="${id}"].highlight`).waitFor();
        assert.equal(await b.page.evaluate(() => document.activeElement?.dataset.id), id, 'the message has the focus');
        await message(b.page, 'See you there').waitFor(); // the chat, not the message alone
      });
    } finally {
      await a.context.close();
      await b.context.close();
      await c.context.close();
    }
  });
});
