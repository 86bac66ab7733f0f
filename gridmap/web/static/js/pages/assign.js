/*
 * pages/assign.js: the assignment page (分配包户) of one zone or micro-grid.
 *
 * An ES module, no build step; the shared core (../core/: the API client with its session
 * cookie, X-CSRFToken and problem+json messages, the DOM helper) and the page's parts
 * (../assign/: view, selection, proposal, staff and reports) are imported. The folium page
 * creates the Leaflet map and calls start(map, config).
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
import { banner, hideBanner } from '../core/banner.js';
import { requestJson } from '../core/api.js';
import { asText, cssToken, el } from '../core/dom.js';
import { prepareMap, projection } from '../core/map.js';
import { mixin } from '../core/mixin.js';
import { AssignProposal } from '../assign/proposal.js';
import { AssignSelection } from '../assign/selection.js';
import { COLOURS, CONFLICT, inGeometry, PALETTE } from '../assign/shared.js';
import { AssignStaff } from '../assign/staff.js';
import { AssignView } from '../assign/view.js';

class AssignPage {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    const { toDisplay, latLng } = projection(config);
    this.toDisplay = toDisplay;
    this.coordsToLatLng = (coords) => latLng(coords[0], coords[1]);
    this.root = document.getElementById('gm-assign');
    this.pending = 0;
    this.dom = {
      status: document.getElementById('gm-status'),
    };
    prepareMap(map, config);
    map.createPane('gm-grids').style.zIndex = 410;
    map.createPane('gm-households').style.zIndex = 420;
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
    banner(message);
  }

  hideError() {
    hideBanner();
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
        l.bindTooltip(asText(f.properties.name || f.properties.code), { sticky: true });
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
      m.layer.bindTooltip(asText(m.feature.properties.name || m.code), { sticky: true });
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
    this.suggestedMembers = Array.isArray(state.suggested_members) ? state.suggested_members : [];
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
    house.marker.bindTooltip(() => asText(this.householdLabel(house)), { direction: 'top' });
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


mixin(AssignPage, AssignView, AssignSelection, AssignProposal, AssignStaff);

/** Attach the page to the folium-created Leaflet map; returns the page (for tests). */
export function start(map, config) {
  return new AssignPage(map, config);
}
