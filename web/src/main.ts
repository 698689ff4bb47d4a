import './styles.css';
import { ApiError, NetworkError, auth, refresh, setSessionLostHandler } from './api';
import * as db from './db';
import { setUnreadInTitle } from './dom';
import * as store from './store';
import type { DeleteAccountProof, User } from './types';
import { isMuted } from './muting';
import * as notify from './notify';
import { checkAfterReconnect, registerServiceWorker } from './updates';
import { accountView } from './account';
import { forgotView, loginView, resetView, signupView, verifyView } from './authViews';
import type { AppActions, View } from './viewKit';
import { chatListView, chatView, joinView, newChatView, newGroupView } from './views';
import { searchView } from './search';

const LAST_USER = 'batiyoun.lastUser'; // the public profile only, so the app can start offline
/**
 * The id of a user whose account this browser asked the server to delete, the answer saying it
 * was deleted or never coming (offline, cut). Shared by the tabs: from then on, a session of
 * that user's that ends (in any tab), or a start whose session is refused, is that deletion,
 * and the account's data goes from this browser as it does from the page that deleted it. A
 * session that still works (the account is there) or a login clears it.
 */
const DELETED = 'batiyoun.accountDeleted';
const DELETED_NOTICE = 'Your account was deleted.';
const main = document.getElementById('main')!;
const banner = document.getElementById('status')!;
let current: View | null = null;
/**
 * What the login screen says of why it shows (a logout, a session ended, the account deleted).
 * Kept while the login screen is drawn again, and forgotten once another screen is: `go` to the
 * screen already shown still changes the hash, whose `hashchange` draws it a second time, after
 * a `route()` called directly may have drawn it first (a start and a session lost at once).
 */
let notice: string | undefined;

/**
 * While this page deletes its account: the server ends every session as it deletes it, so the
 * socket may be dropped and a refresh refused before the answer comes, which is not "Your
 * session has ended" (nor a session ended keeping the cache). A loss held back meanwhile is let
 * through if the deletion is refused.
 */
let deleting = false;
let lostWhileDeleting = false;

const app: AppActions = {
  async signedIn(user: User) {
    localStorage.removeItem(DELETED);
    localStorage.setItem(LAST_USER, JSON.stringify(user));
    await store.start(user);
    store.connect(sessionLost);
    const next = new URLSearchParams(location.hash.split('?')[1] ?? '').get('next');
    go(next && next.startsWith('#/') ? next : '#/');
  },
  async logout() {
    const pending = (await db.outbox().catch(() => [])).filter((o) => !o.failed);
    if (pending.length && !confirm(`${pending.length} message(s) have not been sent yet and will be lost. Log out anyway?`)) return;
    try {
      await auth.logout();
    } catch {
      /* offline: the cookie is cleared next time; local data goes now */
    }
    await endSession('You have been logged out.', true);
  },
  go,
  userChanged(user: User) {
    store.setMe(user);
  },
  async deleteAccount(proof: DeleteAccountProof) {
    deleting = true;
    lostWhileDeleting = false;
    if (store.state.me) localStorage.setItem(DELETED, store.state.me.id);
    try {
      await auth.deleteAccount(proof);
    } catch (e) {
      deleting = false;
      // Refused, so nothing was deleted. Unanswered, it may have been: the mark stays.
      if (!(e instanceof NetworkError)) localStorage.removeItem(DELETED);
      if (lostWhileDeleting) sessionLost();
      throw e;
    }
    try {
      await accountDeleted();
    } finally {
      deleting = false;
    }
  },
};

// The account as it now is (changed here or, through `profile_changed`, on another device) is
// the one an offline start shows.
store.subscribe((topic) => {
  if (topic === 'me' && store.state.me) localStorage.setItem(LAST_USER, JSON.stringify(store.state.me));
});

/**
 * An explicit logout wipes this user's local database (shared devices); a lost session keeps it,
 * so unsent messages in the outbox go out after the same user logs in again.
 */
async function endSession(message: string, wipe: boolean): Promise<void> {
  localStorage.removeItem(LAST_USER);
  await store.stop(wipe);
  // Stopping closed the socket ("offline") while still signed in: signed out, no banner.
  renderBanner();
  notice = message;
  go('#/login');
}

function sessionLost(): void {
  if (!store.state.me) return;
  if (deleting) {
    lostWhileDeleting = true;
    return;
  }
  // Another tab deleted the account, or this one did and its answer never came.
  if (localStorage.getItem(DELETED) === store.state.me.id) void accountDeleted();
  else void endSession('Your session has ended. Please log in again.', false);
}

/**
 * The account is gone from the server: as a logout, and more, nothing of it is left here (its
 * cache, its key, what an offline start would show, its notifications).
 */
async function accountDeleted(): Promise<void> {
  await notify.closeAll();
  await endSession(DELETED_NOTICE, true);
}
setSessionLostHandler(sessionLost);

function go(hash: string): void {
  if (location.hash === hash) route();
  else location.hash = hash;
}

const PUBLIC = new Set(['login', 'signup', 'verify', 'forgot', 'reset']);

function route(): void {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, arg] = path.split('/');
  const params = new URLSearchParams(query);
  const signedIn = store.state.me !== null;

  if (!signedIn && !PUBLIC.has(name)) return go('#/login');
  if (signedIn && PUBLIC.has(name)) return go('#/');

  let view: View;
  switch (name) {
    case 'login':
      view = loginView(app, notice);
      break;
    case 'signup':
      view = signupView(app);
      break;
    case 'verify':
      view = verifyView(app, params.get('email') ?? '');
      break;
    case 'forgot':
      view = forgotView(app, params.get('email') ?? '');
      break;
    case 'reset':
      view = resetView(app, params.get('email') ?? '');
      break;
    case 'account':
      view = accountView(app);
      break;
    case 'new':
      view = newChatView(app);
      break;
    case 'group':
      view = newGroupView(app);
      break;
    case 'join':
      view = joinView(app);
      break;
    case 'chat':
      view = arg ? chatView(app, arg, params.get('m') ?? undefined) : chatListView(app);
      break;
    case 'search':
      view = searchView();
      break;
    default:
      view = chatListView(app);
  }
  if (name !== 'login') notice = undefined;
  current?.cleanup?.();
  current = view;
  main.replaceChildren(view.el);
  (view.focus ?? view.el.querySelector('h1') ?? main).focus();
}

function renderBanner(): void {
  const c = store.state.me ? store.state.conn : 'online';
  banner.dataset.state = c;
  banner.setAttribute('data-testid', 'conn-status');
  banner.hidden = c === 'online';
  banner.textContent = c === 'offline' ? 'You are offline. Messages you send will be delivered when you reconnect.' : c === 'connecting' ? 'Connecting…' : '';
}
// A socket that comes back after a disconnect is the likeliest sign of a deploy (the servers
// restarted): ask whether the app itself changed too. So is the network coming back: a deploy
// may have happened while the device was offline.
window.addEventListener('online', () => checkAfterReconnect());
let wasOnline = false;
store.subscribe((t) => {
  // Muted chats' unread messages are not counted in the tab's title, as Slack leaves them out.
  if (t === 'chats') setUnreadInTitle([...store.state.chats.values()].reduce((n, c) => n + (isMuted(c) ? 0 : (c.unreadCount ?? 0)), 0));
  if (t !== 'conn') return;
  renderBanner();
  if (store.state.conn !== 'online') return;
  if (wasOnline) checkAfterReconnect();
  wasOnline = true;
});

/** Start-up: the session cookie gives an access token; offline we start from the cached user. */
async function boot(): Promise<void> {
  window.addEventListener('hashchange', route);
  const cached = localStorage.getItem(LAST_USER);
  try {
    await refresh();
    const user = await auth.verifyMe();
    // The account is there: a deletion whose answer never came did not happen.
    if (localStorage.getItem(DELETED) === user.id) localStorage.removeItem(DELETED);
    localStorage.setItem(LAST_USER, JSON.stringify(user));
    await store.start(user);
    store.connect(sessionLost);
  } catch (e) {
    if (e instanceof NetworkError && cached) {
      // Offline start: show cached chats and the outbox; connect once the network is back.
      await store.start(JSON.parse(cached) as User);
      store.connect(sessionLost);
      window.addEventListener('online', () => void refresh().catch(() => {}), { once: true });
    } else if (e instanceof ApiError && cached) {
      const user = JSON.parse(cached) as User;
      localStorage.removeItem(LAST_USER);
      // Its session refused (not a server failing) after this browser asked to delete the
      // account, whose answer never came (the page closed or offline first): it was deleted, and
      // its data goes from here.
      if (e.status === 401 && localStorage.getItem(DELETED) === user.id) {
        await store.start(user);
        await notify.closeAll();
        await store.stop(true);
        notice = DELETED_NOTICE;
      }
    }
  }
  // After Google sign-in the callback lands on APP_URL; clean the query string away.
  if (location.search && store.state.me) history.replaceState(null, '', location.pathname + location.hash);
  renderBanner();
  route();
}

if ('serviceWorker' in navigator && (import.meta.env.PROD || localStorage.getItem('batiyoun.devSW'))) {
  window.addEventListener('load', () => registerServiceWorker(document.getElementById('update')!));
}

store.onUnseenMessage((m, chat) => void notify.notifyMessage(m, chat));
store.onReactionToMine((m, chat, added) => void notify.notifyReaction(m, chat, added));
store.onChatRead((chatId) => void notify.closeNotifications(chatId));
store.onMessageDeleted((m) => void notify.closeNotificationOf(m.chatId, m.id));
notify.listenForClicks((chatId) => go(`#/chat/${chatId}`));

void boot();
