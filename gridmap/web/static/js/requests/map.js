/* requests/map.js: 诉求地图, the open requests in the visible area, coloured by 红黄牌. */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { el } from '../core/dom.js';
import { beijing } from '../core/format.js';
import { prepareMap, projection } from '../core/map.js';
import { CARD_COLOURS, cardBadge, snippet, stateBadge } from './badges.js';

const MAP_PAGE = 500;
const MAP_MAX_PAGES = 5;
const MOVE_DEBOUNCE_MS = 250;

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

export class RequestsMap {
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
      state: this.config.openStates.join(','), bbox: this.bbox(), limit: String(MAP_PAGE),
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

