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
      setInterval(checkForUpdate, CHECK_EVERY_MS);
    })
    .catch((e) => console.warn('service worker registration failed', e));
}

/** Asks the browser to fetch `sw.js` again; a changed one installs and takes over. */
export function checkForUpdate(): void {
  if (!registration || checking) return;
  checking = true;
  registration
    .update()
    .catch(() => {
      /* offline or the server restarting: the next reconnect or the hourly check asks again */
    })
    .finally(() => (checking = false));
}

function offerReload(slot: HTMLElement): void {
  slot.replaceChildren(
    h('span', {}, 'A new version of Batiyoun is available.'),
    h('button', { type: 'button', class: 'link', onclick: () => location.reload() }, 'Reload'),
  );
  slot.hidden = false;
}
