/* requests/badges.js: what every request page shows of a request — its state, its 红黄牌 and
 * the start of its description. */
import { el } from '../core/dom.js';
import { CARD_LABELS, STATE_LABELS } from '../core/labels.js';

export const CARD_COLOURS = { green: '#2e9d4f', yellow: '#e0a800', red: '#d7301f', none: '#6b7280' };
const SNIPPET = 60;

export function snippet(text) {
  const value = text || '';
  return value.length > SNIPPET ? `${value.slice(0, SNIPPET)}…` : value;
}

/** The 红黄牌 badge of a request's running stage (nothing when no clock runs). */
export function cardBadge(warning) {
  if (!warning) return el('span', { class: 'gm-card-badge gm-card-none' }, '无时限');
  return el('span', { class: `gm-card-badge gm-card-${warning}`, 'data-card': warning },
    CARD_LABELS[warning] || warning);
}

export function stateBadge(state) {
  return el('span', { class: `gm-state gm-state-${state}`, 'data-state': state },
    STATE_LABELS[state] || state);
}

