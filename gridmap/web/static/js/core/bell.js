/*
 * core/bell.js: the header's bell (通知). It reads the signed-in account's messages from
 * GET /api/v1/notifications, shows how many there are, and lists them (newest first, Beijing
 * time) in a panel that opens under the bell and closes on Escape or a click outside.
 */

import { getJson } from './api.js';
import { el } from './dom.js';
import { beijing } from './format.js';
import { NOTIFICATION_LABELS, OUTBOX_KIND_LABELS } from './labels.js';

function item(notice) {
  const kind = OUTBOX_KIND_LABELS[notice.kind] || notice.kind;
  const link = notice.request_id ? el('a', { href: `/requests/${notice.request_id}` }, notice.text)
    : el('span', {}, notice.text);
  return el(
    'li',
    { class: notice.urgent ? 'gm-bell-item gm-bell-urgent' : 'gm-bell-item' },
    el('span', { class: 'gm-bell-kind' }, kind),
    link,
    el('time', { class: 'gm-muted gm-small', datetime: notice.created_at }, beijing(notice.created_at)),
  );
}

function render(panel, count, items) {
  panel.replaceChildren(
    el('h2', { class: 'gm-bell-title' }, NOTIFICATION_LABELS.title),
    items.length ? el('ul', { class: 'gm-bell-list' }, ...items.map(item))
      : el('p', { class: 'gm-muted' }, NOTIFICATION_LABELS.empty),
  );
  count.textContent = items.length ? String(items.length) : '';
  count.hidden = !items.length;
}

async function init() {
  const bell = document.querySelector('.gm-bell');
  if (!bell) return;
  const button = bell.querySelector('.gm-bell-button');
  const count = bell.querySelector('.gm-bell-count');
  const panel = bell.querySelector('.gm-bell-panel');
  const setOpen = (open) => {
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
  };
  button.addEventListener('click', () => setOpen(panel.hidden));
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !panel.hidden) setOpen(false);
  });
  document.addEventListener('click', (event) => {
    if (!bell.contains(event.target)) setOpen(false);
  });
  try {
    const answer = await getJson('/api/v1/notifications?limit=50');
    render(panel, count, answer.items);
    bell.dataset.ready = 'true';
  } catch {
    // The bell is an aside: a failed read (offline, the session just ended) says so in its
    // panel and leaves the page alone.
    panel.replaceChildren(el('p', { class: 'gm-muted' }, NOTIFICATION_LABELS.failed));
    bell.dataset.ready = 'failed';
  }
}

init();
