// A message's details in a group, for its sender (as WhatsApp's "Message info"): who read it,
// who received it, who not yet. The sender's ticks show only the first read and the first
// delivery (the server tells a sender no more, see ARCHITECTURE.md); the details ask the server
// for the message as stored, with everyone recorded.
import { chats as chatsApi, describeError } from './api';
import { summary } from './attachments';
import { h } from './dom';
import { DELETED_TEXT } from './editing';
import * as store from './store';
import type { ViewMessage } from './state';

/** Most names a line lists before "and N more". */
const MAX_NAMES = 50;

/**
 * The details panel of a chat view: `show(m)` fills it with `m`'s receipts, fetched now (a
 * snapshot: "Refresh" fetches them again); `Close` hides it.
 */
export function messageInfo(chatId: string): { el: HTMLElement; show: (m: ViewMessage) => void } {
  const body = h('div', { 'aria-live': 'polite' });
  const refresh = h('button', { type: 'button', class: 'link', 'data-testid': 'message-info-refresh' }, 'Refresh');
  const close = h('button', { type: 'button', class: 'link', 'data-testid': 'message-info-close' }, 'Close');
  const el = h('section', { class: 'message-info', 'data-testid': 'message-info', 'aria-label': 'Message details', hidden: true }, body, h('p', { class: 'actions' }, refresh, close));
  let shown: ViewMessage | undefined;
  let asked = 0;

  const show = async (m: ViewMessage) => {
    shown = m;
    el.hidden = false;
    const ask = ++asked;
    body.replaceChildren(h('p', { class: 'hint' }, 'Loading…'));
    try {
      const stored = await chatsApi.message(chatId, m.id!);
      const others = (ids: string[]) => ids.filter((id) => id !== m.senderId);
      const read = others(stored.readBy);
      const delivered = others(stored.deliveredTo).filter((id) => !read.includes(id));
      const chat = store.state.chats.get(chatId);
      // Who has not received it: named when the group's members are at hand, else counted.
      const members = chat && !chat.membersOmitted ? others(chat.participants) : undefined;
      const waiting = members?.filter((id) => !read.includes(id) && !delivered.includes(id));
      const waitingCount = waiting?.length ?? Math.max(0, (chat?.memberCount ?? 0) - 1 - read.length - delivered.length);
      await store.ensureProfiles([read, delivered, waiting ?? []].flatMap((ids) => ids.slice(0, MAX_NAMES)));
      if (ask !== asked) return;
      body.replaceChildren(
        h('h2', {}, 'Message details'),
        h('p', { class: 'quote' }, quote(stored.deletedAt ? undefined : (store.state.messages.get(chatId)?.get(m.key) ?? m))),
        line('read', 'Read by', read),
        line('delivered', 'Delivered to', delivered),
        waiting ? line('waiting', 'Not yet received by', waiting) : h('p', { 'data-testid': 'info-waiting' }, `Not yet received by: ${waitingCount === 0 ? 'nobody' : `${waitingCount} ${waitingCount === 1 ? 'member' : 'members'}`}`),
      );
    } catch (e) {
      if (ask === asked) body.replaceChildren(h('p', { class: 'error', role: 'alert' }, describeError(e)));
    }
  };
  refresh.addEventListener('click', () => shown && void show(shown));
  close.addEventListener('click', () => {
    asked++;
    shown = undefined;
    el.hidden = true;
  });
  return { el, show: (m) => void show(m) };
}

/** The message as a line: a file by its caption or name; nothing of it once deleted. */
function quote(m: ViewMessage | undefined): string {
  return !m || m.deletedAt ? DELETED_TEXT : summary(m.type, m.content);
}

function line(kind: string, label: string, ids: string[]): HTMLElement {
  const names = ids.slice(0, MAX_NAMES).map(store.displayName);
  const more = ids.length > MAX_NAMES ? ` and ${ids.length - MAX_NAMES} more` : '';
  return h('p', { 'data-testid': `info-${kind}` }, `${label}: ${names.length ? names.join(', ') + more : 'nobody'}`);
}
