// A group's picture in the PWA, in Debian's chromium against the whole system (the launcher):
// Erin makes a group with Frank and, its admin, chooses its picture in its details; the page
// crops it to its centre square and resizes it to 256×256, sends it as WebP
// (`PUT /api/chats/{id}/picture`), and shows it in place of the group's initial in her chat list
// and her chat's header, and in Frank's list at once (`chat_changed {picture}`) and after a
// reload. realtime serves it to members only, with the token: the pages fetch it so and show it
// from a `blob:` URL. Frank, not an admin, sees it but has no controls; a file that is not an
// image is refused on the page; a picture that fails to load shows the initial; only this
// origin's `/api/chats/` addresses are fetched; removed, the initial is back on both pages; and
// a logout forgets the pictures the page held. Skips like browser.test.mjs; under CI=true it
// fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { png } from '../browser/images.mjs';
import { pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

const RED = [220, 30, 30];
const GREEN = [30, 180, 60];
const BLUE = [30, 60, 220];

/**
 * 300×200: a red band 50 pixels wide on the left, a blue one on the right, green between. Its
 * centre square is all green; a picture stretched, or cropped off-centre, has red or blue in it.
 */
const BANDS = png(300, 200, (x) => (x < 50 ? RED : x >= 250 ? BLUE : GREEN));

describe('group pictures in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  const env = suiteSystem();
  const { newPage, signUp } = pageHelpers(() => env);
  const desktop = { width: 1280, height: 800 };
  const phone = { width: 375, height: 740 };

  const HEADER = '[data-testid=chat-avatar] [data-testid=avatar-image]';
  const PREVIEW = '[data-testid=group-picture-preview] [data-testid=avatar-image]';
  const listItem = (chatId) => `[data-testid=chat-item][data-chat-id="${chatId}"]`;
  const listPicture = (chatId) => `${listItem(chatId)} [data-testid=avatar-image]`;

  /**
   * The picture at `selector` once it has loaded: its src, its natural size, and its pixels near
   * each edge and at its centre (drawn by the page, from what it shows).
   */
  const shownPicture = async (page, selector) => {
    const shown = await page.waitForFunction((sel) => {
      const img = document.querySelector(sel);
      if (!img?.complete || img.naturalWidth === 0) return false;
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const ctx = canvas.getContext('2d');
      ctx.drawImage(img, 0, 0);
      const at = (x, y) => [...ctx.getImageData(x, y, 1, 1).data.slice(0, 3)];
      const { naturalWidth: w, naturalHeight: h } = img;
      const mid = (n) => Math.floor(n / 2);
      return { src: img.getAttribute('src'), width: w, height: h, left: at(4, mid(h)), right: at(w - 5, mid(h)), top: at(mid(w), 4), bottom: at(mid(w), h - 5), centre: at(mid(w), mid(h)) };
    }, selector);
    return shown.jsonValue();
  };
  const near = (got, want, what) => assert.ok(got.every((c, i) => Math.abs(c - want[i]) <= 40), `${what}: ${got} is not near ${want}`);
  /** The group's picture as a page shows it: a `blob:` URL, 256×256, the centre square of BANDS. */
  const assertTheGroupsPicture = (got, where) => {
    assert.ok(got.src.startsWith('blob:'), `${where}: ${got.src}`);
    assert.equal(got.width, 256, `${where}: width`);
    assert.equal(got.height, 256, `${where}: height`);
    // The centre square, all green: not stretched, not cropped off-centre.
    for (const side of ['left', 'right', 'top', 'bottom', 'centre']) near(got[side], GREEN, `${where}: ${side}`);
  };
  /** Whether `page` can still load the `blob:` URL `src` as an image (not once it is revoked). */
  const loads = (page, src) =>
    page.evaluate(
      (url) =>
        new Promise((resolve) => {
          const img = new Image();
          img.onload = () => resolve(true);
          img.onerror = () => resolve(false);
          img.src = url;
        }),
      src,
    );

  test('an admin sets and removes a group picture, which its members see at once and after a reload', async (t) => {
    const e = await newPage(desktop);
    const f = await newPage(phone);
    const step = stepper(t.name, { e: e.page, f: f.page });
    const puts = [];
    e.page.on('request', (r) => r.method() === 'PUT' && /^\/api\/chats\/[^/]+\/picture$/.test(new URL(r.url()).pathname) && puts.push(r));
    /** Frank's page's requests for a group's picture. */
    const franksFetches = [];
    f.page.on('request', (r) => r.method() === 'GET' && /^\/api\/chats\/[^/]+\/picture$/.test(new URL(r.url()).pathname) && franksFetches.push(r));
    try {
      await step('signup-e', () => signUp(e.page, 'erin'));
      const frank = await step('signup-f', () => signUp(f.page, 'frank'));

      const groupId = await step('erin-makes-a-group-with-frank', async () => {
        await e.page.getByTestId('new-group').click();
        await e.page.getByLabel('Group name').fill('Walkers');
        await e.page.getByLabel('Search by username').fill(frank.username);
        await e.page.locator(`[data-testid=user-result][data-username="${frank.username}"]`).click();
        await e.page.getByRole('button', { name: 'Create group' }).click();
        await e.page.getByTestId('chat-view').waitFor();
        const id = await e.page.getByTestId('chat-view').getAttribute('data-chat-id');
        await f.page.locator(listItem(id)).waitFor();
        // No picture yet: the initial.
        assert.equal((await e.page.getByTestId('chat-avatar').textContent()).trim(), 'W');
        assert.equal(await e.page.locator(HEADER).count(), 0);
        assert.equal(await f.page.locator(listPicture(id)).count(), 0);
        return id;
      });

      const first = await step('erin-chooses-a-picture', async () => {
        await e.page.getByText('Group details').click();
        await e.page.getByRole('heading', { name: 'Group picture' }).waitFor();
        assert.equal(await e.page.getByTestId('remove-group-picture').isVisible(), false, 'nothing to remove yet');
        await e.page.getByTestId('group-picture-input').setInputFiles({ name: 'bands.png', mimeType: 'image/png', buffer: BANDS });
        await e.page.getByTestId('group-picture-status').filter({ hasText: 'Picture saved.' }).waitFor();
        // What went: made in the page, typed as WebP, to this group.
        assert.equal(puts.length, 1);
        assert.equal(new URL(puts[0].url()).pathname, `/api/chats/${groupId}/picture`);
        assert.equal(puts[0].headers()['content-type'], 'image/webp');
        const header = await shownPicture(e.page, HEADER);
        assertTheGroupsPicture(header, "Erin's header");
        assertTheGroupsPicture(await shownPicture(e.page, PREVIEW), "Erin's details");
        assert.equal(await e.page.locator(HEADER).getAttribute('alt'), '');
        assert.ok(await e.page.getByTestId('remove-group-picture').isVisible());
        return header.src;
      });

      await step('frank-sees-it-at-once', async () => {
        // No reload: realtime passes the change on (chat_changed {picture}).
        assertTheGroupsPicture(await shownPicture(f.page, listPicture(groupId)), "Frank's list");
      });

      await step('it-is-fetched-with-the-token-which-it-needs', async () => {
        // Why the pages fetch it so: an <img src> could not load it.
        const url = franksFetches[0]?.url();
        assert.ok(url && new RegExp(`/api/chats/${groupId}/picture\\?v=[0-9a-f]{16}$`).test(url), `fetched as ${url}`);
        assert.ok(franksFetches[0].headers().authorization?.startsWith('Bearer '), 'with the token');
        assert.equal((await fetch(url)).status, 401, 'not without it');
      });

      await step('erins-list-shows-it', async () => {
        await e.page.getByRole('link', { name: 'Back to chats' }).click();
        assertTheGroupsPicture(await shownPicture(e.page, listPicture(groupId)), "Erin's list");
        await e.page.locator(listItem(groupId)).click();
        await e.page.getByTestId('chat-view').waitFor();
      });

      await step('frank-sees-it-after-a-reload-without-the-controls', async () => {
        await f.page.reload();
        assertTheGroupsPicture(await shownPicture(f.page, listPicture(groupId)), "Frank's list after a reload");
        await f.page.locator(listItem(groupId)).click();
        assertTheGroupsPicture(await shownPicture(f.page, HEADER), "Frank's header");
        await f.page.getByText('Group details').click();
        await f.page.getByRole('heading', { name: 'Group picture' }).waitFor();
        assertTheGroupsPicture(await shownPicture(f.page, PREVIEW), "Frank's details");
        assert.equal(await f.page.getByTestId('group-picture-input').isVisible(), false, 'a member only');
        assert.equal(await f.page.getByTestId('remove-group-picture').isVisible(), false, 'a member only');
      });

      await step('a-file-that-is-not-an-image-is-refused-on-the-page', async () => {
        await e.page.getByText('Group details').click();
        await e.page.getByTestId('group-picture-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Not a picture at all.\n') });
        await e.page.getByTestId('group-picture-form').getByRole('alert').filter({ hasText: 'This file is not an image this browser can read.' }).waitFor();
        assert.equal(puts.length, 1, 'nothing was sent');
        assert.equal(await e.page.locator(HEADER).getAttribute('src'), first, 'the picture stays');
      });

      await step('a-picture-that-fails-to-load-shows-the-initial', async () => {
        let asked;
        const refused = new Promise((resolve) => (asked = resolve));
        const pictures = /\/api\/chats\/[^/]+\/picture\?v=/;
        await f.page.route(pictures, (route) => {
          asked();
          return route.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ error: { code: 'not_found', message: 'no picture' } }) });
        });
        await f.page.reload();
        await f.page.getByTestId('chat-view').waitFor();
        await refused;
        await f.page.locator(HEADER).waitFor({ state: 'detached' });
        assert.equal((await f.page.getByTestId('chat-avatar').textContent()).trim(), 'W');
        assert.ok(await f.page.getByTestId('chat-avatar').getByText('W', { exact: true }).isVisible());
        await f.page.unroute(pictures);
      });

      await step('only-this-origins-chat-pictures-are-fetched', async () => {
        // Pictures a chat list could name: another site's, and addresses of ours that are no
        // group's picture (a profile picture's, one that only starts as a group's). None is
        // asked for.
        const strays = [];
        f.page.on('request', (r) => (!r.url().startsWith(env.system.url) || r.url().includes('/x/')) && strays.push(r.url()));
        await f.page.getByRole('link', { name: 'Back to chats' }).click();
        const addresses = [
          'https://pictures.example/api/chats/x/picture?v=0123456789abcdef',
          '//pictures.example/api/chats/x/picture?v=0123456789abcdef',
          '/api/users/x/avatar?v=0123456789abcdef',
          '/api/chats/x/../../users/x/avatar?v=0123456789abcdef',
        ];
        for (const [i, picture] of addresses.entries()) {
          // Renamed too, so the page shows when it took this list in.
          const name = `Walkers ${i}`;
          await f.page.route(/\/api\/chats\?members=direct$/, async (route) => {
            const res = await route.fetch();
            const body = await res.json();
            body.chats = body.chats.map((c) => (c.id === groupId ? { ...c, name, picture } : c));
            await route.fulfill({ response: res, json: body });
          });
          await f.page.reload();
          await f.page.locator(listItem(groupId)).filter({ hasText: name }).waitFor();
          assert.equal(await f.page.locator(listPicture(groupId)).count(), 0, picture);
          assert.ok(await f.page.locator(listItem(groupId)).getByText('W', { exact: true }).isVisible(), picture);
          await f.page.unrouteAll();
        }
        assert.deepEqual(strays, []);
        await f.page.reload();
        assertTheGroupsPicture(await shownPicture(f.page, listPicture(groupId)), "Frank's list, its own again");
      });

      await step('erin-removes-it', async () => {
        await e.page.getByTestId('remove-group-picture').click();
        await e.page.getByTestId('group-picture-status').filter({ hasText: 'Picture removed.' }).waitFor();
        assert.equal(await e.page.getByTestId('group-picture-form').getByTestId('form-error').textContent(), '', 'the earlier refusal is gone');
        await e.page.locator(HEADER).waitFor({ state: 'detached' });
        assert.ok(await e.page.getByTestId('chat-avatar').getByText('W', { exact: true }).isVisible());
        assert.equal(await e.page.locator(PREVIEW).count(), 0);
        assert.equal(await e.page.getByTestId('remove-group-picture').isVisible(), false);
      });

      await step('frank-sees-the-initial-again-at-once-and-after-a-reload', async () => {
        await f.page.locator(listPicture(groupId)).waitFor({ state: 'detached' });
        assert.ok(await f.page.locator(listItem(groupId)).getByText('W', { exact: true }).isVisible());
        await f.page.reload();
        await f.page.locator(listItem(groupId)).waitFor();
        assert.equal(await f.page.locator(listPicture(groupId)).count(), 0);
        await e.page.getByRole('link', { name: 'Back to chats' }).click();
        await e.page.locator(listItem(groupId)).waitFor();
        assert.equal(await e.page.locator(listPicture(groupId)).count(), 0);
      });

      await step('a-logout-forgets-the-pictures-held', async () => {
        assert.equal(await loads(e.page, first), true, 'held until then');
        await e.page.getByTestId('logout').click();
        await e.page.getByRole('button', { name: 'Log in' }).waitFor();
        assert.equal(await loads(e.page, first), false, 'revoked');
      });
    } finally {
      await e.context.close();
      await f.context.close();
    }
  });
});
