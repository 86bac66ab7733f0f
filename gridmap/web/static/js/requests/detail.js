/*
 * requests/detail.js: 诉求详情, one request — its fields, a small map of the place, the
 * timeline and the allowed actions, each posted with If-Match (409: not allowed now; 412:
 * changed meanwhile, reload).
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { el, gridLabel } from '../core/dom.js';
import { beijing } from '../core/format.js';
import {
  ACTION_LABELS, BASIS_LABELS, CHANNEL_LABELS, DEPARTMENT_ACTION_LABELS, LEVEL_LABELS,
  LISTS_LABELS, PHOTO_LABELS, RATING_LABELS, RESOLVED_LABELS, SOURCE_LABELS, STAGE_LABELS, STATE_LABELS,
  URGENCY_LABELS,
} from '../core/labels.js';
import { prepareMap, projection } from '../core/map.js';
import { PhotoPicker, photoThumbs } from '../core/photos.js';
import { CARD_COLOURS, cardBadge, stateBadge } from './badges.js';

/** The actions in the order their buttons appear (the glossary's order), with their labels. */
const ACTIONS = Object.entries(ACTION_LABELS).filter(([action]) => action !== 'report');
const TIMELINE_LABELS = { create: ACTION_LABELS.report, ...ACTION_LABELS };
/** Timeline actions that move a request between levels: their rows say the new level. */
const LEVEL_MOVES = ['report', 'escalate', 'return', 'reassign'];
/**
 * The fields each action asks for before it is posted (every listed one is required, but
 * the note, and a photo unless photoRequired); actions not listed are posted as soon as their
 * button is pressed. `photo` is the purpose the step's photos are uploaded for.
 */
const ACTION_FIELDS = {
  start: { photo: 'before', note: '说明' },
  complete: { photo: 'after', note: '处置结果' },
  rate: { rating: true, note: '回访说明' },
  escalate: { reason: true, department: true, note: '说明' },
  return: { reason: true, note: '说明' },
  reassign: { reason: true, department: true, note: '说明' },
  mark_duplicate: { duplicate: true, note: '说明' },
  comment: { note: '备注内容', noteRequired: true },
  callback: {
    resolved: true, rating: true, channel: true, note: '回访记录',
  },
  verify: { photo: 'after', photoRequired: true, note: '核查说明' },
  set_urgency: { urgency: true, note: '说明' },
  // 延期, 协办, 督办 (部门报到): the department asks for time; the street answers, names
  // co-handling departments and supervises a late one with a new time limit.
  ask_extension: { reason: true, timeLimit: '延长时限', note: '说明' },
  refuse_extension: { reason: true, note: '说明' },
  add_cohandler: { cohandlers: true, note: '说明' },
  supervise: { reason: true, timeLimit: '新的办理时限', note: '督办意见' },
  // 社区吹哨: the chief calls up grid workers or in-service members of the community.
  call_helpers: { helpers: true, note: '说明' },
};
const UNIT_LABELS = { hours: '小时', days: '天' };

export class Detail {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.proj = projection(config);
    this.root = document.getElementById('gm-detail');
    this.form = document.getElementById('gm-action-form');
    this.error = document.getElementById('gm-action-error');
    this.record = null;
    this.action = null;
    this.busy = false;
    this.picker = new PhotoPicker(document.getElementById('gm-field-photo'), config.apiRoot,
      (message) => this.showError(message));
    prepareMap(map, config);
    this.marker = null;
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.submitForm(); });
    document.getElementById('gm-action-cancel').addEventListener('click', () => this.closeForm());
    document.getElementById('gm-reload').addEventListener('click', () => this.load());
    const toNeed = document.getElementById('gm-to-need');
    if (toNeed) toNeed.addEventListener('click', () => this.toNeed(toNeed));
    this.load();
  }

  /** 一键转需求: the request's household's need joins the community's 需求清单, titled by
   * the request's category (never its description: the list is published). */
  async toNeed(button) {
    const result = document.getElementById('gm-to-need-result');
    button.disabled = true;
    try {
      const need = await requestJson(
        `${this.config.apiRoot}/party/needs/from-request/${this.config.requestId}`,
        { method: 'POST', body: { kind: 'other', title: this.record.category.name } });
      result.textContent = `${LISTS_LABELS.toNeedDone} #${need.id}`;
      result.dataset.need = String(need.id);
    } catch (err) {
      result.textContent = err.message;
      button.disabled = false;
    }
  }

  get url() {
    return `${this.config.apiRoot}/requests/${this.config.requestId}`;
  }

  async load() {
    this.hideError();
    this.closeForm();
    this.root.dataset.state = 'loading';
    try {
      this.show(await requestJson(this.url));
    } catch (err) {
      this.root.dataset.state = 'error';
      banner(`诉求加载失败：${err.message}`);
    }
  }

  show(record) {
    this.record = record;
    document.getElementById('gm-detail-category').textContent = record.category.name;
    document.getElementById('gm-detail-state').replaceWith(
      Object.assign(stateBadge(record.state), { id: 'gm-detail-state' }));
    document.getElementById('gm-detail-card').replaceChildren(cardBadge(record.warning));
    this.fields(record);
    this.buttons(record.allowed_actions || []);
    this.timeline(record.timeline || []);
    this.place(record.location);
    this.root.dataset.revision = record.revision;
    this.root.dataset.state = 'ready';
  }

  fields(r) {
    const owner = r.owner || {};
    const contact = r.contact || {};
    const rows = [
      ['类别', `${r.category.class} · ${r.category.name}`],
      ['诉求内容', r.description],
      ['办理层级', LEVEL_LABELS[r.level] || r.level],
      [LEVEL_LABELS.micro, this.microGrid(r.micro_grid_code)],
      ['责任人', [owner.name, owner.phone, owner.department].filter(Boolean).join(' ') || '—'],
      ['协办部门', (r.cohandlers || []).map((d) => d.name).join('、') || '—'],
      ['当前时限', r.stage_deadline
        ? `${STAGE_LABELS[r.stage] || ''} ${beijing(r.stage_deadline)}`
          + `（${BASIS_LABELS[r.stage_basis] || r.stage_basis}）` : '—'],
      ['紧急程度', URGENCY_LABELS[r.urgency] || r.urgency],
      ['联系人', [contact.name, contact.phone].filter(Boolean).join(' ') || '—'],
      ['来源', SOURCE_LABELS[r.source] || r.source],
      ['上报时间', beijing(r.created_at)],
    ];
    if (r.household_id) rows.push(['住户编号', String(r.household_id)]);
    if (r.rating) rows.push(['群众评价', RATING_LABELS[r.rating] || r.rating]);
    if (r.duplicate_of) rows.push(['重复于', `#${r.duplicate_of}`]);
    if (r.reopen_count) rows.push(['重新处置', `${r.reopen_count} 次`]);
    if (r.extension) {
      const ext = r.extension;
      rows.push(['延期申请', `${ext.amount} ${UNIT_LABELS[ext.unit] || ext.unit}：${ext.reason}`]);
    }
    const dl = document.getElementById('gm-detail-fields');
    dl.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }

  /**
   * The micro-grid by its name, with its code as a secondary label. The request names only
   * the code: the name comes from the grid (cached), and the code stands alone until then.
   */
  microGrid(code) {
    if (!code) return '—';
    const cell = el('span', { class: 'gm-detail-micro' }, el('span', { translate: 'no' }, code));
    if (this.config.gridNames === false) return cell;
    this.gridNames = this.gridNames || new Map();
    if (!this.gridNames.has(code)) {
      this.gridNames.set(code, requestJson(`${this.config.apiRoot}/grids/${encodeURIComponent(code)}`)
        .then((grid) => grid.properties.name).catch(() => null));
    }
    this.gridNames.get(code).then((name) => {
      if (name) cell.replaceChildren(gridLabel(name, code));
    });
    return cell;
  }

  buttons(allowed) {
    const box = document.getElementById('gm-actions');
    const named = this.record.level === 'department' ? DEPARTMENT_ACTION_LABELS : {};
    const buttons = ACTIONS.filter(([key]) => allowed.includes(key)).map(([key, label]) => {
      const b = el('button', { type: 'button', class: 'gm-action', 'data-action': key },
        named[key] || label);
      b.addEventListener('click', () => this.choose(key));
      return b;
    });
    box.replaceChildren(...buttons);
    if (!buttons.length) box.append(el('p', { class: 'gm-muted' }, '当前没有可执行的操作。'));
  }

  timeline(events) {
    const list = document.getElementById('gm-timeline');
    list.replaceChildren(...events.map((e) => {
      const move = e.from_state && e.to_state && e.from_state !== e.to_state
        ? `${STATE_LABELS[e.from_state] || e.from_state} → ${STATE_LABELS[e.to_state] || e.to_state}`
        : '';
      const detail = e.detail || {};
      const extra = [
        detail.resolved ? `回访：${RESOLVED_LABELS[detail.resolved] || detail.resolved}` : '',
        detail.rating ? `评价：${RATING_LABELS[detail.rating] || detail.rating}` : '',
        detail.channel ? `方式：${CHANNEL_LABELS[detail.channel] || detail.channel}` : '',
        detail.reason ? `原因：${detail.reason}` : '',
        detail.urgency ? `紧急程度：${URGENCY_LABELS[detail.urgency] || detail.urgency}` : '',
        detail.urgency && detail.deadline ? `时限：${beijing(detail.deadline)}` : '',
        detail.extension
          ? `延期：${detail.extension.amount} ${UNIT_LABELS[detail.extension.unit] || ''}` : '',
        (detail.cohandlers || []).length
          ? `协办：${detail.cohandlers.map((d) => d.name).join('、')}` : '',
        detail.owner && detail.owner.department && LEVEL_MOVES.includes(e.action)
          ? `部门：${detail.owner.department}` : '',
        detail.deadline && !LEVEL_MOVES.includes(e.action)
          ? `时限：${beijing(detail.deadline)}` : '',
        e.level && LEVEL_MOVES.includes(e.action)
          ? `层级：${LEVEL_LABELS[e.level] || e.level}` : '',
      ].filter(Boolean).join('；');
      return el('li', { class: 'gm-event', 'data-action': e.action },
        el('div', { class: 'gm-event-head' },
          el('strong', {}, (e.level === 'department' && e.action === 'accept'
            ? DEPARTMENT_ACTION_LABELS.accept : TIMELINE_LABELS[e.action]) || e.action),
          el('span', { class: 'gm-muted gm-small' }, ` ${beijing(e.at)} · `,
            // The actor is an account's username: an identifier, not a word to translate.
            e.actor ? el('span', { translate: 'no' }, e.actor) : '系统')),
        move ? el('div', { class: 'gm-small' }, move) : '',
        e.note ? el('div', { class: 'gm-event-note' }, e.note) : '',
        photoThumbs(e.photos, this.config.apiRoot),
        extra ? el('div', { class: 'gm-muted gm-small' }, extra) : '');
    }));
  }

  place(location) {
    if (!location || location.lon === null || location.lon === undefined) return;
    const [x, y] = this.proj.toDisplay(location.lon, location.lat);
    if (this.marker) this.marker.remove();
    this.marker = L.circleMarker([y, x], {
      radius: 9, color: '#fff', weight: 2, fillColor: CARD_COLOURS[this.record.warning || 'none'],
      fillOpacity: 0.95,
    }).addTo(this.map);
    this.map.setView([y, x], 17);
  }

  /** The departments serving the request's place (职能部门), loaded once per request. */
  async departments() {
    if (!this.serving || this.serving.code !== this.record.micro_grid_code) {
      const code = encodeURIComponent(this.record.micro_grid_code);
      this.serving = {
        code: this.record.micro_grid_code,
        list: requestJson(`${this.config.apiRoot}/departments?serving=${code}`)
          .then((body) => body.departments).catch(() => []),
      };
    }
    return this.serving.list;
  }

  async fillDepartments(action) {
    const found = await this.departments();
    const lead = (this.record.owner || {}).department_id;
    const select = this.form.elements.department_id;
    select.replaceChildren(...found.map((d) => el('option', { value: String(d.id) }, d.name)));
    const box = document.getElementById('gm-cohandler-options');
    box.replaceChildren(...found.filter((d) => d.id !== lead).map((d) => el('label', {},
      el('input', { type: 'checkbox', name: 'cohandler_ids', value: String(d.id) }), ` ${d.name}`)));
    if (action === 'reassign' && lead) select.value = String(lead);
  }

  choose(action) {
    this.hideError();
    const fields = ACTION_FIELDS[action];
    if (!fields) {
      this.post({ action });
      return;
    }
    this.action = action;
    this.form.reset();
    const named = this.record.level === 'department' ? DEPARTMENT_ACTION_LABELS : {};
    document.getElementById('gm-action-form-title').textContent = named[action]
      || ACTION_LABELS[action];
    const level = this.record.level;
    const show = {
      'gm-field-rating': fields.rating,
      'gm-field-resolved': fields.resolved,
      'gm-field-channel': fields.channel,
      'gm-field-photo': Boolean(fields.photo),
      'gm-field-urgency': fields.urgency,
      'gm-field-reason': fields.reason,
      // A department is named when the street summons one, or when one hands over to another.
      'gm-field-department': fields.department
        && ((action === 'escalate' && level === 'street')
          || (action === 'reassign' && level === 'department')),
      'gm-field-duplicate': fields.duplicate,
      'gm-field-cohandlers': fields.cohandlers,
      'gm-field-helpers': fields.helpers,
      'gm-field-time-limit': Boolean(fields.timeLimit),
    };
    if (fields.timeLimit) {
      document.getElementById('gm-time-limit-legend').textContent = fields.timeLimit;
    }
    if (show['gm-field-department'] || fields.cohandlers) this.fillDepartments(action);
    this.picker.reset();
    if (fields.photo) this.picker.setPurpose(fields.photo);
    Object.entries(show).forEach(([id, on]) => { document.getElementById(id).hidden = !on; });
    const note = document.getElementById('gm-field-note');
    note.firstChild.textContent = fields.note;
    this.form.hidden = false;
    this.form.scrollIntoView({ block: 'nearest' });
  }

  closeForm() {
    this.form.hidden = true;
    this.action = null;
  }

  submitForm() {
    const data = new FormData(this.form);
    const fields = ACTION_FIELDS[this.action];
    const body = { action: this.action };
    const text = (name) => String(data.get(name) || '').trim();
    if (text('note')) body.note = text('note');
    if (fields.rating) body.rating = text('rating');
    if (fields.resolved) body.resolved = text('resolved');
    if (fields.channel) body.channel = text('channel');
    if (fields.photo && this.picker.ids().length) body.photos = this.picker.ids();
    if (fields.urgency) body.urgency = text('urgency');
    if (fields.reason) body.reason = text('reason');
    const summons = !document.getElementById('gm-field-department').hidden;
    if (summons && text('department_id')) body.department_id = Number(text('department_id'));
    if (fields.cohandlers) body.cohandler_ids = data.getAll('cohandler_ids').map(Number);
    if (fields.helpers) {
      body.helper_ids = text('helper_ids').split(/[,，\s]+/).filter(Boolean).map(Number);
    }
    if (fields.timeLimit) body.time_limit = { amount: Number(text('amount')), unit: text('unit') };
    if (fields.duplicate) body.duplicate_of = Number(text('duplicate_of'));
    const missing = [
      fields.resolved && !body.resolved ? '请选择是否已解决' : '',
      summons && !body.department_id ? '请选择职能部门' : '',
      fields.cohandlers && !body.cohandler_ids.length ? '请选择协办部门' : '',
      fields.helpers && !(body.helper_ids.length && body.helper_ids.every((n) => n > 0))
        ? '请填写人员编号' : '',
      fields.timeLimit && !(body.time_limit.amount > 0) ? '请填写时长' : '',
      fields.rating && !body.rating ? '请选择评价' : '',
      fields.channel && !body.channel ? '请选择回访方式' : '',
      fields.photo && this.picker.busy() ? PHOTO_LABELS.wait : '',
      fields.photoRequired && !body.photos && !this.picker.busy()
        ? `${PHOTO_LABELS.add}：${PHOTO_LABELS.purposes[fields.photo]}` : '',
      fields.urgency && !body.urgency ? '请选择紧急程度' : '',
      fields.reason && !body.reason ? '请填写原因' : '',
      fields.duplicate && !(body.duplicate_of > 0) ? '请填写原诉求编号' : '',
      fields.noteRequired && !body.note ? '请填写备注内容' : '',
    ].filter(Boolean);
    if (missing.length) {
      this.showError(missing.join('；'));
      return;
    }
    this.post(body);
  }

  async post(body) {
    if (this.busy) return;
    this.busy = true;
    this.root.dataset.state = 'posting';
    this.setDisabled(true);
    try {
      const record = await requestJson(`${this.url}/transitions`, {
        method: 'POST', body, headers: { 'If-Match': this.record.etag },
      });
      this.closeForm();
      this.show(record);
    } catch (err) {
      this.root.dataset.state = 'ready';
      this.failed(err);
    } finally {
      this.busy = false;
      this.setDisabled(false);
    }
  }

  failed(err) {
    if (err.status === 412) {
      this.showError('他人已修改此诉求，请重新加载后再操作。', true);
    } else if (err.status === 409) {
      this.showError(`当前状态不允许此操作，请重新加载查看最新状态。${err.message}`, true);
    } else {
      this.showError(`操作失败：${err.message}`);
    }
  }

  setDisabled(on) {
    this.root.querySelectorAll('#gm-actions button, #gm-action-submit')
      .forEach((b) => { b.disabled = on; });
  }

  showError(message, reload) {
    this.error.querySelector('.gm-action-error-text').textContent = message;
    document.getElementById('gm-reload').hidden = !reload;
    this.error.hidden = false;
    this.root.dataset.conflict = reload ? 'true' : '';
  }

  hideError() {
    this.error.hidden = true;
    this.root.dataset.conflict = '';
  }
}

