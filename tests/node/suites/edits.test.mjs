// Editing and deleting messages in the PWA, in Debian's chromium against the whole system (the
// launcher): an edit of an end-to-end encrypted message is sealed again and shows "(edited)" live
// on the other side and in the sender's other tab; a deletion leaves a tombstone, live and after a
// reload, and its notification closed; an edit made offline is kept pending and sent once back; a
// file's caption is edited and the file deleted; a reader who was offline learns of both
// from `sync_changes`; a group's admin deletes a member's message, and only they may. Skips like
// browser.test.mjs; under CI=true it fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, api, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { PASSWORD, SYNC_LOOKBACK_MS, SYNC_LOOKBACK_SECS, pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

const PASSPHRASE = 'a long recovery passphrase';

describe('editing and deleting messages in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  const env = suiteSystem({ SYNC_LOOKBACK_SECS: String(SYNC_LOOKBACK_SECS) });
  const { newPage, signUp, openSealedDm, turnOn, send, message, pollUntil } = pageHelpers(() => env);

  /** A message's row, by the clientMsgId both sides know it by. */
  const row = (page, id) => page.locator(`[data-testid=message][data-client-msg-id="${id}"]`);
  const editButton = (page, id) => row(page, id).getByRole('button', { name: 'Edit message' });
  const deleteButton = (page, id) => row(page, id).getByRole('button', { name: 'Delete message' });
  const tombstone = (page, id) => row(page, id).locator('[data-testid=deleted]').filter({ hasText: 'This message was deleted' });
  const composer = (page) => page.getByTestId('composer');

  /** Sends `text` from `from`, waits until it is stored and `to` has it; answers its clientMsgId. */
  async function sent(from, to, text) {
    await send(from, text);
    const mine = message(from, text).and(from.locator('[data-mine=true][data-id]'));
    await mine.waitFor();
    const id = await mine.getAttribute('data-client-msg-id');
    await row(to, id).filter({ hasText: text }).waitFor();
    return id;
  }

  /** Edits the message `id` to `text` through the row's "Edit" and the composer. */
  async function edit(page, id, text) {
    await editButton(page, id).click();
    await page.getByTestId('editing-bar').waitFor();
    await composer(page).fill(text);
    await composer(page).press('Enter');
  }

  /** Deletes the message `id`, accepting the confirmation. */
  async function remove(page, id) {
    page.once('dialog', (d) => {
      assert.equal(d.message(), 'Delete this message?');
      void d.accept();
    });
    await deleteButton(page, id).click();
  }

  /** Goes back to the chat list and opens the chat `chatId` from it. */
  async function openChat(page, chatId) {
    await page.getByRole('link', { name: 'Back to chats' }).click();
    await page.locator(`[data-testid=chat-item][data-chat-id="${chatId}"]`).click();
    await page.locator(`[data-testid=chat-view][data-chat-id="${chatId}"]`).waitFor();
  }

  async function goOffline(ctx, offline) {
    await ctx.context.setOffline(offline);
    await ctx.page.locator(`[data-testid=conn-status][data-state=${offline ? 'offline' : 'online'}]`).waitFor({ state: 'attached' });
  }

  test('edits and deletions reach the other side live, after a reload and after being offline', async (t) => {
    const a = await newPage({ width: 1280, height: 800 });
    const b = await newPage({ width: 375, height: 740 });
    const a2 = await a.context.newPage(); // Alice's other tab
    const step = stepper(t.name, { a: a.page, b: b.page, a2 });
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
      const storedAsBob = async (chatId) => (await api(env.system.url, `/api/chats/${chatId}/messages`, { token: asBob.accessToken })).messages;

      const dmId = await step('a-opens-a-sealed-dm-and-b-opens-it', async () => {
        return openSealedDm(a.page, bob.username, b.page);
      });
      // Changed while Bob is offline, at the end: by then older than `sync` looks back.
      const laterEdited = await step('a-sends-two-for-later', () => sent(a.page, b.page, 'to be fixed while Bob is away'));
      const laterDeleted = await step('a-sends-two-for-later-2', () => sent(a.page, b.page, 'to be deleted while Bob is away'));
      const laterSentAt = Date.now();

      await step('a-edits-and-b-and-her-other-tab-see-it-live', async () => {
        await a2.goto('/');
        await a2.getByTestId('chat-item').first().click();
        await a2.getByTestId('chat-view').waitFor();
        const id = await sent(a.page, b.page, 'hello wrold');
        await message(a2, 'hello wrold').waitFor();
        await composer(a.page).fill('a draft');
        await edit(a.page, id, 'hello world');
        for (const page of [b.page, a2, a.page]) await row(page, id).filter({ hasText: 'hello world' }).getByTestId('edited').filter({ hasText: '(edited)' }).waitFor();
        await a.page.getByTestId('editing-bar').waitFor({ state: 'hidden' });
        assert.equal(await composer(a.page).inputValue(), 'a draft', 'the draft is given back');
        await composer(a.page).fill('');
        // Bob's own copy of Alice's message offers no edit or delete (a reaction, as any message does).
        assert.equal(await row(b.page, id).getByRole('button', { name: /Edit message|Delete message/ }).count(), 0);
        const stored = (await storedAsBob(dmId)).find((m) => m.clientMsgId === id);
        assert.ok(stored.editedAt, 'stored as edited');
        assert.equal(stored.encrypted, true, 'the edit is sealed, as the message was');
        assert.ok(!stored.content.includes('hello'), 'no plaintext on the server');
      });

      await step('an-edit-offline-is-kept-pending-and-sent-once-back', async () => {
        // (changesOutbox.ts; the offlinechanges suite covers the rest of it.)
        const id = await sent(a.page, b.page, 'to be edited offline');
        await goOffline(a, true);
        await edit(a.page, id, 'edited offline, sent once back');
        await row(a.page, id).filter({ hasText: 'sent once back' }).getByTestId('edit-pending').waitFor();
        await a.page.getByTestId('editing-bar').waitFor({ state: 'hidden' });
        assert.equal(await composer(a.page).inputValue(), '');
        assert.equal(await a.page.getByTestId('attach-error').textContent(), '', 'kept, not refused');
        assert.equal(await message(b.page, 'sent once back').count(), 0, 'nothing left the offline page');
        await goOffline(a, false);
        await row(b.page, id).filter({ hasText: 'edited offline, sent once back' }).getByTestId('edited').waitFor();
        await row(a.page, id).getByTestId('edited').waitFor();
        assert.equal(await row(a.page, id).getByTestId('edit-pending').count(), 0);
      });

      await step('a-deleted-message-takes-its-notification-with-it', async () => {
        await b.context.grantPermissions(['notifications'], { origin: env.system.url });
        const shown = () =>
          b.page.evaluate(async () => {
            const registration = await navigator.serviceWorker.getRegistration();
            return (await registration.getNotifications()).map((n) => ({ tag: n.tag, messageId: n.data?.messageId }));
          });
        await b.page.getByRole('link', { name: 'Back to chats' }).click();
        await b.page.getByRole('heading', { name: 'Chats' }).waitFor();
        await send(a.page, 'notified, then taken back');
        const mine = message(a.page, 'notified, then taken back').and(a.page.locator('[data-mine=true][data-id]'));
        await mine.waitFor();
        const [id, messageId] = [await mine.getAttribute('data-client-msg-id'), await mine.getAttribute('data-id')];
        const notified = await pollUntil(shown, (n) => n.length > 0);
        assert.deepEqual(notified, [{ tag: dmId, messageId }], 'Bob, on his chat list, is notified');
        await remove(a.page, id);
        await tombstone(a.page, id).waitFor();
        assert.deepEqual(await pollUntil(shown, (n) => n.length === 0), [], "the deleted message's notification is closed");
        await b.page.locator(`[data-testid=chat-item][data-chat-id="${dmId}"]`).click();
        await tombstone(b.page, id).waitFor();
      });

      await step('a-deletes-and-b-sees-a-tombstone-live-and-after-a-reload', async () => {
        const id = await sent(a.page, b.page, 'something regrettable');
        await a2.getByRole('link', { name: 'Back to chats' }).click();
        await a2.getByTestId('chat-item').filter({ hasText: 'something regrettable' }).waitFor();
        await remove(a.page, id);
        for (const page of [b.page, a.page]) await tombstone(page, id).waitFor();
        assert.equal(await row(b.page, id).getByTestId('deleted').textContent(), 'This message was deleted', 'by its sender: no name');
        assert.equal(await message(b.page, 'something regrettable').count(), 0);
        assert.equal(await row(a.page, id).getByRole('button', { name: /Edit|Delete/ }).count(), 0, 'a tombstone has no actions');
        await a2.getByTestId('chat-item').filter({ hasText: 'Message deleted' }).waitFor();
        await b.page.reload();
        await tombstone(b.page, id).waitFor();
        assert.equal(await message(b.page, 'something regrettable').count(), 0);
      });

      await step('a-edits-a-file-caption-then-deletes-the-file', async () => {
        await composer(a.page).fill('the minutes');
        await a.page.getByTestId('attach-input').setInputFiles({ name: 'minutes.txt', mimeType: 'text/plain', buffer: Buffer.from('Tuesday\n') });
        const mine = a.page.locator('[data-testid=message][data-mine=true][data-id]').filter({ hasText: 'minutes.txt' });
        await mine.waitFor();
        const id = await mine.getAttribute('data-client-msg-id');
        await row(b.page, id).getByTestId('attachment-caption').filter({ hasText: 'the minutes' }).waitFor();
        await editButton(a.page, id).click();
        assert.equal(await composer(a.page).inputValue(), 'the minutes', 'the caption is edited, not the description');
        await composer(a.page).fill('the minutes of Tuesday');
        await a.page.getByRole('button', { name: 'Send', exact: true }).click();
        await row(b.page, id).getByTestId('attachment-caption').filter({ hasText: 'the minutes of Tuesday' }).waitFor();
        await row(b.page, id).getByTestId('edited').waitFor();
        assert.equal(await row(b.page, id).getByTestId('attachment-download').count(), 1, 'the file stays');
        await remove(a.page, id);
        for (const page of [a.page, b.page]) {
          await tombstone(page, id).waitFor();
          assert.equal(await row(page, id).getByTestId('attachment').count(), 0, 'no file once deleted');
        }
        const stored = (await storedAsBob(dmId)).find((m) => m.clientMsgId === id);
        assert.ok(stored.deletedAt && stored.content === '' && !stored.metadata, 'a tombstone on the server');
      });

      await step('in-a-group-only-its-admin-deletes-others-messages', async () => {
        const group = await api(env.system.url, '/api/chats', { method: 'POST', token: asAlice.accessToken, body: { type: 'group', name: 'Editors', memberIds: [asBob.user.id] } });
        for (const page of [a.page, b.page]) await openChat(page, group.id);
        const bobs = await sent(b.page, a.page, 'Bob in the group');
        const alices = await sent(a.page, b.page, 'Alice in the group');
        assert.equal(await row(b.page, alices).getByRole('button', { name: /Edit message|Delete message/ }).count(), 0, 'Bob is no admin');
        await editButton(b.page, bobs).waitFor();
        await deleteButton(b.page, bobs).waitFor();
        await deleteButton(a.page, bobs).waitFor();
        assert.equal(await editButton(a.page, bobs).count(), 0, 'only its sender edits a message');
        await remove(a.page, bobs);
        // An admin's deletion says whose it was; the sender's own (the steps above) does not.
        await tombstone(b.page, bobs).filter({ hasText: 'This message was deleted by ALICE' }).waitFor();
        await tombstone(a.page, bobs).filter({ hasText: 'This message was deleted by you' }).waitFor();
      });

      await step('b-offline-learns-of-an-edit-and-a-deletion-when-back', async () => {
        for (const page of [a.page, b.page]) await openChat(page, dmId);
        await row(a.page, laterEdited).waitFor();
        // Bob's newest message of the chat must be past `sync`'s look-back from the two.
        const wait = SYNC_LOOKBACK_MS - (Date.now() - laterSentAt);
        if (wait > 0) await a.page.waitForTimeout(wait);
        await sent(a.page, b.page, 'the newest before Bob goes');
        await goOffline(b, true);
        await edit(a.page, laterEdited, 'fixed while Bob was away');
        await row(a.page, laterEdited).getByTestId('edited').waitFor();
        await remove(a.page, laterDeleted);
        await tombstone(a.page, laterDeleted).waitFor();
        assert.equal(await message(b.page, 'fixed while Bob was away').count(), 0, 'Bob is offline');
        await goOffline(b, false);
        await row(b.page, laterEdited).filter({ hasText: 'fixed while Bob was away' }).getByTestId('edited').waitFor();
        await tombstone(b.page, laterDeleted).waitFor();
      });
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });
});
