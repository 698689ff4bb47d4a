// Attachments in the PWA, in Debian's chromium against the whole system (the launcher): a file is
// sealed in the browser with a key of its own, uploaded to the chat, and its key travels in the
// message, sealed for the chat's members; an image is shown inline, any other file downloaded;
// a file sent while offline waits in the outbox; uploads and downloads show their progress; a
// file too large is refused before it is sent. Skips like browser.test.mjs; under CI=true it fails.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { IN_CI, api, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { png } from '../browser/images.mjs';
import { PASSWORD, pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

const PASSPHRASE = 'a long recovery passphrase';
/** A 40×20 PNG. */
const PNG = png(40, 20);
const NOTES = 'Hello from a file: the minutes of Tuesday.\n';

describe('attachments in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  // Alice's files come to a little over 10 MiB: with 11 MiB kept per user, 2 MiB more is refused.
  const env = suiteSystem({ ATTACHMENT_BYTES_PER_USER: String(11 * 1024 * 1024) });
  const { newPage, signUp, openDm, turnOn, pollUntil } = pageHelpers(() => env);

  /** Picks `file` ({ name, mimeType, buffer }) with the chat's "Attach a file". */
  async function attach(page, file) {
    await page.getByTestId('attach-input').setInputFiles(file);
  }

  test('files are sealed in the browser, wait in the outbox offline, and open for the recipient', async (t) => {
    const a = await newPage({ width: 1280, height: 800 });
    const b = await newPage({ width: 375, height: 740 });
    const step = stepper(t.name, { a: a.page, b: b.page });
    // Alice's WebSocket goes through the test, which can make the server find no upload for her
    // next file message (as if it had swept it): its attachment id is rewritten to one of nothing.
    let loseNextUpload = false;
    let rewritten = 0;
    await a.page.routeWebSocket(/\/socket\.io\//, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((frame) => {
        if (loseNextUpload && typeof frame === 'string' && frame.includes('"send_message"') && frame.includes('"attachmentId"')) {
          loseNextUpload = false;
          rewritten += 1;
          frame = frame.replace(/"attachmentId":"[0-9a-f]{24}"/, `"attachmentId":"${'0'.repeat(24)}"`);
        }
        server.send(frame);
      });
      server.onMessage((frame) => ws.send(frame));
    });
    const uploads = [];
    a.page.on('request', (r) => {
      if (r.method() === 'POST' && /\/attachments$/.test(new URL(r.url()).pathname)) uploads.push(r.url());
    });
    try {
      await step('signup', () => signUp(a.page, 'alice'));
      const bob = await step('signup-b', () => signUp(b.page, 'bob'));
      await step('both-turn-encryption-on', async () => {
        await turnOn(a.page, PASSPHRASE);
        await turnOn(b.page, PASSPHRASE);
      });
      const { accessToken } = await api(env.system.url, '/api/auth/login', { method: 'POST', body: { login: bob.username, password: PASSWORD } });
      const asBob = (path) => fetch(env.system.url + path, { headers: { Authorization: `Bearer ${accessToken}` } });

      let chatId;
      await step('a-sends-an-image', async () => {
        await openDm(a.page, bob.username);
        chatId = await a.page.getByTestId('chat-view').getAttribute('data-chat-id');
        await a.page.locator('[data-testid=e2e-note][data-state=sealed]').waitFor();
        // Her own copy shows at once, from the file she picked: offline, before it is sent.
        await a.context.setOffline(true);
        await a.page.locator('[data-testid=conn-status][data-state=offline]').waitFor();
        await attach(a.page, { name: 'dot.png', mimeType: 'image/png', buffer: PNG });
        await a.page.waitForFunction(() => document.querySelector('[data-testid=message][data-status=pending] [data-testid=attachment-image][data-full]')?.naturalWidth === 40);
        // Back online with her uploads held, and the page reloaded: the file she picked is gone
        // with the old page, and the waiting image shows the preview its message carries.
        const uploadPath = /\/attachments$/;
        let release;
        const held = new Promise((resolve) => (release = resolve));
        await a.page.route(uploadPath, async (route) => {
          await held;
          await route.continue().catch(() => {}); // the old page's upload went with it
        });
        await a.context.setOffline(false);
        await a.page.reload();
        await a.page.waitForFunction(() => {
          const img = document.querySelector('[data-testid=message][data-status=pending] [data-testid=attachment-image]');
          return img && !img.dataset.full && img.src.startsWith('data:image/jpeg;base64,') && img.naturalWidth === 40;
        });
        release();
        await a.page.unroute(uploadPath);
        await a.page.locator('[data-testid=message][data-mine=true][data-status=sent], [data-testid=message][data-mine=true][data-status=delivered]').filter({ hasText: 'dot.png' }).waitFor();
        await a.page.waitForFunction(() => document.querySelector('[data-testid=attachment-image][data-full]')?.naturalWidth === 40);
      });
      await step('b-sees-its-preview-at-once-then-the-image', async () => {
        // Bob's download of it is held: what he sees first is the preview its message carries.
        const download = /\/attachments\/[0-9a-f]{24}$/;
        let release;
        const held = new Promise((resolve) => (release = resolve));
        await b.page.route(download, async (route) => {
          await held;
          await route.continue();
        });
        const item = b.page.getByTestId('chat-item').filter({ hasText: '🖼 dot.png' });
        await item.waitFor();
        await item.click();
        await b.page.waitForFunction(() => {
          const img = document.querySelector('[data-testid=attachment-image]');
          return img && !img.dataset.full && img.src.startsWith('data:image/jpeg;base64,') && img.naturalWidth === 40 && img.width === 40 && img.height === 20;
        });
        release();
        await b.page.waitForFunction(() => {
          const img = document.querySelector('[data-testid=attachment-image][data-full]');
          return img && img.src.startsWith('blob:') && img.naturalWidth === 40;
        });
        await b.page.unroute(download);
      });

      await step('a-sends-a-file-while-offline-and-it-goes-once-online', async () => {
        await a.context.setOffline(true);
        await a.page.locator('[data-testid=conn-status][data-state=offline]').waitFor();
        // What she had written goes with the file, as its caption.
        await a.page.getByTestId('composer').fill("Tuesday's minutes");
        await attach(a.page, { name: 'minutes.txt', mimeType: 'text/plain', buffer: Buffer.from(NOTES) });
        await a.page.locator('[data-testid=message][data-status=pending]').filter({ hasText: 'minutes.txt' }).getByTestId('attachment-caption').filter({ hasText: "Tuesday's minutes" }).waitFor();
        assert.equal(await a.page.getByTestId('composer').inputValue(), '', 'the caption left the composer');
        await a.context.setOffline(false);
        await b.page.getByTestId('message').filter({ hasText: 'minutes.txt' }).getByTestId('attachment-caption').filter({ hasText: "Tuesday's minutes" }).waitFor();
      });
      await step('a-caption-too-long-to-go-with-a-file-stays-in-the-composer', async () => {
        const long = 'x'.repeat(5000);
        await a.page.getByTestId('composer').fill(long);
        await attach(a.page, { name: 'long.txt', mimeType: 'text/plain', buffer: Buffer.from('long') });
        await a.page.getByTestId('attach-error').filter({ hasText: 'too long to go with a file' }).waitFor();
        assert.equal(await a.page.getByTestId('composer').inputValue(), long, 'given back');
        assert.equal(await a.page.getByTestId('message').filter({ hasText: 'long.txt' }).count(), 0);
        await a.page.getByTestId('composer').fill('');
      });
      await step('b-downloads-it', async () => {
        const [download] = await Promise.all([
          b.page.waitForEvent('download'),
          b.page.getByTestId('attachment-download').filter({ hasText: 'minutes.txt' }).click(),
        ]);
        assert.equal(download.suggestedFilename(), 'minutes.txt');
        assert.equal(readFileSync(await download.path(), 'utf8'), NOTES);
      });

      await step('a-file-whose-upload-the-server-lost-is-uploaded-again', async () => {
        const before = uploads.length;
        loseNextUpload = true;
        await attach(a.page, { name: 'again.txt', mimeType: 'text/plain', buffer: Buffer.from('twice') });
        await b.page.getByTestId('message').filter({ hasText: 'again.txt' }).waitFor();
        assert.equal(rewritten, 1, 'the first send named an upload the server did not have');
        assert.equal(uploads.length - before, 2, 'uploaded again, once');
        assert.equal(await a.page.locator('[data-testid=message][data-status=failed]').count(), 0);
      });

      await step('the-server-holds-sealed-bytes-and-sealed-messages-only', async () => {
        const { messages } = await (await asBob(`/api/chats/${chatId}/messages`)).json();
        const sent = [...messages].sort((x, y) => (x.id < y.id ? -1 : 1));
        assert.deepEqual(sent.map((m) => m.type), ['image', 'file', 'file']);
        const plains = [PNG, Buffer.from(NOTES), Buffer.from('twice')];
        for (const [i, m] of sent.entries()) {
          assert.equal(m.encrypted, true, 'the file key travels sealed');
          assert.ok(!m.content.includes('minutes') && !m.content.includes('dot.png'));
          const res = await asBob(`/api/chats/${chatId}/attachments/${m.metadata.attachmentId}`);
          assert.equal(res.status, 200);
          assert.equal(res.headers.get('content-type'), 'application/octet-stream');
          const stored = Buffer.from(await res.arrayBuffer());
          const plain = plains[i];
          assert.equal(stored.length, plain.length + 16, 'AES-GCM: the file and its tag');
          assert.ok(!stored.includes(plain.subarray(0, 16)), 'no plaintext stored');
        }
      });

      await step('the-largest-file-goes-through-the-whole-system-showing-its-progress', async () => {
        // 10 MiB less the 16-byte tag: what the server stores at most once sealed. Alice's
        // uploads are slowed (DevTools' throttling) so the upload's progress can be seen.
        const largest = Buffer.alloc(10 * 1024 * 1024 - 16, 7);
        const cdp = await a.context.newCDPSession(a.page);
        await cdp.send('Network.enable');
        const throttle = (uploadThroughput) => cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput });
        await throttle(4 * 1024 * 1024);
        try {
          await attach(a.page, { name: 'largest.bin', mimeType: 'application/octet-stream', buffer: largest });
          await a.page.waitForFunction(() => {
            const bar = document.querySelector('[data-testid=upload-progress]:not([hidden])');
            return bar !== null && bar.value > 0 && bar.value < 1;
          });
        } finally {
          await throttle(-1);
        }
        await b.page.getByTestId('message').filter({ hasText: 'largest.bin' }).waitFor();
        await a.page.locator('[data-testid=message][data-mine=true]:not([data-status=pending])').filter({ hasText: 'largest.bin' }).waitFor();
        assert.equal(await a.page.locator('[data-testid=upload-progress]:not([hidden])').count(), 0, 'no upload left showing');
        // Bob's downloads are slowed the same way, so his download's progress can be seen.
        const bCdp = await b.context.newCDPSession(b.page);
        await bCdp.send('Network.enable');
        const slowDownloads = (downloadThroughput) => bCdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput, uploadThroughput: -1 });
        await slowDownloads(4 * 1024 * 1024);
        let download;
        try {
          [download] = await Promise.all([
            b.page.waitForEvent('download'),
            (async () => {
              await b.page.getByTestId('attachment-download').filter({ hasText: 'largest.bin' }).click();
              await b.page.waitForFunction(() => {
                const bar = document.querySelector('[data-testid=download-progress]:not([hidden])');
                return bar !== null && bar.value > 0 && bar.value < 1;
              });
            })(),
          ]);
        } finally {
          await slowDownloads(-1);
        }
        assert.ok(readFileSync(await download.path()).equals(largest));
        assert.equal(await b.page.locator('[data-testid=download-progress]:not([hidden])').count(), 0, 'no download left showing');
      });
      await step('a-file-too-large-is-refused-before-it-is-sent', async () => {
        await attach(a.page, { name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(10 * 1024 * 1024 - 15) });
        await a.page.getByTestId('attach-error').filter({ hasText: 'huge.bin is larger than 10 MB' }).waitFor();
        await a.page.waitForTimeout(500);
        const { messages } = await pollUntil(
          async () => (await asBob(`/api/chats/${chatId}/messages`)).json(),
          (page) => page.messages.length >= 4,
        );
        assert.equal(messages.length, 4, 'nothing sent');
        assert.equal(await a.page.getByTestId('message').filter({ hasText: 'huge.bin' }).count(), 0);
      });
      await step('a-file-past-her-storage-quota-is-not-sent-and-says-why', async () => {
        // Refused for good (quota_exceeded), not retried for ever: "Not sent", with the reason.
        await attach(a.page, { name: 'more.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(2 * 1024 * 1024, 1) });
        await a.page.locator('[data-testid=message][data-status=failed]').filter({ hasText: 'more.bin' }).locator('[aria-label*="bytes this server keeps per user"]').waitFor();
        const { messages } = await (await asBob(`/api/chats/${chatId}/messages`)).json();
        assert.equal(messages.length, 4, 'nothing sent');
      });
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });
});
