// Profile pictures in the PWA, in Debian's chromium against the whole system (the launcher): a
// picture chosen on the Account page is cropped to its centre square and resized to 256×256 in
// the browser, sent as WebP (`PUT /api/users/me/avatar`), and shown in place of the user's
// initial to a contact at once (`profile_changed`) and after a reload; a picture that fails to
// load shows the initial; a new one replaces it; a file the browser cannot decode is refused on
// the page; only this origin's pictures are loaded; removed, the initial is back everywhere.
// Over REST, auth-api refuses what is not a PNG, JPEG or WebP, an empty body and one too large.
// Skips like browser.test.mjs; under CI=true it fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, api, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { png } from '../browser/images.mjs';
import { PASSWORD, pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

/** auth-api's largest picture, in bytes. */
const MAX_PICTURE_BYTES = 256 * 1024;
const RED = [220, 30, 30];
const GREEN = [30, 180, 60];
const BLUE = [30, 60, 220];

/**
 * 300×200: a red band 50 pixels wide on the left, a blue one on the right, green between. Its
 * centre square is all green; a picture stretched, or cropped off-centre, has red or blue in it.
 */
const BANDS = png(300, 200, (x) => (x < 50 ? RED : x >= 250 ? BLUE : GREEN));
/** A 1×1 GIF, one white pixel: a type auth-api does not take, which the page encodes again. */
const WHITE_GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs=', 'base64');

/** What an image's bytes are, from their first bytes. */
function kindOf(bytes) {
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  if (bytes.subarray(0, 8).equals(Buffer.from('89504e470d0a1a0a', 'hex'))) return 'image/png';
  return 'unknown';
}

describe('profile pictures in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  const env = suiteSystem();
  const { newPage, signUp, signUpByApi, openDm, openAccount, send, message, pollUntil } = pageHelpers(() => env);

  const headerPicture = (page) => page.locator('[data-testid=chat-avatar] [data-testid=avatar-image]');
  const previewPicture = (page) => page.locator('[data-testid=picture-preview] [data-testid=avatar-image]');
  /** The src of the picture at `selector` once it has loaded (its natural width is 256). */
  const loadedPicture = async (page, selector) => {
    const src = await page.waitForFunction((sel) => {
      const img = document.querySelector(sel);
      return img?.complete && img.naturalWidth === 256 && img.naturalHeight === 256 ? img.getAttribute('src') : false;
    }, selector);
    return src.jsonValue();
  };
  const HEADER = '[data-testid=chat-avatar] [data-testid=avatar-image]';
  /** The picture `src` as served to anyone (no cookie, no token): its type, and its pixels decoded by the page. */
  const served = async (page, src) => {
    const res = await fetch(env.system.url + src);
    assert.equal(res.status, 200, `GET ${src}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const decoded = await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes]));
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const ctx = canvas.getContext('2d');
      ctx.drawImage(bitmap, 0, 0);
      const at = (x, y) => [...ctx.getImageData(x, y, 1, 1).data.slice(0, 3)];
      return { width: bitmap.width, height: bitmap.height, left: at(4, 128), right: at(251, 128), top: at(128, 4), bottom: at(128, 251), centre: at(128, 128) };
    }, bytes.toString('base64'));
    return { type: res.headers.get('content-type'), kind: kindOf(bytes), size: bytes.length, ...decoded };
  };
  const near = (got, want, what) => assert.ok(got.every((c, i) => Math.abs(c - want[i]) <= 40), `${what}: ${got} is not near ${want}`);

  test('a picture chosen on the Account page shows to a contact at once and after a reload, and goes when removed', async (t) => {
    const a = await newPage({ width: 1280, height: 800 });
    const b = await newPage({ width: 375, height: 740 });
    const step = stepper(t.name, { a: a.page, b: b.page });
    const puts = [];
    a.page.on('request', (r) => r.method() === 'PUT' && new URL(r.url()).pathname === '/api/users/me/avatar' && puts.push(r));
    try {
      const alice = await step('signup-a', () => signUp(a.page, 'alice'));
      await step('signup-b', () => signUp(b.page, 'bob'));
      const aliceId = await a.page.evaluate(() => JSON.parse(localStorage.getItem('batiyoun.lastUser')).id);
      const hers = `/api/users/${aliceId}/avatar?v=`;
      await step('bob-opens-a-chat-with-alice', async () => {
        await openDm(b.page, alice.username);
        await send(b.page, 'Hi Alice');
        await message(b.page, 'Hi Alice').waitFor();
        assert.equal((await b.page.getByTestId('chat-avatar').textContent()).trim(), 'A');
        assert.equal(await headerPicture(b.page).count(), 0);
      });

      const first = await step('alice-chooses-a-picture', async () => {
        await openAccount(a.page);
        await a.page.getByRole('heading', { name: 'Profile picture' }).waitFor();
        assert.equal(await previewPicture(a.page).count(), 0);
        assert.equal(await a.page.getByRole('button', { name: 'Remove picture' }).count(), 0, 'nothing to remove yet');
        await a.page.getByLabel('Choose a picture').setInputFiles({ name: 'bands.png', mimeType: 'image/png', buffer: BANDS });
        await a.page.getByTestId('picture-status').filter({ hasText: 'Picture saved.' }).waitFor();
        // What went: made in the page, typed as WebP (the bytes, which Chromium does not show
        // of a Blob body, are checked as served: auth-api keeps them as sent).
        assert.equal(puts.length, 1);
        assert.equal(puts[0].headers()['content-type'], 'image/webp');
        const src = await loadedPicture(a.page, '[data-testid=picture-preview] [data-testid=avatar-image]');
        assert.ok(src.startsWith(hers), src);
        assert.equal(await previewPicture(a.page).getAttribute('alt'), '');
        await a.page.getByRole('button', { name: 'Remove picture' }).waitFor();
        return src;
      });

      await step('bob-sees-it-at-once', async () => {
        // No reload: realtime passes the change on (profile_changed).
        assert.equal(await loadedPicture(b.page, HEADER), first);
        assert.equal(await headerPicture(b.page).getAttribute('alt'), '');
        assert.equal(await headerPicture(b.page).getAttribute('aria-hidden'), 'true');
      });

      await step('the-picture-is-served-cropped-and-resized', async () => {
        const got = await served(b.page, first);
        assert.equal(got.type, 'image/webp');
        assert.equal(got.kind, 'image/webp');
        assert.ok(got.size <= MAX_PICTURE_BYTES, `${got.size} bytes`);
        assert.equal(got.width, 256);
        assert.equal(got.height, 256);
        // The centre square, all green: not stretched, not cropped off-centre.
        for (const side of ['left', 'right', 'top', 'bottom', 'centre']) near(got[side], GREEN, side);
      });

      await step('bob-sees-it-after-a-reload', async () => {
        await b.page.reload();
        await message(b.page, 'Hi Alice').waitFor();
        assert.equal(await loadedPicture(b.page, HEADER), first);
        await b.page.getByRole('link', { name: 'Back to chats' }).click();
        assert.equal(await loadedPicture(b.page, '[data-testid=chat-item] [data-testid=avatar-image]'), first);
        await b.page.getByTestId('chat-item').filter({ hasText: 'Hi Alice' }).click();
        await message(b.page, 'Hi Alice').waitFor();
      });

      await step('alice-sees-hers-after-a-reload', async () => {
        await a.page.reload();
        await a.page.getByRole('heading', { name: 'Profile picture' }).waitFor();
        assert.equal(await loadedPicture(a.page, '[data-testid=picture-preview] [data-testid=avatar-image]'), first);
      });

      await step('her-message-notifies-bob-with-her-picture', async () => {
        await b.context.grantPermissions(['notifications'], { origin: env.system.url });
        await b.page.getByRole('link', { name: 'Back to chats' }).click();
        await b.page.getByRole('heading', { name: 'Chats' }).waitFor();
        await a.page.getByRole('link', { name: 'Back to chats' }).click();
        await a.page.getByTestId('chat-item').filter({ hasText: 'BOB' }).click();
        await send(a.page, 'My new picture');
        const icons = () =>
          b.page.evaluate(async () => {
            const registration = await navigator.serviceWorker.getRegistration();
            return (await registration.getNotifications()).map((n) => n.icon);
          });
        assert.deepEqual(await pollUntil(icons, (n) => n.length > 0), [new URL(first, env.system.url).href], 'her picture as its icon');
        await b.page.getByTestId('chat-item').filter({ hasText: 'My new picture' }).click();
        await message(b.page, 'My new picture').waitFor();
        await a.page.getByRole('link', { name: 'Back to chats' }).click();
        await openAccount(a.page);
      });

      await step('a-picture-that-fails-to-load-shows-the-initial', async () => {
        let asked;
        const refused = new Promise((resolve) => (asked = resolve));
        const pictures = /\/api\/users\/[^/]+\/avatar\?v=/;
        await b.page.route(pictures, (route) => {
          asked();
          return route.fulfill({ status: 404, body: '' });
        });
        await b.page.reload();
        await message(b.page, 'Hi Alice').waitFor();
        await refused;
        await headerPicture(b.page).waitFor({ state: 'detached' });
        assert.equal((await b.page.getByTestId('chat-avatar').textContent()).trim(), 'A');
        assert.ok(await b.page.getByTestId('chat-avatar').getByText('A', { exact: true }).isVisible());
        await b.page.unroute(pictures);
      });

      const second = await step('alice-chooses-a-gif-which-replaces-it', async () => {
        await a.page.getByLabel('Choose a picture').setInputFiles({ name: 'white.gif', mimeType: 'image/gif', buffer: WHITE_GIF });
        await a.page.getByTestId('picture-status').filter({ hasText: 'Picture saved.' }).waitFor();
        assert.equal(puts.length, 2);
        assert.equal(puts[1].headers()['content-type'], 'image/webp');
        const src = await loadedPicture(a.page, '[data-testid=picture-preview] [data-testid=avatar-image]');
        assert.ok(src.startsWith(hers), src);
        assert.notEqual(src, first, 'a new picture has a new address');
        // Bob's page, which could not load the first, loads the new one at once.
        assert.equal(await loadedPicture(b.page, HEADER), src);
        near((await served(b.page, src)).centre, [255, 255, 255], 'centre');
        return src;
      });

      await step('search-results-show-it-and-never-another-sites-picture', async () => {
        const elsewhere = [];
        b.page.on('request', (r) => !r.url().startsWith(env.system.url) && elsewhere.push(r.url()));
        await b.page.getByRole('link', { name: 'Back to chats' }).click();
        await b.page.getByTestId('new-chat').click();
        const result = b.page.locator(`[data-testid=user-result][data-username="${alice.username}"]`);
        await b.page.getByLabel('Search by username').fill(alice.username);
        assert.equal(await loadedPicture(b.page, `[data-testid=user-result][data-username="${alice.username}"] [data-testid=avatar-image]`), second);
        // A profile naming another site's picture (as Google's were) shows the initial instead.
        await b.page.route(/\/api\/users\/search\?/, async (route) => {
          const res = await route.fetch();
          const body = await res.json();
          const urls = ['https://pictures.example/alice.png', '//pictures.example/api/users/alice.png'];
          body.users = body.users.flatMap((u) => urls.map((avatar) => ({ ...u, avatar })));
          await route.fulfill({ response: res, json: body });
        });
        await b.page.getByLabel('Search by username').fill(`@${alice.username}`);
        await result.nth(1).waitFor();
        assert.equal(await b.page.getByTestId('user-results').getByTestId('avatar-image').count(), 0);
        assert.deepEqual(elsewhere, []);
        await b.page.unrouteAll();
        await b.page.getByRole('link', { name: 'Back to chats' }).click();
        await b.page.getByTestId('chat-item').filter({ hasText: 'My new picture' }).click();
        assert.equal(await loadedPicture(b.page, HEADER), second);
      });

      await step('a-file-that-is-not-an-image-is-refused-on-the-page', async () => {
        await a.page.getByLabel('Choose a picture').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Not a picture at all.\n') });
        await a.page.getByTestId('picture-form').getByRole('alert').filter({ hasText: 'This file is not an image this browser can read.' }).waitFor();
        assert.equal(puts.length, 2, 'nothing was sent');
        assert.equal(await previewPicture(a.page).getAttribute('src'), second);
        assert.equal(await headerPicture(b.page).getAttribute('src'), second);
      });

      await step('alice-removes-it', async () => {
        await a.page.getByRole('button', { name: 'Remove picture' }).click();
        await a.page.getByTestId('picture-status').filter({ hasText: 'Picture removed.' }).waitFor();
        assert.equal(await a.page.getByTestId('picture-form').getByTestId('form-error').textContent(), '', 'the earlier refusal is gone');
        await previewPicture(a.page).waitFor({ state: 'detached' });
        assert.equal(await a.page.getByRole('button', { name: 'Remove picture' }).count(), 0);
        assert.equal((await fetch(env.system.url + second)).status, 404);
      });

      await step('bob-sees-the-initial-again-at-once-and-after-a-reload', async () => {
        await headerPicture(b.page).waitFor({ state: 'detached' });
        assert.equal((await b.page.getByTestId('chat-avatar').textContent()).trim(), 'A');
        await b.page.reload();
        await message(b.page, 'Hi Alice').waitFor();
        assert.equal((await b.page.getByTestId('chat-avatar').textContent()).trim(), 'A');
        assert.equal(await headerPicture(b.page).count(), 0);
        await b.page.getByRole('link', { name: 'Back to chats' }).click();
        await b.page.getByTestId('chat-item').filter({ hasText: 'My new picture' }).waitFor();
        assert.equal(await b.page.getByTestId('chat-list').getByTestId('avatar-image').count(), 0);
      });
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });

  test('auth-api takes a PNG, JPEG or WebP matching its Content-Type, up to 256 KiB, and nothing else', async () => {
    const url = env.system.url;
    const carol = await signUpByApi('carol');
    const { accessToken, user } = await api(url, '/api/auth/login', { method: 'POST', body: { login: carol.username, password: PASSWORD } });
    const call = async (method, body, type, token = accessToken) => {
      const headers = { Origin: url, ...(type ? { 'Content-Type': type } : {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) };
      const res = await fetch(`${url}/api/users/me/avatar`, { method, headers, body });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : undefined };
    };
    const refused = async (got, status, code) => {
      assert.equal(got.status, status, JSON.stringify(got.json));
      assert.equal(got.json?.error?.code, code);
    };
    const small = png(8, 8, () => GREEN);
    await refused(await call('PUT', small, 'image/png', null), 401, 'unauthorized');
    await refused(await call('PUT', Buffer.from('Not a picture at all.\n'), 'image/png'), 415, 'unsupported_media_type');
    await refused(await call('PUT', small, 'image/jpeg'), 415, 'unsupported_media_type');
    await refused(await call('PUT', WHITE_GIF, 'image/gif'), 415, 'unsupported_media_type');
    await refused(await call('PUT', Buffer.alloc(0), 'image/png'), 422, 'validation_failed');
    const tooLarge = Buffer.concat([small, Buffer.alloc(MAX_PICTURE_BYTES + 1 - small.length)]);
    await refused(await call('PUT', tooLarge, 'image/png'), 413, 'payload_too_large');

    // The largest (auth-api checks the type by the first bytes only): more than its 64 KiB JSON limit.
    const largest = await call('PUT', Buffer.concat([small, Buffer.alloc(MAX_PICTURE_BYTES - small.length)]), 'image/png');
    assert.equal(largest.status, 200, JSON.stringify(largest.json));

    const taken = await call('PUT', small, 'image/png');
    assert.equal(taken.status, 200, JSON.stringify(taken.json));
    const src = taken.json.user.avatar;
    assert.ok(src.startsWith(`/api/users/${user.id}/avatar?v=`), src);
    const res = await fetch(url + src);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(small), 'the bytes stored');
    // Its public profile names it too.
    assert.equal((await api(url, `/api/users/${user.id}`)).avatar, src);

    for (let i = 0; i < 2; i++) {
      const gone = await call('DELETE');
      assert.equal(gone.status, 200, JSON.stringify(gone.json));
      assert.equal(gone.json.user.avatar, null);
    }
    assert.equal((await fetch(url + src)).status, 404);
  });
});
