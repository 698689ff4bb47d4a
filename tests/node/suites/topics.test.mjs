// A group's topic in the PWA, in Debian's chromium against the whole system (the launcher): given
// when the group is made, it shows to its creator and to who joins; Erin, the admin, sets it in
// the group's details; it shows under the group's name in her chat and in
// Frank's at once (`chat_changed {topic}`) and after a reload; Frank, a member only, has no field
// to change it; cleared, it is gone from both. Skips like browser.test.mjs; under CI=true it
// fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IN_CI, missingPrerequisite, stepper } from '../browser/harness.mjs';
import { pageHelpers, suiteSystem } from '../browser/pages.mjs';

const missing = missingPrerequisite();
if (missing && IN_CI) throw new Error(`browser suite cannot run under CI: ${missing}`);

describe('group topics in the browser', { skip: missing ? `skipped: ${missing}` : false, timeout: 300_000 }, () => {
  const env = suiteSystem();
  const { newPage, signUp } = pageHelpers(() => env);
  const desktop = { width: 1280, height: 800 };
  const phone = { width: 375, height: 740 };
  const topicLine = (page) => page.getByTestId('chat-topic');

  test('an admin sets and clears a group topic, which its members see at once and after a reload', async (t) => {
    const e = await newPage(desktop);
    const f = await newPage(phone);
    const step = stepper(t.name, { e: e.page, f: f.page });
    try {
      await signUp(e.page, 'erin');
      await signUp(f.page, 'frank');
      const groupId = await step('erin-makes-a-group-frank-joins', async () => {
        await e.page.getByTestId('new-group').click();
        await e.page.getByLabel('Group name').fill('Walkers');
        await e.page.getByLabel('Passcode (optional)').fill('open sesame');
        await e.page.getByRole('button', { name: 'Create group' }).click();
        await e.page.getByTestId('chat-view').waitFor();
        const id = await e.page.getByTestId('chat-view').getAttribute('data-chat-id');
        await f.page.getByTestId('join-group').click();
        await f.page.getByLabel('Group ID').fill(id);
        await f.page.getByLabel('Passcode', { exact: true }).fill('open sesame');
        await f.page.getByRole('button', { name: 'Join' }).click();
        await f.page.locator(`[data-testid=chat-view][data-chat-id="${id}"]`).waitFor();
        await e.page.getByText('2 members').waitFor();
        assert.equal(await topicLine(f.page).isVisible(), false, 'no topic yet');
        return id;
      });
      await step('erin-sets-the-topic', async () => {
        await e.page.getByText('Group details').click();
        await e.page.getByTestId('topic-input').fill('  Sunday walks, rain or shine ');
        await e.page.getByTestId('set-topic').click();
        await topicLine(e.page).filter({ hasText: 'Sunday walks, rain or shine' }).waitFor();
        await topicLine(f.page).filter({ hasText: 'Sunday walks, rain or shine' }).waitFor(); // at once
        assert.equal(await topicLine(f.page).textContent(), 'Sunday walks, rain or shine', 'trimmed');
      });
      await step('frank-may-not-change-it', async () => {
        await f.page.getByText('Group details').click();
        assert.equal(await f.page.getByTestId('topic-input').isVisible(), false, 'a member only');
      });
      await step('it-is-there-after-a-reload', async () => {
        await f.page.reload();
        await f.page.locator(`[data-testid=chat-view][data-chat-id="${groupId}"]`).waitFor();
        await topicLine(f.page).filter({ hasText: 'Sunday walks, rain or shine' }).waitFor();
      });
      await step('erin-clears-it', async () => {
        await e.page.getByTestId('topic-input').fill('');
        await e.page.getByTestId('set-topic').click();
        await topicLine(e.page).waitFor({ state: 'hidden' });
        await topicLine(f.page).waitFor({ state: 'hidden' });
        await f.page.reload();
        await f.page.getByText('2 members').waitFor();
        assert.equal(await topicLine(f.page).isVisible(), false, 'gone after a reload too');
      });
    } finally {
      await e.context.close();
      await f.context.close();
    }
  });

  test('a group made with a topic shows it to its creator and to who joins', async (t) => {
    const g = await newPage(desktop);
    const h = await newPage(phone);
    const step = stepper(t.name, { g: g.page, h: h.page });
    try {
      await signUp(g.page, 'gail');
      await signUp(h.page, 'hank');
      const id = await step('gail-makes-a-group-with-a-topic', async () => {
        await g.page.getByTestId('new-group').click();
        await g.page.getByLabel('Group name').fill('Runners');
        await g.page.getByLabel('Topic (optional)').fill('  Tuesday 6 pm at the park ');
        await g.page.getByLabel('Passcode (optional)').fill('run run run');
        await g.page.getByRole('button', { name: 'Create group' }).click();
        await g.page.getByTestId('chat-view').waitFor();
        await topicLine(g.page).filter({ hasText: 'Tuesday 6 pm at the park' }).waitFor();
        assert.equal(await topicLine(g.page).textContent(), 'Tuesday 6 pm at the park', 'trimmed');
        return g.page.getByTestId('chat-view').getAttribute('data-chat-id');
      });
      await step('hank-joins-and-sees-it', async () => {
        await h.page.getByTestId('join-group').click();
        await h.page.getByLabel('Group ID').fill(id);
        await h.page.getByLabel('Passcode', { exact: true }).fill('run run run');
        await h.page.getByRole('button', { name: 'Join' }).click();
        await h.page.locator(`[data-testid=chat-view][data-chat-id="${id}"]`).waitFor();
        await topicLine(h.page).filter({ hasText: 'Tuesday 6 pm at the park' }).waitFor();
      });
    } finally {
      await g.context.close();
      await h.context.close();
    }
  });
});
