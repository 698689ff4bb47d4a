// Changes to messages made offline, in Debian's chromium against the whole system (the launcher):
// an edit (of a sealed message), a reaction, a deletion and a pin made while Alice's page is
// offline show at once as pending, are still there after a reload offline, and reach Bob once she
// is back (the edit sealed), their pending marks gone; a reaction to a message Bob deleted
// meanwhile is refused once sent, said above her composer, and the message shows as deleted.
// Skips like browser.test.mjs; under CI=true it fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, api, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { PASSWORD, pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

const PASSPHRASE = 'a long recovery passphrase';

describe('changes to messages made offline, in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  const env = suiteSystem();
  const { newPage, signUp, openSealedDm, turnOn, send, message } = pageHelpers(() => env);

  /** A message's row, by the clientMsgId both sides know it by. */
  const row = (page, id) => page.locator(`[data-testid=message][data-client-msg-id="${id}"]`);
  const composer = (page) => page.getByTestId('composer');
  const problem = (page) => page.getByTestId('attach-error');
  const pendingRows = (page) => page.locator('[data-testid=message][data-change-pending=true]');
  /** The chip of `emoji` on message `id`, pending (not sent yet) or not. */
  const chip = (page, id, emoji, pending) => row(page, id).locator(`[data-testid=reaction][data-emoji="${emoji}"][data-pending=${pending}]`);
  const tombstone = (page, id) => row(page, id).locator('[data-testid=deleted]').filter({ hasText: 'This message was deleted' });

  /** Sends `text` from `from`, waits until it is stored and `to` has it; answers its clientMsgId. */
  async function sent(from, to, text) {
    await send(from, text);
    const mine = message(from, text).and(from.locator('[data-mine=true][data-id]'));
    await mine.waitFor();
    const id = await mine.getAttribute('data-client-msg-id');
    await row(to, id).filter({ hasText: text }).waitFor();
    return id;
  }

  async function edit(page, id, text) {
    await row(page, id).getByRole('button', { name: 'Edit message' }).click();
    await page.getByTestId('editing-bar').waitFor();
    await composer(page).fill(text);
    await composer(page).press('Enter');
    await page.getByTestId('editing-bar').waitFor({ state: 'hidden' });
  }

  async function react(page, id, emoji) {
    await row(page, id).getByRole('button', { name: 'Add reaction' }).click();
    await row(page, id).getByRole('group', { name: 'Choose a reaction' }).getByRole('button', { name: emoji, exact: true }).click();
  }

  async function remove(page, id) {
    page.once('dialog', (d) => void d.accept());
    await row(page, id).getByRole('button', { name: 'Delete message' }).click();
  }

  async function goOffline(ctx, offline) {
    await ctx.context.setOffline(offline);
    await ctx.page.locator(`[data-testid=conn-status][data-state=${offline ? 'offline' : 'online'}]`).waitFor({ state: 'attached' });
  }

  /** What Alice's page shows pending: the edit, the reaction, the deletion and the pin (`rows` rows marked in all). */
  async function expectPending(page, ids, rows) {
    await row(page, ids.edited).filter({ hasText: 'fixed while offline' }).getByTestId('edit-pending').waitFor();
    await chip(page, ids.reacted, '👍', true).waitFor();
    assert.equal(await chip(page, ids.reacted, '👍', true).getAttribute('aria-pressed'), 'true');
    await row(page, ids.deleted).getByTestId('deleting').filter({ hasText: 'Deleting…' }).waitFor();
    await row(page, ids.pinned).locator('[data-testid=pinned-mark][data-pending=true]').waitFor();
    await page.getByTestId('pinned-bar').filter({ hasText: 'to be pinned' }).waitFor();
    assert.equal(await pendingRows(page).count(), rows, 'the edited, reacted-to, deleted and pinned rows (and the doomed one) are marked pending');
  }

  test('changes made offline show pending, survive a reload, reach the other side once back, and a refusal is said', async (t) => {
    const a = await newPage({ width: 1280, height: 800 });
    const b = await newPage({ width: 375, height: 740 });
    const step = stepper(t.name, { a: a.page, b: b.page });
    try {
      await step('signup-a', () => signUp(a.page, 'alice'));
      const bob = await step('signup-b', () => signUp(b.page, 'bob'));
      await step('both-turn-encryption-on', async () => {
        await turnOn(a.page, PASSPHRASE);
        await turnOn(b.page, PASSPHRASE);
      });
      const asBob = await api(env.system.url, '/api/auth/login', { method: 'POST', body: { login: bob.username, password: PASSWORD } });
      const dmId = await step('a-opens-a-sealed-dm-and-b-opens-it', () => openSealedDm(a.page, bob.username, b.page));
      const ids = await step('they-write-five-messages', async () => ({
        edited: await sent(a.page, b.page, 'fixd while offlin'),
        reacted: await sent(b.page, a.page, 'react to this one'),
        deleted: await sent(a.page, b.page, 'to be deleted offline'),
        pinned: await sent(a.page, b.page, 'to be pinned'),
        doomed: await sent(b.page, a.page, 'soon gone'),
      }));

      await step('offline-a-edits-reacts-deletes-and-pins-and-sees-each-pending-at-once', async () => {
        await goOffline(a, true);
        await edit(a.page, ids.edited, 'fixed while offline');
        await react(a.page, ids.reacted, '👍');
        await remove(a.page, ids.deleted);
        await row(a.page, ids.pinned).getByTestId('pin-message').click();
        await expectPending(a.page, ids, 4);
        assert.equal(await problem(a.page).textContent(), '', 'no error: kept, not refused');
      });

      await step('b-deletes-a-message-a-then-reacts-to-offline', async () => {
        await remove(b.page, ids.doomed);
        await tombstone(b.page, ids.doomed).waitFor();
        await react(a.page, ids.doomed, '😮');
        await chip(a.page, ids.doomed, '😮', true).waitFor();
      });

      await step('nothing-reached-b-meanwhile', async () => {
        assert.equal(await message(b.page, 'fixed while offline').count(), 0);
        assert.equal(await row(b.page, ids.reacted).getByTestId('reaction').count(), 0);
        assert.equal(await tombstone(b.page, ids.deleted).count(), 0);
        assert.equal(await b.page.getByTestId('pinned-bar').isHidden(), true);
      });

      await step('a-reload-offline-keeps-them-pending', async () => {
        await a.page.reload();
        await row(a.page, ids.pinned).waitFor();
        await expectPending(a.page, ids, 5);
        await chip(a.page, ids.doomed, '😮', true).waitFor();
      });

      await step('back-online-b-sees-them-all-and-the-pending-marks-go', async () => {
        await goOffline(a, false);
        await row(b.page, ids.edited).filter({ hasText: 'fixed while offline' }).getByTestId('edited').waitFor();
        await row(b.page, ids.reacted).locator('[data-testid=reaction][data-emoji="👍"]').filter({ hasText: '1' }).waitFor();
        await tombstone(b.page, ids.deleted).waitFor();
        await b.page.getByTestId('pinned-bar').filter({ hasText: 'to be pinned' }).waitFor();
        await row(b.page, ids.pinned).getByTestId('pinned-mark').waitFor();
        // Alice's page: as the server has them, nothing pending.
        await row(a.page, ids.edited).filter({ hasText: 'fixed while offline' }).getByTestId('edited').waitFor();
        await chip(a.page, ids.reacted, '👍', false).waitFor();
        await tombstone(a.page, ids.deleted).waitFor();
        await row(a.page, ids.pinned).locator('[data-testid=pinned-mark][data-pending=false]').waitFor();
        await pendingRows(a.page).first().waitFor({ state: 'detached' });
        // The edit was sealed as a send is: the server holds no plaintext of it.
        const stored = (await api(env.system.url, `/api/chats/${dmId}/messages`, { token: asBob.accessToken })).messages.find((m) => m.clientMsgId === ids.edited);
        assert.ok(stored.editedAt, 'stored as edited');
        assert.equal(stored.encrypted, true, 'sealed');
        assert.ok(!stored.content.includes('fixed'), 'no plaintext on the server');
      });

      await step('the-reaction-to-the-message-deleted-meanwhile-is-refused-and-said', async () => {
        await problem(a.page).filter({ hasText: 'Your reaction 😮 was not sent: this message was deleted.' }).waitFor();
        await tombstone(a.page, ids.doomed).waitFor();
        assert.equal(await row(a.page, ids.doomed).getByTestId('reaction').count(), 0, 'no reaction left on it');
        await a.page.reload();
        await tombstone(a.page, ids.doomed).waitFor();
        await row(a.page, ids.pinned).waitFor();
        assert.equal(await pendingRows(a.page).count(), 0, 'nothing is left queued');
      });
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });
});
