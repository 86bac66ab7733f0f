/*
 * pages/grid_import.js: 网格导入, the street or system administrator's import page.
 *
 * Upload a grid file with its declared coordinate system → the server queues a validation job
 * (a dry run of the import: nothing written) → the page polls GET /api/v1/jobs/<id> with a
 * progress bar → the report on the map over today's grid of the area: problems as red shapes
 * with their Chinese messages, or what the redraw would change (new, redrawn, retired grids
 * and the households that move to another micro-grid) → 确认导入 queues the import job (all
 * or nothing, audited) → the map shows the grid as imported. A refused file offers no
 * confirmation. Everything drawn comes from the jobs' results; text is inserted as text.
 *
 * The element ids it uses are those of templates/grid_import.html.
 */
import { requestJson } from '../core/api.js';
import { banner, hideBanner } from '../core/banner.js';
import { el } from '../core/dom.js';
import { followJob, JobProgress } from '../core/jobs.js';
import { IMPORT_CHANGE_LABELS, LEVEL_LABELS } from '../core/labels.js';
import { prepareMap, projection } from '../core/map.js';

/** Files the page reads itself for a coordinate hint before uploading (GeoJSON only). */
const HINT_READ_BYTES = 5e6;
const GEOGRAPHIC = ['EPSG:4326', 'EPSG:4490'];
const STYLES = {
  current: { color: '#6b7280', weight: 1.5, fill: false },
  file: { color: '#1f4e9c', weight: 2, dashArray: '6 4', fill: false },
  new: { color: '#2e9d4f', weight: 3, fillColor: '#2e9d4f', fillOpacity: 0.15 },
  changed: { color: '#e07b00', weight: 3, fillColor: '#e07b00', fillOpacity: 0.15 },
  retired: { color: '#7b2cbf', weight: 3, dashArray: '6 4', fillColor: '#7b2cbf', fillOpacity: 0.1 },
  problem: { color: '#c8102e', weight: 2, fillColor: '#c8102e', fillOpacity: 0.35 },
};

/** Up to `limit` [x, y] pairs of a GeoJSON document, wherever they are nested. */
function samplePositions(node, limit, out = []) {
  if (out.length >= limit || node === null || typeof node !== 'object') return out;
  if (Array.isArray(node) && node.length >= 2 && typeof node[0] === 'number'
    && typeof node[1] === 'number') {
    out.push([node[0], node[1]]);
    return out;
  }
  for (const value of Array.isArray(node) ? node : Object.values(node)) {
    samplePositions(value, limit, out);
    if (out.length >= limit) break;
  }
  return out;
}

/** The page's hint for a sample of positions and the declared system, or ''. */
export function coordinateHint(positions, declared) {
  if (!positions.length) return '';
  const geographic = GEOGRAPHIC.includes(declared) || declared === 'GCJ02' || declared === 'BD09';
  const metres = positions.some(([x, y]) => Math.abs(x) > 180 || Math.abs(y) > 90);
  if (metres && geographic) {
    return '坐标值超出经纬度范围，看起来是投影坐标（米）：请选择 CGCS2000 高斯-克吕格投影。';
  }
  if (!metres && !geographic) return '坐标值像经纬度（度），却选择了投影坐标（米）：请确认坐标系。';
  const inChina = positions.every(([x, y]) => x >= 73 && x <= 136 && y >= 3 && y <= 54);
  if (inChina && GEOGRAPHIC.includes(declared)) {
    return '坐标位于中国境内。用高德、腾讯地图绘制的数据多为 GCJ-02（百度为 BD-09），'
      + '文件本身不会写明：若导入后整体偏移一两百米，请改选 GCJ-02。';
  }
  return '';
}

class ImportPage {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.latLng = projection(config).latLng;
    this.root = document.getElementById('gm-import');
    this.form = document.getElementById('gm-import-form');
    this.fileInput = document.getElementById('gm-import-file');
    this.crsSelect = document.getElementById('gm-import-crs');
    this.zoneField = document.getElementById('gm-import-zone-field');
    this.zoneInput = document.getElementById('gm-import-zone');
    this.hintNode = document.getElementById('gm-import-hint');
    this.submitButton = document.getElementById('gm-import-submit');
    this.progressSection = document.getElementById('gm-import-progress-section');
    this.jobTitle = document.getElementById('gm-import-job-title');
    this.jobProgress = new JobProgress({
      section: this.progressSection,
      bar: document.getElementById('gm-import-progress'),
      status: document.getElementById('gm-import-status'),
    });
    this.reportSection = document.getElementById('gm-import-report');
    this.verdict = document.getElementById('gm-import-verdict');
    this.diffNode = document.getElementById('gm-import-diff');
    this.problemList = document.getElementById('gm-import-problems');
    this.noteList = document.getElementById('gm-import-notes');
    this.confirmButton = document.getElementById('gm-import-confirm');
    prepareMap(map, config);
    map.setView([35, 105], 4);
    map.createPane('gm-import-problems').style.zIndex = 450;
    this.addLegend(document.getElementById('gm-import-legend'));
    this.layers = {
      current: L.featureGroup().addTo(map),
      file: L.featureGroup().addTo(map),
      diff: L.featureGroup().addTo(map),
      problems: L.featureGroup().addTo(map),
    };
    this.state = 'idle';
    this.validation = null;
    this.positions = [];
    this.crsSelect.addEventListener('change', () => this.onCrsChange());
    this.fileInput.addEventListener('change', () => this.readSample());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.upload();
    });
    this.confirmButton.addEventListener('click', () => this.confirm());
  }

  /** The page's legend, drawn on the map (bottom right). */
  addLegend(node) {
    const Legend = L.Control.extend({
      onAdd: () => {
        L.DomEvent.disableClickPropagation(node);
        return node;
      },
    });
    new Legend({ position: 'bottomright' }).addTo(this.map);
  }

  setState(state) {
    this.state = state;
    this.root.dataset.state = state;
  }

  declaredCrs() {
    if (this.crsSelect.value !== 'projected') return this.crsSelect.value;
    const zone = this.zoneInput.value.trim().replace(/^EPSG:/i, '');
    return zone ? `EPSG:${zone}` : '';
  }

  onCrsChange() {
    this.zoneField.hidden = this.crsSelect.value !== 'projected';
    this.showHint(coordinateHint(this.positions, this.crsSelect.value === 'projected'
      ? 'projected' : this.crsSelect.value));
  }

  showHint(text) {
    this.hintNode.textContent = text;
    this.hintNode.hidden = !text;
  }

  /** A GeoJSON file is small enough to look at here: hint before it is even uploaded. */
  async readSample() {
    this.positions = [];
    this.showHint('');
    const file = this.fileInput.files[0];
    if (!file || !/\.(geo)?json$/i.test(file.name) || file.size > HINT_READ_BYTES) return;
    try {
      this.positions = samplePositions(JSON.parse(await file.text()), 200);
    } catch {
      return; // not JSON: the server's check will say so
    }
    this.onCrsChange();
  }

  async upload() {
    hideBanner();
    const file = this.fileInput.files[0];
    const crs = this.declaredCrs();
    if (!file) { banner('请选择要上传的网格文件'); return; }
    if (!crs) { banner('请填写投影带的 EPSG 代码，如 4527'); return; }
    if (file.size > this.config.maxUploadBytes) {
      banner(`文件过大：上限 ${(this.config.maxUploadBytes / 1e6).toFixed(0)} MB`);
      return;
    }
    const body = new FormData();
    body.append('file', file);
    body.append('crs', crs);
    this.clearReport();
    this.setState('uploading');
    this.submitButton.disabled = true;
    try {
      const job = await requestJson(`${this.config.apiRoot}/grid-imports`, { method: 'POST', body });
      const done = await this.follow(job, '检查进度');
      this.showValidation(done);
    } catch (err) {
      this.setState('error');
      banner(`上传失败：${err.message}`);
    } finally {
      this.submitButton.disabled = false;
    }
  }

  async confirm() {
    if (!this.validation) return;
    hideBanner();
    this.confirmButton.disabled = true;
    this.setState('importing');
    try {
      const job = await requestJson(
        `${this.config.apiRoot}/grid-imports/${this.validation.id}/confirm`, { method: 'POST' });
      const done = await this.follow(job, '导入进度');
      this.showImport(done);
    } catch (err) {
      this.setState('error');
      this.confirmButton.disabled = false;
      banner(`导入失败：${err.message}`);
    }
  }

  /** Poll a job until it has finished, showing its progress; its last state. */
  follow(job, title) {
    this.jobTitle.textContent = title;
    return followJob(this.config.apiRoot, job, (current) => this.jobProgress.show(current));
  }

  clearReport() {
    Object.values(this.layers).forEach((layer) => layer.clearLayers());
    this.reportSection.hidden = true;
    this.confirmButton.hidden = true;
    this.validation = null;
    this.problemList.replaceChildren();
    this.noteList.replaceChildren();
    this.diffNode.replaceChildren();
  }

  showValidation(job) {
    this.reportSection.hidden = false;
    if (job.state === 'failed') {
      this.setState('refused');
      this.setVerdict(false, `文件无法检查，不能导入：${job.error.detail}`);
      return;
    }
    const result = job.result;
    if (result.hint) this.showHint(result.hint);
    this.draw('current', result.current);
    this.draw('file', result.file);
    if (!result.ok) {
      const problems = result.report.features.filter((f) => f.properties.severity === 'problem');
      this.setState('refused');
      this.setVerdict(false, `未通过检查：${problems.length} 个问题，不能导入。请修改文件后重新上传。`);
      this.problemList.replaceChildren(...problems.map((f) => el('li', null, f.properties.message)));
      this.drawProblems(problems);
      this.fit();
      return;
    }
    this.validation = job;
    this.setState('validated');
    const { counts, moved } = result.diff;
    this.setVerdict(true, '检查通过：确认后将按下列变化导入（全部成功或全部不写入）。');
    this.diffNode.replaceChildren(
      ...['new', 'changed', 'retired'].flatMap((k) => [
        el('dt', null, IMPORT_CHANGE_LABELS[k]), el('dd', { 'data-change': k }, `${counts[k]} 个网格`)]),
      el('dt', null, '住户改变微网格'), el('dd', { 'data-change': 'moved' }, `${moved.households} 户`),
    );
    this.noteList.replaceChildren(...(result.notes || []).map((n) => el('li', null, n)));
    this.drawDiff(result.diff);
    this.confirmButton.hidden = false;
    this.confirmButton.disabled = false;
    this.fit();
  }

  showImport(job) {
    this.confirmButton.hidden = true;
    if (job.state === 'failed') {
      this.setState('error');
      this.setVerdict(false, `导入失败，未写入任何数据：${job.error.detail}`);
      return;
    }
    this.setState('imported');
    this.validation = null;
    Object.values(this.layers).forEach((layer) => layer.clearLayers());
    this.setVerdict(true, `导入完成：写入 ${job.result.written} 个网格`
      + (job.result.closed ? `，${job.result.closed} 个旧版本已截止` : '') + '。地图显示导入后的网格。');
    this.draw('current', job.result.current);
    this.fit();
  }

  setVerdict(ok, text) {
    this.verdict.dataset.ok = String(ok);
    this.verdict.textContent = text;
    this.reportSection.scrollIntoView({ block: 'nearest' });
  }

  label(p) {
    return `${LEVEL_LABELS[p.level] || p.level || ''} ${p.code || ''} ${p.name || ''}`.trim();
  }

  draw(kind, collection) {
    if (!collection || !collection.features.length) return;
    L.geoJSON(collection, {
      coordsToLatLng: (c) => this.latLng(c[0], c[1]),
      style: () => ({ ...STYLES[kind], className: `gm-import-${kind}` }),
      onEachFeature: (f, layer) => layer.bindTooltip(this.label(f.properties), { sticky: true }),
    }).addTo(this.layers[kind]);
  }

  drawDiff(diff) {
    L.geoJSON(diff, {
      coordsToLatLng: (c) => this.latLng(c[0], c[1]),
      style: (f) => ({ ...STYLES[f.properties.change], className: `gm-import-${f.properties.change}` }),
      onEachFeature: (f, layer) => layer.bindTooltip(
        `${IMPORT_CHANGE_LABELS[f.properties.change]}：${this.label(f.properties)}`, { sticky: true }),
    }).addTo(this.layers.diff);
  }

  drawProblems(problems) {
    const located = problems.filter((f) => f.geometry);
    L.geoJSON({ type: 'FeatureCollection', features: located }, {
      pane: 'gm-import-problems',
      coordsToLatLng: (c) => this.latLng(c[0], c[1]),
      style: () => ({ ...STYLES.problem, className: 'gm-import-problem' }),
      pointToLayer: (f, latLng) => L.circleMarker(latLng, {
        ...STYLES.problem, radius: 8, className: 'gm-import-problem', pane: 'gm-import-problems' }),
      onEachFeature: (f, layer) => layer.bindTooltip(f.properties.message, { sticky: true }),
    }).addTo(this.layers.problems);
  }

  fit() {
    const bounds = L.latLngBounds([]);
    Object.values(this.layers).forEach((layer) => {
      const b = layer.getBounds();
      if (b.isValid()) bounds.extend(b);
    });
    if (bounds.isValid()) this.map.fitBounds(bounds, { maxZoom: 17, padding: [10, 10] });
  }

  /** Features drawn per layer (for the page's tests). */
  counts() {
    return Object.fromEntries(Object.entries(this.layers).map(
      ([k, layer]) => [k, layer.getLayers().reduce((n, g) => n + (g.getLayers ? g.getLayers().length : 1), 0)]));
  }
}

/** Start the import page on the folium-created map. */
export function start(map, config) {
  return new ImportPage(map, config);
}
