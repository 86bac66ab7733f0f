/*
 * pages/review.js: the monthly review of where requests concentrate (一月一研判).
 *
 * An ES module, no build step; it imports the shared core (API client, element builder, map
 * projection) from ../core/. start(map, config) owns the page:
 *   - the filters (period kind and slider, category, state, overdue, grid subtree) make one
 *     query string that every layer and panel is fetched with;
 *   - the heat layer is GET /review/heat: at most one weighted point per micro-grid, drawn
 *     from zoom 15 and scaled to the micro-grids in view;
 *   - every layer has its legend; the choropleth's classes are natural breaks
 *     (review/charts.js) with round, non-overlapping bounds;
 *   - the choropleth colours the grids of the vector tiles (GET /tiles/grids/…) by the values
 *     of GET /review/choropleth, so polygons never travel as GeoJSON;
 *   - hot spots are GET /review/hotspots: Gi* bins at 90/95/99 % and the 未诉先办 candidates;
 *   - a click on the map finds the grid there (GET /locate) and shows its figures
 *     (GET /review/grids/{code}): top categories, overdue requests, 三率 and the trend.
 * Text from the API is always inserted as text, never as HTML.
 *
 * The element ids it uses are those of templates/review.html.
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { asText, el, percent } from '../core/dom.js';
import { downloadFile, JobProgress, runJob } from '../core/jobs.js';
import {
  HOT_SPOT_BIN_LABELS as BIN_LABELS, HOT_SPOT_TREND_LABELS as TREND_LABELS, LEVEL_LABELS,
  OVERDUE_LABEL, STATE_LABELS,
} from '../core/labels.js';
import { prepareMap, projection } from '../core/map.js';
import { classify, classLabel, colourOf, RAMP, sparkline } from '../review/charts.js';

const BIN_COLOURS = {
  3: '#b2182b', 2: '#ef8a62', 1: '#fddbc7', '-1': '#d1e5f0', '-2': '#67a9cf', '-3': '#2166ac',
};
const PLAY_MS = 1500;
// Below this zoom (a street or the whole district) the heat of thousands of micro-grids melts
// into one red blob: the choropleth says the same thing legibly, so the heat waits.
const HEAT_MIN_ZOOM = 15;
// maxZoom 12: leaflet.heat scales intensities up below its maxZoom, which would saturate a
// city-wide view; the weights are already per grid.
const HEAT_OPTIONS = { radius: 18, blur: 15, minOpacity: 0.2, maxZoom: 12 };
// leaflet.heat's default gradient, drawn in the heat legend.
const HEAT_GRADIENT = 'linear-gradient(to right, blue 0%, cyan 33%, lime 50%, yellow 67%, red 100%)';

/** A micro-grid named with its community ("东华门社区 1-001"), as people know it. */
function cellName(cell) {
  return cell.community && !cell.name.startsWith(cell.community)
    ? `${cell.community} ${cell.name}` : cell.name;
}

class GridmapReview {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.categoryNames = Object.fromEntries(config.categories.map((c) => [c.code, c.name]));
    const { toDisplay, fromDisplay } = projection(config);
    this.toDisplay = toDisplay;
    this.fromDisplay = fromDisplay;
    this.controllers = {};
    this.values = {};
    this.scheme = { decimals: 0, classes: [] };
    this.heatPoints = [];
    this.playing = null;
    this.dom = {};
    [
      'form', 'kind', 'slider', 'period-label', 'play', 'category', 'state', 'overdue', 'grid',
      'level', 'measure', 'show-heat', 'show-choropleth', 'show-hotspots', 'total', 'overdue-count',
      'categories', 'hotspots', 'candidates', 'detail', 'legend', 'status', 'report-html',
      'report-xlsx', 'report-job', 'report-progress', 'report-status', 'legend-heat',
      'legend-choropleth', 'legend-hotspots', 'heat-note', 'heat-ramp', 'legend-spots',
    ].forEach((id) => { this.dom[id] = document.getElementById(`gm-review-${id}`); });

    prepareMap(map, config);
    map.createPane('gm-review-grids').style.zIndex = 405;
    map.createPane('gm-review-heat').style.zIndex = 415;
    map.createPane('gm-review-spots').style.zIndex = 425;

    this.heat = null;
    this.heatMax = 1;
    this.spots = L.layerGroup([], { pane: 'gm-review-spots' });
    this.grids = this.makeGridTiles();
    this.bindControls();
    this.fillPeriods();
    map.on('click', (event) => this.pick(event.latlng));
    map.on('zoomend moveend', () => this.applyVisibility());
    this.showSpotLegend();
    if (config.bounds) {
      const [[s, w], [n, e]] = config.bounds;
      const sw = this.toDisplay(w, s);
      const ne = this.toDisplay(e, n);
      map.fitBounds([[sw[1], sw[0]], [ne[1], ne[0]]]);
    }
    this.refresh();
  }

  // ---- filters -----------------------------------------------------------------------------

  bindControls() {
    const { dom } = this;
    dom.form.addEventListener('submit', (event) => { event.preventDefault(); this.refresh(); });
    if (dom['report-xlsx']) {
      this.reportJob = new JobProgress({
        section: dom['report-job'], bar: dom['report-progress'], status: dom['report-status'],
      });
      dom['report-xlsx'].addEventListener('click', () => this.downloadWorkbook());
    }
    dom.kind.addEventListener('change', () => { this.fillPeriods(); this.refresh(); });
    dom.slider.addEventListener('input', () => this.showPeriodLabel());
    dom.slider.addEventListener('change', () => this.refresh());
    ['category', 'state', 'overdue', 'grid', 'level', 'measure'].forEach((id) => {
      dom[id].addEventListener('change', () => this.refresh());
    });
    ['show-heat', 'show-choropleth', 'show-hotspots'].forEach((id) => {
      dom[id].addEventListener('change', () => this.applyVisibility());
    });
    dom.play.addEventListener('click', () => this.togglePlay());
  }

  periods() {
    return this.config.periods[this.dom.kind.value];
  }

  fillPeriods() {
    const periods = this.periods();
    const wanted = this.dom.kind.value === 'M' ? this.config.defaultPeriod : periods[periods.length - 1];
    const at = Math.max(0, periods.indexOf(wanted));
    this.dom.slider.max = String(periods.length - 1);
    this.dom.slider.value = String(at === -1 ? periods.length - 1 : at);
    this.showPeriodLabel();
  }

  period() {
    return this.periods()[Number(this.dom.slider.value)];
  }

  showPeriodLabel() {
    const period = this.period();
    this.dom['period-label'].textContent = period.includes('W')
      ? `${period.slice(0, 4)}年第${Number(period.slice(6))}周`
      : `${period.slice(0, 4)}年${Number(period.slice(5))}月`;
  }

  togglePlay() {
    if (this.playing) {
      clearInterval(this.playing);
      this.playing = null;
      this.dom.play.textContent = '▶ 播放';
      return;
    }
    this.dom.play.textContent = '■ 停止';
    this.playing = setInterval(() => {
      const next = (Number(this.dom.slider.value) + 1) % this.periods().length;
      this.dom.slider.value = String(next);
      this.showPeriodLabel();
      this.refresh();
    }, PLAY_MS);
  }

  /** The filters as a query string (what every layer and panel is fetched with). */
  query(extra) {
    const { dom } = this;
    const params = new URLSearchParams({ period: this.period() });
    if (dom.category.value) params.set('category', dom.category.value);
    if (dom.state.value) params.set('state', dom.state.value);
    if (dom.overdue.checked) params.set('overdue', 'true');
    if (dom.grid.value) params.set('grid', dom.grid.value);
    Object.entries(extra || {}).forEach(([k, v]) => params.set(k, v));
    return params.toString();
  }

  async fetchLayer(name, path, extra) {
    if (this.controllers[name]) this.controllers[name].abort();
    const controller = new AbortController();
    this.controllers[name] = controller;
    return requestJson(`${this.config.apiRoot}/review/${path}?${this.query(extra)}`, {
      signal: controller.signal,
    });
  }

  async refresh() {
    const { dom } = this;
    document.body.dataset.reviewState = 'loading';
    dom.status.textContent = '加载中…';
    this.updateReportLinks();
    const level = dom.level.value;
    try {
      const [summary, heat, choropleth, spots] = await Promise.all([
        this.fetchLayer('summary', 'summary'),
        this.fetchLayer('heat', 'heat'),
        this.fetchLayer('choropleth', 'choropleth', { level, measure: dom.measure.value }),
        this.fetchLayer('hotspots', 'hotspots'),
      ]);
      this.showSummary(summary);
      this.showHeat(heat);
      this.showChoropleth(choropleth);
      this.showHotSpots(spots);
      this.applyVisibility();
      dom.status.textContent = '';
      document.body.dataset.reviewState = 'ready';
      document.body.dataset.reviewQuery = this.query();
    } catch (err) {
      if (err.name === 'AbortError') return;
      dom.status.textContent = '';
      document.body.dataset.reviewState = 'error';
      this.showError(`加载失败：${err.message}`);
    }
  }

  /** The month and area the report would cover: the filters' month and grid. */
  reportArgs() {
    const args = { month: this.period() };
    if (this.dom.grid.value) args.grid = this.dom.grid.value;
    return args;
  }

  updateReportLinks() {
    const { dom } = this;
    const monthly = dom.kind.value === 'M';
    if (dom['report-xlsx']) dom['report-xlsx'].hidden = !monthly;
    const link = dom['report-html'];
    if (!link) return;
    link.hidden = !monthly;
    link.href = `${link.dataset.base}?${new URLSearchParams(this.reportArgs())}`;
  }

  /** The month's workbook: built by a background job, followed with its progress, saved. */
  async downloadWorkbook() {
    const button = this.dom['report-xlsx'];
    button.disabled = true;
    const { apiRoot } = this.config;
    try {
      const done = await runJob(apiRoot, `${apiRoot}/review/report-jobs`, this.reportArgs(),
        (job) => this.reportJob.show(job));
      this.reportJob.finish(done, `已完成：${done.state === 'succeeded' ? done.result.file.name : ''}`);
      if (done.state === 'succeeded') downloadFile(apiRoot, done);
    } catch (err) {
      this.dom['report-status'].textContent = '';
      this.showError(`报告生成失败：${err.message}`);
    } finally {
      button.disabled = false;
    }
  }

  showError(message) {
    banner(message);
  }

  // ---- layers ------------------------------------------------------------------------------

  makeGridTiles() {
    const style = (properties) => {
      const fill = colourOf(this.values[properties.code], this.scheme);
      return {
        weight: 0.6,
        color: '#6b7280',
        opacity: 0.6,
        fill: true,
        fillColor: fill || '#ffffff',
        fillOpacity: fill ? 0.5 : 0.05,
      };
    };
    return L.vectorGrid.protobuf(this.tileUrl(), {
      pane: 'gm-review-grids',
      interactive: false,
      rendererFactory: L.canvas.tile,
      maxNativeZoom: 18,
      vectorTileLayerStyles: { grids: style },
      fetchOptions: { credentials: 'same-origin' },
    });
  }

  tileUrl() {
    return `${this.config.apiRoot}/tiles/grids/{z}/{x}/{y}.mvt?level=${this.dom.level.value}`;
  }

  showChoropleth(body) {
    this.values = body.values;
    this.scheme = classify(Object.values(body.values), body.measure === 'count' ? 0 : 1);
    this.grids.setUrl(this.tileUrl(), true);
    this.grids.redraw();
    this.showLegend(body);
  }

  /** The choropleth's classes: natural breaks, each labelled with the values it holds. */
  showLegend(body) {
    const { legend } = this.dom;
    const unit = body.measure === 'count' ? '件' : '件/百户';
    const swatch = (colour) => el('span', { class: 'gm-swatch', style: `background:${colour}` });
    legend.replaceChildren(
      el('li', {}, swatch('#ffffff'), '无诉求'),
      ...this.scheme.classes.map((c, i) => el('li', {},
        swatch(RAMP[Math.min(i, RAMP.length - 1)]),
        `${classLabel(c, this.scheme.decimals)} ${unit}`)),
    );
    legend.dataset.level = body.level;
    legend.dataset.grids = String(Object.keys(body.values).length);
    legend.dataset.classes = JSON.stringify(this.scheme.classes);
  }

  showHeat(body) {
    this.heatPoints = body.points.map(([lat, lng, n]) => {
      const p = this.toDisplay(lng, lat);
      return [p[1], p[0], n];
    });
    this.drawHeat(true);
    document.body.dataset.heatPoints = String(this.heatPoints.length);
  }

  /**
   * Draw the heat when it is shown, scaled to the grids in view: its top is the 95th
   * percentile of their counts. A new layer each time the points or the top change:
   * leaflet.heat 0.2 redraws on the next frame after setLatLngs/setOptions and fails if the
   * layer has left the map by then (zooming out), so the layer on the map is never changed.
   */
  drawHeat(fresh = false) {
    const { map } = this;
    const bounds = map.getBounds();
    const weights = this.heatPoints.filter((p) => bounds.contains([p[0], p[1]]))
      .map((p) => p[2]).sort((a, b) => a - b);
    const top = Math.max(1, weights.length ? weights[Math.floor(0.95 * (weights.length - 1))] : 1);
    const drawn = this.heatDrawn();
    if (this.heat && (!drawn || fresh || top !== this.heatMax)) {
      map.removeLayer(this.heat);
      this.heat = null;
    }
    this.heatMax = top;
    if (drawn && !this.heat) {
      this.heat = L.heatLayer(this.heatPoints, { ...HEAT_OPTIONS, max: top }).addTo(map);
    }
    document.body.dataset.heatShown = String(drawn);
    this.showHeatLegend();
  }

  heatDrawn() {
    return this.dom['show-heat'].checked && this.map.getZoom() >= HEAT_MIN_ZOOM;
  }

  showHeatLegend() {
    const { dom } = this;
    dom['heat-ramp'].style.background = HEAT_GRADIENT;
    dom['heat-ramp'].dataset.max = String(this.heatMax);
    dom['heat-note'].textContent = this.heatDrawn()
      ? `按视野内微网格的诉求数着色：从少到 ${this.heatMax} 件及以上（红）`
      : `放大到 ${HEAT_MIN_ZOOM} 级及以上显示热力图（当前 ${this.map.getZoom()} 级，以分级设色代替）`;
  }

  /** The Gi* symbols: six confidence bins and the ringed 未诉先办 candidates. */
  showSpotLegend() {
    const dot = (style) => el('span', { class: 'gm-spot-swatch', style });
    this.dom['legend-spots'].replaceChildren(
      ...[3, 2, 1, -1, -2, -3].map((bin) => el('li', {},
        dot(`background:${BIN_COLOURS[bin]};border-color:#ffffff`), BIN_LABELS[bin])),
      el('li', {}, dot('background:#9ca3af;border:2px solid #111827'), '未诉先办候选（黑圈）'),
    );
  }

  showHotSpots(body) {
    const { dom } = this;
    this.spots.clearLayers();
    const candidates = new Set(body.candidates);
    body.cells.forEach((cell) => {
      if (!cell.bin && !candidates.has(cell.code)) return;
      const p = this.toDisplay(cell.lon, cell.lat);
      const marker = L.circleMarker([p[1], p[0]], {
        pane: 'gm-review-spots',
        radius: candidates.has(cell.code) ? 6 : 4,
        color: candidates.has(cell.code) ? '#111827' : '#ffffff',
        weight: candidates.has(cell.code) ? 2 : 1,
        fillColor: BIN_COLOURS[cell.bin] || '#9ca3af',
        fillOpacity: 0.9,
        className: `gm-spot gm-spot-${cell.bin}`,
      });
      marker.bindTooltip(asText(`${cellName(cell)}：${BIN_LABELS[cell.bin] || BIN_LABELS[0]}，z=${cell.z}，${TREND_LABELS[cell.trend] || ''}`));
      marker.on('click', (event) => {
        L.DomEvent.stopPropagation(event);
        this.showGrid(cell.code);
      });
      this.spots.addLayer(marker);
    });
    const hot = body.cells.filter((c) => c.bin > 0).length;
    const cold = body.cells.filter((c) => c.bin < 0).length;
    dom.hotspots.textContent = body.threshold_m === null
      ? '微网格太少，无法计算热点。'
      : `热点 ${hot} 个，冷点 ${cold} 个（Gi*，邻域 ${body.threshold_m} 米，经错误发现率校正）`;
    dom.candidates.replaceChildren(...body.cells
      .filter((c) => candidates.has(c.code))
      .slice(0, 10)
      .map((c) => {
        const why = [TREND_LABELS[c.trend], c.worsening ? '持续上升' : ''].filter(Boolean);
        return el('li', {},
          el('button', { type: 'button', class: 'gm-link', 'data-code': c.code }, cellName(c)),
          why.length ? ` ${why.join('，')}` : '');
      }));
    dom.candidates.querySelectorAll('button').forEach((button) => {
      button.addEventListener('click', () => this.showGrid(button.dataset.code));
    });
    document.body.dataset.hotSpots = String(hot + cold);
  }

  showSummary(body) {
    const { dom } = this;
    dom.total.textContent = String(body.total);
    dom['overdue-count'].textContent = String(body.overdue);
    dom.categories.replaceChildren(...Object.entries(body.by_category).slice(0, 8).map(([code, n]) =>
      el('li', {}, `${this.categoryNames[code] || code}：${n}`)));
  }

  applyVisibility() {
    const { dom, map } = this;
    this.drawHeat();
    [[dom['show-choropleth'].checked, this.grids],
      [dom['show-hotspots'].checked, this.spots]].forEach(([shown, layer]) => {
      if (shown && !map.hasLayer(layer)) layer.addTo(map);
      if (!shown && map.hasLayer(layer)) map.removeLayer(layer);
    });
    // A legend for every layer shown.
    dom['legend-heat'].hidden = !dom['show-heat'].checked;
    dom['legend-choropleth'].hidden = !dom['show-choropleth'].checked;
    dom['legend-hotspots'].hidden = !dom['show-hotspots'].checked;
  }

  // ---- one grid ----------------------------------------------------------------------------

  async pick(latlng) {
    const [lng, lat] = this.fromDisplay(latlng.lng, latlng.lat);
    try {
      const found = await requestJson(`${this.config.apiRoot}/locate?lon=${lng}&lat=${lat}&crs=EPSG:4490`);
      const level = this.dom.level.value;
      const grid = found.grids[level] || found.grids.micro || found.grids.zone;
      if (grid) this.showGrid(grid.code);
    } catch (err) {
      if (err.status !== 404) this.showError(`查询失败：${err.message}`);
    }
  }

  async showGrid(code) {
    const { detail } = this.dom;
    detail.replaceChildren(el('p', { class: 'gm-muted' }, '加载中…'));
    try {
      const body = await this.fetchLayer('detail', `grids/${code}`);
      const rates = body.rates || {};
      detail.replaceChildren(
        el('h3', {}, `${body.name}（${LEVEL_LABELS[body.level] || body.level} ${body.code}）`),
        el('p', {}, `诉求 ${body.total} 件`),
        el('h4', {}, '主要类别'),
        el('ol', {}, body.top_categories.map(([c, n]) => el('li', {}, `${this.categoryNames[c] || c}：${n}`))),
        el('h4', {}, '三率'),
        el('p', {}, `响应率 ${percent(rates.response_rate)}，解决率 ${percent(rates.resolution_rate)}，满意率 ${percent(rates.satisfaction_rate)}，综合得分 ${rates.score ?? '—'}`),
        el('h4', {}, '趋势'),
        sparkline(body.trend),
        el('h4', {}, `${OVERDUE_LABEL}诉求（${body.overdue.length}）`),
        el('ul', { class: 'gm-overdue' }, body.overdue.map((r) => el('li', {},
          el('a', { href: `${this.config.requestsUrl}/${r.id}` }, `#${r.id}`),
          ` ${r.category_name} · ${STATE_LABELS[r.state] || r.state}`))),
        el('button', { type: 'button', class: 'gm-button', id: 'gm-review-focus' }, '在此网格内研判'),
      );
      detail.dataset.code = body.code;
      document.getElementById('gm-review-focus').addEventListener('click', () => {
        this.focus(body.code, body.name);
      });
    } catch (err) {
      if (err.name === 'AbortError') return;
      detail.replaceChildren(el('p', { class: 'gm-muted' }, `无法显示：${err.message}`));
    }
  }

  focus(code, name) {
    const select = this.dom.grid;
    if (![...select.options].some((o) => o.value === code)) select.append(el('option', { value: code }, name));
    select.value = code;
    this.refresh();
  }
}


/** Attach the page to the folium-created Leaflet map; returns the page. */
export function start(map, config) {
  return new GridmapReview(map, config);
}
