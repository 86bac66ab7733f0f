/*
 * sw.js: the worker's pages (巡查走访 /patrol, 民情日志 /visits) as an installable web app that
 * opens without a network. Served by Flask at /sw.js (scope /).
 *
 * Pages and the API's GET answers they start from: network first, the last copy when offline.
 * Assets (/assets/…): kept when the worker installs, the cached copy first. A page that opened
 * online asks (postMessage {cache: [urls]}) for itself and the API answers it began with to be
 * kept, since it was loaded before this worker controlled it. Writes are never cached: the pages keep them in IndexedDB
 * (js/core/outbox.js) until the server has them.
 */
/** The app's code and images (nothing personal), and the pages and answers a user read. */
const ASSETS = 'gridmap-assets-v1';
const READS = 'gridmap-reads-v1';
const PAGES = ['/patrol', '/visits'];
const API_READS = ['/api/v1/worklists', '/api/v1/patrols', '/api/v1/households',
  '/api/v1/visits', '/api/v1/categories', '/api/v1/grids'];

/** Every script, style and image of the app: written in by the server (gridmap/web/views.py). */
const PRECACHE = [];

self.addEventListener('install', (event) => {
  self.skipWaiting();
  event.waitUntil(caches.open(ASSETS).then((cache) => Promise.all(PRECACHE.map((url) =>
    fetch(url).then((response) => (response.ok ? cache.put(url, response) : null))
      .catch(() => null)))));
});
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('message', (event) => {
  const urls = (event.data && event.data.cache) || [];
  const reply = event.ports[0];
  event.waitUntil(caches.open(READS).then((cache) => Promise.all(urls
    .filter((url) => new URL(url).origin === self.location.origin)
    .map((url) => fetch(url, { credentials: 'same-origin' })
      .then((response) => (response.ok ? cache.put(url, response) : null))
      .catch(() => null))))
    .then(() => reply && reply.postMessage('kept')));
});

async function networkFirst(request) {
  const cache = await caches.open(READS);
  try {
    const response = await fetch(request);
    if (response.ok) cache.put(request, response.clone());
    return response;
  } catch (err) {
    const kept = await cache.match(request, { ignoreVary: true });
    if (!kept) throw err;
    // Marked, so that the page does not take this copy's Date for the server's clock now.
    const headers = new Headers(kept.headers);
    headers.set('X-Gridmap-Offline-Copy', '1');
    return new Response(kept.body, { status: kept.status, statusText: kept.statusText, headers });
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(ASSETS);
  const kept = await cache.match(request, { ignoreVary: true });
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && url.pathname === '/login') {
    // Signed out (or about to sign in as someone else): forget what the last user read.
    event.waitUntil(caches.delete(READS));
    return;
  }
  if (url.pathname.startsWith('/assets/')) {
    event.respondWith(cacheFirst(request));
  } else if (PAGES.includes(url.pathname)
      || API_READS.some((path) => url.pathname.startsWith(path))) {
    event.respondWith(networkFirst(request));
  }
});
