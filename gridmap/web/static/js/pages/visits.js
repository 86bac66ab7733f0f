/*
 * pages/visits.js: 民情日志, a party member's or grid worker's phone page.
 *
 * Record a visit to a household the caller covers (入户/电话/微信, the topics found, a note);
 * once the server has it, one step files a request for that household from the visit (its
 * timeline names the visit). Visits and their photos are kept in IndexedDB (core/outbox.js)
 * and sent when the connection returns, the photos first; the page says what waits to be sent. The page and its assets are kept
 * by the service worker, so it opens without a network.
 */
import { newKey, onServerClock, requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { el } from '../core/dom.js';
import { beijing } from '../core/format.js';
import { keepOffline } from '../core/install.js';
import { LISTS_LABELS, OUTBOX_QUEUE_LABELS, VISIT_TOPIC_LABELS } from '../core/labels.js';
import { Outbox, waitingText } from '../core/outbox.js';
import { PhotoPicker } from '../core/photos.js';
import { fillChoices, visitBody, visitSummary } from '../visits/form.js';

const PREFIX = 'gm-visit';

/** The kind of need a visit's topic asks for (需求清单). */
const NEED_KIND_OF_TOPIC = {
  health: 'health', elderly_care: 'care', housing: 'repair', safety: 'repair',
  policy: 'errand', employment: 'learning',
};

class VisitsPage {
  constructor(config) {
    this.config = config;
    this.root = document.getElementById('gm-visits');
    this.form = document.getElementById('gm-visit-form');
    this.household = document.getElementById('gm-visit-household');
    this.submit = document.getElementById('gm-visit-submit');
    this.result = document.getElementById('gm-visit-result');
    this.outboxNode = document.getElementById('gm-outbox');
    this.fromVisit = document.getElementById('gm-from-visit');
    this.requestForm = document.getElementById('gm-request-form');
    this.requestResult = document.getElementById('gm-request-result');
    this.mine = document.getElementById('gm-my-visits');
    fillChoices(document.getElementById('gm-visit-channels'),
      document.getElementById('gm-visit-topics'), PREFIX);
    this.outbox = new Outbox(config.apiRoot, {
      onChange: (ops, err) => this.showWaiting(ops, err),
      onSent: (op, answer) => this.sent(op, answer),
      onRefused: (op, err) => banner(`${OUTBOX_QUEUE_LABELS[op.kind === 'photo' ? 'photos'
        : 'visits']}未被接受：${err.message}`),
    });
    this.photos = new PhotoPicker(document.getElementById('gm-visit-photos'), config.apiRoot,
      banner, { keep: true });
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.record();
    });
    this.requestForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.fileRequest();
    });
    window.addEventListener('offline', () => this.outbox.changed());
    window.addEventListener('online', () => this.outbox.changed());
    this.load();
  }

  async load() {
    try {
      const [houses, categories] = await Promise.all([
        requestJson(`${this.config.apiRoot}/households?limit=1000`),
        requestJson(`${this.config.apiRoot}/categories`),
      ]);
      this.household.replaceChildren(...houses.features.map((f) => el('option',
        { value: f.id }, f.properties.address || `住户 ${f.id}`)));
      document.getElementById('gm-request-category').replaceChildren(
        ...categories.categories.map((c) => el('option', { value: c.code }, c.name)));
      this.household.disabled = !houses.features.length;
      this.submit.disabled = !houses.features.length;
      if (!houses.features.length) this.message(this.result, '您没有包联的住户。', 'error');
    } catch (err) {
      banner(`住户加载失败：${err.message}`);
    }
    await this.outbox.changed();
    this.loadMine();
    this.root.dataset.state = 'ready';
    keepOffline();
  }

  async loadMine() {
    try {
      const body = await requestJson(`${this.config.apiRoot}/visits?days=7`);
      this.mine.replaceChildren(...(body.visits.length ? body.visits.map((v) => el('li',
        { 'data-visit': v.id },
        `${beijing(v.at)} ${v.address || `住户 ${v.household_id}`} · ${visitSummary(v)}`,
        v.request_id ? el('a', { href: `/requests/${v.request_id}`, class: 'gm-visit-request' },
          ` 诉求 #${v.request_id}`) : null,
        this.needButton(v)))
        : [el('li', { class: 'gm-muted' }, '近 7 日没有走访记录。')]));
    } catch (err) {
      if (navigator.onLine) banner(`走访记录加载失败：${err.message}`);
    }
  }

  /**
   * 一键转需求: the visit's household's need goes to the community's 需求清单, its kind and
   * title from the visit's first topic (no note: the list is published).
   */
  needButton(visit) {
    const T = LISTS_LABELS;
    const topic = (visit.topics || [])[0] || 'other';
    const button = el('button', { type: 'button', class: 'gm-button gm-small gm-visit-need' },
      T.toNeed);
    button.addEventListener('click', async () => {
      button.disabled = true;
      const body = {
        kind: NEED_KIND_OF_TOPIC[topic] || 'other',
        title: `${T.fromVisit}：${VISIT_TOPIC_LABELS[topic] || topic}`,
      };
      try {
        const need = await requestJson(
          `${this.config.apiRoot}/party/needs/from-visit/${visit.id}`, { method: 'POST', body });
        button.replaceWith(el('span', { class: 'gm-small gm-visit-need-done' },
          ` ${T.toNeedDone} #${need.id}`));
      } catch (err) {
        button.replaceWith(el('span', { class: 'gm-small' }, ` ${err.message}`));
      }
    });
    return button;
  }

  showWaiting(ops, err) {
    let text = waitingText(ops, OUTBOX_QUEUE_LABELS);
    if (!navigator.onLine && ops.length) text = `${OUTBOX_QUEUE_LABELS.offline}。${text}`;
    else if (err && ops.length) text = `${text}（${err.message}）`;
    this.outboxNode.textContent = text;
    this.outboxNode.dataset.state = ops.length ? 'waiting' : 'sent';
    this.outboxNode.dataset.waiting = String(ops.length);
  }

  async record() {
    const body = visitBody(this.form, PREFIX, this.household.value, onServerClock(Date.now()));
    this.submit.disabled = true;
    try {
      await this.outbox.add({
        kind: 'visit', path: '/visits', body, key: newKey(), photoField: 'photos',
      }, { photos: this.photos.kept(), purpose: 'visit' });
      this.photos.reset();
      this.form.querySelector('textarea').value = '';
      this.form.querySelectorAll(`input[name="${PREFIX}-topic"]`).forEach((box) => {
        box.checked = false;
      });
      this.message(this.result, navigator.onLine ? '已保存，正在发送…'
        : `已保存在本机：${OUTBOX_QUEUE_LABELS.offline}`, 'waiting');
    } finally {
      this.submit.disabled = false;
    }
  }

  sent(op, answer) {
    if (op.kind !== 'visit') return;
    this.visit = answer;
    this.message(this.result, `已记录走访：${answer.address || `住户 ${answer.household_id}`}`
      + `（${visitSummary(answer)}，${beijing(answer.at)}）`, 'done');
    this.result.dataset.visit = String(answer.id);
    this.fromVisit.hidden = false;
    this.requestForm.dataset.visit = String(answer.id);
    this.requestResult.hidden = true;
    this.loadMine();
  }

  async fileRequest() {
    const visitId = this.requestForm.dataset.visit;
    if (!visitId) return;
    const button = document.getElementById('gm-request-submit');
    button.disabled = true;
    this.requestKey = this.requestKey || newKey();
    try {
      const request = await requestJson(`${this.config.apiRoot}/visits/${visitId}/request`, {
        method: 'POST',
        headers: { 'Idempotency-Key': this.requestKey },
        body: {
          category: document.getElementById('gm-request-category').value,
          description: document.getElementById('gm-request-description').value.trim(),
        },
      });
      this.requestKey = null;
      this.requestResult.replaceChildren(`已上报：`,
        el('a', { href: `/requests/${request.id}` }, `诉求 #${request.id}`));
      this.requestResult.dataset.state = 'done';
      this.requestResult.dataset.request = String(request.id);
      this.requestResult.hidden = false;
      this.requestForm.reset();
      delete this.requestForm.dataset.visit;
      this.loadMine();
    } catch (err) {
      if (err.status && err.status < 500) this.requestKey = null;
      this.message(this.requestResult, `上报失败：${err.message}`, 'error');
    } finally {
      button.disabled = false;
    }
  }

  message(node, text, state) {
    node.textContent = text;
    node.dataset.state = state;
    node.hidden = false;
  }
}

/** Start the page. */
export function start(config) {
  return new VisitsPage(config);
}
