/* Batiyoun service worker: precaches the app shell; never touches /api/ or /socket.io/.
 * The build (vite.config.ts, plugin "batiyoun-precache-manifest") replaces the two placeholders
 * below with the list of built files and a content hash. In `vite dev` they stay undefined and the
 * worker only caches what it sees. */
const PRECACHE_URLS = self.__PRECACHE_URLS__ || ['/'];
const VERSION = self.__CACHE_VERSION__ || 'dev';
const CACHE = `batiyoun-shell-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(PRECACHE_URLS.map((u) => new Request(u, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('batiyoun-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function bypass(url) {
  return (
    url.origin !== self.location.origin ||
    url.pathname.startsWith('/api/') ||
    url.pathname.startsWith('/socket.io/') ||
    url.pathname.startsWith('/.well-known/')
  );
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (bypass(url)) return; // straight to the network, never cached

  if (req.mode === 'navigate') {
    // Network first so a deploy shows up at once; the cached shell when offline.
    event.respondWith(
      fetch(req)
        .then((res) => {
          if (res.ok) {
            const copy = res.clone();
            caches.open(CACHE).then((c) => c.put('/', copy));
          }
          return res;
        })
        .catch(() => caches.match('/', { cacheName: CACHE, ignoreVary: true }).then((r) => r || caches.match('/', { ignoreVary: true }))),
    );
    return;
  }

  // Static files (hashed names): cache first, then network (and remember it).
  event.respondWith(
    caches.match(req, { ignoreVary: true }).then(
      (hit) =>
        hit ||
        fetch(req).then((res) => {
          if (res.ok && res.type === 'basic') {
            const copy = res.clone();
            caches.open(CACHE).then((c) => c.put(req, copy));
          }
          return res;
        }),
    ),
  );
});

// A message notification (src/notify.ts) was clicked: open its chat in a tab of ours if there
// is one (the page navigates when told), else in a new one.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const chatId = event.notification.data && event.notification.data.chatId;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((tabs) => {
      const tab = tabs.find((c) => new URL(c.url).origin === self.location.origin);
      if (tab) {
        tab.postMessage({ type: 'open-chat', chatId });
        return tab.focus();
      }
      return self.clients.openWindow(chatId ? `/#/chat/${chatId}` : '/');
    }),
  );
});

// Ask a waiting worker to take over (sent by the page when the user accepts an update).
self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') self.skipWaiting();
});
