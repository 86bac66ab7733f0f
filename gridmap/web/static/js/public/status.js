/*
 * public/status.js: 诉求进度 by tracking number (the timeline in plain words, the resident's
 * photos, the rating once completed), and 查询进度 / 我的诉求 (page "track").
 */
import { requestJson } from '../core/api.js';
import { beijing } from '../core/format.js';
import {
  PUBLIC_LABELS, RATING_LABELS, RESOLVED_LABELS, STATE_NOTE_LABELS,
} from '../core/labels.js';
import { PhoneCode, showError } from './common.js';

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export class Status {
  constructor(config) {
    this.config = config;
    this.url = `${config.apiRoot}/requests/${encodeURIComponent(config.number)}`;
    this.form = document.getElementById('gm-public-rate');
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.rate(); });
    this.load();
  }

  async load() {
    try {
      this.show(await requestJson(this.url));
    } catch (err) {
      showError(err.status === 404 ? PUBLIC_LABELS.none : err.message);
    }
  }

  show(found) {
    document.getElementById('gm-public-summary').hidden = false;
    document.getElementById('gm-public-number').textContent = found.tracking_number;
    document.getElementById('gm-public-category').textContent = found.category;
    document.getElementById('gm-public-state').textContent = STATE_NOTE_LABELS[found.state];
    document.getElementById('gm-public-timeline-cell').hidden = false;
    document.getElementById('gm-public-timeline').replaceChildren(...found.timeline.map((step) => {
      const item = element('li');
      item.append(element('time', beijing(step.at)), element('span', STATE_NOTE_LABELS[step.state]));
      return item;
    }));
    document.getElementById('gm-public-photos-cell').hidden = !found.photos.length;
    document.getElementById('gm-public-photo-row').replaceChildren(...found.photos.map((id, i) => {
      const img = element('img');
      img.src = `${this.url}/photos/${encodeURIComponent(id)}`;
      img.alt = `${PUBLIC_LABELS.yourPhotos} ${i + 1}`;
      return img;
    }));
    this.form.hidden = !found.may_rate;
    const answered = document.getElementById('gm-public-answer');
    answered.hidden = !found.answer;
    if (found.answer) {
      const a = found.answer;
      const words = [RESOLVED_LABELS[a.resolved], RATING_LABELS[a.rating], a.comment].filter(Boolean);
      document.getElementById('gm-public-answer-text').textContent = words.join('，');
    }
  }

  async rate() {
    const f = this.form.elements;
    if (!f.resolved.value || !f.rating.value) {
      showError(`${PUBLIC_LABELS.resolved}；${PUBLIC_LABELS.rating}`);
      return;
    }
    const body = { resolved: f.resolved.value, rating: f.rating.value };
    if (f.comment.value.trim()) body.comment = f.comment.value.trim();
    document.getElementById('gm-public-rate-submit').disabled = true;
    try {
      const found = await requestJson(`${this.url}/rating`, { method: 'POST', body });
      showError('');
      this.show(found);
    } catch (err) {
      document.getElementById('gm-public-rate-submit').disabled = false;
      showError(err.message);
    }
  }
}

export class Track {
  constructor(config) {
    this.config = config;
    this.code = new PhoneCode(config.apiRoot, 'lookup');
    document.getElementById('gm-public-lookup').addEventListener('submit', (e) => {
      e.preventDefault();
      const number = document.getElementById('gm-public-number-input').value.trim().toUpperCase();
      if (number) window.location.assign(this.link(number));
    });
    document.getElementById('gm-public-mine').addEventListener('submit', (e) => {
      e.preventDefault();
      this.mine();
    });
  }

  link(number) {
    return this.config.statusUrl.replace('NUMBER', encodeURIComponent(number));
  }

  async mine() {
    const code = document.getElementById('gm-public-code').value.trim();
    if (!this.code.draft || !/^[0-9]{6}$/.test(code)) {
      showError(PUBLIC_LABELS.code);
      return;
    }
    try {
      const { requests: rows } = await requestJson(`${this.config.apiRoot}/mine`, {
        method: 'POST', body: { draft: this.code.draft, code },
      });
      showError(rows.length ? '' : PUBLIC_LABELS.none);
      document.getElementById('gm-public-list').replaceChildren(...rows.map((row) => {
        const item = element('li');
        const a = element('a', `${row.category} · ${STATE_NOTE_LABELS[row.state]}`);
        a.href = this.link(row.tracking_number);
        item.append(a, element('span', beijing(row.created_at), 'gm-public-hint'));
        return item;
      }));
    } catch (err) {
      showError(err.message);
    }
  }
}
