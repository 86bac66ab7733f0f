/*
 * map/layers.js: the grid map's layers (pages/map.js) — the grid levels and households fetched
 * from the API for the visible area on every move, never inlined in the page, the vector-tile
 * outlines and request dots at city scale, and the labels kept readable.
 */
import { ApiError, getJson } from '../core/api.js';
import { asText, cssToken, el } from '../core/dom.js';
import { COLOURS, GRID_LEVELS, GRID_STYLES, LAYER_KEYS, LAYER_LABELS } from './style.js';

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
    return L.geoJSON(null, {
      pane: 'gm-households',
      coordsToLatLng: this.coordsToLatLng,
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, {
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
      this.setCount(key, null, false);
      return;
    }
    const controller = new AbortController();
    this.controllers[key] = controller;
    const params = key === 'household' ? {} : { level: key };
    params.bbox = this.bboxParam();
    try {
      const path = key === 'household' ? '/households' : '/grids';
      const result = await this.fetchPages(path, params, controller.signal);
      if (controller.signal.aborted) return;
      layer.clearLayers();
      layer.addData({ type: 'FeatureCollection', features: result.features });
      this.setCount(key, result.features.length, result.truncated);
      if (key !== 'household') {
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
