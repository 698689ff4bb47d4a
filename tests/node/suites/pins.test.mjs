// Pinned messages in the PWA, in Debian's chromium against the whole system (the launcher): a
// pin from one member's desktop shows at once (`chat_changed {pins}`) as the pinned bar and the
// row's mark on the other member's phone and on the pinner's other device; the bar names the
// newest pin and counts them, and a click shows its message and steps to the next; an unpin by
// the other member goes everywhere; the pins are there after a reload (and one offline, from
// IndexedDB); a pinned message deleted leaves the bar on both sides. In a sealed chat the bar
// shows the text opened on the page (the server holds only the pin's id). A pin older than the
// history loaded is read alone for the bar, and a click pages back to it; the 51st pin is refused
// with the server's reason above the composer. Skips like browser.test.mjs; under CI=true it
// fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, api, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { PASSWORD, pageHelpers, suiteSystem } from '../browser/pages.mjs';
import { ack, connect } from '../realtime/harness.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

const PASSPHRASE = 'a long recovery passphrase';
/** Most messages a chat may have pinned (`MAX_PINS` in common). */
const MAX_PINS = 50;

describe('pinned messages in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 400_000 }, () => {
  const env = suiteSystem();
  const { newPage, signUp, signUpByApi, logIn, openDm, openSealedDm, pollUntil, turnOn, send, message } = pageHelpers(() => env);
  const desktop = { width: 1280, height: 800 };
  const phone = { width: 375, height: 740 };

  /** A message's row, by the clientMsgId both sides know it by. */
  const row = (page, id) => page.locator(`[data-testid=message][data-client-msg-id="${id}"]`);
  const pinButton = (page, id) => row(page, id).getByTestId('pin-message');
  const problem = (page) => page.getByTestId('attach-error');
  const login = (who) => api(env.system.url, '/api/auth/login', { method: 'POST', body: { login: who.username, password: PASSWORD } });

  /** What the pinned bar says: "text | count" ("" when one pin), or "hidden". */
  const barOf = (page) =>
    page.evaluate(() => {
      const bar = document.querySelector('[data-testid=pinned-bar]');
      if (!bar || bar.hidden) return 'hidden';
      const read = (id) => bar.querySelector(`[data-testid=${id}]`).textContent.trim();
      return `${read('pinned-text')} | ${read('pinned-count')}`;
    });
  async function expectBar(page, want, why) {
    assert.equal(await pollUntil(() => barOf(page), (s) => s === want), want, why);
  }

  /** The clientMsgIds of the rows marked pinned, in the order shown. */
  const marked = (page) => page.locator('[data-testid=message]:has([data-testid=pinned-mark])').evaluateAll((els) => els.map((el) => el.dataset.clientMsgId));
  async function expectMarks(page, want, why) {
    const same = (ids) => JSON.stringify(ids) === JSON.stringify(want);
    assert.deepEqual(await pollUntil(() => marked(page), same), want, why);
  }

  /** Sends `text` from `from`, waits until it is stored and each of `to` has it; answers its clientMsgId. */
  async function sent(from, text, ...to) {
    await send(from, text);
    const mine = message(from, text).and(from.locator('[data-mine=true][data-id]'));
    await mine.waitFor();
    const id = await mine.getAttribute('data-client-msg-id');
    for (const page of to) await row(page, id).filter({ hasText: text }).waitFor();
    return id;
  }

  async function goOffline(ctx, offline) {
    await ctx.context.setOffline(offline);
    await ctx.page.locator(`[data-testid=conn-status][data-state=${offline ? 'offline' : 'online'}]`).waitFor({ state: 'attached' });
  }

  test('a pin shows at once on every device, steps through the pins, goes with an unpin or a deletion, and survives a reload', async (t) => {
    const a = await newPage(desktop);
    const b = await newPage(phone);
    let a2 = null; // Alice's phone
    const step = stepper(t.name, { a: a.page, b: b.page, get a2() {
      return a2?.page;
    } });
    try {
      const alice = await step('signup-a', () => signUp(a.page, 'alice'));
      const bob = await step('signup-b', () => signUp(b.page, 'bob'));
      const asAlice = await login(alice);
      const pinsOnServer = async (chatId) => (await api(env.system.url, `/api/chats/${chatId}?members=direct`, { token: asAlice.accessToken })).pins;

      const { dmId, first, lunch, maps } = await step('a-writes-three-and-b-and-her-phone-open-the-chat', async () => {
        await openDm(a.page, bob.username);
        const first = await sent(a.page, 'First words');
        await b.page.getByTestId('chat-item').first().click();
        await row(b.page, first).waitFor();
        const lunch = await sent(a.page, 'Lunch at noon?', b.page);
        const maps = await sent(a.page, 'Bring the maps', b.page);
        a2 = await newPage(phone);
        await logIn(a2.page, alice.username);
        await a2.page.getByTestId('chat-item').first().click();
        await row(a2.page, maps).waitFor();
        for (const page of [a.page, b.page, a2.page]) await expectBar(page, 'hidden', 'nothing pinned yet');
        return { dmId: await a.page.getByTestId('chat-view').getAttribute('data-chat-id'), first, lunch, maps };
      });

      await step('a-pins-from-her-desktop-and-every-page-shows-it-at-once', async () => {
        assert.equal(await pinButton(a.page, lunch).textContent(), 'Pin');
        await pinButton(a.page, lunch).click();
        for (const page of [a.page, b.page, a2.page]) {
          await expectBar(page, 'Lunch at noon? | ', 'one pin: its text, no count');
          await expectMarks(page, [lunch], 'the pinned row is marked');
        }
        assert.equal(await row(b.page, lunch).getByTestId('pinned-mark').getAttribute('aria-label'), 'Pinned');
        assert.equal(await pinButton(a.page, lunch).textContent(), 'Unpin');
        assert.equal(await pinButton(b.page, lunch).textContent(), 'Unpin', 'any member may unpin it');
        assert.equal(await b.page.getByTestId('pinned-name').textContent(), 'ALICE: ');
        assert.deepEqual(await pinsOnServer(dmId), [await row(a.page, lunch).getAttribute('data-id')]);
      });

      await step('b-pins-another-and-the-bar-names-the-newest-of-two', async () => {
        await pinButton(b.page, first).click();
        for (const page of [a.page, b.page, a2.page]) {
          await expectBar(page, 'First words | 1 of 2', 'the newest pin first, counted');
          await expectMarks(page, [first, lunch]);
        }
        assert.equal(await row(a.page, maps).getByTestId('pinned-mark').count(), 0);
      });

      await step('a-click-on-the-bar-shows-its-message-and-steps-to-the-next', async () => {
        await a.page.getByTestId('pinned-go').click();
        await row(a.page, first).and(a.page.locator('.highlight')).waitFor();
        assert.equal(await a.page.evaluate(() => document.activeElement?.dataset.clientMsgId), first, 'the message takes the focus');
        await expectBar(a.page, 'Lunch at noon? | 2 of 2', 'the next pin, older');
        await a.page.getByTestId('pinned-go').click();
        await row(a.page, lunch).and(a.page.locator('.highlight')).waitFor();
        await expectBar(a.page, 'First words | 1 of 2', 'round to the newest again');
        await expectBar(b.page, 'First words | 1 of 2', 'stepping is this page’s own');
      });

      await step('the-pins-are-there-after-a-reload-and-one-offline', async () => {
        await b.page.reload();
        await row(b.page, maps).waitFor();
        await expectBar(b.page, 'First words | 1 of 2');
        await expectMarks(b.page, [first, lunch]);
        // Offline, from what IndexedDB keeps of the chat (the service worker serves the page).
        await goOffline(b, true);
        await b.page.reload();
        await row(b.page, maps).waitFor();
        await expectBar(b.page, 'First words | 1 of 2', 'offline, from the cache');
        await expectMarks(b.page, [first, lunch]);
        await goOffline(b, false);
      });

      await step('b-unpins-alices-pin-and-it-goes-everywhere', async () => {
        await pinButton(b.page, lunch).click();
        for (const page of [a.page, b.page, a2.page]) {
          await expectBar(page, 'First words | ', 'one pin left');
          await expectMarks(page, [first]);
        }
        assert.equal(await pinButton(a.page, lunch).textContent(), 'Pin');
        assert.deepEqual(await pinsOnServer(dmId), [await row(a.page, first).getAttribute('data-id')]);
      });

      await step('a-deletes-the-pinned-message-and-the-bar-goes-on-both-sides', async () => {
        a.page.once('dialog', (d) => void d.accept());
        await row(a.page, first).getByRole('button', { name: 'Delete message' }).click();
        for (const page of [a.page, b.page, a2.page]) {
          await row(page, first).getByTestId('deleted').waitFor();
          await expectBar(page, 'hidden', 'the deleted message was unpinned');
          await expectMarks(page, []);
          assert.equal(await pinButton(page, first).count(), 0, 'a tombstone has no Pin');
        }
        assert.equal(await pinsOnServer(dmId), undefined, 'no pins left');
        await b.page.reload();
        await row(b.page, maps).waitFor();
        await expectBar(b.page, 'hidden', 'after a reload too');
      });
    } finally {
      await a.context.close();
      await b.context.close();
      await a2?.context.close();
    }
  });

  test('in a sealed chat the bar shows the text opened on the page, the server holding only the id', async (t) => {
    const c = await newPage(desktop);
    const d = await newPage(phone);
    const step = stepper(t.name, { c: c.page, d: d.page });
    try {
      const carol = await step('signup-c', () => signUp(c.page, 'carol'));
      const dan = await step('signup-d', () => signUp(d.page, 'dan'));
      await step('both-turn-encryption-on', async () => {
        await turnOn(c.page, PASSPHRASE);
        await turnOn(d.page, PASSPHRASE);
      });
      const dmId = await step('c-opens-a-sealed-dm-and-d-opens-it', () => openSealedDm(c.page, dan.username, d.page));
      const secret = await step('c-sends-a-secret', () => sent(c.page, 'The door code is 4711', d.page));

      await step('d-pins-it-and-both-bars-show-the-opened-text', async () => {
        await pinButton(d.page, secret).click();
        await expectBar(d.page, 'The door code is 4711 | ');
        await expectBar(c.page, 'The door code is 4711 | ');
        await expectMarks(c.page, [secret]);
      });

      await step('the-server-holds-the-pin-as-an-id-and-the-message-sealed', async () => {
        const asCarol = await login(carol);
        const chat = await api(env.system.url, `/api/chats/${dmId}?members=direct`, { token: asCarol.accessToken });
        const id = await row(c.page, secret).getAttribute('data-id');
        assert.deepEqual(chat.pins, [id]);
        const stored = await api(env.system.url, `/api/chats/${dmId}/messages/${id}`, { token: asCarol.accessToken });
        assert.equal(stored.encrypted, true);
        assert.ok(!JSON.stringify({ chat, stored }).includes('4711'), 'no plaintext on the server');
      });

      await step('after-a-reload-the-bar-is-opened-again', async () => {
        await c.page.reload();
        await expectBar(c.page, 'The door code is 4711 | ');
      });
    } finally {
      await c.context.close();
      await d.context.close();
    }
  });

  test('a pin older than the history loaded is read alone, and the 51st pin is refused with the reason', async (t) => {
    let e = await newPage(desktop);
    const step = stepper(t.name, { get e() {
      return e.page;
    } });
    try {
      const erin = await step('signup-e', () => signUp(e.page, 'erin'));
      const finn = await step('signup-f-over-rest', () => signUpByApi('finn'));
      const dmId = await step('e-opens-a-dm-with-f', async () => {
        await openDm(e.page, finn.username);
        await sent(e.page, 'Hello Finn');
        return e.page.getByTestId('chat-view').getAttribute('data-chat-id');
      });
      // Away while Finn writes, so that she holds none of it but what she pages in.
      await e.context.close();

      const notes = await step('f-writes-52-notes-and-pins-50-over-rest', async () => {
        const asFinn = await login(finn);
        const socket = await connect(env.system.url, asFinn.accessToken, { origin: env.system.url });
        const notes = [];
        try {
          for (let i = 1; i <= MAX_PINS + 2; i++) {
            const payload = { chatId: dmId, clientMsgId: crypto.randomUUID(), content: `Note ${i}`, encrypted: false };
            let answer = await ack(socket, 'send_message', payload);
            // A socket's burst is 30 events: wait what the server says, and send it again.
            while (!answer.ok && answer.error.code === 'rate_limited') {
              await new Promise((r) => setTimeout(r, (answer.error.retryAfter ?? 1) * 1000));
              answer = await ack(socket, 'send_message', payload);
            }
            assert.ok(answer.ok, JSON.stringify(answer));
            notes.push({ id: answer.message.id, clientMsgId: payload.clientMsgId });
          }
        } finally {
          socket.close();
        }
        // Note 1 pinned last: the newest pin, older than the page of history Erin's page loads.
        for (const n of [...notes.slice(1, MAX_PINS), notes[0]]) {
          await api(env.system.url, `/api/chats/${dmId}/pins/${n.id}?members=direct`, { method: 'PUT', token: asFinn.accessToken });
        }
        return notes;
      });

      await step('e-on-a-new-device-opens-the-chat-and-the-bar-reads-the-newest-pin-alone', async () => {
        e = await newPage(desktop);
        await logIn(e.page, erin.username);
        await e.page.getByTestId('chat-item').first().click();
        await row(e.page, notes.at(-1).clientMsgId).waitFor();
        assert.equal(await row(e.page, notes[0].clientMsgId).count(), 0, 'Note 1 is older than the history loaded');
        await expectBar(e.page, `Note 1 | 1 of ${MAX_PINS}`);
        assert.equal(await e.page.getByTestId('pinned-name').textContent(), 'FINN: ');
      });

      await step('a-click-pages-back-to-it', async () => {
        await e.page.getByTestId('pinned-go').click();
        await row(e.page, notes[0].clientMsgId).and(e.page.locator('.highlight')).waitFor();
        await expectMarks(e.page, notes.slice(0, MAX_PINS).map((n) => n.clientMsgId), 'every row pinned is marked');
        // Pinned before it, the others newest first: Note 50 is next.
        await expectBar(e.page, `Note ${MAX_PINS} | 2 of ${MAX_PINS}`);
      });

      await step('the-51st-pin-is-refused-with-the-reason', async () => {
        const extra = notes[MAX_PINS].clientMsgId; // Note 51
        await pinButton(e.page, extra).click();
        await problem(e.page).filter({ hasText: 'Cannot pin the message: at most 50 messages may be pinned in a chat; unpin one first' }).waitFor();
        assert.equal(await row(e.page, extra).getByTestId('pinned-mark').count(), 0);
        await expectBar(e.page, `Note ${MAX_PINS} | 2 of ${MAX_PINS}`, 'unchanged');
      });

      await step('unpinned-from-the-bar-there-is-room-for-it', async () => {
        await e.page.getByTestId('pinned-unpin').click();
        await expectBar(e.page, `Note 1 | 1 of ${MAX_PINS - 1}`);
        const unpinned = row(e.page, notes[MAX_PINS - 1].clientMsgId).getByTestId('pinned-mark');
        assert.equal(await pollUntil(() => unpinned.count(), (n) => n === 0), 0, 'Note 50 unpinned');
        const extra = notes[MAX_PINS].clientMsgId;
        await pinButton(e.page, extra).click();
        await expectBar(e.page, `Note 51 | 1 of ${MAX_PINS}`);
        await row(e.page, extra).getByTestId('pinned-mark').waitFor();
        assert.equal(await problem(e.page).textContent(), '', 'the error went with the next try');
      });
    } finally {
      await e.context.close().catch(() => {});
    }
  });
});
