/*
 * map/layers.js: the grid map's layers (pages/map.js) — the grid levels and households fetched
 * from the API for the visible area on every move, never inlined in the page, the vector-tile
 * outlines and request dots at city scale, and the labels kept readable.
 */
import { ApiError, getJson } from '../core/api.js';
import { asText, cssToken, el } from '../core/dom.js';
import { BUILDING_LABELS } from '../core/labels.js';
import {
  BUILDING_STYLE, COLOURS, GRID_LEVELS, GRID_STYLES, LAYER_KEYS, LAYER_LABELS,
} from './style.js';

/** The API path of each layer that is not a grid level. */
const LAYER_PATHS = { building: '/buildings', household: '/households' };

/** Pixels between the centres of households spread around their building's point. */
const STACK_SPACING = 15;
const GOLDEN_ANGLE = Math.PI * (3 - Math.sqrt(5));

/** Pixel offset of the i-th of n markers sharing one point: a sunflower (Vogel) spiral, so
 * the households of a building sit around it instead of on top of one another. */
export function stackOffset(i, n) {
  if (n <= 1) return [0, 0];
  const r = STACK_SPACING * Math.sqrt(i + 0.5) * 0.8;
  return [r * Math.cos(i * GOLDEN_ANGLE), r * Math.sin(i * GOLDEN_ANGLE)];
}

/** From this zoom households are drawn one by one (spread where they lie on one another);
 * below it, households closer than CLUSTER_RADIUS pixels are one marker with their count. */
export const SPREAD_ZOOM = 17;
const CLUSTER_RADIUS = 26;
/** Households closer than this (pixels) are spread around their centre from SPREAD_ZOOM. */
const STACK_RADIUS = 8;

/**
 * Groups of points (pixels at the map's zoom): each point not yet taken takes every point
 * within ``radius`` of it (a bucket grid keeps this linear), so two groups' first points are
 * more than ``radius`` apart. Returns the groups of two or more: ``{x, y}`` the first point,
 * ``cx, cy`` the centre, ``members`` the indexes.
 */
function stacksOf(points, radius) {
  const cell = (v) => Math.floor(v / radius);
  const buckets = new Map();
  points.forEach((pt, i) => {
    const key = `${cell(pt.x)},${cell(pt.y)}`;
    if (!buckets.has(key)) buckets.set(key, []);
    buckets.get(key).push(i);
  });
  const taken = new Uint8Array(points.length);
  const groups = [];
  points.forEach((pt, i) => {
    if (taken[i]) return;
    const members = [];
    for (let dx = -1; dx <= 1; dx += 1) {
      for (let dy = -1; dy <= 1; dy += 1) {
        (buckets.get(`${cell(pt.x) + dx},${cell(pt.y) + dy}`) || []).forEach((j) => {
          const q = points[j];
          if (!taken[j] && Math.hypot(q.x - pt.x, q.y - pt.y) <= radius) {
            taken[j] = 1;
            members.push(j);
          }
        });
      }
    }
    if (members.length > 1) {
      members.sort((m, n) => m - n);
      const cx = members.reduce((t, j) => t + points[j].x, 0) / members.length;
      const cy = members.reduce((t, j) => t + points[j].y, 0) / members.length;
      groups.push({ x: pt.x, y: pt.y, cx, cy, members });
    }
  });
  return groups;
}

/** The layer methods of the grid map page (mixed into GridmapPage). */
export class GridLayers {
  /**
   * City-scale layers as vector tiles: below the zoom at which micro-grids come as GeoJSON,
   * their outlines come from GET /tiles/grids (so a whole city shows its grid), and roles
   * that review requests may show last month's requests per grid (GET /tiles/requests).
   * Tiles are in CGCS2000 ≈ WGS 84: on a GCJ-02 basemap they are not shifted.
   */
  makeTileLayers() {
    const tiles = this.config.tiles;
    if (!tiles || !L.vectorGrid) return;
    const outline = () => ({ weight: 0.5, color: COLOURS.micro, opacity: 0.6, fill: false });
    this.microTiles = L.vectorGrid.protobuf(`${tiles.root}/grids/{z}/{x}/{y}.mvt?level=micro`, {
      pane: 'gm-grids',
      interactive: false,
      rendererFactory: L.canvas.tile,
      minZoom: tiles.microOutlineZoom,
      maxZoom: this.zooms.micro - 1,
      vectorTileLayerStyles: { grids: outline },
    }).addTo(this.map);
    if (!tiles.requestsPeriod) return;
    const dot = (properties) => ({
      radius: Math.min(10, 2 + Math.sqrt(properties.n || 1) / 2),
      fill: true,
      fillColor: COLOURS.focus,
      fillOpacity: 0.45,
      color: '#ffffff',
      weight: 0.5,
    });
    this.requestTiles = L.vectorGrid.protobuf(
      `${tiles.root}/requests/{z}/{x}/{y}.mvt?period=${tiles.requestsPeriod}`,
      {
        pane: 'gm-households',
        interactive: false,
        rendererFactory: L.canvas.tile,
        vectorTileLayerStyles: { requests: dot },
      },
    );
    const box = document.getElementById('gm-requests-tiles');
    if (box) {
      box.closest('li').hidden = false;
      box.addEventListener('change', () => {
        if (box.checked) this.requestTiles.addTo(this.map);
        else this.map.removeLayer(this.requestTiles);
      });
    }
  }

  /** 楼栋: footprints (or points) from z16, labelled with their number on hover. */
  makeBuildingLayer() {
    return L.geoJSON(null, {
      pane: 'gm-buildings',
      coordsToLatLng: this.coordsToLatLng,
      style: () => ({ ...BUILDING_STYLE, className: 'gm-building' }),
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, {
        ...BUILDING_STYLE, radius: 5, pane: 'gm-buildings', className: 'gm-building',
      }),
      onEachFeature: (feature, layer) => {
        const p = feature.properties || {};
        const name = p.name || `${p.number}${BUILDING_LABELS.number_suffix}`;
        layer.bindTooltip(asText(`${name}（${BUILDING_LABELS.households} ${p.households}）`));
      },
    });
  }

  makeGridLayer(level) {
    // Zones and micro-grids open a popup (with the assignment page's link for roles that
    // may assign); communities stay click-through.
    const withPopup = level !== 'community';
    return L.geoJSON(null, {
      pane: 'gm-grids',
      className: `gm-grid gm-grid-${level}`,
      interactive: withPopup,
      coordsToLatLng: this.coordsToLatLng,
      style: (feature) => this.gridStyle(level, feature),
      onEachFeature: (feature, layer) => {
        layer.bindTooltip(asText(this.gridLabel(level, feature)), {
          permanent: true,
          direction: 'center',
          className: `gm-label gm-label-${level}`,
        });
        if (withPopup) layer.bindPopup(() => this.gridPopup(level, feature));
      },
    });
  }

  /** A zone's or micro-grid's popup: its name and code, and 分配包户 for roles with ASSIGN. */
  gridPopup(level, feature) {
    const p = feature.properties || {};
    const code = String(p.code || feature.id);
    const node = el('div', { class: 'gm-grid-popup', 'data-code': code },
      el('strong', null, p.name || code), el('br'), `${LAYER_LABELS[level]} ${code}`);
    if (this.canAssign && this.config.assignUrl) {
      const href = `${this.config.assignUrl}?${new URLSearchParams({ grid: code })}`;
      node.append(el('br'), el('a', { href, class: 'gm-assign-link' }, '分配包户 / 网格人员'));
    }
    return node;
  }

  /**
   * A grid's label: its name without its parent's name in front ("第1片区第01微网格" inside
   * "第1片区" reads "第01微网格"), since the parent's own label says that already.
   */
  gridLabel(level, feature) {
    const p = feature.properties || {};
    const name = p.name || p.code || String(feature.id);
    const parentLevel = GRID_LEVELS[GRID_LEVELS.indexOf(level) - 1];
    const parentName = parentLevel && this.gridNames[parentLevel].get(p.parent_code);
    if (parentName && name.startsWith(parentName) && name.length > parentName.length) {
      return name.slice(parentName.length).trim();
    }
    return name;
  }

  // The parent's name may arrive after its children (levels load in parallel): relabel.
  relabel() {
    GRID_LEVELS.forEach((level) => {
      this.layers[level].eachLayer((layer) => {
        const tooltip = layer.getTooltip();
        const text = this.gridLabel(level, layer.feature);
        if (tooltip && tooltip.getContent().textContent !== text) tooltip.setContent(asText(text));
      });
    });
  }

  gridStyle(level, feature) {
    const style = Object.assign({}, GRID_STYLES[level]);
    const code = String(feature.id || (feature.properties || {}).code);
    if (this.focusGrid !== null && code === this.focusGrid) {
      Object.assign(style, {
        color: COLOURS.focus, weight: style.weight + 2, fill: true, fillOpacity: 0.12,
      });
    }
    return style;
  }

  makeHouseholdLayer() {
    this.stacks = new Map();
    // The count of each building's households, at its point, under the spread markers.
    this.stackLabels = L.layerGroup([], { pane: 'gm-households' }).addTo(this.map);
    return L.geoJSON(null, {
      pane: 'gm-households',
      coordsToLatLng: this.coordsToLatLng,
      pointToLayer: (feature, latlng) => L.circleMarker(this.spread(feature, latlng), {
        pane: 'gm-households',
        className: `gm-household gm-hh-${cssToken(feature.properties.id)}`,
      }),
      style: (feature) => this.householdStyle(feature),
      onEachFeature: (feature, layer) => {
        layer.bindTooltip(asText(feature.properties.address), { direction: 'top', offset: [0, -6] });
        layer.on('click', () => this.selectHousehold(feature.properties.id));
      },
    });
  }

  /** Where a household is drawn: its point, or spread around its stack's centre. */
  spread(feature, latlng) {
    return this.stacks.get(String(feature.properties.id)) || latlng;
  }

  /**
   * Households of one building lie on one another: below SPREAD_ZOOM each heap is one marker
   * with its count (a click zooms in); from it they are spread around their centre.
   */
  drawHouseholds(layer, features) {
    const zoom = this.map.getZoom();
    const points = features.map((f) => this.map.project(
      this.coordsToLatLng(f.geometry.coordinates), zoom));
    const clustered = zoom < SPREAD_ZOOM;
    const groups = stacksOf(points, clustered ? CLUSTER_RADIUS : STACK_RADIUS);
    const hidden = new Set();
    this.stacks = new Map();
    groups.forEach((g) => g.members.forEach((j, i) => {
      if (clustered) {
        hidden.add(j);
        return;
      }
      const [dx, dy] = stackOffset(i, g.members.length);
      this.stacks.set(String(features[j].properties.id),
        this.map.unproject(L.point(g.cx + dx, g.cy + dy), zoom));
    }));
    this.stackLabels.clearLayers();
    layer.addData({ type: 'FeatureCollection', features: features.filter((_, j) => !hidden.has(j)) });
    document.body.dataset.householdStacks = String(groups.length);
    groups.forEach((g) => {
      const members = g.members.map((j) => features[j]);
      const at = clustered ? L.point(g.x, g.y) : L.point(g.cx, g.cy);
      const latlng = this.map.unproject(at, zoom);
      if (clustered) this.stackLabels.addLayer(this.stackMarker(latlng, members));
      this.stackLabels.addLayer(this.countLabel(latlng, members.length));
    });
  }

  /** One marker for a heap of households: red if any of them is uncovered. */
  stackMarker(latlng, members) {
    const uncovered = members.filter((f) => !f.properties.covered).length;
    const marker = L.circleMarker(latlng, {
      pane: 'gm-households',
      className: 'gm-household gm-household-stack',
      radius: 11,
      fillColor: uncovered ? COLOURS.uncovered : COLOURS.covered,
      fillOpacity: 0.9,
      color: '#ffffff',
      weight: 2,
    });
    const text = `${members.length} 户${uncovered ? `，其中 ${uncovered} 户无人包户` : ''}，点击放大`;
    marker.bindTooltip(asText(text), { direction: 'top', offset: [0, -10] });
    marker.on('click', () => this.map.setView(latlng, SPREAD_ZOOM));
    return marker;
  }

  countLabel(latlng, n) {
    const text = `${n} 户`;
    return L.marker(latlng, {
      pane: 'gm-households',
      interactive: false,
      keyboard: false,
      icon: L.divIcon({ className: 'gm-stack-count', html: '', iconSize: null, iconAnchor: [0, 0] }),
    }).on('add', (event) => {
      const node = event.target.getElement();
      if (node) node.replaceChildren(el('span', {}, text));
    });
  }

  householdStyle(feature) {
    const p = feature.properties;
    const care = Array.isArray(p.care_tags) && p.care_tags.length > 0;
    const selected = this.selectedHousehold !== null && String(p.id) === this.selectedHousehold;
    return {
      radius: selected ? 9 : 6,
      fillColor: p.covered ? COLOURS.covered : COLOURS.uncovered,
      fillOpacity: 0.9,
      color: selected ? '#111' : care ? COLOURS.care : '#fff',
      weight: selected || care ? 3 : 1,
      opacity: 1,
    };
  }

  minZoomOf(key) {
    return this.zooms[key];
  }

  /** The visible area as the API's bbox (lon/lat in the stored CRS, not the display's). */
  bboxParam() {
    const b = this.map.getBounds();
    const corners = [b.getSouthWest(), b.getNorthEast(), b.getNorthWest(), b.getSouthEast()]
      .map((c) => this.fromDisplay(c.lng, c.lat));
    const lngs = corners.map((c) => Math.min(180, Math.max(-180, c[0])));
    const lats = corners.map((c) => Math.min(90, Math.max(-90, c[1])));
    return [Math.min(...lngs), Math.min(...lats), Math.max(...lngs), Math.max(...lats)]
      .map((v) => v.toFixed(6)).join(',');
  }

  /** Follow `next` cursors until the last page or `maxPages`, whichever comes first. */
  async fetchPages(path, params, signal) {
    const features = [];
    let cursor = null;
    let pages = 0;
    do {
      const query = new URLSearchParams(params);
      query.set('limit', String(this.config.pageSize));
      if (cursor !== null) query.set('cursor', cursor);
      const body = await getJson(`${this.config.apiRoot}${path}?${query}`, signal);
      if (!body || !Array.isArray(body.features)) {
        throw new ApiError('服务器返回的数据格式不正确', 200);
      }
      features.push(...body.features);
      cursor = body.next === undefined || body.next === null ? null : String(body.next);
      pages += 1;
    } while (cursor !== null && pages < this.config.maxPages);
    return { features, truncated: cursor !== null };
  }

  refresh() {
    this.saveView();
    LAYER_KEYS.forEach((key) => this.refreshLayer(key));
  }

  async refreshLayer(key) {
    if (this.controllers[key]) this.controllers[key].abort();
    const layer = this.layers[key];
    if (!this.enabled[key] || this.map.getZoom() < this.minZoomOf(key)) {
      delete this.controllers[key];
      layer.clearLayers();
      if (key === 'household') this.stackLabels.clearLayers();
      this.setCount(key, null, false);
      return;
    }
    const controller = new AbortController();
    this.controllers[key] = controller;
    const params = GRID_LEVELS.includes(key) ? { level: key } : {};
    params.bbox = this.bboxParam();
    try {
      const path = LAYER_PATHS[key] || '/grids';
      const result = await this.fetchPages(path, params, controller.signal);
      if (controller.signal.aborted) return;
      layer.clearLayers();
      if (key === 'household') this.drawHouseholds(layer, result.features);
      else layer.addData({ type: 'FeatureCollection', features: result.features });
      this.setCount(key, result.features.length, result.truncated);
      if (GRID_LEVELS.includes(key)) {
        this.gridNames[key] = new Map(result.features.map((f) => [
          (f.properties || {}).code, (f.properties || {}).name]));
        this.relabel();
        this.declutterLabels();
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      this.showError(`${LAYER_LABELS[key]}图层加载失败：${err.message}`);
    } finally {
      if (this.controllers[key] === controller) delete this.controllers[key];
    }
  }

  setCount(key, count, truncated) {
    this.counts[key] = count;
    this.truncated[key] = truncated;
    const node = document.querySelector(`.gm-layer-count[data-layer="${key}"]`);
    if (node) {
      if (!this.enabled[key]) node.textContent = '';
      else if (count === null) node.textContent = `放大到 ${this.minZoomOf(key)} 级显示`;
      else node.textContent = truncated ? `仅显示前 ${count} 个` : `${count} 个`;
    }
    this.updateHint();
  }

  /** The on-map hint: why households (or part of a layer) are not drawn. */
  updateHint() {
    const messages = [];
    const zoom = this.map.getZoom();
    const gridsEnabled = GRID_LEVELS.some((level) => this.enabled[level]);
    if (gridsEnabled && zoom < this.zooms.community) {
      messages.push(`放大到 ${this.zooms.community} 级以上显示网格（当前 ${zoom} 级）`);
    } else if (this.enabled.household && zoom < this.zooms.household) {
      messages.push(`放大到 ${this.zooms.household} 级以上显示住户（当前 ${zoom} 级）`);
    }
    if (LAYER_KEYS.some((key) => this.enabled[key] && this.truncated[key])) {
      messages.push('当前范围内要素过多，只显示了一部分，请放大地图');
    }
    this.dom.hint.textContent = messages.join('；');
    this.dom.hint.hidden = messages.length === 0;
  }

  updateLabelClasses() {
    const zoom = this.map.getZoom();
    const box = this.map.getContainer().classList;
    box.toggle('gm-hide-zone-labels', zoom < this.zooms.zoneLabels);
    box.toggle('gm-hide-micro-labels', zoom < this.zooms.microLabels);
    this.updateHint();
  }

  /**
   * Show a grid's label only where it fits inside its grid on screen and does not cover a
   * label already shown, coarser levels first: real micro-grids are a few buildings wide,
   * and their labels would otherwise pile into an unreadable heap.
   */
  declutterLabels() {
    const labelled = [];
    GRID_LEVELS.forEach((level) => {
      if (!this.enabled[level]) return;
      this.layers[level].eachLayer((layer) => {
        const tooltip = layer.getTooltip();
        const node = tooltip && tooltip.getElement();
        if (node) labelled.push({ layer, node });
      });
    });
    // All writes first, then all reads, then all writes: one layout, not one per label.
    labelled.forEach(({ node }) => node.classList.remove('gm-label-crowded'));
    const map = this.map;
    const boxes = labelled.map(({ layer, node }) => {
      const bounds = layer.getBounds();
      const nw = map.latLngToContainerPoint(bounds.getNorthWest());
      const se = map.latLngToContainerPoint(bounds.getSouthEast());
      return { rect: node.getBoundingClientRect(), width: se.x - nw.x, height: se.y - nw.y };
    });
    const kept = [];
    const crowded = boxes.map(({ rect, width, height }) => {
      if (rect.width === 0) return false; // hidden at this zoom by CSS already
      const overlaps = kept.some((k) => rect.left < k.right && rect.right > k.left
        && rect.top < k.bottom && rect.bottom > k.top);
      if (overlaps || rect.width > width || rect.height > height) return true;
      kept.push(rect);
      return false;
    });
    labelled.forEach(({ node }, i) => node.classList.toggle('gm-label-crowded', crowded[i]));
  }
}
