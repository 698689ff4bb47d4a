// A conversation's part in editing and deleting messages: a row's "Edit" and "Delete" buttons
// (after its other actions, "Reply" and "React"), its "(edited)" mark or its tombstone, and the
// composer's edit mode — the message's text (a file's caption) in the composer under a bar saying
// so, sent as an edit by Enter or Send, left by Esc or the bar's Cancel. What the user wrote
// before is put back when the edit ends. The composer holds one thing at a time: an edit begun
// ends a reply being written (replies.ts), and the reverse. Errors show where a send's do (the
// alert above the composer). Made offline, an edit or a deletion is kept and sent once back
// (changesOutbox.ts), its row marked pending meanwhile. The store's side is edits.ts.
import * as changes from './changesOutbox';
import { announce, formatTime, h } from './dom';
import * as edits from './edits';
import { displayName, state, type ViewMessage } from './state';

/** What a deleted message shows, in its row and in its details. */
export const DELETED_TEXT = 'This message was deleted';

/** What a row shows of its edits: drawn again when `stamp` changes. */
export interface RowEdits {
  stamp: string;
  /** In place of its body, for a deleted message. */
  tombstone: HTMLElement | null;
  /** After its time, for an edited one. */
  marker: HTMLElement | null;
  actions: HTMLElement | null;
}

export interface Editing {
  /** The edit bar, shown above the composer while editing. */
  bar: HTMLElement;
  /** Whether the composer holds an edit (its submit is then `submit`). */
  active(): boolean;
  /** Sends the edit the composer holds; it ends once the server took it. */
  submit(): Promise<void>;
  /** Ends the edit, if any, as its Cancel does (what the composer held before comes back). */
  cancel(): void;
  /** `more`: other actions, shown first, in order (replying's "Reply", reacting's "React"). */
  row(m: ViewMessage, more?: (HTMLElement | null)[]): RowEdits;
}

/**
 * The edit mode of a chat view's composer. `fit` sizes the composer to its text; `problem` is
 * where errors are shown; `starting` is called as an edit begins (what else the composer was
 * doing ends).
 */
export function editing(input: HTMLTextAreaElement, problem: HTMLElement, fit: () => void, starting: () => void = () => {}): Editing {
  const cancel = h('button', { type: 'button', class: 'link', 'data-testid': 'edit-cancel', 'aria-label': 'Cancel editing' }, 'Cancel');
  const bar = h('div', { class: 'editing-bar', 'data-testid': 'editing-bar', hidden: true }, h('span', {}, 'Editing message — Esc to cancel'), cancel);
  /** The message being edited (its key), and what the composer held before. */
  let editing: { key: string; chatId: string; draft: string } | null = null;
  let sending = false;

  const start = (m: ViewMessage) => {
    problem.textContent = '';
    starting();
    editing = { key: m.key, chatId: m.chatId, draft: editing ? editing.draft : input.value };
    input.value = edits.editableText(m);
    bar.hidden = false;
    fit();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  };
  const stop = () => {
    if (!editing) return;
    input.value = editing.draft;
    editing = null;
    bar.hidden = true;
    fit();
    input.focus();
  };
  cancel.addEventListener('click', stop);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && editing) {
      ev.preventDefault();
      stop();
    }
  });

  /** The message as held now (an update may have come since the edit began). */
  const held = () => {
    const m = editing ? state.messages.get(editing.chatId)?.get(editing.key) : undefined;
    return m && changes.shown(m);
  };

  const submit = async () => {
    if (sending) return;
    const m = held();
    if (!m) return stop(); // gone from this page (the chat was left): nothing to edit
    problem.textContent = '';
    sending = true;
    try {
      const taken = await changes.editMessage(m, input.value.trim());
      if (editing?.key === m.key) stop();
      announce(taken === 'sent' ? 'Message edited' : 'Edit kept: it will be sent once you are back online');
    } catch (e) {
      problem.textContent = `Cannot edit the message: ${reason(e)}`;
    } finally {
      sending = false;
    }
  };

  const remove = async (m: ViewMessage) => {
    if (!confirm('Delete this message?')) return;
    problem.textContent = '';
    try {
      const taken = await changes.deleteMessage(m);
      if (editing?.key === m.key) stop();
      announce(taken === 'sent' ? 'Message deleted' : 'Deletion kept: it will be sent once you are back online');
    } catch (e) {
      problem.textContent = `Cannot delete the message: ${reason(e)}`;
    }
  };

  const row = (m: ViewMessage, more: (HTMLElement | null)[] = []): RowEdits => {
    const canEdit = edits.canEdit(m);
    const canDelete = edits.canDelete(m);
    const stamp = `${m.editedAt ?? ''}|${m.deletedAt ?? ''}|${deleter(m)}|${canEdit}|${canDelete}|${m.queued?.edit}|${m.queued?.delete}`;
    if (m.deletedAt) return { stamp, tombstone: h('em', { class: 'deleted', 'data-testid': 'deleted' }, `${DELETED_TEXT}${deleter(m)}`), marker: null, actions: null };
    // Made offline, not sent yet (changesOutbox.ts): a deletion shows as one on its way, an edit with a clock.
    if (m.queued?.delete) return { stamp, tombstone: h('em', { class: 'deleted pending-change', 'data-testid': 'deleting', title: 'Sent once back online' }, '🕓 Deleting…'), marker: null, actions: null };
    const marker = m.queued?.edit
      ? h('span', { class: 'edited pending-change', 'data-testid': 'edit-pending', title: 'Sent once back online' }, '🕓 (edited)')
      : m.editedAt
        ? h('span', { class: 'edited', 'data-testid': 'edited', title: `Edited ${formatTime(m.editedAt)}` }, '(edited)')
        : null;
    const actions =
      more.some(Boolean) || canEdit || canDelete
        ? h(
            'span',
            { class: 'msg-actions' },
            more,
            canEdit ? h('button', { type: 'button', class: 'link', 'data-testid': 'edit-message', 'aria-label': 'Edit message', onclick: () => start(m) }, 'Edit') : null,
            canDelete ? h('button', { type: 'button', class: 'link', 'data-testid': 'delete-message', 'aria-label': 'Delete message', onclick: () => void remove(m) }, 'Delete') : null,
          )
        : null;
    return { stamp, tombstone: null, marker, actions };
  };

  return { bar, active: () => editing !== null, submit, cancel: stop, row };
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Who deleted `m`, when it was not its sender (a group admin): " by NAME", or " by you". */
function deleter(m: ViewMessage): string {
  if (!m.deletedBy || m.deletedBy === m.senderId) return '';
  return m.deletedBy === state.me?.id ? ' by you' : ` by ${displayName(m.deletedBy)}`;
}
