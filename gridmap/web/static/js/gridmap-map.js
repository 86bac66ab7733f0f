/*
 * gridmap-map.js: the grid chief's map page (网格地图).
 *
 * Plain ES2017, no build step: intranet deployments serve this file as it is. The folium page
 * creates the Leaflet map and calls GridmapPage.start(map, config); from then on this script
 * owns the page: it fetches the grid levels (社区/片区/微网格) and the households from the API
 * for the visible area on every move, never from data inlined in the page, runs the search and
 * shows who covers a clicked household (党员分片包户 and the grid staff above it).
 *
 * The element ids it uses are those of templates/map.html and base.html.
 */
(function () {
  'use strict';

  const ROLE_LABELS = {
    chief: '总网格长',
    zone_leader: '网格长',
    grid_worker: '网格员',
    building_leader: '楼栋长',
  };
  const PERSON_KIND_LABELS = {
    party_member: '党员',
    in_service_member: '在职党员',
    grid_worker: '网格员',
    volunteer: '志愿者',
    building_leader: '楼栋长',
  };
  const VISIT_HOW_LABELS = { check_in: '签到', pass_by: '经过' };
  const VISIT_TIME = new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit',
    minute: '2-digit', hour12: false,
  });
  const CARE_TAG_LABELS = {
    elderly_alone: '独居老人',
    disabled: '残疾人',
    low_income: '低保',
    left_behind_child: '留守儿童',
    veteran: '退役军人',
  };
  const LAYER_LABELS = {
    community: '社区',
    zone: '片区网格',
    micro: '微网格',
    household: '住户',
  };
  const GRID_LEVELS = ['community', 'zone', 'micro'];
  // Finest level first: that is the order a household's coverage is read in.
  const COVERAGE_LEVELS = ['micro', 'zone', 'community'];
  const LAYER_KEYS = GRID_LEVELS.concat(['household']);

  const COLOURS = {
    community: '#1f4e9c',
    zone: '#e07b00',
    micro: '#3c8d7a',
    covered: '#2e9d4f',
    uncovered: '#d7301f',
    care: '#7b2cbf',
    focus: '#c8102e',
  };
  const GRID_STYLES = {
    community: { color: COLOURS.community, weight: 3, opacity: 0.9, fill: false },
    zone: { color: COLOURS.zone, weight: 2, opacity: 0.9, dashArray: '6 4', fill: false },
    micro: { color: COLOURS.micro, weight: 1, opacity: 0.8, fill: true, fillOpacity: 0.04 },
  };
  const MOVE_DEBOUNCE_MS = 250;
  const START_COMMUNITIES = 200;

  /*
   * GCJ-02 (国测局坐标, used by AMap/Tencent tiles). The forward transform is the published
   * obfuscation formula on the Krasovsky ellipsoid; it has no closed inverse, so the inverse is
   * a fixed-point iteration (converges to < 1e-9 degree in a few steps).
   */
  const gcj02 = (function () {
    const A = 6378245.0;
    const EE = 0.00669342162296594323;
    const PI = Math.PI;

    function outOfChina(lng, lat) {
      return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271;
    }

    function offsetLat(x, y) {
      let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
      r += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0;
      r += ((20.0 * Math.sin(y * PI) + 40.0 * Math.sin((y / 3.0) * PI)) * 2.0) / 3.0;
      r += ((160.0 * Math.sin((y / 12.0) * PI) + 320.0 * Math.sin((y * PI) / 30.0)) * 2.0) / 3.0;
      return r;
    }

    function offsetLng(x, y) {
      let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
      r += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0;
      r += ((20.0 * Math.sin(x * PI) + 40.0 * Math.sin((x / 3.0) * PI)) * 2.0) / 3.0;
      r += ((150.0 * Math.sin((x / 12.0) * PI) + 300.0 * Math.sin((x / 30.0) * PI)) * 2.0) / 3.0;
      return r;
    }

    /** WGS 84 (or CGCS2000) lon/lat → GCJ-02 lon/lat. */
    function fromWgs84(lng, lat) {
      if (outOfChina(lng, lat)) return [lng, lat];
      let dLat = offsetLat(lng - 105.0, lat - 35.0);
      let dLng = offsetLng(lng - 105.0, lat - 35.0);
      const radLat = (lat / 180.0) * PI;
      let magic = Math.sin(radLat);
      magic = 1 - EE * magic * magic;
      const sqrtMagic = Math.sqrt(magic);
      dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * PI);
      dLng = (dLng * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * PI);
      return [lng + dLng, lat + dLat];
    }

    /** GCJ-02 lon/lat → WGS 84 lon/lat, by iterating the forward transform. */
    function toWgs84(lng, lat) {
      let wLng = lng;
      let wLat = lat;
      for (let i = 0; i < 20; i += 1) {
        const g = fromWgs84(wLng, wLat);
        const dLng = lng - g[0];
        const dLat = lat - g[1];
        wLng += dLng;
        wLat += dLat;
        if (Math.abs(dLng) < 1e-10 && Math.abs(dLat) < 1e-10) break;
      }
      return [wLng, wLat];
    }

    return { fromWgs84, toWgs84, outOfChina };
  })();

  /** An API failure with the message to show (problem+json title and detail). */
  class ApiError extends Error {
    constructor(message, status, code) {
      super(message);
      this.name = 'ApiError';
      this.status = status;
      this.code = code || null;
    }
  }

  /** The CSRF token the page was rendered with (base.html), sent back on every POST. */
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  /**
   * Fetch JSON from the API; a failure throws an ApiError with the problem's title and detail.
   * The session cookie authenticates; a POST carries the CSRF token as X-CSRFToken. `headers`
   * adds request headers (the assignment page's If-Match).
   */
  async function requestJson(url, { signal, method = 'GET', body, headers: extra } = {}) {
    const headers = Object.assign(
      { Accept: 'application/geo+json, application/json, application/problem+json' }, extra);
    const init = { signal, method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (method !== 'GET') headers['X-CSRFToken'] = csrfToken();
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new ApiError('无法连接服务器，请检查网络', 0);
    }
    let answer = null;
    if ((response.headers.get('Content-Type') || '').includes('json')) {
      try {
        answer = await response.json();
      } catch (err) {
        if (err.name === 'AbortError') throw err;
      }
    }
    if (response.status === 401) {
      throw new ApiError('登录已失效，请刷新页面重新登录（HTTP 401）', 401, 'unauthorized');
    }
    if (!response.ok) {
      const title = (answer && answer.title) || response.statusText || '请求失败';
      const detail = answer && answer.detail ? `：${answer.detail}` : '';
      throw new ApiError(`${title}${detail}（HTTP ${response.status}）`, response.status,
        answer && answer.code);
    }
    if (answer === null) throw new ApiError('服务器返回的不是 JSON 数据', response.status);
    return answer;
  }

  function getJson(url, signal) {
    return requestJson(url, { signal });
  }

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  /** Create an element; children are nodes or strings (always inserted as text, never HTML). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (value !== null && value !== undefined) node.setAttribute(key, value);
    });
    children.flat().forEach((child) => {
      if (child === null || child === undefined || child === false) return;
      node.append(child instanceof Node ? child : String(child));
    });
    return node;
  }

  // "3" → "3号楼" (and a masked "*" → "*号楼"), while "3号楼" or "A座" stay as they are.
  function suffixed(value, suffix) {
    if (value === null || value === undefined || value === '') return null;
    return /^[\d*]+$/.test(String(value)) ? `${value}${suffix}` : String(value);
  }

  // Household ids go into CSS class names (so tests and styles can find a marker).
  function cssToken(value) {
    return String(value).replace(/[^A-Za-z0-9_-]/g, '_');
  }

  /** Show ``message`` in the page's alert banner (base.html), closable. */
  function banner(message) {
    const node = document.getElementById('gm-banner');
    node.querySelector('.gm-banner-text').textContent = message;
    node.hidden = false;
    node.querySelector('.gm-banner-close').onclick = () => { node.hidden = true; };
  }

  /**
   * A random Idempotency-Key. crypto.getRandomValues works on plain-http intranet hosts too,
   * where crypto.randomUUID (secure contexts only) is missing.
   */
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  }

  class GridmapPage {
    constructor(map, config) {
      this.map = map;
      this.config = config;
      this.zooms = config.zooms;
      // Overlays are stored in CGCS2000 ≈ WGS 84; a GCJ-02 basemap needs them shifted to match,
      // and the map's view shifted back before the API is asked for it.
      const shifted = config.basemapCrs === 'gcj02';
      this.toDisplay = shifted ? gcj02.fromWgs84 : (lng, lat) => [lng, lat];
      this.fromDisplay = shifted ? gcj02.toWgs84 : (lng, lat) => [lng, lat];
      this.coordsToLatLng = (coords) => {
        const p = this.toDisplay(coords[0], coords[1]);
        return L.latLng(p[1], p[0]);
      };
      this.enabled = { community: true, zone: true, micro: true, household: true };
      this.counts = {};
      this.truncated = {};
      this.controllers = {};
      this.coverageController = null;
      this.selectedHousehold = null;
      this.focusGrid = null;
      // Whether this role may reveal plain personal data (asked once: GET /auth/me).
      this.canReveal = false;
      this.canAssign = false;
      this.ready = this.loadCapabilities();
      this.dom = {
        banner: document.getElementById('gm-banner'),
        bannerText: document.querySelector('#gm-banner .gm-banner-text'),
        hint: document.getElementById('gm-map-hint'),
        household: document.getElementById('gm-household'),
        search: document.getElementById('gm-search'),
        searchInput: document.getElementById('gm-search-input'),
        results: document.getElementById('gm-search-results'),
      };

      map.setMinZoom(config.minZoom);
      map.setMaxZoom(config.maxZoom);
      // The default prefix links to leafletjs.com, a host an intranet cannot reach.
      map.attributionControl.setPrefix('Leaflet');
      L.control.scale({ imperial: false }).addTo(map);
      // Separate panes keep households above every grid outline whatever order layers reload in.
      map.createPane('gm-grids').style.zIndex = 410;
      map.createPane('gm-households').style.zIndex = 420;

      this.layers = {};
      this.gridNames = {};
      GRID_LEVELS.forEach((level) => {
        this.gridNames[level] = new Map();
        this.layers[level] = this.makeGridLayer(level).addTo(map);
      });
      this.layers.household = this.makeHouseholdLayer().addTo(map);
      this.makeTileLayers();

      this.bindControls();
      map.on('zoomend', () => {
        this.updateLabelClasses();
        this.declutterLabels();
      });
      map.on('moveend', debounce(() => this.refresh(), MOVE_DEBOUNCE_MS));
      // A link with another view pasted into the address bar of this page changes only the hash.
      window.addEventListener('hashchange', () => this.restoreView());
      this.updateLabelClasses();
      this.start();
    }

    // ---- layers ------------------------------------------------------------------------------

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
          layer.bindTooltip(this.gridLabel(level, feature), {
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
          if (tooltip && tooltip.getContent() !== text) tooltip.setContent(text);
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
          layer.bindTooltip(feature.properties.address || '', { direction: 'top', offset: [0, -6] });
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

    // ---- start-up and the view in the URL ----------------------------------------------------

    async loadCapabilities() {
      try {
        const me = await getJson(`${this.config.apiRoot}/auth/me`);
        this.canReveal = Array.isArray(me.capabilities) && me.capabilities.includes('reveal');
        this.canAssign = Array.isArray(me.capabilities) && me.capabilities.includes('assign');
      } catch (err) {
        this.showError(`无法读取当前用户的权限：${err.message}`);
      }
    }

    async start() {
      if (this.restoreView()) return;
      // No view in the URL: open on the grids the caller may see, coarsest level first (a zone
      // leader's or a grid worker's scope holds no community). A first page is enough to find
      // where the data is, and a small one keeps a city-wide first request light.
      try {
        const limit = String(Math.min(this.config.pageSize, START_COMMUNITIES));
        for (const level of GRID_LEVELS) {
          const query = new URLSearchParams({ level, limit });
          const body = await getJson(`${this.config.apiRoot}/grids?${query}`);
          const features = Array.isArray(body.features) ? body.features : [];
          if (features.length > 0) {
            const bounds = L.geoJSON({ type: 'FeatureCollection', features },
              { coordsToLatLng: this.coordsToLatLng }).getBounds();
            this.map.fitBounds(bounds);
            return;
          }
        }
        this.dom.hint.textContent = '暂无网格数据';
        this.dom.hint.hidden = false;
      } catch (err) {
        this.showError(`网格数据加载失败：${err.message}`);
      }
    }

    // The view goes in the URL's hash (#map=zoom/lat/lon, WGS 84) so a link shows the same place.
    saveView() {
      const c = this.map.getCenter();
      const p = this.fromDisplay(c.lng, c.lat);
      const hash = `#map=${this.map.getZoom()}/${p[1].toFixed(5)}/${p[0].toFixed(5)}`;
      if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
    }

    restoreView() {
      const m = /^#map=(\d+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(window.location.hash);
      if (!m) return false;
      const p = this.toDisplay(Number(m[3]), Number(m[2]));
      this.map.setView([p[1], p[0]], Number(m[1]));
      return true;
    }

    // ---- sidebar controls --------------------------------------------------------------------

    bindControls() {
      document.querySelectorAll('input[name="layer"]').forEach((box) => {
        box.addEventListener('change', () => {
          this.enabled[box.value] = box.checked;
          const layer = this.layers[box.value];
          if (box.checked) this.map.addLayer(layer);
          else this.map.removeLayer(layer);
          this.refreshLayer(box.value);
        });
      });
      this.dom.search.addEventListener('submit', (event) => {
        event.preventDefault();
        const q = this.dom.searchInput.value.trim();
        if (q) this.search(q);
      });
      this.dom.banner.querySelector('.gm-banner-close')
        .addEventListener('click', () => this.hideError());
    }

    showError(message) {
      this.dom.bannerText.textContent = message;
      this.dom.banner.hidden = false;
    }

    hideError() {
      this.dom.banner.hidden = true;
      this.dom.bannerText.textContent = '';
    }

    // ---- search ------------------------------------------------------------------------------

    async search(q) {
      const list = this.dom.results;
      list.replaceChildren(el('li', { class: 'gm-muted' }, '搜索中…'));
      let results;
      try {
        const body = await getJson(
          `${this.config.apiRoot}/search?${new URLSearchParams({ q })}`);
        results = Array.isArray(body.results) ? body.results : [];
      } catch (err) {
        list.replaceChildren();
        this.showError(`搜索失败：${err.message}`);
        return;
      }
      if (results.length === 0) {
        list.replaceChildren(el('li', { class: 'gm-muted' }, `未找到“${q}”相关的网格或住户`));
        return;
      }
      list.replaceChildren(...results.map((result) => {
        const button = el('button', { type: 'button' },
          el('span', { class: 'gm-search-kind' }, result.type === 'household' ? '住户' : '网格'),
          result.label || String(result.id));
        button.addEventListener('click', () => this.goTo(result));
        return el('li', null, button);
      }));
      this.goTo(results[0]);
    }

    /** Fly to a search result; a grid is outlined, a household opens its coverage panel. */
    goTo(result) {
      const [minLng, minLat, maxLng, maxLat] = result.bbox;
      const sw = this.toDisplay(minLng, minLat);
      const ne = this.toDisplay(maxLng, maxLat);
      const bounds = L.latLngBounds([sw[1], sw[0]], [ne[1], ne[0]]);
      if (result.type === 'household') {
        this.selectHousehold(result.id);
        this.map.flyTo(bounds.getCenter(), Math.max(this.zooms.household + 2, this.map.getZoom()));
        return;
      }
      this.focusGrid = String(result.id);
      GRID_LEVELS.forEach((level) => this.layers[level].resetStyle());
      this.map.flyToBounds(bounds, { maxZoom: 18, padding: [24, 24] });
    }

    // ---- household coverage (党员分片包户) ------------------------------------------------------

    async selectHousehold(id) {
      this.selectedHousehold = String(id);
      this.layers.household.resetStyle();
      const panel = this.dom.household;
      panel.dataset.householdId = this.selectedHousehold;
      panel.dataset.state = 'loading';
      panel.replaceChildren(el('p', { class: 'gm-muted' }, '加载中…'));
      if (this.coverageController) this.coverageController.abort();
      const controller = new AbortController();
      this.coverageController = controller;
      try {
        const body = await getJson(
          `${this.config.apiRoot}/households/${encodeURIComponent(id)}/coverage`, controller.signal);
        await this.ready;
        if (controller.signal.aborted) return;
        panel.replaceChildren(...this.coverageNodes(body), this.visitsNode(id, controller.signal));
        panel.dataset.state = 'loaded';
        panel.scrollIntoView({ block: 'nearest' });
      } catch (err) {
        if (err.name === 'AbortError') return;
        panel.replaceChildren(el('p', { class: 'gm-warning' }, '包户情况加载失败'));
        panel.dataset.state = 'error';
        this.showError(`住户包户情况加载失败：${err.message}`);
      }
    }

    coverageNodes(body) {
      const h = body.household || {};
      const tags = Array.isArray(h.care_tags) ? h.care_tags : [];
      const members = Array.isArray(body.members) ? body.members : [];
      const place = [suffixed(h.building, '号楼'), suffixed(h.unit, '单元'), suffixed(h.room, '室')]
        .filter(Boolean).join(' ');
      return [
        el('p', { class: 'gm-address' }, h.address
          ? this.masked('household', h.id, 'address', h.address) : `住户 ${h.id}`),
        el('dl', null,
          place ? [el('dt', null, '楼栋房号'), el('dd', null, place)] : null,
          el('dt', null, '居住人数'), el('dd', null, h.residents === undefined ? '—' : h.residents),
          el('dt', null, '关爱对象'),
          el('dd', null, tags.length
            ? tags.map((t) => el('span', { class: 'gm-tag' }, CARE_TAG_LABELS[t] || t)) : '无'),
          el('dt', null, '包户状态'),
          el('dd', null, h.covered
            ? el('span', { class: 'gm-status-covered' }, '已包户')
            : el('span', { class: 'gm-status-uncovered' }, '未包户'))),
        el('h3', null, `包户党员（${members.length}）`),
        members.length
          ? el('ul', { class: 'gm-members' }, members.map((m) => el('li', null,
            this.masked('person', m.id, 'name', m.name),
            PERSON_KIND_LABELS[m.kind] ? `（${PERSON_KIND_LABELS[m.kind]}）` : '',
            m.phone
              ? el('span', { class: 'gm-phone' }, this.masked('person', m.id, 'phone', m.phone))
              : null)))
          : el('p', { class: 'gm-warning' }, '暂无党员包户，需补充分片包户'),
        el('h3', null, '网格人员'),
        el('ul', { class: 'gm-staff' }, COVERAGE_LEVELS.map((level) => this.gridNode(level,
          (body.grids || {})[level]))),
      ];
    }

    /**
     * 巡查走访: the household's last patrols and visits (who, when, 签到 or 经过), filled in
     * when they arrive, so that the coverage above shows at once.
     */
    visitsNode(id, signal) {
      const list = el('ul', { class: 'gm-visits' }, el('li', { class: 'gm-muted' }, '加载中…'));
      const section = el('div', { class: 'gm-visits-section', 'data-state': 'loading' },
        el('h3', null, '最近巡查走访'), list);
      getJson(`${this.config.apiRoot}/households/${encodeURIComponent(id)}/visits?limit=5`, signal)
        .then((body) => {
          const visits = Array.isArray(body.visits) ? body.visits : [];
          section.firstChild.textContent = `最近巡查走访（${visits.length}）`;
          list.replaceChildren(...(visits.length ? visits.map((v) => el('li', null,
            el('span', { class: `gm-visit-how gm-visit-${v.how}` }, VISIT_HOW_LABELS[v.how] || v.how),
            ` ${VISIT_TIME.format(new Date(v.at))} `,
            this.masked('person', v.person && v.person.id, 'name', v.person && v.person.name),
            v.work_list ? el('span', { class: 'gm-muted' }, ` ${v.work_list.name}`) : null))
            : [el('li', { class: 'gm-warning' }, '暂无巡查走访记录')]));
          section.dataset.state = 'loaded';
        }, (err) => {
          if (err.name === 'AbortError') return;
          list.replaceChildren(el('li', { class: 'gm-warning' }, '巡查走访记录加载失败'));
          section.dataset.state = 'error';
        });
      return section;
    }

    gridNode(level, grid) {
      const label = LAYER_LABELS[level];
      if (!grid) return el('li', { class: 'gm-warning' }, `${label}：未落入网格`);
      const staff = Array.isArray(grid.staff) ? grid.staff : [];
      return el('li', { 'data-level': level },
        `${label}：${grid.name || ''}（${grid.code}）`,
        staff.length
          ? el('ul', null, staff.map((s) => el('li', null,
            `${ROLE_LABELS[s.role] || s.role}：`,
            this.masked('person', s.person_id, 'name', s.name),
            s.phone
              ? el('span', { class: 'gm-phone' },
                this.masked('person', s.person_id, 'phone', s.phone))
              : null)))
          : el('ul', null, el('li', { class: 'gm-warning' }, '暂无人员（格中无人）')));
    }

    // ---- personal data: masked by the API, revealed one value at a time (audited) -----------

    /**
     * A masked value as the API sent it; for roles that may reveal, with a "显示" button that
     * asks the server for the plain value (each click is one audit row there).
     */
    masked(object, id, field, text) {
      const value = el('span', { class: 'gm-masked-text' }, text);
      const node = el('span',
        { class: 'gm-masked', 'data-object': object, 'data-id': id, 'data-field': field }, value);
      if (!this.canReveal || id === null || id === undefined || !text) return node;
      const button = el('button',
        { type: 'button', class: 'gm-reveal', title: '查看明文（将记入审计日志）' }, '显示');
      button.addEventListener('click', () => this.reveal(node, value, button));
      node.append(button);
      return node;
    }

    async reveal(node, value, button) {
      button.disabled = true;
      const { object, id, field } = node.dataset;
      try {
        const body = await requestJson(`${this.config.apiRoot}/reveal`, {
          method: 'POST', body: { object, id: Number(id), field },
        });
        value.textContent = body.value === null || body.value === undefined ? '—' : body.value;
        node.classList.add('gm-revealed');
        button.remove();
      } catch (err) {
        button.disabled = false;
        this.showError(`显示失败：${err.message}`);
      }
    }
  }

  window.GridmapPage = {
    /** Attach the page to the folium-created Leaflet map; returns the page (for debugging). */
    start(map, config) {
      return new GridmapPage(map, config);
    },
    gcj02,
    // Shared with the other page scripts (assign, requests, review, patrol), loaded after it.
    ApiError,
    requestJson,
    el,
    cssToken,
    banner,
    newKey,
  };
})();
