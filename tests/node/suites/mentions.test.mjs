// @mentions in the PWA, in Debian's chromium against the whole system (the launcher): the
// composer completes `@` with the chat's members (by keyboard, where Enter chooses rather than
// sends, and by click), a mention of a member is drawn as one on every side (the named user's
// warmer: `mention-me`), an `@word` naming nobody stays text; a mention of the user notifies them
// in a chat they muted, where a plain message and a mention of someone else do not, and marks the
// chat in their list with an `@` until they read it. Mentions are the page's alone: the server
// stores the text, nothing more. Skips like browser.test.mjs; under CI=true it fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

describe('mentions in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  const env = suiteSystem();
  const { newPage, signUp, signUpByApi, logIn, pollUntil, send, message } = pageHelpers(() => env);
  const desktop = { width: 1280, height: 800 };
  const phone = { width: 375, height: 740 };

  const composer = (page) => page.getByLabel('Message', { exact: true });
  const options = (page) => page.getByRole('listbox', { name: 'Members to mention' }).getByRole('option');
  const item = (page, name) => page.getByTestId('chat-item').filter({ hasText: name });
  /** The notifications the page's service worker shows now (title, body). */
  const shown = (page) =>
    page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body }));
    });
  /** The mentions drawn in a row: their text, title and whether they name the viewer. */
  const mentionsIn = (row) =>
    row.getByTestId('mention').evaluateAll((spans) => spans.map((s) => ({ text: s.textContent, title: s.title, me: s.classList.contains('mention-me') })));

  /** `page`'s user makes a group `name` with `usernames`, and is left in its chat. Answers its id. */
  async function makeGroup(page, name, usernames) {
    await page.getByTestId('new-group').click();
    await page.getByLabel('Group name').fill(name);
    for (const username of usernames) {
      await page.getByLabel('Search by username').fill(username);
      await page.locator(`[data-testid=user-result][data-username="${username}"]`).click();
      await page.getByRole('list', { name: 'Picked users' }).getByText(`@${username}`).waitFor();
    }
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByTestId('chat-view').waitFor();
    return page.getByTestId('chat-view').getAttribute('data-chat-id');
  }

  test('the composer completes @ by keyboard and by click, and mentions are drawn for the members they name', async (t) => {
    const a = await newPage(desktop);
    const b = await newPage(desktop);
    const c = await newPage(phone);
    const step = stepper(t.name, { a: a.page, b: b.page, c: c.page });
    try {
      const alice = await signUp(a.page, 'alice');
      const bob = await signUp(b.page, 'bob');
      const carol = await signUp(c.page, 'carol');
      await makeGroup(a.page, 'Walkers', [bob.username, carol.username]);
      const box = composer(a.page);
      let sentText;

      await step('alice-completes-bob-by-keyboard-and-enter-sends-nothing', async () => {
        await box.pressSequentially('Hi @bo', { delay: 20 });
        await options(a.page).first().waitFor();
        assert.equal(await box.getAttribute('aria-expanded'), 'true');
        assert.deepEqual(await options(a.page).evaluateAll((os) => os.map((o) => o.dataset.username)), [bob.username], 'bob alone starts so');
        const first = await options(a.page).first().getAttribute('id');
        assert.equal(await box.getAttribute('aria-activedescendant'), first);
        assert.equal(await options(a.page).first().getAttribute('aria-selected'), 'true');
        // Arrows go round the one option and stay on it.
        await box.press('ArrowDown');
        await box.press('ArrowUp');
        assert.equal(await box.getAttribute('aria-activedescendant'), first);
        await box.press('Enter');
        assert.equal(await box.inputValue(), `Hi @${bob.username} `);
        assert.equal(await box.getAttribute('aria-expanded'), 'false');
        assert.equal(await a.page.getByTestId('message').count(), 0, 'Enter chose: nothing was sent');
      });
      await step('the-list-offers-the-members-but-not-herself-and-arrows-move', async () => {
        await box.pressSequentially('and @', { delay: 20 });
        await options(a.page).nth(1).waitFor();
        const offered = await options(a.page).evaluateAll((os) => os.map((o) => o.dataset.username));
        assert.deepEqual([...offered].sort(), [bob.username, carol.username].sort(), 'both others, not alice');
        assert.ok(!offered.includes(alice.username));
        await box.press('ArrowDown');
        assert.equal(await box.getAttribute('aria-activedescendant'), await options(a.page).nth(1).getAttribute('id'));
        assert.equal(await options(a.page).nth(1).getAttribute('aria-selected'), 'true');
        // Escape closes the list and leaves the text alone; typing on in the same @ keeps it closed.
        await box.press('Escape');
        assert.equal(await box.getAttribute('aria-expanded'), 'false');
        assert.equal(await box.inputValue(), `Hi @${bob.username} and @`);
        await box.pressSequentially('c', { delay: 20 });
        assert.equal(await box.getAttribute('aria-expanded'), 'false', 'dismissed for this @');
      });
      await step('alice-completes-carol-by-click', async () => {
        // A new @ opens it again.
        await box.press('Backspace');
        await box.press('Backspace');
        await box.pressSequentially('@car', { delay: 20 });
        await options(a.page).filter({ hasText: 'CAROL' }).click();
        assert.equal(await box.inputValue(), `Hi @${bob.username} and @${carol.username} `);
        assert.equal(await a.page.evaluate(() => document.activeElement?.id), 'composer', 'the composer keeps the focus');
        assert.equal(await box.evaluate((el) => el.selectionStart === el.value.length), true, 'the caret after it');
        await box.pressSequentially('- lunch? cc @nobodyhere', { delay: 10 });
        sentText = await box.inputValue();
        await box.press('Enter');
        await message(a.page, 'lunch?').waitFor();
      });
      await step('alice-sees-both-mentions-and-nobody-plain', async () => {
        const row = message(a.page, 'lunch?');
        await row.getByTestId('mention').nth(1).waitFor();
        assert.deepEqual(await mentionsIn(row), [
          { text: `@${bob.username}`, title: 'BOB', me: false },
          { text: `@${carol.username}`, title: 'CAROL', me: false },
        ]);
        assert.equal(await row.getByTestId('message-body').textContent(), `You: ${sentText.trim()}`, 'the text as written');
        assert.equal(await row.getAttribute('data-mentions-me'), 'false');
      });
      await step('bob-and-carol-see-themselves-named', async () => {
        for (const [page, named] of [
          [b.page, bob.username],
          [c.page, carol.username],
        ]) {
          await item(page, 'Walkers').click();
          const row = message(page, 'lunch?');
          await row.getByTestId('mention').nth(1).waitFor();
          const drawn = await mentionsIn(row);
          assert.deepEqual(
            drawn.map((m) => [m.text, m.me]),
            [
              [`@${bob.username}`, named === bob.username],
              [`@${carol.username}`, named === carol.username],
            ],
          );
          assert.equal(await row.getAttribute('data-mentions-me'), 'true');
          assert.equal(await row.getByText('@nobodyhere').count(), 1);
          assert.equal(await row.locator('.mention', { hasText: 'nobodyhere' }).count(), 0, '@nobodyhere stays text');
        }
      });
      await step('a-mention-in-capitals-is-shown-as-typed', async () => {
        await send(c.page, `Sure @${alice.username.toUpperCase()}`);
        const row = message(a.page, 'Sure @');
        await row.getByTestId('mention').waitFor();
        assert.deepEqual(await mentionsIn(row), [{ text: `@${alice.username.toUpperCase()}`, title: 'ALICE', me: true }]);
        assert.equal(await row.getAttribute('data-mentions-me'), 'true');
        assert.equal(await message(b.page, 'Sure @').getAttribute('data-mentions-me'), 'false', 'not bob');
      });
    } finally {
      await a.context.close();
      await b.context.close();
      await c.context.close();
    }
  });

  test('a mention notifies through a mute where a plain message does not, and marks the chat until it is read', async (t) => {
    const d = await newPage(desktop);
    const e = await newPage(desktop);
    const d2 = await newPage(phone); // Dan's phone, signed in later
    const step = stepper(t.name, { d: d.page, e: e.page, d2: d2.page });
    try {
      const dan = await signUp(d.page, 'dan');
      await signUp(e.page, 'eve');
      const fay = await signUpByApi('fay');
      await d.context.grantPermissions(['notifications'], { origin: env.system.url });
      await makeGroup(e.page, 'Book club', [dan.username, fay.username]);
      const badge = (page = d.page) => item(page, 'Book club').getByTestId('mention-badge');

      await step('dan-mutes-the-group', async () => {
        await item(d.page, 'Book club').click();
        await d.page.getByTestId('mute').click();
        await d.page.getByRole('menuitem', { name: 'Until I unmute it' }).click();
        await d.page.locator('[data-testid=mute][data-muted=true]').waitFor();
        await d.page.getByRole('link', { name: 'Back to chats' }).click();
        await item(d.page, 'Book club').getByTestId('muted').waitFor();
      });
      await step('a-plain-message-and-a-mention-of-fay-notify-nothing', async () => {
        await send(e.page, 'Plain hello');
        await send(e.page, `@${fay.username} are you in?`);
        await item(d.page, 'Book club').filter({ hasText: 'are you in?' }).waitFor();
        await d.page.waitForTimeout(500); // a notification would be on its way by now
        assert.deepEqual(await shown(d.page), [], 'muted');
        assert.equal(await badge().count(), 0, 'no mention of dan');
      });
      await step('a-mention-of-dan-notifies-him-and-marks-the-chat', async () => {
        await send(e.page, `@${dan.username} you too?`);
        const notified = await pollUntil(() => shown(d.page), (n) => n.length > 0);
        assert.deepEqual(notified, [{ title: 'EVE in Book club', body: `Mentioned you: @${dan.username} you too?` }]);
        await badge().waitFor();
        assert.equal(await item(d.page, 'Book club').getByTestId('unread').textContent(), '3 unread');
      });
      await step('the-mark-stays-after-a-reload', async () => {
        await d.page.reload();
        await item(d.page, 'Book club').getByTestId('unread').waitFor();
        await badge().waitFor();
      });
      await step('his-new-phone-marks-it-too', async () => {
        // It holds only the chat list's last message: the mention.
        await logIn(d2.page, dan.username);
        await badge(d2.page).waitFor();
      });
      await step('read-the-mark-goes', async () => {
        await item(d.page, 'Book club').click();
        await message(d.page, 'you too?').and(d.page.locator('[data-mentions-me=true]')).waitFor();
        assert.equal(await message(d.page, 'are you in?').getAttribute('data-mentions-me'), 'false');
        await message(d.page, 'you too?').locator('.mention.mention-me').waitFor();
        await d.page.getByRole('link', { name: 'Back to chats' }).click();
        await item(d.page, 'Book club').waitFor();
        assert.equal(await badge().count(), 0, 'read: no mark');
        assert.equal(await item(d.page, 'Book club').getByTestId('unread').count(), 0);
      });
      await step('his-phone-hears-it-read-and-reads-the-members-to-draw-them', async () => {
        await badge(d2.page).waitFor({ state: 'detached' }); // read on his desktop
        // The phone holds the group without its members (the chat list leaves them out): they
        // are read as the chat opens, and both mentions drawn, Fay's too.
        await item(d2.page, 'Book club').click();
        await message(d2.page, 'you too?').locator('.mention.mention-me').waitFor();
        const fays = message(d2.page, 'are you in?').getByTestId('mention');
        await fays.waitFor();
        assert.deepEqual(await fays.evaluate((s) => [s.textContent, s.title, s.classList.contains('mention-me')]), [`@${fay.username}`, 'FAY', false]);
      });
    } finally {
      await d.context.close();
      await e.context.close();
      await d2.context.close();
    }
  });
});
