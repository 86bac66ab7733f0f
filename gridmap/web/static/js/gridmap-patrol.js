/*
 * gridmap-patrol.js: the patrol pages (巡查走访, 3+N work lists).
 *
 * Plain ES2017, no build step, like gridmap-map.js, which is loaded first: this file uses its
 * API client (requestJson), element builder and GCJ-02 transform. GridmapPatrol.start(map,
 * config) starts the page named by config.page:
 *   worker  巡查走访 (a worker's phone): today's lists with what is done and due; start and end
 *           a patrol; while it runs the browser's position is posted in numbered batches every
 *           few seconds (a batch is retried with its Idempotency-Key and the same numbers, so a
 *           retry stores nothing twice); check in at a household of the running list; upload a
 *           GPX/GeoJSON track; a small map with the live track and the list's households
 *   replay  巡查回放 (a chief): a day's patrols in scope, one replayed on the map (track,
 *           check-ins, households reached by check-in or pass-by) with a time slider, and the
 *           overdue duties (counts per worker and micro-grid, and their map layer)
 * Everything is fetched from the API; text from the API is always inserted as text.
 *
 * The element ids it uses are those of templates/patrol.html and patrols.html.
 */
(function () {
  'use strict';

  const { requestJson, el, gcj02, ApiError, banner, newKey } = window.GridmapPage;

  /** Seconds between two batches of fixes posted during a patrol. */
  const BATCH_SECONDS = 5;
  const MAX_BATCH = 500;
  /** Fixes less precise than this (a cell-tower guess) are not posted. */
  const MAX_ACCURACY_M = 1000;
  /** Fixes taken this long before the patrol began (a cached position) are not posted. */
  const STALE_FIX_MS = 60 * 1000;
  const REPLAY_SECONDS = 20;
  const REPLAY_TICK_MS = 50;
  const COLOURS = {
    track: '#1f4e9c',
    due: '#d7301f',
    done: '#2e9d4f',
    checkIn: '#7b2cbf',
    passBy: '#e07b00',
    overdue: '#d7301f',
    grid: '#3c8d7a',
  };
  const HOW_LABELS = { check_in: '签到', pass_by: '经过' };
  const GEO_ERRORS = {
    1: '未获得定位权限：请在浏览器设置中允许本网站使用位置信息。巡查轨迹不会记录，仍可入户签到（不带位置）。',
    2: '无法获取当前位置（定位不可用）。巡查轨迹暂不记录，仍可入户签到（不带位置）。',
    3: '定位超时，正在继续尝试…',
  };
  const TIME_FORMAT = new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  });
  const DATE_TIME_FORMAT = new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit',
    minute: '2-digit', hour12: false,
  });

  function clock(ms) {
    return TIME_FORMAT.format(new Date(ms));
  }

  function beijing(iso) {
    return iso ? DATE_TIME_FORMAT.format(new Date(iso)) : '—';
  }

  function metres(value) {
    if (value === null || value === undefined) return '—';
    return value >= 1000 ? `${(value / 1000).toFixed(2)} 公里` : `${Math.round(value)} 米`;
  }



  /** Lon/lat (WGS 84/CGCS2000) → a Leaflet LatLng on the basemap (shifted on GCJ-02 tiles). */
  function projection(config) {
    const toDisplay = config.basemapCrs === 'gcj02' ? gcj02.fromWgs84 : (lng, lat) => [lng, lat];
    return (lng, lat) => {
      const p = toDisplay(lng, lat);
      return L.latLng(p[1], p[0]);
    };
  }

  function prepareMap(map, config) {
    map.setMinZoom(config.minZoom);
    map.setMaxZoom(config.maxZoom);
    // The default prefix links to leafletjs.com, a host an intranet cannot reach.
    map.attributionControl.setPrefix('Leaflet');
    L.control.scale({ imperial: false }).addTo(map);
  }

  /** The caller's micro-grids as a faint outline (what the map opens on). */
  async function gridOutline(map, config, latLng) {
    const body = await requestJson(`${config.apiRoot}/grids?level=micro&limit=500`);
    return L.geoJSON(body, {
      coordsToLatLng: (c) => latLng(c[0], c[1]),
      style: { color: COLOURS.grid, weight: 1.5, fillOpacity: 0.03 },
      interactive: false,
    }).addTo(map);
  }

  // ---- 巡查走访: the worker's page --------------------------------------------------------------

  class Worker {
    constructor(map, config) {
      this.map = map;
      this.config = config;
      this.latLng = projection(config);
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
      this.queue = []; // fixes not yet stored, oldest first
      this.batch = null; // the batch being posted: {key, points}, kept as is until stored
      this.sending = null;
      this.lastSeq = -1;
      this.stored = 0;
      this.checkIns = {}; // household id → {key, body}: a retried check-in sends the same
      this.listSelect.addEventListener('change', () => this.drawDuties());
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
      this.root.dataset.state = 'ready';
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
    }

    /** A patrol left running (the page was reloaded, the phone restarted): carry on with it. */
    async resume() {
      const person = this.lists.person && this.lists.person.id;
      if (person) {
        try {
          const args = new URLSearchParams({ person_id: String(person), limit: '5' });
          const body = await requestJson(`${this.config.apiRoot}/patrols?${args}`);
          const running = (body.features || []).find((f) => f.properties.state === 'running');
          if (running) {
            this.begin(running.properties);
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
      const pending = this.queue.length;
      this.setStatus(`巡查中：${p.work_list.name}（${clock(Date.parse(p.started_at))} 开始）· `
        + `已上传 ${this.stored} 个定位点${pending ? `，待上传 ${pending} 个` : ''}`, 'running');
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
        marker.bindTooltip(`${item.address || `住户 ${item.id}`}：${item.done ? '已完成' : '待办'}`);
        marker.feature = { id: item.id, done: item.done };
        this.dutyLayer.addLayer(marker);
      });
      const bounds = L.featureGroup(this.dutyLayer.getLayers()).getBounds();
      if (!this.fitted && bounds.isValid()) {
        this.map.fitBounds(bounds.pad(0.2), { maxZoom: 18 });
        this.fitted = true;
      }
    }

    // ---- a live patrol ---------------------------------------------------------------------

    async startPatrol() {
      this.startButton.disabled = true;
      this.geoMessage.hidden = true;
      try {
        const summary = await requestJson(`${this.config.apiRoot}/patrols`, {
          method: 'POST',
          body: { work_list: this.listSelect.value },
          headers: { 'Idempotency-Key': newKey() },
        });
        this.trackLine.setLatLngs([]);
        this.begin(summary);
      } catch (err) {
        banner(`开始巡查失败：${err.message}`);
      } finally {
        this.startButton.disabled = false;
      }
    }

    begin(summary) {
      this.patrol = summary;
      this.startedMs = Date.parse(summary.started_at);
      this.stored = 0;
      this.lastSeq = -1;
      this.listSelect.value = summary.work_list.code;
      this.listSelect.disabled = true;
      this.startButton.hidden = true;
      this.stopButton.hidden = false;
      this.stopButton.disabled = false;
      this.root.dataset.patrol = String(summary.id);
      this.renderLists();
      this.drawDuties();
      this.showRunning();
      this.watch();
    }

    watch() {
      if (!('geolocation' in navigator)) {
        this.geoError(GEO_ERRORS[2]);
        return;
      }
      this.watchId = navigator.geolocation.watchPosition(
        (position) => this.onFix(position),
        (error) => {
          this.geoError(GEO_ERRORS[error.code] || `定位失败：${error.message}`);
          if (error.code === 1 && this.watchId !== null) {
            navigator.geolocation.clearWatch(this.watchId);
            this.watchId = null;
          }
        },
        { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 });
    }

    geoError(message) {
      this.geoMessage.textContent = message;
      this.geoMessage.hidden = false;
      this.root.dataset.geolocation = 'unavailable';
    }

    /** Number a fix: tenths of a second since the patrol began, so numbers stay unique and
     * rising across a reload of the page, which starts counting afresh. */
    nextSeq(ms) {
      const seq = Math.max(this.lastSeq + 1, Math.floor((ms - this.startedMs) / 100));
      this.lastSeq = seq;
      return seq;
    }

    onFix(position) {
      const c = position.coords;
      this.geoMessage.hidden = true;
      this.root.dataset.geolocation = 'ok';
      this.position = { lon: c.longitude, lat: c.latitude, accuracy: c.accuracy };
      const here = this.latLng(c.longitude, c.latitude);
      if (!this.here) {
        this.here = L.circleMarker(here, {
          radius: 8, color: '#fff', weight: 3, fillColor: COLOURS.track, fillOpacity: 1,
          className: 'gm-here',
        }).addTo(this.map);
      } else {
        this.here.setLatLng(here);
      }
      if (!this.patrol) return;
      const at = position.timestamp || Date.now();
      if (at < this.startedMs - STALE_FIX_MS || !(c.accuracy <= MAX_ACCURACY_M)) return;
      this.queue.push({
        seq: this.nextSeq(at),
        t: new Date(at).toISOString(),
        lon: Number(c.longitude.toFixed(7)),
        lat: Number(c.latitude.toFixed(7)),
        accuracy_m: Math.round(c.accuracy * 10) / 10,
      });
      this.trackLine.addLatLng(here);
      if (!this.map.getBounds().contains(here)) this.map.panTo(here);
      this.showRunning();
    }

    /**
     * Post the next batch of fixes. A batch that failed is posted again exactly as it was
     * (same key, same numbers) before anything newer, so a retry stores nothing twice.
     */
    flush() {
      if (this.sending) return this.sending;
      if (!this.patrol) return Promise.resolve(true);
      if (!this.batch) {
        if (!this.queue.length) return Promise.resolve(true);
        this.batch = { key: newKey(), points: this.queue.slice(0, MAX_BATCH) };
      }
      const batch = this.batch;
      const url = `${this.config.apiRoot}/patrols/${this.patrol.id}/points`;
      this.sending = requestJson(url, {
        method: 'POST', body: { points: batch.points }, headers: { 'Idempotency-Key': batch.key },
      }).then((answer) => {
        this.queue.splice(0, batch.points.length);
        this.batch = null;
        this.stored = answer.points;
        if (this.patrol) this.showRunning();
        return true;
      }, (err) => {
        if (err.status >= 400 && err.status < 500 && ![401, 408, 429].includes(err.status)) {
          // Refused for what it holds (a bad clock, a patrol ended elsewhere): never resent.
          this.queue.splice(0, batch.points.length);
          this.batch = null;
          banner(`定位点未被接受：${err.message}`);
        } else {
          this.setStatus(`定位点上传失败，稍后自动重试：${err.message}`, 'retrying');
        }
        return false;
      }).finally(() => {
        this.sending = null;
      });
      return this.sending;
    }

    /** Post every fix still waiting; false when some could not be sent. */
    async flushAll() {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        if (this.sending) await this.sending;
        if (!this.queue.length) return true;
        await this.flush();
      }
      return !this.queue.length;
    }

    async stopPatrol() {
      this.stopButton.disabled = true;
      const patrol = this.patrol;
      try {
        if (!(await this.flushAll())) {
          banner('还有定位点未能上传，请检查网络后再结束巡查。');
          return;
        }
        this.endKey = this.endKey || newKey();
        const summary = await requestJson(`${this.config.apiRoot}/patrols/${patrol.id}/end`, {
          method: 'POST', body: {}, headers: { 'Idempotency-Key': this.endKey },
        });
        this.endKey = null;
        if (this.watchId !== null) navigator.geolocation.clearWatch(this.watchId);
        this.watchId = null;
        this.patrol = null;
        this.queue = [];
        this.root.dataset.patrol = '';
        this.root.dataset.ended = String(summary.id);
        const report = summary.report || {};
        this.showIdle(`巡查已结束：${summary.work_list.name}，轨迹 ${metres(summary.length_m)}，`
          + `保留 ${report.points_kept || 0} 个定位点。`);
        this.status.dataset.state = 'ended';
        await this.loadLists();
        this.fillSelects();
      } catch (err) {
        banner(`结束巡查失败：${err.message}`);
      } finally {
        this.stopButton.disabled = false;
      }
    }

    /** 入户签到 at a household of the running list, where the phone is (if it knows). */
    async checkIn(item, button) {
      if (!this.patrol) return;
      button.disabled = true;
      const pending = this.checkIns[item.id] || { key: newKey(), body: { household_id: item.id } };
      if (!this.checkIns[item.id] && this.position) {
        pending.body.location = {
          lon: Number(this.position.lon.toFixed(7)), lat: Number(this.position.lat.toFixed(7)),
        };
      }
      this.checkIns[item.id] = pending;
      const url = `${this.config.apiRoot}/patrols/${this.patrol.id}/checkins`;
      try {
        const answer = await requestJson(url, {
          method: 'POST', body: pending.body, headers: { 'Idempotency-Key': pending.key },
        });
        delete this.checkIns[item.id];
        const far = answer.distance_m === null || answer.distance_m === undefined ? '（无位置）'
          : `（距住户 ${metres(answer.distance_m)}）`;
        await this.loadLists();
        this.setStatus(`已签到：${item.address || `住户 ${item.id}`}${far}`, 'checked-in');
        setTimeout(() => { if (this.patrol) this.showRunning(); }, 4000);
      } catch (err) {
        if (err.status && err.status < 500) delete this.checkIns[item.id];
        button.disabled = false;
        banner(`签到失败：${err.message}`);
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
        const summary = await postFile(`${this.config.apiRoot}/patrols/upload?${args}`, data);
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

  /** POST a multipart form (the track file) with the CSRF token; the API's JSON answer. */
  async function postFile(url, data) {
    const meta = document.querySelector('meta[name="csrf-token"]');
    let response;
    try {
      response = await fetch(url, {
        method: 'POST',
        body: data,
        credentials: 'same-origin',
        headers: {
          Accept: 'application/json, application/problem+json',
          'X-CSRFToken': meta ? meta.getAttribute('content') : '',
          'Idempotency-Key': newKey(),
        },
      });
    } catch (err) {
      throw new ApiError('无法连接服务器，请检查网络', 0);
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch (err) {
      answer = null;
    }
    if (!response.ok) {
      const title = (answer && answer.title) || response.statusText || '请求失败';
      const detail = answer && answer.detail ? `：${answer.detail}` : '';
      throw new ApiError(`${title}${detail}（HTTP ${response.status}）`, response.status);
    }
    return answer;
  }

  // ---- 巡查回放: the chief's replay ------------------------------------------------------------

  class Replay {
    constructor(map, config) {
      this.map = map;
      this.config = config;
      this.latLng = projection(config);
      this.root = document.getElementById('gm-replay');
      this.dateInput = document.getElementById('gm-replay-date');
      this.listNode = document.getElementById('gm-replay-list');
      this.countNode = document.getElementById('gm-replay-count');
      this.detailNode = document.getElementById('gm-replay-detail');
      this.slider = document.getElementById('gm-replay-slider');
      this.timeNode = document.getElementById('gm-replay-time');
      this.playButton = document.getElementById('gm-replay-play');
      this.overdueToggle = document.getElementById('gm-overdue-layer');
      prepareMap(map, config);
      map.createPane('gm-replay-points').style.zIndex = 430;
      this.overdueLayer = L.layerGroup().addTo(map);
      this.layer = L.layerGroup().addTo(map);
      this.marker = null;
      this.vertices = [];
      this.playing = null;
      this.selected = null;
      this.loaded = null;
      this.dateInput.value = config.today;
      this.dateInput.max = config.today;
      this.dateInput.addEventListener('change', () => this.loadList());
      this.slider.addEventListener('input', () => this.moveTo(Number(this.slider.value)));
      this.playButton.addEventListener('click', () => this.togglePlay());
      this.overdueToggle.addEventListener('change', () => {
        if (this.overdueToggle.checked) this.overdueLayer.addTo(map);
        else this.overdueLayer.remove();
      });
      gridOutline(map, config, this.latLng).then((outline) => {
        if (!this.selected && outline.getBounds().isValid()) {
          map.fitBounds(outline.getBounds(), { maxZoom: 17 });
        }
      }).catch((err) => banner(`网格加载失败：${err.message}`));
      this.loadList();
      this.loadOverdue();
    }

    async loadList() {
      this.root.dataset.state = 'loading';
      const args = new URLSearchParams({ limit: '200' });
      if (this.dateInput.value) args.set('date', this.dateInput.value);
      try {
        const body = await requestJson(`${this.config.apiRoot}/patrols?${args}`);
        const rows = body.features || [];
        this.countNode.textContent = rows.length
          ? `${this.dateInput.value} 共 ${rows.length} 次巡查${body.next ? '（只列出前 200 次）' : ''}`
          : `${this.dateInput.value} 没有巡查记录`;
        this.listNode.replaceChildren(...rows.map((f) => this.row(f.properties)));
        this.root.dataset.state = 'ready';
        if (rows.length) await this.select(rows[0].properties.id);
        else this.clear();
      } catch (err) {
        this.root.dataset.state = 'error';
        banner(`巡查记录加载失败：${err.message}`);
      }
    }

    row(p) {
      const button = el('button', { type: 'button', class: 'gm-replay-row', 'data-id': p.id },
        el('strong', null, `${p.person.name || '—'} · ${p.work_list.name}`),
        el('span', { class: 'gm-muted gm-small' },
          `${beijing(p.started_at)}${p.ended_at ? `–${clock(Date.parse(p.ended_at))}` : ' 巡查中'}`
          + ` · ${metres(p.length_m)} · ${p.grid_name || p.grid_code || ''}`
          + `${p.source === 'upload' ? ' · 上传' : ''}`));
      button.addEventListener('click', () => this.select(p.id));
      return el('li', null, button);
    }

    clear() {
      this.stop();
      this.layer.clearLayers();
      this.marker = null;
      this.selected = null;
      this.detailNode.hidden = true;
    }

    async select(id) {
      this.stop();
      this.selected = id;
      this.listNode.querySelectorAll('.gm-replay-row').forEach((node) => {
        node.setAttribute('aria-pressed', String(node.dataset.id === String(id)));
      });
      try {
        const body = await requestJson(`${this.config.apiRoot}/patrols/${id}`);
        if (this.selected !== id) return;
        this.draw(body);
        this.loaded = id;
      } catch (err) {
        banner(`巡查 #${id} 加载失败：${err.message}`);
      }
    }

    draw(collection) {
      this.layer.clearLayers();
      this.marker = null;
      const features = collection.features || [];
      const track = features.find((f) => f.properties.kind === 'track');
      const checkIns = features.filter((f) => f.properties.kind === 'check_in');
      const reached = features.filter((f) => f.properties.kind === 'reached');
      this.vertices = [];
      if (track && track.geometry) {
        track.geometry.coordinates.forEach((part, i) => {
          const times = track.properties.times[i] || [];
          const line = part.map((c, j) => {
            this.vertices.push({ t: times[j], lon: c[0], lat: c[1] });
            return this.latLng(c[0], c[1]);
          });
          L.polyline(line, {
            color: COLOURS.track, weight: 4, opacity: 0.8, className: 'gm-replay-track',
          }).addTo(this.layer);
        });
      }
      this.vertices.sort((a, b) => a.t - b.t);
      reached.forEach((f) => this.reachedMarker(f).addTo(this.layer));
      checkIns.forEach((f) => this.checkInMarker(f).addTo(this.layer));
      this.showInfo(collection.properties, checkIns, reached);
      this.setupSlider();
      const bounds = L.featureGroup(this.layer.getLayers()).getBounds();
      if (bounds.isValid()) this.map.fitBounds(bounds.pad(0.15), { maxZoom: 18 });
    }

    reachedMarker(f) {
      const p = f.properties;
      const byCheckIn = p.how === 'check_in';
      const marker = L.circleMarker(this.latLng(...f.geometry.coordinates), {
        pane: 'gm-replay-points',
        radius: 7,
        color: byCheckIn ? COLOURS.done : COLOURS.passBy,
        weight: byCheckIn ? 2 : 2.5,
        dashArray: byCheckIn ? null : '3 3',
        fillColor: byCheckIn ? COLOURS.done : '#fff',
        fillOpacity: byCheckIn ? 0.85 : 0.6,
        className: `gm-reached gm-reached-${p.how}`,
      });
      marker.feature = f;
      marker.bindTooltip(`${p.address || `住户 ${p.household_id}`}：${HOW_LABELS[p.how] || p.how}`
        + ` ${clock(Date.parse(p.at))}${p.distance_m === null ? '' : `，距轨迹 ${metres(p.distance_m)}`}`);
      return marker;
    }

    checkInMarker(f) {
      const p = f.properties;
      const marker = L.circleMarker(this.latLng(...f.geometry.coordinates), {
        pane: 'gm-replay-points', radius: 4, color: COLOURS.checkIn, weight: 2,
        fillColor: COLOURS.checkIn, fillOpacity: 1, className: 'gm-replay-checkin',
      });
      marker.feature = f;
      marker.bindTooltip(`签到 住户 ${p.household_id}，${clock(Date.parse(p.at))}`);
      return marker;
    }

    showInfo(p, checkIns, reached) {
      const byHow = (how) => reached.filter((f) => f.properties.how === how).length;
      const report = p.report || {};
      document.getElementById('gm-replay-info').replaceChildren(
        el('dt', null, '巡查人'), el('dd', null, p.person.name || '—'),
        el('dt', null, '清单'), el('dd', null, p.work_list.name),
        el('dt', null, '网格'), el('dd', null, p.grid_name || p.grid_code || '—'),
        el('dt', null, '时间'), el('dd', null,
          `${beijing(p.started_at)}–${p.ended_at ? clock(Date.parse(p.ended_at)) : '巡查中'}`),
        el('dt', null, '轨迹'), el('dd', null, p.length_m === null ? '无轨迹'
          : `${metres(p.length_m)}，${report.points_kept || 0} 个定位点`
            + `${p.source === 'upload' ? '（上传）' : ''}`),
        el('dt', null, '到达住户'), el('dd', { id: 'gm-replay-reached' },
          `签到 ${byHow('check_in')} 户，途经 ${byHow('pass_by')} 户`));
      document.getElementById('gm-replay-checkins').replaceChildren(...(checkIns.length
        ? checkIns.map((f) => el('li', { 'data-household': f.properties.household_id },
          `${clock(Date.parse(f.properties.at))} 住户 ${f.properties.household_id}`,
          f.properties.distance_m === null ? '（无位置）'
            : `（距住户 ${metres(f.properties.distance_m)}）`,
          f.properties.note ? el('span', { class: 'gm-muted' }, ` ${f.properties.note}`) : null))
        : [el('li', { class: 'gm-muted' }, '没有签到')]));
      this.detailNode.hidden = false;
    }

    // ---- time slider ---------------------------------------------------------------------

    setupSlider() {
      const usable = this.vertices.length > 0;
      this.slider.disabled = !usable;
      this.playButton.disabled = !usable;
      if (!usable) {
        this.timeNode.textContent = '无轨迹';
        return;
      }
      this.t0 = this.vertices[0].t;
      this.t1 = this.vertices[this.vertices.length - 1].t;
      this.slider.min = '0';
      this.slider.max = String(Math.max(1, Math.ceil(this.t1 - this.t0)));
      this.slider.value = '0';
      this.marker = L.circleMarker(this.latLng(this.vertices[0].lon, this.vertices[0].lat), {
        pane: 'gm-replay-points', radius: 9, color: '#fff', weight: 3,
        fillColor: COLOURS.track, fillOpacity: 1, className: 'gm-replay-marker',
      }).addTo(this.layer);
      this.moveTo(0);
    }

    /** Where the patrol was `offset` seconds after its first fix (between two fixes: on the
     * straight line between them). */
    moveTo(offset) {
      if (!this.marker) return;
      const t = this.t0 + offset;
      const v = this.vertices;
      let i = 0;
      while (i < v.length - 1 && v[i + 1].t < t) i += 1;
      const a = v[i];
      const b = v[Math.min(i + 1, v.length - 1)];
      const f = b.t > a.t ? Math.min(1, Math.max(0, (t - a.t) / (b.t - a.t))) : 0;
      this.marker.setLatLng(this.latLng(a.lon + f * (b.lon - a.lon), a.lat + f * (b.lat - a.lat)));
      this.timeNode.textContent = clock(t * 1000);
    }

    togglePlay() {
      if (this.playing) {
        this.stop();
        return;
      }
      const max = Number(this.slider.max);
      if (Number(this.slider.value) >= max) this.slider.value = '0';
      const step = Math.max(1, max / ((REPLAY_SECONDS * 1000) / REPLAY_TICK_MS));
      this.playButton.textContent = '⏸ 暂停';
      this.playing = setInterval(() => {
        const next = Math.min(max, Number(this.slider.value) + step);
        this.slider.value = String(next);
        this.moveTo(next);
        if (next >= max) this.stop();
      }, REPLAY_TICK_MS);
    }

    stop() {
      if (this.playing) clearInterval(this.playing);
      this.playing = null;
      this.playButton.textContent = '▶ 播放';
    }

    // ---- overdue duties ------------------------------------------------------------------

    async loadOverdue() {
      const panel = document.getElementById('gm-overdue');
      try {
        const body = await requestJson(
          `${this.config.apiRoot}/patrols/overdue?format=geojson&level=micro`);
        this.showCounts(body.counts, body.numberReturned);
        this.drawOverdue(body.features || []);
        panel.dataset.state = 'ready';
      } catch (err) {
        panel.dataset.state = 'error';
        document.getElementById('gm-overdue-lists').textContent = '超期情况加载失败';
        banner(`超期情况加载失败：${err.message}`);
      }
    }

    drawOverdue(features) {
      this.overdueLayer.clearLayers();
      const coords = (c) => this.latLng(c[0], c[1]);
      features.forEach((f) => {
        const p = f.properties;
        const label = `超期：${(this.listNames || {})[p.work_list] || p.work_list}`
          + ` ${p.address || p.name || p.code || ''}`;
        if (!f.geometry) return;
        if (f.geometry.type === 'Point') {
          L.circleMarker(coords(f.geometry.coordinates), {
            radius: 5, color: COLOURS.overdue, weight: 1.5, fillColor: '#fff', fillOpacity: 0.9,
            className: 'gm-overdue gm-overdue-household',
          }).bindTooltip(label).addTo(this.overdueLayer);
        } else {
          L.geoJSON(f, {
            coordsToLatLng: coords,
            style: {
              color: COLOURS.overdue, weight: 1, dashArray: '4 4', fillColor: COLOURS.overdue,
              fillOpacity: 0.06, className: 'gm-overdue gm-overdue-grid',
            },
          }).bindTooltip(label).addTo(this.overdueLayer);
        }
      });
    }

    showCounts(counts, shown) {
      const lists = counts.lists || [];
      this.listNames = Object.fromEntries(lists.map((l) => [l.code, l.name]));
      document.getElementById('gm-overdue-lists').textContent = lists.length
        ? `${counts.date}：${lists.map((l) => `${l.name} ${l.due}/${l.total}`).join('，')}`
          + `（超期/应办；地图显示 ${shown} 项）`
        : '没有工作清单。';
      const header = el('tr', null, el('th', null, ''),
        lists.map((l) => el('th', { class: 'gm-num' }, l.name)));
      const rows = (entries, key) => entries.map((e) => el('tr', { 'data-key': e[key] },
        el('td', null, e.name || e[key]),
        lists.map((l) => {
          const due = e.due[l.code];
          return el('td', { class: `gm-num${due ? ' gm-status-uncovered' : ''}` },
            due === undefined ? '—' : String(due));
        })));
      document.getElementById('gm-overdue-workers').replaceChildren(header.cloneNode(true),
        ...rows(counts.by_worker || [], 'person_id'));
      document.getElementById('gm-overdue-grids').replaceChildren(header,
        ...rows(counts.by_grid || [], 'code'));
    }
  }

  const PAGES = {
    worker: (map, config) => new Worker(map, config),
    replay: (map, config) => new Replay(map, config),
  };

  window.GridmapPatrol = {
    /** Start the page `config.page` on the folium-created map. */
    start(map, config) {
      return PAGES[config.page](map, config);
    },
  };
})();
