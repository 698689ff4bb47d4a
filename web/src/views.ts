// The screens after signing in: the chat list, a new chat, a new group, joining one, and a
// conversation. Each returns its root element and an optional cleanup; main.ts routes between
// them (the screens before signing in: authViews.ts).
import { chats as chatsApi, describeError } from './api';
import * as changes from './changesOutbox';
import { MAX_FILE_BYTES, body as attachmentBody, summary } from './attachments';
import { announce, errorBox, field, formatTime, h, setTitle } from './dom';
import { textOf } from './e2e';
import { MAX_PLAINTEXT_CHARS } from './events';
import { encryptionNote, encryptionPanel } from './keysView';
import { offerButton as offerNotifications } from './notify';
import * as store from './store';
import { editing } from './editing';
import { keepFocus, reacting } from './reactions';
import { replying } from './replies';
import { pinning } from './pins';
import { groupDetails } from './groupDetails';
import { messageInfo } from './messageInfo';
import { isMuted, muteControl, untilText } from './muting';
import { mentionStamp, mentionableText, mentionsMe, unreadMention } from './mentions';
import { mentionPicker } from './mentionPicker';
import type { Chat, User } from './types';
import { avatar, backLink, busy, memberPicker, title, userSearch, type AppActions, type View } from './viewKit';

// --- chat list --------------------------------------------------------------------------------

/** The user as others see them: their display name and username, or the username alone. */
function whoami(me: User): (HTMLElement | string)[] {
  return me.displayName ? [h('strong', {}, me.displayName), ` (@${me.username})`] : [h('strong', {}, `@${me.username}`)];
}

function topBar(app: AppActions, heading: HTMLElement, ...extra: HTMLElement[]): HTMLElement {
  return h(
    'header',
    { class: 'topbar' },
    heading,
    ...extra,
    h('button', { type: 'button', class: 'ghost', 'data-testid': 'logout', onclick: () => void app.logout() }, 'Log out'),
  );
}

export function chatListView(app: AppActions): View {
  const list = h('ul', { class: 'chat-list', 'data-testid': 'chat-list', 'aria-label': 'Chats' });
  const empty = h('p', { class: 'empty' }, 'No chats yet. Start one with “New chat”.');
  const heading = title('Chats');
  const me = store.state.me;
  const render = () => {
    const chats = store.sortedChats();
    empty.hidden = chats.length > 0;
    // Keep keyboard focus on the same chat across re-renders.
    const focused = list.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.chatId : undefined;
    list.replaceChildren(
      ...chats.map((c) => {
        const name = store.chatTitle(c);
        const other = store.otherParticipant(c);
        const last = c.lastMessage;
        const who = !last ? '' : last.senderId === me?.id ? 'You: ' : c.type === 'group' ? `${store.displayName(last.senderId)}: ` : '';
        const draft = store.draftOf(c.id);
        const preview = draft
          ? h('span', { 'data-testid': 'draft' }, h('em', { class: 'draft' }, 'Draft: '), draft)
          : !last
            ? c.type === 'group'
              ? 'Group created'
              : 'No messages yet'
            : last.deletedAt
              ? 'Message deleted'
              : `${who}${summary(last.type, textOf(last))}`;
        // A muted chat still counts its unread messages, in grey: they notify nobody.
        const quiet = isMuted(c);
        const unread = c.unreadCount > 0 ? h('span', { class: quiet ? 'badge quiet' : 'badge', 'data-testid': 'unread' }, String(c.unreadCount), h('span', { class: 'sr-only' }, ' unread')) : null;
        // A mention of the user among them, as Slack marks it, muted or not.
        const mention = unread && unreadMention(c) ? h('span', { class: 'badge mention-badge', 'data-testid': 'mention-badge', title: 'You were mentioned' }, '@', h('span', { class: 'sr-only' }, ' mentioned you')) : null;
        const muted = quiet ? h('span', { class: 'tag', 'data-testid': 'muted', title: c.mutedUntil ? `Muted ${untilText(c.mutedUntil)}` : 'Muted until you unmute it' }, 'muted') : null;
        return h(
          'li',
          {},
          h(
            'a',
            { href: `#/chat/${c.id}`, class: 'chat-item', 'data-testid': 'chat-item', 'data-chat-id': c.id },
            // A deleted account has no presence to show. A group shows its own picture.
            avatar(name, other && !store.isDeleted(other) ? other : undefined, store.chatPicture(c)),
            h('span', { class: 'chat-main' }, h('span', { class: 'chat-name' }, name, c.type === 'group' ? h('span', { class: 'tag' }, 'group') : null, muted), h('span', { class: 'preview' }, preview)),
            h('span', { class: 'chat-side' }, c.lastMessageAt ? h('time', { datetime: c.lastMessageAt }, formatTime(c.lastMessageAt)) : null, mention ? h('span', { class: 'badges' }, mention, unread) : unread),
          ),
        );
      }),
    );
    if (focused) list.querySelector<HTMLElement>(`[data-chat-id="${focused}"]`)?.focus();
  };
  render();
  // Renamed on another device (`profile_changed`) or in Account settings.
  const who = me ? h('p', { class: 'whoami', 'data-testid': 'whoami' }, 'Signed in as ', ...whoami(me)) : null;
  const off = store.subscribe((t) => {
    if (t === 'chats' || t === 'presence') render();
    if (t === 'me' && who && store.state.me) who.replaceChildren('Signed in as ', ...whoami(store.state.me));
  });
  const keys = encryptionPanel();
  const el = h(
    'section',
    { class: 'page' },
    topBar(app, heading, h('a', { class: 'button ghost', href: '#/account', 'data-testid': 'account' }, 'Account')),
    who,
    keys.el,
    h(
      'nav',
      { class: 'actions', 'aria-label': 'Start a conversation' },
      h('a', { class: 'button primary', href: '#/new', 'data-testid': 'new-chat' }, 'New chat'),
      h('a', { class: 'button', href: '#/group', 'data-testid': 'new-group' }, 'New group'),
      h('a', { class: 'button', href: '#/join', 'data-testid': 'join-group' }, 'Join group'),
      h('a', { class: 'button', href: '#/search', 'data-testid': 'search' }, 'Search'),
      offerNotifications(),
    ),
    empty,
    list,
  );
  return {
    el,
    focus: heading,
    cleanup: () => {
      off();
      keys.cleanup();
    },
  };
}

export function newChatView(app: AppActions): View {
  const err = errorBox();
  const search = userSearch(
    async (u) => {
      err.textContent = '';
      try {
        store.rememberProfile(u);
        const chat = await chatsApi.direct(u.id);
        store.upsertChat(chat);
        app.go(`#/chat/${chat.id}`);
      } catch (e) {
        err.textContent = describeError(e);
      }
    },
    (u) => `start a chat with ${u.username}`,
  );
  const el = h('section', { class: 'page' }, h('header', { class: 'topbar' }, backLink(), title('New chat')), h('div', { class: 'card' }, search.el, err));
  return { el, focus: search.input };
}

export function newGroupView(app: AppActions): View {
  const name = field({ id: 'group-name', label: 'Group name', attrs: { maxlength: 100 } });
  const topic = field({ id: 'group-topic', label: 'Topic (optional)', required: false, hint: 'What the group is about, shown under its name.', attrs: { maxlength: 250 } });
  const passcode = field({ id: 'group-passcode', label: 'Passcode (optional)', type: 'password', required: false, autocomplete: 'new-password', hint: '4–64 characters. Anyone with the group ID and passcode can join.', attrs: { minlength: 4, maxlength: 64 } });
  const members = memberPicker('Members');
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create group');
  const form = h('form', { 'data-testid': 'group-form', novalidate: true }, name.wrap, topic.wrap, members.el, passcode.wrap, err, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    if (!name.input.value.trim()) {
      err.textContent = 'Give the group a name.';
      name.input.focus();
      return;
    }
    busy(submit, true, 'Creating…');
    try {
      const chat = await chatsApi.group(name.input.value.trim(), members.picked(), {
        passcode: passcode.input.value || undefined,
        topic: topic.input.value.trim() || undefined,
      });
      store.upsertChat(chat);
      app.go(`#/chat/${chat.id}`);
    } catch (e) {
      err.textContent = describeError(e);
      busy(submit, false, 'Create group');
    }
  });
  const el = h('section', { class: 'page' }, h('header', { class: 'topbar' }, backLink(), title('New group')), h('div', { class: 'card' }, form));
  return { el, focus: name.input };
}

export function joinView(app: AppActions): View {
  const id = field({ id: 'join-id', label: 'Group ID', hint: 'Ask a member: it is shown in the group’s details.', attrs: { pattern: '[0-9a-fA-F]{24}', autocapitalize: 'none', spellcheck: 'false' } });
  const passcode = field({ id: 'join-passcode', label: 'Passcode', type: 'password', autocomplete: 'off' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Join');
  const form = h('form', { 'data-testid': 'join-form', novalidate: true }, id.wrap, passcode.wrap, err, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const chatId = id.input.value.trim().toLowerCase();
    if (!/^[0-9a-f]{24}$/.test(chatId)) {
      err.textContent = 'A group ID is 24 characters of 0–9 and a–f.';
      id.input.focus();
      return;
    }
    busy(submit, true, 'Joining…');
    try {
      const chat = await chatsApi.join(chatId, passcode.input.value);
      store.upsertChat(chat);
      app.go(`#/chat/${chat.id}`);
    } catch (e) {
      err.textContent = describeError(e);
      busy(submit, false, 'Join');
    }
  });
  const el = h('section', { class: 'page' }, h('header', { class: 'topbar' }, backLink(), title('Join a group')), h('div', { class: 'card' }, form));
  return { el, focus: id.input };
}

// --- a conversation ---------------------------------------------------------------------------

const STATUS_TEXT: Record<ReturnType<typeof store.statusOf>, [string, string]> = {
  pending: ['🕓', 'Pending: will be sent when you are online'],
  sent: ['✓', 'Sent'],
  delivered: ['✓✓', 'Delivered'],
  read: ['✓✓', 'Read'],
  failed: ['!', 'Not sent'],
};

/** Members a group's details list at first, and how many more each "Show more members" adds. */
export function chatView(app: AppActions, chatId: string, showMessage?: string): View {
  const me = store.state.me!;
  const heading = title('Chat');
  const subtitle = h('p', { class: 'subtitle', 'data-testid': 'chat-subtitle' });
  // A group's topic, under its name (as Slack shows a channel's).
  const topicLine = h('p', { class: 'subtitle topic', 'data-testid': 'chat-topic', hidden: true });
  const note = encryptionNote(chatId);
  const group = groupDetails(app, chatId);
  const info = group.el;
  const details = messageInfo(chatId);
  const list = h('ol', { class: 'messages', 'data-testid': 'messages', 'aria-label': 'Messages', tabindex: 0 });
  const older = h('button', { type: 'button', class: 'link older', 'data-testid': 'load-older' }, 'Load older messages');
  const scroller = h('div', { class: 'scroller', 'data-testid': 'scroller' }, older, list);
  const typing = h('p', { class: 'typing', 'data-testid': 'typing', 'aria-live': 'polite' });
  const input = h('textarea', { id: 'composer', rows: 1, maxlength: MAX_PLAINTEXT_CHARS, placeholder: 'Write a message…', autocomplete: 'off', 'data-testid': 'composer' });
  // Made before the composer's other keys (an edit's, a reply's, Enter's): its own come first.
  const mentions = mentionPicker(input, chatId);
  const send = h('button', { type: 'submit', class: 'primary send', 'data-testid': 'send' }, 'Send');
  const picker = h('input', { type: 'file', id: 'attach', class: 'sr-only', 'data-testid': 'attach-input', tabindex: -1 });
  const attach = h('button', { type: 'button', class: 'ghost attach', 'data-testid': 'attach', 'aria-label': 'Attach a file', title: 'Attach a file (up to 10 MB)', onclick: () => picker.click() }, '📎');
  const attachError = h('p', { class: 'error', role: 'alert', 'data-testid': 'attach-error' });
  // Muting is this user's own (on all their devices): the chat's messages notify nobody here.
  const mute = muteControl(chatId, store.setMuted, () => store.state.chats.get(chatId));
  const composer = h('form', { class: 'composer', 'data-testid': 'composer-form' }, attach, picker, h('label', { for: 'composer', class: 'sr-only' }, 'Message'), mentions.el, input, send);
  // In place of the composer once the other member of a direct chat deleted their account.
  const closedLine = h('p', { class: 'chat-closed', role: 'status', 'data-testid': 'chat-closed', hidden: true }, 'This account was deleted. You can read your messages, but no new ones can be sent.');
  /** Sizes the composer to its text, up to 160 px. */
  const fit = () => {
    input.style.height = 'auto';
    if (input.value) input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  };
  // Errors of edits and deletions show where a file's do: right above the composer. The
  // composer holds an edit or a reply, not both: either begun ends the other.
  const editor = editing(input, attachError, fit, () => replies.cancel());
  // And those of reactions. Opening a palette draws its row again.
  const reactions = reacting(attachError, () => renderMessages());
  const replies = replying(chatId, input, list, () => loadOlder(), () => editor.cancel());
  // The pinned bar shows its message as a quote's click does.
  const pins = pinning(chatId, attachError, (id) => replies.show(id));
  const els = new Map<string, HTMLLIElement>();
  /** The page of older history on its way, if any (a click on a quote may wait for it). */
  let loadingOlder: Promise<void> | null = null;

  let shown = false;
  // The chat's circle (a group's picture, the other member's in a direct chat), drawn again only
  // when it changes: the header is drawn on every presence and typing event. Its presence is the
  // subtitle.
  const face = h('span', { class: 'chat-face', 'data-testid': 'chat-avatar' });
  let faceShown = '';
  const renderFace = (chat: Chat) => {
    const picture = store.chatPicture(chat);
    const about = `${heading.textContent}|${picture ?? ''}`;
    if (about === faceShown) return;
    faceShown = about;
    face.replaceChildren(avatar(heading.textContent ?? '', undefined, picture));
  };
  const renderHeader = () => {
    const chat = store.state.chats.get(chatId);
    heading.textContent = chat ? store.chatTitle(chat) : 'Chat';
    setTitle(`${heading.textContent} · Batiyoun`);
    if (!chat) {
      subtitle.textContent = '';
      // We left, were removed, or the group was deleted.
      if (shown) app.go('#/');
      return;
    }
    shown = true;
    renderFace(chat);
    mute.render();
    const closed = store.isClosed(chatId);
    if (closed !== composer.hidden) close(closed);
    // A deleted account has no key to say anything about (it is not "withheld").
    if (!closed) note.render(chat);
    const typers = store.typingUsers(chatId);
    typing.textContent = typers.length ? `${typers.map(store.displayName).join(', ')} ${typers.length === 1 ? 'is' : 'are'} typing…` : '';
    const other = store.otherParticipant(chat);
    if (other && closed) subtitle.textContent = '';
    else if (other) {
      const p = store.state.presence.get(other);
      subtitle.textContent = p?.online ? 'Online' : p?.lastSeen ? `Last seen ${formatTime(p.lastSeen)}` : '';
      subtitle.dataset.online = p?.online ? 'true' : 'false';
    } else {
      subtitle.textContent = `${chat.membersOmitted ? chat.memberCount : chat.participants.length} members`;
    }
    topicLine.textContent = chat.topic ?? '';
    topicLine.hidden = !chat.topic;
    if (chat.type === 'group') {
      group.render(chat);
      info.hidden = false;
    } else info.hidden = true;
  };

  /**
   * Makes the chat read-only (`closed`: its other member deleted their account) or not: the
   * composer, with what it was editing or answering, gives way to a line saying why; the rows
   * lose their actions (`renderMessages`).
   */
  const close = (closed: boolean) => {
    if (closed) {
      if (editor.active()) editor.cancel();
      replies.cancel();
    }
    composer.hidden = closed;
    note.el.hidden = closed;
    typing.hidden = closed;
    closedLine.hidden = !closed;
  };

  const renderMessages = () => {
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    // As the changes made offline and not sent yet make them (shown pending); refusals said.
    const msgs = store.sortedMessages(chatId).map(changes.shown);
    const refused = changes.takeRefusals(chatId);
    if (refused) attachError.textContent = refused;
    const replyRow = replies.rows(msgs);
    // Read-only: nothing sent from the rows either (no reply, reaction, edit or deletion).
    const closed = store.isClosed(chatId);
    const keep = new Set<string>();
    let prev: Element | null = null;
    let mineAdded = false;
    for (const m of msgs) {
      keep.add(m.key);
      let li = els.get(m.key);
      const mine = m.senderId === me.id;
      if (!li) {
        li = h('li', { class: `msg ${mine ? 'mine' : 'theirs'}`, 'data-testid': 'message', 'data-client-msg-id': m.clientMsgId, 'data-mine': String(mine) });
        els.set(m.key, li);
        if (mine) mineAdded = true;
      }
      const status = store.statusOf(m);
      // The sender's name is part of it: a profile can arrive after its message.
      // What its quote shows is part of it: the message quoted can change (edited, deleted, opened).
      const reply = replyRow(m);
      const reacts = reactions.row(m);
      const pin = pins.row(m);
      const changes = editor.row(m, [reply.button, reacts.button, pin.button]);
      const render = `${m.content}|${m.attachmentId ?? ''}|${status}|${m.id ?? ''}|${mine ? '' : store.displayName(m.senderId)}|${changes.stamp}|${reacts.stamp}|${reply.stamp}|${pin.stamp}|${closed}|${mentionStamp(m)}`;
      if (li.dataset.render !== render) {
        li.dataset.render = render;
        li.dataset.status = mine ? status : '';
        li.dataset.deleted = m.deletedAt ? 'true' : 'false';
        li.dataset.changePending = String(Boolean(m.queued));
        li.dataset.mentionsMe = String(!mine && !m.deletedAt && mentionsMe(mentionableText(m)));
        if (m.id) li.dataset.id = m.id;
        const meta = h('span', { class: 'meta' }, pin.mark, changes.marker, h('time', { datetime: m.timestamp }, formatTime(m.timestamp)));
        if (mine) {
          const [glyph, label] = STATUS_TEXT[status];
          const tick = { class: `tick ${status}`, 'data-testid': 'tick', title: label };
          // In a group, the tick opens the message's details: who read it, who received it.
          const inGroup = store.state.chats.get(chatId)?.type === 'group';
          meta.append(
            inGroup && m.id && !m.deletedAt
              ? h('button', { ...tick, type: 'button', 'aria-label': `${label}: message details`, onclick: () => details.show(m) }, glyph)
              : h('span', { ...tick, role: 'img', 'aria-label': m.failed ? `Not sent: ${m.failed}` : label }, glyph),
          );
          if (m.failed) meta.append(h('button', { type: 'button', class: 'link', onclick: () => void store.discardFailed(chatId, m.clientMsgId) }, 'Discard'));
        }
        const refocus = keepFocus(li);
        li.replaceChildren(
          store.state.chats.get(chatId)?.type === 'group' && !mine ? h('span', { class: 'sender', 'aria-hidden': 'true' }, store.displayName(m.senderId)) : '',
          changes.tombstone ? '' : (reply.quote ?? ''),
          h('p', { class: 'body', 'data-testid': 'message-body' }, h('span', { class: 'sr-only' }, `${mine ? 'You' : store.displayName(m.senderId)}: `), changes.tombstone ?? attachmentBody(m)),
          reacts.chips ?? '',
          meta,
          closed ? '' : (changes.actions ?? ''),
          closed ? '' : (reacts.palette ?? ''),
        );
        // The reactions stay to be seen, not changed.
        if (closed) for (const chip of li.querySelectorAll<HTMLButtonElement>('[data-testid=reaction]')) chip.disabled = true;
        refocus();
      }
      const expected: Element | null = prev ? prev.nextElementSibling : list.firstElementChild;
      if (expected !== li) list.insertBefore(li, expected);
      prev = li;
    }
    for (const [k, li] of els) {
      if (!keep.has(k)) {
        li.remove();
        els.delete(k);
      }
    }
    older.hidden = !store.hasMoreHistory(chatId);
    if (nearBottom || mineAdded) scroller.scrollTop = scroller.scrollHeight;
    // The bar names pinned messages as these rows hold them (edited, deleted, opened).
    pins.render();
  };

  const loadOlder = (): Promise<void> => {
    if (loadingOlder) return loadingOlder;
    if (!store.hasMoreHistory(chatId)) return Promise.resolve();
    older.setAttribute('aria-busy', 'true');
    const before = scroller.scrollHeight - scroller.scrollTop;
    loadingOlder = store
      .loadOlder(chatId)
      .then(() => {
        scroller.scrollTop = scroller.scrollHeight - before; // keep the reader's place
      })
      .catch(() => {}) // offline: the cached history stays
      .finally(() => {
        loadingOlder = null;
        older.removeAttribute('aria-busy');
        older.hidden = !store.hasMoreHistory(chatId);
      });
    return loadingOlder;
  };
  older.addEventListener('click', () => void loadOlder());
  scroller.addEventListener('scroll', () => {
    if (scroller.scrollTop < 80) void loadOlder();
  });

  input.addEventListener('input', () => {
    // An edit is not news to the others: no "typing…". Nor is it a draft (the editor keeps the
    // draft it took the composer from).
    if (!editor.active()) {
      if (input.value.trim()) store.sendTyping(chatId);
      store.setDraft(chatId, input.value);
    }
    fit();
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });
  /** What the composer holds, taken out of it (the draft with it). */
  const takeComposed = (): string => {
    const text = input.value.trim();
    input.value = '';
    store.setDraft(chatId, '');
    fit();
    return text;
  };
  composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (editor.active()) return void editor.submit();
    if (!input.value.trim() || store.isClosed(chatId)) return;
    // A reply, when the composer was answering a message: reply mode ends with the send.
    void store.sendMessage(chatId, takeComposed(), replies.take());
    input.focus();
  });

  picker.addEventListener('change', () => {
    const file = picker.files?.[0];
    picker.value = '';
    attachError.textContent = '';
    if (!file) return;
    // The composer holds an edit, not a caption: attach after it ends.
    if (editor.active()) {
      attachError.textContent = 'Finish or cancel the edit before attaching a file.';
      return;
    }
    if (file.size > MAX_FILE_BYTES) {
      attachError.textContent = `${file.name} is larger than 10 MB, the most a file may be.`;
      return;
    }
    if (file.size === 0) {
      attachError.textContent = `${file.name} is empty.`;
      return;
    }
    // What the composer holds goes with the file, as its caption (as in Slack), and so does
    // the message it answers.
    const caption = takeComposed();
    const replyTo = replies.take();
    store.sendFile(chatId, file, caption, replyTo).catch((e: unknown) => {
      attachError.textContent = `Cannot send ${file.name}: ${describeError(e)}`;
      if (input.value || editor.active()) return;
      input.value = caption; // not lost: written again into the composer
      store.setDraft(chatId, caption);
      if (replyTo) replies.resume(replyTo);
    });
  });

  const off = store.subscribe((t) => {
    if (t === `messages:${chatId}` || t === 'profiles') renderMessages();
    else if (t === `incoming:${chatId}`) {
      const last = store.sortedMessages(chatId).filter((m) => m.senderId !== me.id).pop();
      if (last) announce(`New message from ${store.displayName(last.senderId)}: ${summary(last.type, last.content)}`);
    } else if (t === `typing:${chatId}` || t === 'presence') renderHeader();
    else if (t === 'chats') {
      renderHeader();
      // Who may delete others' messages follows the group's admins (drawn again only if it changed).
      renderMessages();
    }
  });

  store.openChat(chatId);
  renderHeader();
  renderMessages();
  scroller.scrollTop = scroller.scrollHeight;
  const cached = store.loadCachedMessages(chatId);
  // What was written here and not sent, back in the composer.
  input.value = store.draftOf(chatId);
  requestAnimationFrame(fit);
  if (!store.state.history.has(chatId)) {
    loadingOlder = store
      .loadOlder(chatId)
      .then(() => {
        scroller.scrollTop = scroller.scrollHeight;
        store.markOpenChatRead();
      })
      .catch(() => {})
      .finally(() => {
        loadingOlder = null;
        older.hidden = !store.hasMoreHistory(chatId);
      });
  }
  store.markOpenChatRead();
  // Opened from a search: at that message, once the history held is drawn.
  if (showMessage) void Promise.all([cached.catch(() => {}), loadingOlder]).then(() => replies.show(showMessage));

  const el = h(
    'section',
    { class: 'page chat', 'data-testid': 'chat-view', 'data-chat-id': chatId },
    h('header', { class: 'topbar' }, backLink(), face, h('div', { class: 'chat-title' }, heading, subtitle, topicLine), mute.el, h('button', { type: 'button', class: 'ghost', 'data-testid': 'logout', onclick: () => void app.logout() }, 'Log out')),
    pins.bar,
    mute.error,
    note.el,
    info,
    scroller,
    details.el,
    typing,
    attachError,
    editor.bar,
    replies.bar,
    composer,
    closedLine,
  );
  return {
    el,
    focus: store.isClosed(chatId) ? heading : input,
    cleanup: () => {
      group.close();
      mentions.cleanup();
      off();
      note.cleanup();
      store.flushDrafts();
      store.openChat(null);
      setTitle('Batiyoun');
    },
  };
}
