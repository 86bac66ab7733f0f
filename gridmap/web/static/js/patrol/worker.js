/*
 * patrol/worker.js: 巡查走访, a worker's phone page — today's lists with what is done and due,
 * a small map with the list's households and the live track (patrol/live.js runs a patrol),
 * and the upload of a GPX/GeoJSON track.
 */
import { newKey, requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { asText, el } from '../core/dom.js';
import { beijing, clock } from '../core/format.js';
import { keepOffline } from '../core/install.js';
import { prepareMap, projection } from '../core/map.js';
import { mixin } from '../core/mixin.js';
import { fillChoices } from '../visits/form.js';
import { COLOURS, gridOutline, metres } from './common.js';
import { LivePatrol } from './live.js';

/** Seconds between two batches of fixes posted during a patrol. */
const BATCH_SECONDS = 5;

export class WorkerPage {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.latLng = projection(config).latLng;
    this.root = document.getElementById('gm-patrol');
    this.status = document.getElementById('gm-patrol-status');
    this.geoMessage = document.getElementById('gm-geo-message');
    this.listSelect = document.getElementById('gm-patrol-list');
    this.startButton = document.getElementById('gm-patrol-start');
    this.stopButton = document.getElementById('gm-patrol-stop');
    this.listsNode = document.getElementById('gm-worklists');
    this.uploadForm = document.getElementById('gm-upload');
    this.uploadList = document.getElementById('gm-upload-list');
    this.uploadResult = document.getElementById('gm-upload-result');
    this.outboxNode = document.getElementById('gm-outbox');
    this.visitForm = document.getElementById('gm-patrol-visit');
    this.visitHousehold = document.getElementById('gm-patrol-visit-household');
    this.visitSubmit = document.getElementById('gm-patrol-visit-submit');
    this.visitResult = document.getElementById('gm-patrol-visit-result');
    fillChoices(document.getElementById('gm-patrol-visit-channels'),
      document.getElementById('gm-patrol-visit-topics'), 'gm-patrol-visit');
    document.getElementById('gm-patrol-date').textContent = config.today || '';
    prepareMap(map, config);
    this.dutyLayer = L.layerGroup().addTo(map);
    this.trackLine = L.polyline([], {
      color: COLOURS.track, weight: 4, opacity: 0.85, className: 'gm-live-track',
    }).addTo(map);
    this.here = null;
    this.patrol = null; // the running patrol's summary (API properties)
    this.position = null; // the last fix: {lon, lat, accuracy}
    this.watchId = null;
    this.queue = []; // fixes taken since the last batch went into the outbox
    this.lastSeq = -1;
    this.stored = 0;
    this.fixCount = 0; // fixes of the running patrol queued, across reloads
    this.makeOutbox();
    this.listSelect.addEventListener('change', () => {
      this.drawDuties();
      this.fillVisitHouseholds();
    });
    this.visitForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.logVisit();
    });
    this.startButton.addEventListener('click', () => this.startPatrol());
    this.stopButton.addEventListener('click', () => this.stopPatrol());
    this.uploadForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.upload();
    });
    this.timer = setInterval(() => this.flush(), BATCH_SECONDS * 1000);
    this.load();
  }

  async load() {
    try {
      gridOutline(this.map, this.config, this.latLng).then((outline) => {
        this.outline = outline;
        if (!this.fitted && outline.getBounds().isValid()) {
          this.map.fitBounds(outline.getBounds(), { maxZoom: 18 });
        }
      }).catch((err) => banner(`网格加载失败：${err.message}`));
      await this.loadLists();
    } catch (err) {
      this.root.dataset.state = 'error';
      if (err.status === 422) {
        this.setStatus('您的账号未关联网格员，不能记录巡查。', 'unlinked');
        this.listsNode.replaceChildren(el('p', { class: 'gm-warning' }, err.message));
        this.uploadForm.querySelector('button').disabled = true;
      } else {
        this.setStatus('工作清单加载失败', 'error');
        banner(`工作清单加载失败：${err.message}`);
      }
      return;
    }
    this.fillSelects();
    await this.resume();
    await this.outbox.changed();
    this.root.dataset.state = 'ready';
    keepOffline();
  }

  async loadLists() {
    this.lists = await requestJson(`${this.config.apiRoot}/worklists`);
    this.renderLists();
    this.drawDuties();
  }

  /** The lists in the two pickers (a choice already made is kept). */
  fillSelects() {
    const options = () => this.lists.lists.map((l) => el('option', { value: l.code },
      `${l.name}（待办 ${l.due}）`));
    const chosen = [this.listSelect.value, this.uploadList.value];
    this.listSelect.replaceChildren(...options());
    this.uploadList.replaceChildren(...options());
    const codes = this.lists.lists.map((l) => l.code);
    if (codes.includes(chosen[0])) this.listSelect.value = chosen[0];
    if (codes.includes(chosen[1])) this.uploadList.value = chosen[1];
    else if (codes.includes('daily_patrol')) this.uploadList.value = 'daily_patrol';
    if (this.patrol) this.listSelect.value = this.patrol.work_list.code;
    this.listSelect.disabled = Boolean(this.patrol);
    this.startButton.disabled = !codes.length;
    this.drawDuties();
    this.fillVisitHouseholds();
  }

  /** A patrol left running (the page was reloaded, the phone restarted): carry on with it,
   * as kept on the phone, or as the server knows it. */
  async resume() {
    const kept = await this.outbox.get('patrol');
    if (kept) {
      if (!kept.id) kept.id = (await this.outbox.get(`ref:${kept.ref}`)) || null;
      this.begin(kept);
      return;
    }
    const person = this.lists.person && this.lists.person.id;
    if (person && navigator.onLine) {
      try {
        const args = new URLSearchParams({ person_id: String(person), limit: '5' });
        const body = await requestJson(`${this.config.apiRoot}/patrols?${args}`);
        const running = (body.features || []).find((f) => f.properties.state === 'running');
        if (running) {
          await this.adopt(running.properties);
          return;
        }
      } catch (err) {
        banner(`巡查记录加载失败：${err.message}`);
      }
    }
    this.showIdle();
  }

  setStatus(text, state) {
    this.status.textContent = text;
    this.status.dataset.state = state;
  }

  showIdle(text) {
    this.setStatus(text || '未开始巡查：选择清单后点击“开始巡查”。', 'idle');
    this.startButton.hidden = false;
    this.stopButton.hidden = true;
    this.listSelect.disabled = false;
  }

  runningList() {
    return this.patrol ? this.patrol.work_list.code : this.listSelect.value;
  }

  showRunning() {
    const p = this.patrol;
    this.setStatus(`巡查中：${p.work_list.name}（${clock(Date.parse(p.started_at))} 开始）· `
      + `已记录 ${this.fixCount} 个定位点`, 'running');
  }

  /** The households of the running (or chosen) list, for a visit log on this patrol. */
  fillVisitHouseholds() {
    if (!this.lists) return;
    const list = this.lists.lists.find((l) => l.code === this.runningList());
    const items = list ? list.items.filter((i) => i.type === 'household') : [];
    const chosen = this.visitHousehold.value;
    this.visitHousehold.replaceChildren(...items.map((item) => el('option', { value: item.id },
      item.address || `住户 ${item.id}`)));
    if (items.some((item) => String(item.id) === chosen)) this.visitHousehold.value = chosen;
    this.visitHousehold.disabled = !items.length;
    this.visitSubmit.disabled = !items.length;
  }

  renderLists() {
    const lists = this.lists.lists;
    if (!lists.length) {
      this.listsNode.replaceChildren(el('p', { class: 'gm-muted' }, '今天没有工作清单。'));
      return;
    }
    this.listsNode.replaceChildren(...lists.map((list) => this.listNode(list)));
  }

  listNode(list) {
    const running = this.patrol && this.patrol.work_list.code === list.code;
    const period = list.period_first_day === list.period_last_day ? list.period_first_day
      : `${list.period_first_day} 至 ${list.period_last_day}`;
    return el('section', { class: 'gm-worklist', 'data-list': list.code },
      el('h3', null, list.name,
        el('span', { class: 'gm-worklist-count' },
          el('span', { class: 'gm-status-covered' }, `已完成 ${list.done}`), ' / ',
          el('span', { class: list.due ? 'gm-status-uncovered' : 'gm-muted' },
            `待办 ${list.due}`))),
      el('p', { class: 'gm-muted gm-small' }, `周期：${period}`),
      list.items.length
        ? el('ul', { class: 'gm-duties' }, list.items.map((item) => this.dutyNode(item, running)))
        : el('p', { class: 'gm-muted' }, '本清单没有待办事项。'));
  }

  dutyNode(item, running) {
    const done = item.done;
    const state = el('span', { class: done ? 'gm-duty-done' : 'gm-duty-due' },
      done ? `已完成 ${beijing(item.done_at)}` : '待办');
    if (item.type === 'grid') {
      return el('li', { class: 'gm-duty', 'data-grid': item.code },
        el('span', { class: 'gm-duty-what' }, `巡查微网格 ${item.name || item.code}`), state);
    }
    const button = el('button', {
      type: 'button', class: 'gm-action gm-checkin', 'data-household': item.id,
      title: running ? '在此住户签到' : '开始本清单的巡查后可签到',
    }, '签到');
    button.disabled = !running;
    button.addEventListener('click', () => this.checkIn(item, button));
    return el('li', { class: 'gm-duty', 'data-household': item.id, 'data-done': String(done) },
      el('span', { class: 'gm-duty-what' }, item.address || `住户 ${item.id}`,
        item.care_tags.length ? el('span', { class: 'gm-tag' }, '关爱对象') : null),
      state, button);
  }

  /** The households of the selected (or running) list, green when done, red when due. */
  drawDuties() {
    if (!this.lists) return;
    this.dutyLayer.clearLayers();
    const list = this.lists.lists.find((l) => l.code === this.runningList());
    const items = list ? list.items.filter((i) => i.type === 'household') : [];
    items.forEach((item) => {
      const marker = L.circleMarker(this.latLng(item.lon, item.lat), {
        radius: 7, color: '#fff', weight: 1.5, fillOpacity: 0.9,
        fillColor: item.done ? COLOURS.done : COLOURS.due,
        className: `gm-duty-marker gm-duty-${item.done ? 'done' : 'due'}`,
      });
      marker.bindTooltip(asText(`${item.address || `住户 ${item.id}`}：${item.done ? '已完成' : '待办'}`));
      marker.feature = { id: item.id, done: item.done };
      this.dutyLayer.addLayer(marker);
    });
    const bounds = L.featureGroup(this.dutyLayer.getLayers()).getBounds();
    if (!this.fitted && bounds.isValid()) {
      this.map.fitBounds(bounds.pad(0.2), { maxZoom: 18 });
      this.fitted = true;
    }
  }

  // ---- upload a finished track -----------------------------------------------------------

  async upload() {
    const input = document.getElementById('gm-upload-file');
    const file = input.files && input.files[0];
    const submit = document.getElementById('gm-upload-submit');
    if (!file) {
      this.uploadMessage('请选择 GPX 或 GeoJSON 轨迹文件。', 'error');
      return;
    }
    submit.disabled = true;
    this.uploadMessage('上传中…', 'sending');
    const data = new FormData();
    data.append('file', file, file.name);
    const args = new URLSearchParams({ work_list: this.uploadList.value || 'daily_patrol' });
    try {
      const summary = await requestJson(`${this.config.apiRoot}/patrols/upload?${args}`, {
        method: 'POST', body: data, headers: { 'Idempotency-Key': newKey() },
      });
      const report = summary.report || {};
      this.uploadMessage(`已上传：巡查 #${summary.id}（${summary.work_list.name}），`
        + `${beijing(summary.started_at)}–${beijing(summary.ended_at)}，`
        + `轨迹 ${metres(summary.length_m)}，保留 ${report.points_kept} 个定位点。`, 'done');
      this.uploadResult.dataset.patrol = String(summary.id);
      this.uploadForm.reset();
      await this.loadLists();
      this.fillSelects();
    } catch (err) {
      this.uploadMessage(`上传失败：${err.message}`, 'error');
    } finally {
      submit.disabled = false;
    }
  }

  uploadMessage(text, state) {
    this.uploadResult.textContent = text;
    this.uploadResult.dataset.state = state;
    this.uploadResult.hidden = false;
  }
}

mixin(WorkerPage, LivePatrol);
