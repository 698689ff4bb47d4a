// New versions of the PWA reaching a tab left open.
//
// The service worker (public/sw.js) takes over as soon as a new build's worker is installed, but a
// page keeps running the code it loaded: a chat tab left open for days would go on speaking an old
// contract with a new server. So the page asks for a new worker when a deploy is likely (its
// socket came back after a disconnect: the servers restarted) and hourly, and when a new worker
// takes over a page an older worker controlled, it offers a reload. It never reloads by itself:
// the user may be typing.

import { h } from './dom';

/** How often a tab that stays connected asks for a new version anyway. */
const CHECK_EVERY_MS = 60 * 60 * 1000;
/**
 * After a reconnect the check is made again this much later: a deploy may bring the web server
 * (or the last replica behind the balancer) up with the new build after the socket server.
 */
const RECHECK_AFTER_RECONNECT_MS = 60_000;
/**
 * A check that fails is tried again this much later, up to `CHECK_TRIES` times in all: the
 * network just back, a server restarting in the deploy, or a new version whose files are not all
 * served yet (its install fails). Else the tab would wait for the hourly check.
 */
const RETRY_MS = 5_000;
const CHECK_TRIES = 3;
/** A check not answered in this long counts as failed, so a stalled request blocks nothing. */
const CHECK_TIMEOUT_MS = 10_000;

let registration: ServiceWorkerRegistration | undefined;
let triesLeft = 0;
let retry: ReturnType<typeof setTimeout> | undefined;
let recheck: ReturnType<typeof setTimeout> | undefined;

/**
 * Registers the service worker and watches for a newer one taking over. `slot` receives the
 * "new version" notice.
 */
export function registerServiceWorker(slot: HTMLElement): void {
  const sw = navigator.serviceWorker;
  // The first worker's `clients.claim()` also changes the controller: only a page that already
  // had one is running an older build.
  let controlled = sw.controller !== null;
  sw.addEventListener('controllerchange', () => {
    if (controlled) offerReload(slot);
    controlled = true;
  });
  sw.register('/sw.js')
    .then((reg) => {
      registration = reg;
      reg.addEventListener('updatefound', () => watchInstall(reg));
      setInterval(() => checkForUpdate(), CHECK_EVERY_MS);
    })
    .catch((e) => console.warn('service worker registration failed', e));
}

/** The socket or the network came back: a deploy may have happened. Checks now and a minute later. */
export function checkAfterReconnect(): void {
  checkForUpdate();
  clearTimeout(recheck);
  recheck = setTimeout(() => checkForUpdate(), RECHECK_AFTER_RECONNECT_MS);
}

/** Asks the browser to fetch `sw.js` again; a changed one installs and takes over. */
export function checkForUpdate(): void {
  triesLeft = CHECK_TRIES;
  attempt();
}

function attempt(): void {
  if (!registration || triesLeft <= 0) return;
  triesLeft -= 1;
  clearTimeout(retry);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  const reg = registration;
  console.debug('checking for a new version');
  Promise.race([reg.update(), timeout])
    .then(() => console.debug(reg.installing ? 'a new version is installing' : 'no new version'), failed)
    .finally(() => clearTimeout(timer));
}

function failed(why: unknown): void {
  console.warn(`checking for a new version failed (${triesLeft} tries left): ${String(why)}`);
  clearTimeout(retry);
  if (triesLeft > 0) retry = setTimeout(attempt, RETRY_MS);
}

/**
 * `update()` answers once the new worker is installing, so a failed install (a file of the new
 * build missing, or the network dropping while it is fetched) is seen here: the worker turns
 * redundant before it ever ran, and no newer one is on its way.
 */
function watchInstall(reg: ServiceWorkerRegistration): void {
  const worker = reg.installing;
  let ran = false;
  worker?.addEventListener('statechange', () => {
    if (worker.state === 'activating' || worker.state === 'activated') ran = true;
    if (worker.state === 'redundant' && !ran && !reg.installing && !reg.waiting) failed(new Error('the new version did not install'));
  });
}

function offerReload(slot: HTMLElement): void {
  slot.replaceChildren(
    h('span', {}, 'A new version of Batiyoun is available.'),
    h('button', { type: 'button', class: 'link', onclick: () => location.reload() }, 'Reload'),
  );
  slot.hidden = false;
}
