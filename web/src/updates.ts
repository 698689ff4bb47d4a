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
 * A check that fails (the network just back, a server restarting in the deploy) is tried again
 * this much later, up to `CHECK_TRIES` times in all: else the tab would wait for the hourly one.
 */
const RETRY_MS = 5_000;
const CHECK_TRIES = 3;

let registration: ServiceWorkerRegistration | undefined;
let checking = false;

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
      setInterval(() => checkForUpdate(), CHECK_EVERY_MS);
    })
    .catch((e) => console.warn('service worker registration failed', e));
}

/** Asks the browser to fetch `sw.js` again; a changed one installs and takes over. */
export function checkForUpdate(tries = CHECK_TRIES): void {
  if (!registration || checking) return;
  checking = true;
  registration.update().then(
    () => (checking = false),
    () => {
      checking = false;
      if (tries > 1) setTimeout(() => checkForUpdate(tries - 1), RETRY_MS);
    },
  );
}

function offerReload(slot: HTMLElement): void {
  slot.replaceChildren(
    h('span', {}, 'A new version of Batiyoun is available.'),
    h('button', { type: 'button', class: 'link', onclick: () => location.reload() }, 'Reload'),
  );
  slot.hidden = false;
}
