/* requests/inbox.js: 诉求工作台, the caller's requests by tab, a page at a time (no map). */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { el } from '../core/dom.js';
import { beijing } from '../core/format.js';
import { LEVEL_LABELS, STAGE_LABELS } from '../core/labels.js';
import { cardBadge, snippet, stateBadge } from './badges.js';

const INBOX_PAGE = 50;

export class Inbox {
  constructor(config) {
    this.config = config;
    this.root = document.getElementById('gm-inbox');
    this.list = document.getElementById('gm-inbox-list');
    this.count = document.getElementById('gm-inbox-count');
    this.more = document.getElementById('gm-inbox-more');
    this.shown = 0;
    this.more.addEventListener('click', () => this.load(this.cursor));
    this.load(null);
  }

  /** The list's query for the tab; the warning filter is also applied here, row by row. */
  query() {
    const tab = this.config.tab;
    const args = new URLSearchParams({ limit: String(INBOX_PAGE) });
    if (tab === 'mine') args.set('mine', 'true');
    if (tab === 'filed') args.set('filed', 'true');
    // A department's tabs (部门报到): summoned, in hand, extensions asked, co-handled (协办).
    if (tab === 'summoned') args.set('state', 'reported');
    if (tab === 'handling') args.set('state', 'accepted,handling');
    if (tab === 'summoned' || tab === 'handling') args.set('mine', 'true');
    if (tab === 'extension') args.set('extension_pending', 'true');
    if (tab === 'cohandling') args.set('cohandling', 'true');
    if (tab === 'yellow' || tab === 'red') args.set('warning', tab);
    return args;
  }

  keep(feature) {
    const tab = this.config.tab;
    if (tab === 'yellow') return feature.properties.warning === 'yellow';
    if (tab === 'red') return feature.properties.warning === 'red';
    return true;
  }

  async load(cursor) {
    this.more.disabled = true;
    const args = this.query();
    if (cursor) args.set('cursor', cursor);
    try {
      const body = await requestJson(`${this.config.apiRoot}/requests?${args}`);
      const rows = (body.features || []).filter((f) => this.keep(f));
      rows.forEach((f) => this.list.append(this.row(f.properties)));
      this.shown += rows.length;
      this.cursor = body.next;
      this.more.hidden = !body.next;
      this.count.textContent = this.shown ? `共 ${this.shown} 条${body.next ? '（还有更多）' : ''}`
        : '没有诉求';
      this.root.dataset.state = 'ready';
    } catch (err) {
      this.count.textContent = '加载失败';
      this.root.dataset.state = 'error';
      banner(`诉求列表加载失败：${err.message}`);
    } finally {
      this.more.disabled = false;
    }
  }

  row(p) {
    const href = `${this.config.urls.inbox}/${p.id}`;
    return el('li', { class: 'gm-request-row', 'data-id': p.id, 'data-state': p.state },
      el('a', { href, class: 'gm-request-link' },
        el('div', { class: 'gm-request-head' },
          el('span', { class: 'gm-request-category' }, p.category.name),
          stateBadge(p.state),
          cardBadge(p.warning)),
        el('p', { class: 'gm-request-text' }, snippet(p.description)),
        el('p', { class: 'gm-request-meta gm-muted gm-small' },
          `#${p.id} · ${LEVEL_LABELS[p.level] || p.level}`,
          p.stage_deadline ? ` · ${STAGE_LABELS[p.stage] || ''}时限 ${beijing(p.stage_deadline)}`
            : '')));
  }
}

