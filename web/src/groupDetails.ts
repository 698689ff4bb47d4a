// A group's details, in its chat view: its ID to share, its picture (groupPicture.ts), its
// members a page at a time, and for admins rename, set the topic and the picture, add, remove,
// make admin and delete; leave for everyone.
import { chats as chatsApi, describeError } from './api';
import { announce, errorBox, field, h } from './dom';
import { groupPicture } from './groupPicture';
import * as store from './store';
import type { Chat } from './types';
import { busy, memberPicker, type AppActions } from './viewKit';

const MEMBER_PAGE = 100;
/** Every member of a group in one page: a group has at most 1,000 (`MAX_GROUP_MEMBERS`). */
const ALL_MEMBERS = 1000;
/** How long a group's details wait before asking again for members they could not fetch. */
const MEMBERS_RETRY_MS = 5_000;
/**
 * How long they wait before reading again pages older than the chat we hold (a change that came
 * while they were on their way, or an instance whose chat cache has not caught up yet).
 */
const MEMBERS_BEHIND_MS = 1_000;

/**
 * A group's member list, a page at a time (`GET /api/chats/{id}/members`, ordered by id): a
 * group may have 1,000 members, and the chat list and `chat_changed` leave them out. `sync` is
 * called with the chat whenever it changes: while `open`, the list is (re)loaded when the chat's
 * revision is newer than the pages shown, as far as they went. `row` draws one member.
 *
 * "Find a member" searches them all by name or username, in the browser: realtime knows members
 * by id only, so the first search reads every member (one page of up to 1,000) and their
 * profiles (100 per request), again once the group changed; matches are listed by name.
 */
function pagedMembers(chatId: string, row: (member: string, chat: Chat) => HTMLLIElement) {
  const list = h('ul', { class: 'members', 'aria-label': 'Members' });
  const find = field({ id: `find-member-${chatId}`, label: 'Find a member', type: 'search', required: false, autocomplete: 'off', attrs: { 'data-testid': 'find-member', spellcheck: 'false' } });
  /** The search typed (lower case), and every member as read for it, at a revision of the chat. */
  let term = '';
  let everyone: { revision: number; members: string[] } | undefined;
  let searching = 0;
  const more = h('button', { type: 'button', class: 'link', 'data-testid': 'more-members', hidden: true }, 'Show more members');
  let shown: string[] = [];
  let cursor: string | null = null;
  /** The revision of the chat the shown pages were read at; none before the first. */
  let pagedAt: number | undefined;
  let latest: Chat | undefined;
  let open = false;
  let loading = false;
  let failed = false;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const draw = () => {
    if (!latest) return;
    const chat = latest;
    if (term) {
      more.hidden = true;
      const found = everyone ? everyone.members.filter((m) => named(m, term)).sort((a, b) => store.displayName(a).localeCompare(store.displayName(b))) : undefined;
      list.replaceChildren(...(found === undefined ? [h('li', {}, 'Searching…')] : found.length ? found.map((p) => row(p, chat)) : [h('li', {}, 'No member matches.')]));
      return;
    }
    const rows = shown.map((p) => row(p, chat));
    if (failed) rows.push(h('li', {}, 'Could not load the members; trying again…'));
    else if (pagedAt === undefined) rows.push(h('li', {}, 'Loading members…'));
    list.replaceChildren(...rows);
    more.hidden = cursor === null;
  };
  const later = (ms: number, next: boolean) => {
    retry = setTimeout(() => {
      retry = undefined;
      if (open) void load(next);
    }, ms);
  };
  /** The first pages again (as many members as shown), or with `next` the page after them. */
  const load = async (next: boolean): Promise<void> => {
    if (loading || retry) return;
    loading = true;
    try {
      const page = await chatsApi.members(chatId, next ? cursor : null, next ? MEMBER_PAGE : Math.min(1000, Math.max(MEMBER_PAGE, shown.length)));
      shown = next ? [...shown, ...page.members] : page.members;
      cursor = page.nextCursor;
      pagedAt = page.revision;
      failed = false;
      void store.ensureProfiles(page.members);
    } catch {
      failed = true;
      later(MEMBERS_RETRY_MS, next);
    } finally {
      loading = false;
    }
    draw();
    if (open && !failed && latest && latest.revision > (pagedAt ?? -1)) later(MEMBERS_BEHIND_MS, false);
  };
  more.addEventListener('click', () => void load(true));

  /** Reads every member and their profiles for the search, unless read at the chat's revision. */
  const search = async () => {
    const ask = ++searching;
    if (!term || !latest || (everyone && everyone.revision >= latest.revision)) return draw();
    draw();
    try {
      const page = await chatsApi.members(chatId, null, ALL_MEMBERS);
      await store.ensureProfiles(page.members);
      if (ask !== searching) return;
      everyone = { revision: page.revision, members: page.members };
    } catch (e) {
      if (ask !== searching) return;
      list.replaceChildren(h('li', {}, `Could not search the members (${describeError(e)}); trying again…`));
      setTimeout(() => {
        if (ask === searching && open) void search();
      }, MEMBERS_RETRY_MS);
      return;
    }
    draw();
  };
  let typing: ReturnType<typeof setTimeout> | undefined;
  find.input.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      term = find.input.value.trim().toLowerCase().replace(/^@/, '');
      void search();
    }, 200);
  });

  return {
    el: h('div', {}, find.wrap, list, more),
    sync(chat: Chat, isOpen: boolean) {
      latest = chat;
      open = isOpen;
      draw();
      if (open && chat.revision > (pagedAt ?? -1)) void load(false);
      if (open && term && everyone && chat.revision > everyone.revision) void search();
    },
    close() {
      open = false;
      clearTimeout(retry);
    },
  };
}

/** Whether member `id`'s display name or username holds `term` (lower case). */
function named(id: string, term: string): boolean {
  const p = store.state.profiles.get(id) ?? (store.state.me?.id === id ? store.state.me : undefined);
  return [p?.displayName, p?.username, store.displayName(id)].some((n) => n?.toLowerCase().includes(term));
}

/**
 * A group's details: its ID, its members, and what the user may do. Built once per chat view
 * (a re-render on every presence or chat change would wipe what is being typed); `render` updates
 * the member list and which controls show.
 */
export function groupDetails(app: AppActions, chatId: string): { el: HTMLDetailsElement; render: (chat: Chat) => void; close: () => void } {
  const me = store.state.me!;
  const err = errorBox();
  /** Runs one change, its button (if any) busy meanwhile; a refusal is shown, not thrown. */
  const act = async (button: HTMLButtonElement | null, work: () => Promise<void>) => {
    err.textContent = '';
    if (button) busy(button, true);
    try {
      await work();
    } catch (e) {
      err.textContent = describeError(e);
    } finally {
      if (button) busy(button, false);
    }
  };
  const id = h('code', { 'data-testid': 'group-id' }, chatId);
  const how = h('p', {});
  const members = pagedMembers(chatId, (p, chat) => {
    const who = store.displayName(p);
    const isAdmin = chat.admins.includes(p);
    if (!chat.admins.includes(me.id) || p === me.id) return h('li', {}, who, isAdmin ? ' (admin)' : '');
    const change = (work: () => Promise<Chat>) => (ev: Event) => void act(ev.currentTarget as HTMLButtonElement, async () => store.upsertChat(await work()));
    // An admin's tools for another member: make them admin or not, remove them.
    const role = h(
      'button',
      { type: 'button', class: 'link', 'data-testid': isAdmin ? 'remove-admin' : 'make-admin', 'aria-label': isAdmin ? `Remove ${who} as admin` : `Make ${who} an admin`, onclick: change(() => chatsApi.setAdmin(chatId, p, !isAdmin)) },
      isAdmin ? 'Remove admin' : 'Make admin',
    );
    const remove = h('button', { type: 'button', class: 'chip-x', 'aria-label': `Remove ${who} from the group`, onclick: change(() => chatsApi.removeMember(chatId, p)) }, '×');
    return h('li', {}, who, isAdmin ? ' (admin) ' : ' ', role, remove);
  });

  const name = field({ id: 'rename-group', label: 'Group name', attrs: { maxlength: 100 } });
  const renameButton = h('button', { type: 'submit' }, 'Rename');
  const rename = h('form', { class: 'inline', novalidate: true }, name.wrap, renameButton);
  rename.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = name.input.value.trim();
    if (!value) return;
    void act(renameButton, async () => {
      store.upsertChat(await chatsApi.rename(chatId, value));
      announce(`Group renamed to ${value}`);
    });
  });
  const topic = field({ id: 'group-topic', label: 'Topic', required: false, hint: 'What the group is about, shown under its name. Leave it empty to clear it.', attrs: { maxlength: 250, 'data-testid': 'topic-input' } });
  const topicButton = h('button', { type: 'submit', 'data-testid': 'set-topic' }, 'Set topic');
  const setTopic = h('form', { class: 'inline', novalidate: true }, topic.wrap, topicButton);
  setTopic.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = topic.input.value.trim();
    void act(topicButton, async () => {
      store.upsertChat(await chatsApi.setTopic(chatId, value || null));
      announce(value ? `Topic set to ${value}` : 'Topic cleared');
    });
  });
  const addButton = h('button', { type: 'button', 'data-testid': 'add-members', disabled: true }, 'Add');
  const showPicked = () => {
    const n = add.picked().length;
    addButton.disabled = n === 0;
    addButton.textContent = n > 1 ? `Add ${n} members` : 'Add';
  };
  const add = memberPicker('Add members', showPicked);
  addButton.addEventListener('click', () => {
    const ids = add.picked();
    if (!ids.length) return;
    // One request for all of them (up to 100; the server refuses more).
    void act(addButton, async () => {
      store.upsertChat(await chatsApi.addMembers(chatId, ids));
      announce(ids.length === 1 ? '1 member added' : `${ids.length} members added`);
      add.clear();
    }).then(showPicked);
  });
  const remove = h('button', { type: 'button', class: 'ghost danger', 'data-testid': 'delete-group' }, 'Delete group');
  remove.addEventListener('click', () => {
    if (!confirm('Delete this group and its messages for everyone?')) return;
    void act(remove, async () => {
      await chatsApi.remove(chatId);
      store.removeChat(chatId);
      app.go('#/');
    });
  });
  const admin = h('div', { class: 'admin' }, rename, setTopic, add.el, addButton, remove);

  const leave = h('button', { type: 'button', class: 'ghost danger', 'data-testid': 'leave-group' }, 'Leave group');
  leave.addEventListener('click', () => {
    if (!confirm('Leave this group? You will no longer receive its messages.')) return;
    void act(leave, async () => {
      await chatsApi.removeMember(chatId, me.id);
      store.removeChat(chatId);
      app.go('#/');
    });
  });

  const picture = groupPicture(chatId);
  const el = h('details', { class: 'chat-info' }, h('summary', {}, 'Group details'), h('p', {}, 'Group ID: ', id), how, picture.el, members.el, admin, err, leave);
  let shownName: string | undefined;
  let shownTopic: string | undefined;
  let latest: Chat | undefined;
  // The members are fetched when the details are first opened, not with every chat view.
  el.addEventListener('toggle', () => latest && members.sync(latest, el.open));
  const render = (chat: Chat) => {
    latest = chat;
    const isAdmin = chat.admins.includes(me.id);
    how.textContent = chat.hasPasscode ? 'Others can join with this ID and the passcode.' : 'Members are added by an admin.';
    // Only a rename replaces the field's text: a name being typed survives other updates.
    if (chat.name !== shownName && document.activeElement !== name.input) {
      shownName = chat.name;
      name.input.value = chat.name ?? '';
    }
    if (chat.topic !== shownTopic && document.activeElement !== topic.input) {
      shownTopic = chat.topic;
      topic.input.value = chat.topic ?? '';
    }
    admin.hidden = !isAdmin;
    picture.render(chat);
    members.sync(chat, el.open);
  };
  return { el, render, close: members.close };
}
