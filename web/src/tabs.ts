/**
 * What this user's other tabs of this browser show. A message in a chat that another tab has
 * open and visible is seen there as it arrives, so this tab does not notify it.
 *
 * Tabs tell each other over a `BroadcastChannel` (same origin, same browser): each says which
 * chat it shows, visible, whenever that changes, every {@link HEARTBEAT_MS} while it shows one,
 * and `null` when it stops (hidden, closed, another chat). A new tab asks the others to say. A
 * tab that died without a word is forgotten after {@link STALE_MS}. Another user signed in to
 * another tab of the same browser is not counted.
 */

const CHANNEL = 'batiyoun:tabs';
const HEARTBEAT_MS = 20_000;
const STALE_MS = 45_000;

type Note = { user: string; tab: string; chatId: string | null } | { user: string; ask: true };

const tab = crypto.randomUUID();
const channel = 'BroadcastChannel' in window ? new BroadcastChannel(CHANNEL) : null;
/** Other tabs showing a chat: tab → the chat and when they last said so. */
const others = new Map<string, { chatId: string; at: number }>();
let current: { user: string; chatId: string | null } = { user: '', chatId: null };
let heartbeat: ReturnType<typeof setInterval> | undefined;

/** Tells the other tabs what this one shows (`chatId`, by default the current one). */
function say(chatId = current.chatId): void {
  if (!current.user) return;
  channel?.postMessage({ user: current.user, tab, chatId } satisfies Note);
}

channel?.addEventListener('message', (e: MessageEvent<Note>) => {
  const note = e.data;
  if (!note || note.user !== current.user) return;
  if ('ask' in note) return say();
  if (note.chatId) others.set(note.tab, { chatId: note.chatId, at: Date.now() });
  else others.delete(note.tab);
});

/**
 * This tab shows `chatId`, visible (or nothing: `null`) to user `user`. Called when the user,
 * the open chat or the page's visibility changes.
 */
export function showing(user: string | null, chatId: string | null): void {
  const next = { user: user ?? '', chatId: user ? chatId : null };
  if (next.user === current.user && next.chatId === current.chatId) return;
  const newUser = next.user !== current.user;
  if (newUser) {
    say(null); // to the last user's tabs: this one shows them nothing now
    others.clear();
  }
  current = next;
  if (newUser && current.user) channel?.postMessage({ user: current.user, ask: true } satisfies Note);
  say();
  clearInterval(heartbeat);
  heartbeat = current.chatId ? setInterval(() => say(), HEARTBEAT_MS) : undefined;
}

/** Whether another tab of this user shows `chatId`, visible. */
export function shownElsewhere(chatId: string): boolean {
  const now = Date.now();
  for (const [id, seen] of others) {
    if (now - seen.at > STALE_MS) others.delete(id);
    else if (seen.chatId === chatId) return true;
  }
  return false;
}

window.addEventListener('pagehide', () => say(null));
window.addEventListener('pageshow', () => say());
