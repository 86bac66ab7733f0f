/*
 * core/install.js: make a worker's page available offline — register the service worker
 * (/sw.js, which keeps every asset) and ask it to keep this page and the answers it read.
 */
import { readUrls } from './api.js';

/** Register the service worker and have it keep this page and its reads (no-op without). */
export async function keepOffline() {
  if (!('serviceWorker' in navigator) || !navigator.onLine) return false;
  try {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    const ready = await navigator.serviceWorker.ready;
    // This page and the API's answers it began with (read before the worker controlled it).
    const reads = Array.from(readUrls);
    const channel = new MessageChannel();
    const kept = new Promise((resolve) => { channel.port1.onmessage = resolve; });
    ready.active.postMessage({ cache: [window.location.href, ...reads] }, [channel.port2]);
    await kept;
    // Tests wait for this before they switch the network off.
    document.documentElement.dataset.offlineReady = 'true';
    return true;
  } catch {
    // No service worker here (an insecure origin, a private window): the page works online.
    return false;
  }
}
