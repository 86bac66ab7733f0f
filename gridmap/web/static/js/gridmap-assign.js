/*
 * gridmap-assign.js: the assignment page (分配包户) of one zone or micro-grid.
 *
 * Plain ES2017, no build step, like gridmap-map.js, which is loaded first and lends its API
 * client (requestJson: session cookie, X-CSRFToken, problem+json messages) and DOM helper.
 * The folium page creates the Leaflet map and calls GridmapAssign.start(map, config).
 *
 * What the page does, all through the JSON API:
 * - draws the grid, its micro-grids and its households coloured by the member who covers each
 *   (党员分片包户; red: nobody; a purple ring: a care household);
 * - selects households by rectangle or polygon (Leaflet.Draw), freehand lasso (leaflet-lasso),
 *   a click (one household, its whole building, its whole micro-grid), then gives them to the
 *   current member or releases them (POST …/coverage);
 * - asks for a balanced division (POST …/division), shows it as a diff, lets the chief adjust
 *   it and accepts it in one transaction (PUT …/division);
 * - staffs the grid and its micro-grids (…/staff, /assignments/{id}/end);
 * - shows the four reports as tables, with their downloads, and highlights them on the map.
 *
 * Every write sends If-Match with the grid's ETag; a 412 means someone else changed the grid:
 * the page says so ("他人已修改，请刷新") and reloads what it shows.
 */
(function () {
  'use strict';

  const { requestJson, el, cssToken, gcj02 } = window.GridmapPage;

  // Member colours: no reds (red means uncovered), nothing too pale on the grey map.
  const PALETTE = [
    '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#17becf', '#8c564b', '#e377c2', '#bcbd22',
    '#393b79', '#637939', '#8c6d31', '#7b4173', '#3182bd', '#31a354', '#756bb1', '#636363',
  ];
  const COLOURS = {
    uncovered: '#d7301f',
    care: '#7b2cbf',
    selected: '#ffb000',
    changed: '#111111',
    highlight: '#00b4d8',
    grid: '#e07b00',
    micro: '#3c8d7a',
  };
  const ROLE_LABELS = {
    chief: '总网格长',
    zone_leader: '网格长',
    grid_worker: '网格员',
    building_leader: '楼栋长',
  };
  // The posts each grid level takes (gridmap.assignment.ROLE_LEVEL).
  const ROLES_BY_LEVEL = {
    community: ['chief'],
    zone: ['zone_leader'],
    micro: ['grid_worker', 'building_leader'],
  };
  const KIND_LABELS = {
    party_member: '党员',
    in_service_member: '在职党员',
    grid_worker: '网格员',
    volunteer: '志愿者',
    building_leader: '楼栋长',
  };
  const LEVEL_LABELS = { community: '社区', zone: '片区', micro: '微网格' };
  // The reports' columns in reading order (the API sends them as an object, keys sorted).
  const REPORT_COLUMNS = {
    unstaffed: ['code', 'name', 'level', 'missing_role'],
    uncovered: ['id', 'address', 'care_tags', 'micro_grid_code'],
    overloaded: ['id', 'name', 'kind', 'households', 'weighted_load'],
    coverage: ['code', 'name', 'households', 'covered', 'rate'],
  };
  const REPORT_ROWS_SHOWN = 200;
  const CONFLICT = '他人已修改，请刷新';
  // Households of one building stand within a few metres of its point (the demo: 10 m); the
  // API masks building numbers, so a building is what lies this close in the same micro-grid.
  const BUILDING_RADIUS_M = 20;
  const METRES_PER_DEGREE = 111320;

  // ---- geometry (display lon/lat; a few hundred points, so plain loops) ----------------------

  function inRing(x, y, ring) {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  /** Whether lon/lat lies in a GeoJSON Polygon or MultiPolygon (holes respected). */
  function inGeometry(x, y, geometry) {
    if (!geometry) return false;
    const polygons = geometry.type === 'Polygon' ? [geometry.coordinates]
      : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
    return polygons.some((rings) => inRing(x, y, rings[0])
      && !rings.slice(1).some((hole) => inRing(x, y, hole)));
  }

  function metresBetween(a, b) {
    const dx = (a.lng - b.lng) * METRES_PER_DEGREE * Math.cos((a.lat * Math.PI) / 180);
    const dy = (a.lat - b.lat) * METRES_PER_DEGREE;
    return Math.hypot(dx, dy);
  }

  function percent(share) {
    return `${(share * 100).toFixed(1)}%`;
  }

  function round(value, digits = 1) {
    const f = 10 ** digits;
    return String(Math.round(value * f) / f);
  }

  class AssignPage {
    constructor(map, config) {
      this.map = map;
      this.config = config;
      const shifted = config.basemapCrs === 'gcj02';
      this.toDisplay = shifted ? gcj02.fromWgs84 : (lng, lat) => [lng, lat];
      this.coordsToLatLng = (coords) => {
        const p = this.toDisplay(coords[0], coords[1]);
        return L.latLng(p[1], p[0]);
      };
      this.root = document.getElementById('gm-assign');
      this.pending = 0;
      this.dom = {
        banner: document.getElementById('gm-banner'),
        bannerText: document.querySelector('#gm-banner .gm-banner-text'),
        status: document.getElementById('gm-status'),
      };
      map.setMinZoom(config.minZoom);
      map.setMaxZoom(config.maxZoom);
      map.attributionControl.setPrefix('Leaflet');
      L.control.scale({ imperial: false }).addTo(map);
      map.createPane('gm-grids').style.zIndex = 410;
      map.createPane('gm-households').style.zIndex = 420;
      this.dom.banner.querySelector('.gm-banner-close')
        .addEventListener('click', () => this.hideError());
      if (!config.grid) {
        this.run('网格列表加载', () => this.showChoices());
        return;
      }
      this.code = config.grid;
      this.households = new Map();
      this.members = [];
      this.colours = new Map();
      this.selection = new Set();
      this.highlight = new Set();
      this.highlightGrids = new Set();
      this.currentMember = null;
      this.proposal = null;
      this.proposalChecked = null;
      this.micro = [];
      this.staff = null;
      this.report = null;
      this.canExport = false;
      this.gridLayer = L.layerGroup().addTo(map);
      this.householdLayer = L.layerGroup().addTo(map);
      this.bindControls();
      this.setUpDrawing();
      document.getElementById('gm-care-weight').textContent = String(config.careWeight);
      this.run('网格数据加载', () => this.loadAll());
    }

    api(path) {
      return `${this.config.apiRoot}${path}`;
    }

    get(path) {
      return requestJson(this.api(path));
    }

    /** A write with If-Match (the grid's ETag unless another is given). */
    write(path, body, { method = 'POST', etag = this.etag } = {}) {
      return requestJson(this.api(path), { method, body, headers: { 'If-Match': etag } });
    }

    // ---- busy state, messages, conflicts --------------------------------------------------

    /** Run an action; the page's data-state is "busy" meanwhile (tests and CSS wait on it). */
    async run(label, action) {
      this.pending += 1;
      this.root.dataset.state = 'busy';
      try {
        await action();
      } catch (err) {
        if (err && err.status === 412) await this.conflict();
        else this.showError(`${label}失败：${err && err.message ? err.message : err}`);
      } finally {
        this.pending -= 1;
        if (this.pending === 0) this.root.dataset.state = 'ready';
      }
    }

    /** Someone else changed the grid since it was loaded: say so, then show their version. */
    async conflict() {
      this.proposal = null;
      this.selection.clear();
      this.showError(`${CONFLICT}：该网格已被他人修改，已重新载入最新数据，请重新操作。`);
      try {
        await this.reload();
        if (this.staff) await this.loadStaff(this.staff.code);
      } catch (err) {
        this.showError(`${CONFLICT}：重新载入失败（${err.message}），请刷新页面。`);
      }
    }

    say(message) {
      if (this.dom.status) this.dom.status.textContent = message;
    }

    showError(message) {
      this.dom.bannerText.textContent = message;
      this.dom.banner.hidden = false;
    }

    hideError() {
      this.dom.banner.hidden = true;
      this.dom.bannerText.textContent = '';
    }

    // ---- without a grid: choose one ----------------------------------------------------------

    async showChoices() {
      const list = document.getElementById('gm-grid-choices');
      let features = [];
      for (const level of ['zone', 'micro']) {
        const body = await this.getChoices(level);
        features = Array.isArray(body.features) ? body.features : [];
        if (features.length) break;
      }
      if (!features.length) {
        list.replaceChildren(el('li', { class: 'gm-muted' }, '您的管辖范围内没有片区或微网格'));
        return;
      }
      const link = (f) => `?${new URLSearchParams({ grid: f.properties.code })}`;
      list.replaceChildren(...features.map((f) => el('li', null,
        el('a', { href: link(f) }, f.properties.name || f.properties.code),
        el('span', { class: 'gm-muted gm-small' }, ` ${f.properties.code}`))));
      const layer = L.geoJSON({ type: 'FeatureCollection', features }, {
        pane: 'gm-grids',
        coordsToLatLng: this.coordsToLatLng,
        style: { color: COLOURS.grid, weight: 2, fillOpacity: 0.05 },
        onEachFeature: (f, l) => {
          l.bindTooltip(f.properties.name || f.properties.code, { sticky: true });
          l.on('click', () => { window.location.search = link(f); });
        },
      }).addTo(this.map);
      this.map.fitBounds(layer.getBounds(), { padding: [20, 20] });
    }

    getChoices(level) {
      return this.get(`/grids?${new URLSearchParams({ level, limit: '500' })}`);
    }

    // ---- loading ------------------------------------------------------------------------------

    async loadAll() {
      const code = encodeURIComponent(this.code);
      const [me, grid, state] = await Promise.all([
        this.get('/auth/me'), this.get(`/grids/${code}`), this.get(`/grids/${code}/coverage`),
      ]);
      this.canExport = Array.isArray(me.capabilities) && me.capabilities.includes('export');
      this.grid = grid;
      this.level = grid.properties.level;
      if (this.level === 'zone') {
        const query = new URLSearchParams({ level: 'micro', parent: this.code, limit: '1000' });
        const body = await this.get(`/grids?${query}`);
        this.micro = (body.features || []).map((f) => ({ feature: f, code: f.properties.code }));
      } else {
        this.micro = [{ feature: grid, code: this.code }];
      }
      this.drawGrids();
      this.applyState(state);
      const bounds = this.outline.getBounds();
      if (bounds.isValid()) this.map.fitBounds(bounds, { padding: [16, 16] });
      this.fillStaffGrids();
      await Promise.all([this.loadStaff(this.code), this.loadReport()]);
    }

    /** The coverage state again (after a write, or a conflict), and the report shown. */
    async reload() {
      const state = await this.get(`/grids/${encodeURIComponent(this.code)}/coverage`);
      this.applyState(state);
      if (this.report) await this.loadReport();
    }

    drawGrids() {
      this.gridLayer.clearLayers();
      this.outline = L.geoJSON(this.grid, {
        pane: 'gm-grids',
        interactive: false,
        coordsToLatLng: this.coordsToLatLng,
        style: { color: COLOURS.grid, weight: 3, fill: false },
      }).addTo(this.gridLayer);
      this.micro.forEach((m) => {
        m.layer = L.geoJSON(m.feature, {
          pane: 'gm-grids',
          className: `gm-assign-micro gm-micro-${cssToken(m.code)}`,
          coordsToLatLng: this.coordsToLatLng,
          style: () => this.microStyle(m),
        }).addTo(this.gridLayer);
        m.layer.bindTooltip(m.feature.properties.name || m.code, { sticky: true });
        m.layer.on('click', () => {
          if (this.pickMode() === 'micro') this.toggleGroup(this.householdsIn(m.code));
        });
      });
    }

    microStyle(m) {
      const lit = this.highlightGrids.has(m.code);
      return {
        color: lit ? COLOURS.highlight : COLOURS.micro,
        weight: lit ? 4 : 1.5,
        fillOpacity: lit ? 0.12 : 0.04,
      };
    }

    applyState(state) {
      this.etag = state.etag;
      this.members = Array.isArray(state.members) ? state.members : [];
      // Colours follow the members in id order: the same member keeps the same colour.
      this.colours = new Map(this.members.map((m, i) => [m.id, PALETTE[i % PALETTE.length]]));
      const seen = new Set();
      (state.households || []).forEach((h) => {
        seen.add(h.id);
        const known = this.households.get(h.id);
        if (known) {
          known.current = h.current;
          known.care = h.care;
        } else {
          this.households.set(h.id, this.makeHousehold(h));
        }
      });
      [...this.households.keys()].filter((id) => !seen.has(id)).forEach((id) => {
        this.householdLayer.removeLayer(this.households.get(id).marker);
        this.households.delete(id);
      });
      [...this.selection].filter((id) => !seen.has(id)).forEach((id) => this.selection.delete(id));
      if (this.currentMember !== null && !this.colours.has(this.currentMember)) {
        this.currentMember = null;
      }
      this.renderAll();
    }

    makeHousehold(h) {
      const house = Object.assign({}, h);
      const micro = this.micro.find((m) => inGeometry(h.lon, h.lat, m.feature.geometry));
      house.micro = micro ? micro.code : null;
      house.marker = L.circleMarker(this.coordsToLatLng([h.lon, h.lat]), {
        pane: 'gm-households',
        className: `gm-household gm-hh-${cssToken(h.id)}`,
        bubblingMouseEvents: false,
      }).addTo(this.householdLayer);
      house.marker.bindTooltip(() => this.householdLabel(house), { direction: 'top' });
      house.marker.on('click', () => this.pick(house));
      return house;
    }

    householdLabel(h) {
      const person = this.shownPerson(h);
      const member = this.members.find((m) => m.id === person);
      return [`住户 ${h.id}`, h.care ? '关爱对象' : null,
        person === null ? '未包户' : `包户：${member ? member.name : `人员 ${person}`}`]
        .filter(Boolean).join(' · ');
    }

    // ---- what is shown: today's coverage, or the proposal --------------------------------------

    shownPerson(h) {
      if (this.proposal) {
        const p = this.proposal.pairs.get(h.id);
        return p === undefined ? h.current : p;
      }
      return h.current === undefined ? null : h.current;
    }

    isChanged(h) {
      if (!this.proposal) return false;
      const before = this.proposal.current.has(h.id) ? this.proposal.current.get(h.id) : h.current;
      return this.shownPerson(h) !== before;
    }

    colourOf(personId) {
      return this.colours.get(personId) || '#555555';
    }

    householdStyle(h) {
      const person = this.shownPerson(h);
      const style = {
        radius: 6,
        fillColor: person === null ? COLOURS.uncovered : this.colourOf(person),
        fillOpacity: 0.9,
        color: '#ffffff',
        weight: 1,
        opacity: 1,
      };
      if (h.care) Object.assign(style, { color: COLOURS.care, weight: 3 });
      if (this.isChanged(h)) Object.assign(style, { color: COLOURS.changed, weight: 3, radius: 8 });
      if (this.highlight.has(h.id)) {
        Object.assign(style, { color: COLOURS.highlight, weight: 4, radius: 9 });
      }
      if (this.selection.has(h.id)) {
        Object.assign(style, { color: COLOURS.selected, weight: 4, radius: 9 });
      }
      return style;
    }

    restyle(h) {
      const style = this.householdStyle(h);
      h.marker.setStyle(style);
      h.marker.setRadius(style.radius);
      const node = h.marker.getElement();
      if (!node) return;
      const person = this.shownPerson(h);
      node.dataset.person = person === null ? '' : String(person);
      node.classList.toggle('gm-uncovered', person === null);
      node.classList.toggle('gm-selected', this.selection.has(h.id));
      node.classList.toggle('gm-changed', this.isChanged(h));
      node.classList.toggle('gm-highlight', this.highlight.has(h.id));
      node.classList.toggle('gm-care', Boolean(h.care));
    }

    renderAll() {
      this.households.forEach((h) => this.restyle(h));
      this.renderRate();
      this.renderMembers();
      this.renderSelection();
      this.renderProposal();
      this.renderPeople();
    }

    /** Weighted loads of the shown division: person id → {n, w}. */
    loads() {
      const weight = this.config.careWeight;
      const loads = new Map();
      this.households.forEach((h) => {
        const p = this.shownPerson(h);
        if (p === null) return;
        const load = loads.get(p) || { n: 0, w: 0 };
        load.n += 1;
        load.w += h.care ? weight : 1;
        loads.set(p, load);
      });
      return loads;
    }

    renderRate() {
      const total = this.households.size;
      let covered = 0;
      this.households.forEach((h) => { if (h.current !== null) covered += 1; });
      const node = document.getElementById('gm-coverage-rate');
      node.dataset.covered = String(covered);
      node.dataset.total = String(total);
      node.textContent = total
        ? `${covered} / ${total} 户（${percent(covered / total)}）` : '该网格暂无住户';
    }

    renderMembers() {
      const loads = this.loads();
      const list = document.getElementById('gm-members');
      if (!this.members.length) {
        list.replaceChildren(el('li', { class: 'gm-muted' }, '本社区暂无可包户的党员'));
        return;
      }
      list.replaceChildren(...this.members.map((m) => {
        const load = loads.get(m.id) || { n: 0, w: 0 };
        const item = el('li', {
          class: 'gm-member',
          role: 'button',
          tabindex: '0',
          'data-person-id': m.id,
          'aria-pressed': String(this.currentMember === m.id),
        },
        el('span', { class: 'gm-member-swatch', style: `background:${this.colourOf(m.id)}` }),
        el('span', { class: 'gm-member-name' }, m.name),
        el('span', { class: 'gm-muted gm-small' },
          `${KIND_LABELS[m.kind] || m.kind}${m.lon === null ? '·无住址' : ''}`),
        el('span', { class: 'gm-member-load', title: '户数 / 加权户数（关爱对象加权）' },
          `${load.n} 户 / ${round(load.w)}`));
        const choose = () => this.chooseMember(m.id);
        item.addEventListener('click', choose);
        item.addEventListener('keydown', (e) => {
          if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); choose(); }
        });
        return item;
      }));
      const current = this.members.find((m) => m.id === this.currentMember);
      document.getElementById('gm-current-member').textContent = current
        ? `${current.name}（编号 ${current.id}）` : '未选择';
    }

    chooseMember(id) {
      this.currentMember = this.currentMember === id ? null : id;
      this.renderMembers();
    }

    renderPeople() {
      const people = new Map(this.members.map((m) => [m.id, `${m.name}（${KIND_LABELS[m.kind] || m.kind}）`]));
      ((this.staff && this.staff.posts) || []).forEach((p) => {
        if (!people.has(p.person_id)) people.set(p.person_id, `${p.name}（${ROLE_LABELS[p.role]}）`);
      });
      document.getElementById('gm-people').replaceChildren(...[...people].map(
        ([id, label]) => el('option', { value: id, label: `${id} ${label}` })));
    }

    // ---- selection ------------------------------------------------------------------------------

    pickMode() {
      const checked = document.querySelector('input[name="pick"]:checked');
      return checked ? checked.value : 'household';
    }

    householdsIn(microCode) {
      return [...this.households.values()].filter((h) => h.micro === microCode);
    }

    /** A click on a household: it, its building or its micro-grid, by the chosen mode. */
    pick(house) {
      const mode = this.pickMode();
      if (mode === 'household') {
        this.toggleGroup([house]);
      } else if (mode === 'building') {
        const at = house.marker.getLatLng();
        this.toggleGroup([...this.households.values()].filter((h) => h.micro === house.micro
          && metresBetween(h.marker.getLatLng(), at) <= BUILDING_RADIUS_M));
      } else {
        this.toggleGroup(house.micro ? this.householdsIn(house.micro) : [house]);
      }
    }

    /** Select a group, or unselect it when all of it is selected already. */
    toggleGroup(group) {
      const all = group.length > 0 && group.every((h) => this.selection.has(h.id));
      group.forEach((h) => (all ? this.selection.delete(h.id) : this.selection.add(h.id)));
      group.forEach((h) => this.restyle(h));
      this.renderSelection();
    }

    /** Add the households inside a drawn shape (display lat/lngs) to the selection. */
    selectInside(latLngs) {
      const ring = latLngs.map((ll) => [ll.lng, ll.lat]);
      const inside = [...this.households.values()].filter((h) => {
        const ll = h.marker.getLatLng();
        return inRing(ll.lng, ll.lat, ring);
      });
      inside.forEach((h) => { this.selection.add(h.id); this.restyle(h); });
      this.renderSelection();
      this.say(`圈选到 ${inside.length} 户`);
    }

    clearSelection() {
      const was = [...this.selection];
      this.selection.clear();
      was.forEach((id) => this.restyle(this.households.get(id)));
      this.renderSelection();
    }

    renderSelection() {
      document.getElementById('gm-selected-count').textContent = String(this.selection.size);
    }

    setUpDrawing() {
      const local = L.drawLocal.draw.handlers;
      local.rectangle.tooltip.start = '按住鼠标拖动，框选住户';
      local.simpleshape.tooltip.end = '松开鼠标完成框选';
      local.polygon.tooltip = {
        start: '单击开始绘制多边形',
        cont: '单击继续添加顶点',
        end: '单击第一个顶点完成',
      };
      const shape = { color: COLOURS.selected, weight: 2, fillOpacity: 0.1 };
      this.tools = {
        rectangle: new L.Draw.Rectangle(this.map, { shapeOptions: shape, showArea: false }),
        polygon: new L.Draw.Polygon(this.map, {
          shapeOptions: shape, showArea: false, showLength: false, allowIntersection: true,
        }),
        lasso: L.lasso(this.map, { polygon: { color: COLOURS.selected, weight: 2 } }),
      };
      this.map.on(L.Draw.Event.CREATED, (e) => this.selectInside(e.layer.getLatLngs()[0]));
      this.map.on('lasso.finished', (e) => this.selectInside(e.latLngs));
      const done = () => this.markTool(null);
      this.map.on(L.Draw.Event.DRAWSTOP, done);
      this.map.on('lasso.disabled', done);
    }

    startTool(name) {
      Object.entries(this.tools).forEach(([key, tool]) => {
        if (key !== name && tool.enabled()) tool.disable();
      });
      const tool = this.tools[name];
      if (tool.enabled()) {
        tool.disable();
        return;
      }
      tool.enable();
      this.markTool(name);
    }

    markTool(name) {
      document.querySelectorAll('[data-tool]').forEach((b) => {
        b.setAttribute('aria-pressed', String(b.dataset.tool === name));
      });
    }

    // ---- assign and release ---------------------------------------------------------------------

    async changeSelection(personId) {
      const ids = [...this.selection];
      if (!ids.length) {
        this.say('请先在地图上选择住户');
        return;
      }
      if (this.proposal) {
        // Adjusting the proposal: nothing is written until it is accepted.
        ids.forEach((id) => this.proposal.pairs.set(id, personId));
        this.selection.clear();
        this.renderAll();
        this.say(`已在方案中调整 ${ids.length} 户`);
        return;
      }
      const body = personId === null
        ? { op: 'release', household_ids: ids }
        : { op: 'assign', person_id: personId, household_ids: ids };
      await this.run(personId === null ? '解除包户' : '分配', async () => {
        const answer = await this.write(`/grids/${encodeURIComponent(this.code)}/coverage`, body);
        this.etag = answer.etag;
        this.selection.clear();
        await this.reload();
        this.say(personId === null
          ? `已解除 ${answer.changed} 户的包户` : `已分配 ${answer.changed} 户`);
      });
    }

    assignSelection() {
      if (this.currentMember === null) {
        this.say('请先在“党员”列表中点击选择当前党员');
        return Promise.resolve();
      }
      return this.changeSelection(this.currentMember);
    }

    // ---- the balanced proposal (智能分配) -------------------------------------------------------

    renderProposalMembers() {
      const box = document.getElementById('gm-proposal-members');
      if (this.proposalChecked === null) {
        // Default: every member with a home (the solver places members at their homes).
        this.proposalChecked = new Set(this.members.filter((m) => m.lon !== null).map((m) => m.id));
      }
      box.replaceChildren(...this.members.map((m) => {
        const input = el('input', { type: 'checkbox', name: 'member', value: m.id });
        input.checked = this.proposalChecked.has(m.id);
        input.addEventListener('change', () => {
          if (input.checked) this.proposalChecked.add(m.id);
          else this.proposalChecked.delete(m.id);
        });
        return el('label', { class: 'gm-check' }, input,
          el('span', { class: 'gm-member-swatch', style: `background:${this.colourOf(m.id)}` }),
          `${m.name}${m.lon === null ? '（无住址）' : ''}`);
      }));
    }

    async propose(event) {
      event.preventDefault();
      const memberIds = this.members.map((m) => m.id).filter((id) => this.proposalChecked.has(id));
      if (!memberIds.length) {
        this.say('请至少选择一名党员参与分配');
        return;
      }
      const body = {
        member_ids: memberIds,
        min_load: Number(document.getElementById('gm-min-load').value || 0),
        max_load: Number(document.getElementById('gm-max-load').value || 30),
        care_weight: this.config.careWeight,
        fresh: document.getElementById('gm-fresh').checked,
      };
      await this.run('智能分配', async () => {
        const answer = await requestJson(
          this.api(`/grids/${encodeURIComponent(this.code)}/division`), { method: 'POST', body });
        if (answer.etag !== this.etag) await this.reload();
        this.proposal = {
          etag: answer.etag,
          pairs: new Map(answer.assignments.map((a) => [a.household_id, a.person_id])),
          current: new Map(answer.assignments.map((a) => [a.household_id, a.current])),
          stats: answer.stats || {},
        };
        this.selection.clear();
        this.renderAll();
        this.say('已生成分配方案，请核对后接受');
      });
    }

    renderProposal() {
      const box = document.getElementById('gm-proposal');
      this.renderProposalMembers();
      if (!this.proposal) {
        box.hidden = true;
        this.root.classList.remove('gm-proposing');
        return;
      }
      box.hidden = false;
      this.root.classList.add('gm-proposing');
      let changed = 0;
      let covered = 0;
      this.households.forEach((h) => {
        if (this.isChanged(h)) changed += 1;
        if (this.shownPerson(h) !== null) covered += 1;
      });
      document.getElementById('gm-proposal-changes').textContent = String(changed);
      const s = this.proposal.stats;
      const rows = [
        ['方案覆盖率', `${covered} / ${this.households.size} 户（${percent(this.households.size ? covered / this.households.size : 0)}）`],
        ['求解覆盖率', s.coverage === undefined ? '—' : percent(s.coverage)],
        ['最大/平均负荷', s.max_mean_load === undefined ? '—' : round(s.max_mean_load, 2)],
        ['平均距离', s.mean_distance_m === undefined ? '—' : `${round(s.mean_distance_m, 0)} 米`],
        ['求解状态', s.status === 'optimal' ? '最优' : (s.status || '—')],
      ];
      document.getElementById('gm-proposal-stats').replaceChildren(
        ...rows.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
    }

    async acceptProposal() {
      if (!this.proposal) return;
      const proposal = this.proposal;
      const assignments = [...proposal.pairs].map(([household_id, person_id]) => ({
        household_id, person_id,
      }));
      await this.run('接受方案', async () => {
        const answer = await this.write(`/grids/${encodeURIComponent(this.code)}/division`,
          { assignments }, { method: 'PUT', etag: proposal.etag });
        this.proposal = null;
        this.etag = answer.etag;
        await this.reload();
        this.say(`方案已接受，变更 ${answer.changed} 户`);
      });
    }

    discardProposal() {
      this.proposal = null;
      this.renderAll();
      this.say('已放弃方案');
    }

    // ---- staffing (格中有人) -------------------------------------------------------------------

    fillStaffGrids() {
      const grids = [{ code: this.code, name: this.grid.properties.name, level: this.level }];
      if (this.level === 'zone') {
        this.micro.forEach((m) => grids.push({
          code: m.code, name: m.feature.properties.name, level: 'micro',
        }));
      }
      this.staffGrids = new Map(grids.map((g) => [g.code, g]));
      document.getElementById('gm-staff-grid').replaceChildren(...grids.map((g) => el('option',
        { value: g.code }, `${LEVEL_LABELS[g.level]} ${g.name || g.code}`)));
    }

    async loadStaff(code) {
      const body = await this.get(`/grids/${encodeURIComponent(code)}/staff`);
      this.staff = { code, etag: body.etag, posts: body.assignments || [] };
      document.getElementById('gm-staff-grid').value = code;
      const level = this.staffGrids.get(code).level;
      document.getElementById('gm-staff-role').replaceChildren(...ROLES_BY_LEVEL[level].map(
        (r) => el('option', { value: r }, ROLE_LABELS[r])));
      const rows = this.staff.posts.map((p) => {
        const end = el('button', { type: 'button', class: 'gm-end-post', 'data-id': p.id }, '结束');
        end.addEventListener('click', () => this.endPost(p));
        return el('tr', { 'data-assignment-id': p.id },
          el('td', null, ROLE_LABELS[p.role] || p.role),
          el('td', null, `${p.name}（${p.person_id}）`),
          el('td', { class: 'gm-nowrap' }, p.start_date || ''),
          el('td', null, end));
      });
      document.getElementById('gm-staff').replaceChildren(...(rows.length ? rows
        : [el('tr', null, el('td', { colspan: '4', class: 'gm-warning' }, '暂无人员（格中无人）'))]));
      this.renderPeople();
    }

    async addPost(event) {
      event.preventDefault();
      const personId = Number(document.getElementById('gm-staff-person').value);
      const role = document.getElementById('gm-staff-role').value;
      if (!Number.isInteger(personId) || personId < 1) {
        this.say('请填写人员编号');
        return;
      }
      const staff = this.staff;
      await this.run('新增岗位', async () => {
        await this.write(`/grids/${encodeURIComponent(staff.code)}/staff`,
          { person_id: personId, role }, { etag: staff.etag });
        document.getElementById('gm-staff-person').value = '';
        await Promise.all([this.loadStaff(staff.code), this.reload()]);
        this.say(`已新增${ROLE_LABELS[role]}（人员 ${personId}）`);
      });
    }

    async endPost(post) {
      const staff = this.staff;
      await this.run('结束岗位', async () => {
        await this.write(`/assignments/${post.id}/end`, {}, { etag: staff.etag });
        await Promise.all([this.loadStaff(staff.code), this.reload()]);
        this.say(`已结束 ${post.name} 的${ROLE_LABELS[post.role] || post.role}岗位`);
      });
    }

    // ---- reports ---------------------------------------------------------------------------------

    reportQuery(name) {
      const query = new URLSearchParams({ grid: this.code });
      if (name === 'overloaded') {
        query.set('max_load', document.getElementById('gm-max-load').value || '30');
        query.set('care_weight', String(this.config.careWeight));
      }
      return query;
    }

    async loadReport() {
      const name = document.getElementById('gm-report-name').value;
      const query = this.reportQuery(name);
      const body = await requestJson(`${this.config.reportsRoot}/${name}?${query}`);
      this.report = body;
      const headings = body.columns || {};
      const keys = (REPORT_COLUMNS[name] || Object.keys(headings)).filter((k) => k in headings);
      const rows = body.rows || [];
      const value = (row, key) => {
        const v = row[key];
        if (key === 'rate' && typeof v === 'number') return percent(v);
        if (key === 'level') return LEVEL_LABELS[v] || v;
        if (key === 'missing_role') return ROLE_LABELS[v] || v;
        if (key === 'kind') return KIND_LABELS[v] || v;
        if (typeof v === 'number' && !Number.isInteger(v)) return round(v, 2);
        return v === null || v === undefined ? '' : String(v);
      };
      const table = el('table', { class: 'gm-table gm-report-table', 'data-report': name },
        el('thead', null, el('tr', null, keys.map((k) => el('th', null, headings[k])))),
        el('tbody', null, rows.slice(0, REPORT_ROWS_SHOWN).map((r) => el('tr', null,
          keys.map((k) => el('td', null, value(r, k)))))));
      const more = rows.length > REPORT_ROWS_SHOWN
        ? el('p', { class: 'gm-muted gm-small' }, `仅显示前 ${REPORT_ROWS_SHOWN} 条，请下载查看全部`)
        : null;
      document.getElementById('gm-report').replaceChildren(
        el('p', { class: 'gm-report-title' }, `${body.title}：共 ${rows.length} 条`),
        rows.length ? table : el('p', { class: 'gm-muted' }, '无'), more);
      const links = document.getElementById('gm-report-links');
      links.hidden = !this.canExport;
      document.getElementById('gm-report-csv').href =
        `${this.config.reportsRoot}/${name}.csv?${query}`;
      document.getElementById('gm-report-xlsx').href =
        `${this.config.reportsRoot}/${name}.xlsx?${query}`;
    }

    /** 在地图上显示: outline the households or grids the report lists, and zoom to them. */
    showReport() {
      if (!this.report) return;
      const rows = this.report.rows || [];
      this.highlight = new Set();
      this.highlightGrids = new Set();
      if (this.report.name === 'uncovered') {
        rows.forEach((r) => this.highlight.add(r.id));
      } else if (this.report.name === 'overloaded') {
        const people = new Set(rows.map((r) => r.id));
        this.households.forEach((h) => { if (people.has(h.current)) this.highlight.add(h.id); });
      } else {
        rows.filter((r) => this.report.name !== 'coverage' || r.rate < 1)
          .forEach((r) => this.highlightGrids.add(r.code));
      }
      this.households.forEach((h) => this.restyle(h));
      this.micro.forEach((m) => m.layer.setStyle(this.microStyle(m)));
      const bounds = L.latLngBounds([]);
      this.highlight.forEach((id) => {
        const h = this.households.get(id);
        if (h) bounds.extend(h.marker.getLatLng());
      });
      this.micro.filter((m) => this.highlightGrids.has(m.code))
        .forEach((m) => bounds.extend(m.layer.getBounds()));
      const shown = this.highlight.size + this.highlightGrids.size;
      if (bounds.isValid()) this.map.fitBounds(bounds, { padding: [40, 40], maxZoom: 18 });
      this.say(shown ? `地图上已标出 ${this.highlight.size ? `${this.highlight.size} 户`
        : `${this.highlightGrids.size} 个网格`}（青色）` : '该报表在本网格内没有可标出的对象');
    }

    // ---- controls --------------------------------------------------------------------------------

    bindControls() {
      const on = (id, event, handler) => document.getElementById(id)
        .addEventListener(event, handler);
      document.querySelectorAll('[data-tool]').forEach((button) => {
        button.setAttribute('aria-pressed', 'false');
        button.addEventListener('click', () => this.startTool(button.dataset.tool));
      });
      on('gm-select-uncovered', 'click', () => this.toggleGroup(
        [...this.households.values()].filter((h) => this.shownPerson(h) === null)));
      on('gm-clear-selection', 'click', () => this.clearSelection());
      on('gm-assign-btn', 'click', () => this.assignSelection());
      on('gm-release-btn', 'click', () => this.changeSelection(null));
      on('gm-proposal-form', 'submit', (e) => this.propose(e));
      on('gm-accept-btn', 'click', () => this.acceptProposal());
      on('gm-discard-btn', 'click', () => this.discardProposal());
      on('gm-staff-grid', 'change', (e) => this.run('网格人员加载',
        () => this.loadStaff(e.target.value)));
      on('gm-staff-form', 'submit', (e) => this.addPost(e));
      on('gm-report-name', 'change', () => this.run('报表加载', () => this.loadReport()));
      on('gm-report-show', 'click', () => this.showReport());
    }
  }

  window.GridmapAssign = {
    /** Attach the page to the folium-created Leaflet map; returns the page (for tests). */
    start(map, config) {
      return new AssignPage(map, config);
    },
  };
})();
