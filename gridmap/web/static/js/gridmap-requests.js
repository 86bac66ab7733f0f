/*
 * gridmap-requests.js: the residents' request pages (群众诉求, 接诉即办).
 *
 * Plain ES2017, no build step, like gridmap-map.js, which is loaded first: this file uses its
 * API client (requestJson), element builder and GCJ-02 transform. GridmapRequests.start(map,
 * config) starts the page named by config.page:
 *   inbox   诉求工作台 (no map): the tabs 我的 / 即将到期 / 已超时 / 全部, a page at a time
 *   detail  诉求详情: fields, a small map of the place, the timeline and the allowed actions,
 *           each posted with If-Match (409: not allowed now; 412: changed meanwhile, reload)
 *   new     上报诉求: the intake form; a click on the map sets the place; one Idempotency-Key
 *           per filled-in form, so a double click or a retry files the request once
 *   map     诉求地图: the open requests in the visible area, coloured by 红黄牌
 *   ranking 红黑榜 (no map): the 三率 ranking of GET /api/v1/rates for a level and month
 * Everything is fetched from the API; nothing is inlined in the page. Text from the API is
 * always inserted as text, never as HTML.
 *
 * The element ids it uses are those of templates/requests*.html and request_*.html.
 */
(function () {
  'use strict';

  const { requestJson, el, gcj02, banner, newKey } = window.GridmapPage;

  const STATE_LABELS = {
    reported: '上报',
    accepted: '受理',
    handling: '处置',
    completed: '办结',
    feedback: '反馈',
    archived: '归档',
    duplicate: '重复',
  };
  const LEVEL_LABELS = {
    micro: '微网格',
    zone: '片区网格',
    community: '社区',
    street: '街道',
    department: '职能部门',
  };
  const STAGE_LABELS = { response: '响应', handling: '处置', feedback: '回访' };
  const CARD_LABELS = { green: '正常', yellow: '黄牌 即将到期', red: '红牌 已超时' };
  const CARD_COLOURS = { green: '#2e9d4f', yellow: '#e0a800', red: '#d7301f', none: '#6b7280' };
  const RATING_LABELS = { satisfied: '满意', basically_satisfied: '基本满意', unsatisfied: '不满意' };
  const SOURCE_LABELS = { api: '系统上报', open311: 'Open311', web: '页面上报' };
  /** The actions in the order their buttons appear, with their labels. */
  const ACTIONS = [
    ['accept', '受理'],
    ['start', '开始处置'],
    ['complete', '办结'],
    ['rate', '评价'],
    ['archive', '归档'],
    ['escalate', '上报上级'],
    ['return', '退回'],
    ['reassign', '改派'],
    ['mark_duplicate', '标记重复'],
    ['comment', '备注'],
  ];
  const ACTION_LABELS = Object.fromEntries(ACTIONS);
  const TIMELINE_LABELS = Object.assign({ report: '上报', create: '上报' }, ACTION_LABELS);
  /** Timeline actions that move a request between levels: their rows say the new level. */
  const LEVEL_MOVES = ['report', 'escalate', 'return', 'reassign'];
  /**
   * The fields each action asks for before it is posted (every listed one is required, but
   * the note); actions not listed are posted as soon as their button is pressed.
   */
  const ACTION_FIELDS = {
    complete: { note: '处置结果' },
    rate: { rating: true, note: '回访说明' },
    escalate: { reason: true, department: true, note: '说明' },
    return: { reason: true, note: '说明' },
    reassign: { reason: true, department: true, note: '说明' },
    mark_duplicate: { duplicate: true, note: '说明' },
    comment: { note: '备注内容', noteRequired: true },
  };
  const OPEN_STATES = 'reported,accepted,handling';
  const INBOX_PAGE = 50;
  const MAP_PAGE = 500;
  const MAP_MAX_PAGES = 5;
  const MOVE_DEBOUNCE_MS = 250;
  const SNIPPET = 60;
  const TIME_FORMAT = new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  });

  /** An ISO time from the API in Beijing time ("2026/11/22 09:30"), or "—". */
  function beijing(iso) {
    return iso ? TIME_FORMAT.format(new Date(iso)) : '—';
  }

  function snippet(text) {
    const value = text || '';
    return value.length > SNIPPET ? `${value.slice(0, SNIPPET)}…` : value;
  }

  /** The 红黄牌 badge of a request's running stage (nothing when no clock runs). */
  function cardBadge(warning) {
    if (!warning) return el('span', { class: 'gm-card-badge gm-card-none' }, '无时限');
    return el('span', { class: `gm-card-badge gm-card-${warning}`, 'data-card': warning },
      CARD_LABELS[warning] || warning);
  }

  function stateBadge(state) {
    return el('span', { class: `gm-state gm-state-${state}`, 'data-state': state },
      STATE_LABELS[state] || state);
  }



  /** Lon/lat (WGS 84/CGCS2000) ↔ the basemap's coordinates (shifted on a GCJ-02 basemap). */
  function projection(config) {
    const shifted = config.basemapCrs === 'gcj02';
    return {
      toDisplay: shifted ? gcj02.fromWgs84 : (lng, lat) => [lng, lat],
      fromDisplay: shifted ? gcj02.toWgs84 : (lng, lat) => [lng, lat],
    };
  }

  function prepareMap(map, config) {
    map.setMinZoom(config.minZoom);
    map.setMaxZoom(config.maxZoom);
    L.control.scale({ imperial: false }).addTo(map);
  }

  /** Every page of a GeoJSON list (following `next`), up to `maxPages`. */
  async function allFeatures(url, maxPages, signal) {
    let features = [];
    let next = url;
    let cursor = null;
    for (let page = 0; page < maxPages && next; page += 1) {
      const body = await requestJson(next, { signal });
      features = features.concat(body.features || []);
      cursor = body.next;
      next = cursor ? `${url}&cursor=${encodeURIComponent(cursor)}` : null;
    }
    return { features, truncated: Boolean(cursor) };
  }

  // ---- 诉求工作台: the inbox ------------------------------------------------------------------

  class Inbox {
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

  // ---- 诉求详情: one request ------------------------------------------------------------------

  class Detail {
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
      prepareMap(map, config);
      this.marker = null;
      this.form.addEventListener('submit', (e) => { e.preventDefault(); this.submitForm(); });
      document.getElementById('gm-action-cancel').addEventListener('click', () => this.closeForm());
      document.getElementById('gm-reload').addEventListener('click', () => this.load());
      this.load();
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
        ['微网格', r.micro_grid_code || '—'],
        ['责任人', [owner.name, owner.phone, owner.department].filter(Boolean).join(' ') || '—'],
        ['当前时限', r.stage_deadline
          ? `${STAGE_LABELS[r.stage] || ''} ${beijing(r.stage_deadline)}` : '—'],
        ['联系人', [contact.name, contact.phone].filter(Boolean).join(' ') || '—'],
        ['来源', SOURCE_LABELS[r.source] || r.source],
        ['上报时间', beijing(r.created_at)],
      ];
      if (r.household_id) rows.push(['住户编号', String(r.household_id)]);
      if (r.rating) rows.push(['群众评价', RATING_LABELS[r.rating] || r.rating]);
      if (r.duplicate_of) rows.push(['重复于', `#${r.duplicate_of}`]);
      if (r.reopen_count) rows.push(['重新处置', `${r.reopen_count} 次`]);
      const dl = document.getElementById('gm-detail-fields');
      dl.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    }

    buttons(allowed) {
      const box = document.getElementById('gm-actions');
      const buttons = ACTIONS.filter(([key]) => allowed.includes(key)).map(([key, label]) => {
        const b = el('button', { type: 'button', class: 'gm-action', 'data-action': key }, label);
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
          detail.rating ? `评价：${RATING_LABELS[detail.rating] || detail.rating}` : '',
          detail.reason ? `原因：${detail.reason}` : '',
          e.level && LEVEL_MOVES.includes(e.action)
            ? `层级：${LEVEL_LABELS[e.level] || e.level}` : '',
        ].filter(Boolean).join('；');
        return el('li', { class: 'gm-event', 'data-action': e.action },
          el('div', { class: 'gm-event-head' },
            el('strong', {}, TIMELINE_LABELS[e.action] || e.action),
            el('span', { class: 'gm-muted gm-small' }, ` ${beijing(e.at)} · ${e.actor || '系统'}`)),
          move ? el('div', { class: 'gm-small' }, move) : '',
          e.note ? el('div', { class: 'gm-event-note' }, e.note) : '',
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

    choose(action) {
      this.hideError();
      const fields = ACTION_FIELDS[action];
      if (!fields) {
        this.post({ action });
        return;
      }
      this.action = action;
      this.form.reset();
      document.getElementById('gm-action-form-title').textContent = ACTION_LABELS[action];
      const level = this.record.level;
      const show = {
        'gm-field-rating': fields.rating,
        'gm-field-reason': fields.reason,
        // A department is named when the street summons one, or when one hands over to another.
        'gm-field-department': fields.department
          && ((action === 'escalate' && level === 'street')
            || (action === 'reassign' && level === 'department')),
        'gm-field-duplicate': fields.duplicate,
      };
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
      if (fields.reason) body.reason = text('reason');
      if (!document.getElementById('gm-field-department').hidden && text('department')) {
        body.department = text('department');
      }
      if (fields.duplicate) body.duplicate_of = Number(text('duplicate_of'));
      const missing = [
        fields.rating && !body.rating ? '请选择评价' : '',
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

  // ---- 上报诉求: the intake form --------------------------------------------------------------

  class Intake {
    constructor(map, config) {
      this.map = map;
      this.config = config;
      this.proj = projection(config);
      this.form = document.getElementById('gm-new-request');
      this.error = document.getElementById('gm-new-error');
      this.submit = document.getElementById('gm-new-submit');
      this.marker = null;
      // One key per filled-in form: a second click or a retry of the same form is one request;
      // a changed form is a new request (the server rejects one key with two bodies).
      this.key = newKey();
      prepareMap(map, config);
      map.getContainer().style.cursor = 'crosshair';
      map.on('click', (e) => this.pick(e.latlng));
      this.form.addEventListener('input', () => { this.key = newKey(); });
      this.form.addEventListener('change', () => this.placeMode());
      this.form.addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
      this.placeMode();
      this.showGrids();
    }

    /** The caller's micro-grids as outlines, so the worker sees where the place falls. */
    async showGrids() {
      try {
        const body = await requestJson(`${this.config.apiRoot}/grids?level=micro&limit=500`);
        const layer = L.geoJSON(body, {
          coordsToLatLng: (c) => {
            const p = this.proj.toDisplay(c[0], c[1]);
            return L.latLng(p[1], p[0]);
          },
          style: { color: '#3c8d7a', weight: 1, fillOpacity: 0.05 },
          interactive: false,
        }).addTo(this.map);
        this.grids = layer;
        if (layer.getLayers().length) this.map.fitBounds(layer.getBounds(), { maxZoom: 17 });
      } catch (err) {
        banner(`网格加载失败：${err.message}`);
      }
    }

    placeMode() {
      const byMap = this.form.elements.place.value === 'map';
      document.getElementById('gm-new-point').hidden = !byMap;
      document.getElementById('gm-new-point-hint').hidden = !byMap;
      document.getElementById('gm-new-household').hidden = byMap;
    }

    pick(latlng) {
      if (this.form.elements.place.value !== 'map') return;
      const [lon, lat] = this.proj.fromDisplay(latlng.lng, latlng.lat);
      this.form.elements.lon.value = lon.toFixed(7);
      this.form.elements.lat.value = lat.toFixed(7);
      if (this.marker) this.marker.setLatLng(latlng);
      else this.marker = L.marker(latlng, { keyboard: false }).addTo(this.map);
      this.key = newKey();
    }

    body() {
      const f = this.form.elements;
      const text = (name) => f[name].value.trim();
      const body = { category: text('category'), description: text('description') };
      const problems = [];
      if (!body.category) problems.push('请选择诉求类别');
      if (!body.description) problems.push('请填写诉求内容');
      if (f.place.value === 'map') {
        if (!text('lon') || !text('lat')) problems.push('请在地图上点选位置');
        else body.location = { lon: Number(text('lon')), lat: Number(text('lat')), crs: 'EPSG:4326' };
      } else if (!/^[1-9][0-9]*$/.test(text('household_id'))) {
        problems.push('请填写住户编号');
      } else {
        body.household_id = Number(text('household_id'));
      }
      const contact = {};
      if (text('contact_name')) contact.name = text('contact_name');
      if (text('contact_phone')) contact.phone = text('contact_phone');
      if (Object.keys(contact).length) body.contact = contact;
      return { body, problems };
    }

    async send() {
      if (this.sending) return;
      const { body, problems } = this.body();
      if (problems.length) {
        this.showError(problems.join('；'));
        return;
      }
      this.sending = true;
      this.submit.disabled = true;
      this.error.hidden = true;
      try {
        const record = await requestJson(`${this.config.apiRoot}/requests`, {
          method: 'POST', body, headers: { 'Idempotency-Key': this.key },
        });
        window.location.assign(`${this.config.urls.inbox}/${record.id}`);
      } catch (err) {
        this.showError(`提交失败：${err.message}`);
        this.sending = false;
        this.submit.disabled = false;
      }
    }

    showError(message) {
      this.error.textContent = message;
      this.error.hidden = false;
      this.error.scrollIntoView({ block: 'nearest' });
    }
  }

  // ---- 诉求地图: open requests coloured by urgency --------------------------------------------

  class RequestsMap {
    constructor(map, config) {
      this.map = map;
      this.config = config;
      this.proj = projection(config);
      this.count = document.getElementById('gm-requests-count');
      this.hint = document.getElementById('gm-map-hint');
      this.layer = L.layerGroup().addTo(map);
      this.controller = null;
      this.loaded = null;
      prepareMap(map, config);
      let timer = null;
      map.on('moveend', () => {
        clearTimeout(timer);
        timer = setTimeout(() => this.load(), MOVE_DEBOUNCE_MS);
      });
      this.start();
    }

    /** Open at the caller's grids, then load the requests of the visible area. */
    async start() {
      try {
        const body = await requestJson(`${this.config.apiRoot}/grids?level=micro&limit=500`);
        this.grids = L.geoJSON(body, {
          coordsToLatLng: (c) => {
            const p = this.proj.toDisplay(c[0], c[1]);
            return L.latLng(p[1], p[0]);
          },
          style: { color: '#3c8d7a', weight: 1, fillOpacity: 0.03 },
          interactive: false,
        }).addTo(this.map);
        const bounds = this.grids.getBounds();
        if (bounds.isValid()) {
          this.map.fitBounds(bounds, { maxZoom: 17 });
          return; // moveend loads the requests
        }
      } catch (err) {
        banner(`网格加载失败：${err.message}`);
      }
      this.load();
    }

    bbox() {
      const b = this.map.getBounds();
      const sw = this.proj.fromDisplay(b.getWest(), b.getSouth());
      const ne = this.proj.fromDisplay(b.getEast(), b.getNorth());
      return [sw[0], sw[1], ne[0], ne[1]].map((v) => v.toFixed(6)).join(',');
    }

    async load() {
      if (this.controller) this.controller.abort();
      const controller = new AbortController();
      this.controller = controller;
      const args = new URLSearchParams({
        state: OPEN_STATES, bbox: this.bbox(), limit: String(MAP_PAGE),
      });
      try {
        const { features, truncated } = await allFeatures(
          `${this.config.apiRoot}/requests?${args}`, MAP_MAX_PAGES, controller.signal);
        this.draw(features);
        this.hint.hidden = !truncated;
        this.hint.textContent = truncated ? '当前范围诉求过多，只显示了一部分，请放大地图' : '';
      } catch (err) {
        if (err.name === 'AbortError') return;
        banner(`诉求加载失败：${err.message}`);
      } finally {
        if (this.controller === controller) this.controller = null;
      }
    }

    draw(features) {
      this.layer.clearLayers();
      const view = this.map.getBounds();
      const counts = { red: 0, yellow: 0, green: 0, none: 0 };
      features.forEach((f) => {
        const p = f.properties;
        const [x, y] = this.proj.toDisplay(f.geometry.coordinates[0], f.geometry.coordinates[1]);
        // The API filters by bbox; drawing only what is in view also covers a view that moved
        // while the answer was on its way.
        if (!view.contains([y, x])) return;
        const card = p.warning || 'none';
        counts[card] += 1;
        const marker = L.circleMarker([y, x], {
          radius: 8, color: '#fff', weight: 1.5, fillColor: CARD_COLOURS[card], fillOpacity: 0.9,
          className: `gm-request-marker gm-request-${card}`,
        });
        marker.feature = f;
        marker.bindPopup(() => this.popup(p));
        this.layer.addLayer(marker);
      });
      const total = counts.red + counts.yellow + counts.green + counts.none;
      this.count.textContent = `当前范围 ${total} 条：红牌 ${counts.red}，黄牌 ${counts.yellow}，`
        + `正常 ${counts.green + counts.none}`;
      this.counts = counts;
      this.loaded = total;
    }

    popup(p) {
      return el('div', { class: 'gm-request-popup' },
        el('strong', {}, p.category.name), ' ', stateBadge(p.state), ' ', cardBadge(p.warning),
        el('p', {}, snippet(p.description)),
        el('p', { class: 'gm-muted gm-small' }, `时限 ${beijing(p.stage_deadline)}`),
        el('a', { href: `${this.config.urls.inbox}/${p.id}` }, '查看详情 »'));
    }
  }

  // ---- 红黑榜: the 三率 ranking ---------------------------------------------------------------

  const BOARD_LABELS = { red: '红榜', black: '黑榜' };

  function percent(rate) {
    return rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(1)}%`;
  }

  class Ranking {
    constructor(config) {
      this.config = config;
      this.root = document.getElementById('gm-ranking');
      this.load();
    }

    async load() {
      const args = new URLSearchParams(this.config.query);
      try {
        this.show(await requestJson(`${this.config.apiRoot}/rates?${args}`));
        this.root.dataset.state = 'ready';
      } catch (err) {
        this.root.dataset.state = 'error';
        banner(`三率排名加载失败：${err.message}`);
      }
    }

    show(table) {
      const w = table.weights;
      document.getElementById('gm-ranking-title').textContent = table.title;
      document.getElementById('gm-ranking-note').textContent =
        `${table.period.from} 至 ${table.period.to}（北京时间）；综合得分 = 响应率 × ${w.response}`
        + ` + 解决率 × ${w.resolution} + 满意率 × ${w.satisfaction}（基本满意按 0.9 计），`
        + `前 ${table.board_size} 名上红榜、后 ${table.board_size} 名上黑榜；无诉求的不排名。`;
      const body = document.getElementById('gm-ranking-rows');
      body.replaceChildren(...table.rows.map((r) => el('tr',
        { class: r.board ? `gm-board-${r.board}` : null, 'data-code': r.code,
          'data-board': r.board || '' },
        el('td', {}, r.rank === null || r.rank === undefined ? '—' : String(r.rank)),
        el('td', {}, r.board ? el('span', { class: `gm-board gm-board-tag-${r.board}` },
          BOARD_LABELS[r.board]) : ''),
        el('td', {}, r.name, el('div', { class: 'gm-muted gm-small' }, r.code)),
        el('td', { class: 'gm-num' }, String(r.filed)),
        el('td', { class: 'gm-num' }, percent(r.response_rate)),
        el('td', { class: 'gm-num' }, percent(r.resolution_rate)),
        el('td', { class: 'gm-num' }, percent(r.satisfaction_rate)),
        el('td', { class: 'gm-num gm-score' },
          r.score === null || r.score === undefined ? '—' : r.score.toFixed(2)))));
      if (!table.rows.length) {
        body.append(el('tr', {}, el('td', { colspan: '8', class: 'gm-muted' }, '范围内没有网格。')));
      }
    }
  }

  const PAGES = {
    inbox: (map, config) => new Inbox(config),
    detail: (map, config) => new Detail(map, config),
    new: (map, config) => new Intake(map, config),
    map: (map, config) => new RequestsMap(map, config),
    ranking: (map, config) => new Ranking(config),
  };

  window.GridmapRequests = {
    /** Start the page `config.page` (on the folium-created map, if the page has one). */
    start(map, config) {
      return PAGES[config.page](map, config);
    },
    STATE_LABELS,
    CARD_LABELS,
  };
})();
