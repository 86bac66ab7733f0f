/*
 * pages/onenet.js: 一张网比对, another department's grid over ours.
 *
 * Pick a foreign layer → the page reads it (GET /api/v1/onenet/layers/<id>), its cells and
 * our units it reaches (…/cells, …/units, GeoJSON in the caller's scope) → both layers on the
 * map, coloured by verdict (our units: aligned, split, whole; their cells: aligned, made of
 * whole units, cutting ours, off our grid), each community's distance from 一张网, and the
 * table of cells with the shares they cut. 导出 asks for the GIS export's `onenet` layer as a
 * job (POST /api/v1/exports) and saves its file; 下载吸附草稿 saves our grid snapped onto the
 * aligned cells as a file for the import page (…/draft); 重新比对 runs the overlay again when either
 * layer changed; a street administrator uploads a department's file (POST
 * /api/v1/onenet/layers), whose job checks, stores and overlays it. Text is inserted as text.
 *
 * The element ids it uses are those of templates/onenet.html.
 */
import { requestJson } from '../core/api.js';
import { banner, hideBanner } from '../core/banner.js';
import { el, gridLabel, percent } from '../core/dom.js';
import { downloadFile, followJob, JobProgress, runJob } from '../core/jobs.js';
import { prepareMap, projection } from '../core/map.js';

const glossary = JSON.parse(document.getElementById('gm-glossary').textContent);
const STATUS_LABELS = glossary.onenetStatuses;
const VERDICT_LABELS = glossary.onenetVerdicts;
const DEPARTMENT_LABELS = glossary.onenetDepartments;
const WORDS = glossary.onenet;
const LEVEL_LABELS = glossary.levels;

const UNIT_STYLES = {
  aligned: { color: '#2e7d32', weight: 1, fillColor: '#2e7d32', fillOpacity: 0.25 },
  split: { color: '#c8102e', weight: 1, fillColor: '#c8102e', fillOpacity: 0.3 },
  whole: { color: '#1f4e9c', weight: 1, fillColor: '#1f4e9c', fillOpacity: 0.15 },
};
const CELL_STYLES = {
  aligned: { color: '#2e7d32', weight: 2, dashArray: '6 4', fill: false },
  merges: { color: '#1f4e9c', weight: 2, dashArray: '6 4', fill: false },
  splits: { color: '#c8102e', weight: 3, dashArray: '6 4', fill: false },
  outside: { color: '#6b7280', weight: 2, dashArray: '2 4', fill: false },
};

class OnenetPage {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.api = config.apiRoot;
    this.latLng = projection(config).latLng;
    this.root = document.getElementById('gm-onenet');
    this.select = document.getElementById('gm-onenet-layer');
    this.none = document.getElementById('gm-onenet-none');
    this.meta = document.getElementById('gm-onenet-meta');
    this.staleNote = document.getElementById('gm-onenet-stale');
    this.refreshButton = document.getElementById('gm-onenet-refresh');
    this.summarySection = document.getElementById('gm-onenet-summary-section');
    this.tableSection = document.getElementById('gm-onenet-table-section');
    this.exportSection = document.getElementById('gm-onenet-export-section');
    this.countsNode = document.getElementById('gm-onenet-counts');
    this.jobTitle = document.getElementById('gm-onenet-job-title');
    this.progress = new JobProgress({
      section: document.getElementById('gm-onenet-job'),
      bar: document.getElementById('gm-onenet-progress'),
      status: document.getElementById('gm-onenet-status'),
    });
    prepareMap(map, config);
    if (config.bounds) map.fitBounds(config.bounds);
    else map.setView([35, 105], 4);
    map.createPane('gm-onenet-cells').style.zIndex = 450;
    this.addLegend(document.getElementById('gm-onenet-legend'));
    this.layers = { units: L.featureGroup().addTo(map), cells: L.featureGroup().addTo(map) };
    this.layerId = null;
    this.lastExport = null;
    this.state = 'loading';
    this.select.addEventListener('change', () => this.show(Number(this.select.value)));
    this.refreshButton.addEventListener('click', () => this.recompute());
    document.getElementById('gm-onenet-draft').addEventListener('click', () => this.draft());
    document.getElementById('gm-onenet-export').addEventListener('submit', (event) => {
      event.preventDefault();
      this.exportLayer();
    });
    const importForm = document.getElementById('gm-onenet-import');
    if (importForm) {
      importForm.addEventListener('submit', (event) => {
        event.preventDefault();
        this.upload();
      });
    }
    this.loadLayers();
  }

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

  async loadLayers(selected) {
    try {
      const { results } = await requestJson(`${this.api}/onenet/layers`);
      this.select.replaceChildren(...results.map((r) => el('option', { value: r.id },
        `${r.name}（${DEPARTMENT_LABELS[r.department] || r.department}，${r.cells} 个网格）`)));
      this.none.hidden = results.length > 0;
      this.select.disabled = results.length === 0;
      if (!results.length) { this.setState('empty'); return; }
      const id = selected || results[0].id;
      this.select.value = String(id);
      await this.show(id);
    } catch (err) {
      this.setState('error');
      banner(err.message);
    }
  }

  async show(layerId) {
    hideBanner();
    this.layerId = layerId;
    this.setState('loading');
    const base = `${this.api}/onenet/layers/${layerId}`;
    try {
      const [layer, cells, units] = await Promise.all([
        requestJson(base), requestJson(`${base}/cells`), requestJson(`${base}/units`)]);
      if (this.layerId !== layerId) return;
      this.describe(layer);
      this.fillSummary(layer.summary);
      this.fillCells(cells.features, layer.statuses);
      this.draw(units, cells);
      this.setState('shown');
    } catch (err) {
      this.setState('error');
      banner(err.message);
    }
  }

  describe(layer) {
    const level = LEVEL_LABELS[layer.compare_level] || layer.compare_level;
    this.meta.textContent = `${layer.department_label} · 与${level}比对 · `
      + `${WORDS.computedAt} ${layer.overlay_at || '—'}`;
    this.staleNote.hidden = !layer.stale;
    this.refreshButton.hidden = false;
    this.exportSection.hidden = false;
  }

  fillSummary(rows) {
    this.summarySection.hidden = rows.length === 0;
    this.summarySection.querySelector('tbody').replaceChildren(...rows.map((r) => el('tr',
      { 'data-code': r.code },
      el('th', { scope: 'row' }, gridLabel(r.name, r.code)),
      el('td', { class: 'gm-num' }, r.units),
      el('td', { class: 'gm-num' }, r.aligned_units),
      el('td', { class: 'gm-num' }, r.split_units),
      el('td', { class: 'gm-num' }, percent(r.aligned_area_share)),
      el('td', { class: 'gm-num' }, percent(r.aligned_household_share)))));
  }

  fillCells(features, statuses) {
    this.tableSection.hidden = features.length === 0;
    this.countsNode.textContent = Object.entries(statuses)
      .map(([k, n]) => `${STATUS_LABELS[k] || k} ${n}`).join('，');
    this.tableSection.querySelector('tbody').replaceChildren(...features.map((f) => {
      const p = f.properties;
      return el('tr', { 'data-status': p.status, 'data-code': p.code },
        el('th', { scope: 'row' }, gridLabel(p.name, p.code)),
        el('td', null, el('span', { class: `gm-onenet-status gm-onenet-status-${p.status}` },
          STATUS_LABELS[p.status] || p.status)),
        el('td', { class: 'gm-onenet-pieces', translate: 'no' },
          (p.pieces || '—').split(';').map((piece) => el('div', null, piece))),
        el('td', { class: 'gm-num' }, p.households ?? 0),
        el('td', { class: 'gm-num' }, p.hausdorff_m === null ? '—' : p.hausdorff_m.toFixed(1)));
    }));
  }

  draw(units, cells) {
    Object.values(this.layers).forEach((layer) => layer.clearLayers());
    L.geoJSON(units, {
      coordsToLatLng: (c) => this.latLng(c[0], c[1]),
      style: (f) => ({ ...UNIT_STYLES[f.properties.verdict],
        className: `gm-onenet-unit gm-onenet-unit-${f.properties.verdict}` }),
      onEachFeature: (f, layer) => layer.bindTooltip(el('span', null,
        gridLabel(f.properties.name, f.properties.code), ' · ',
        VERDICT_LABELS[f.properties.verdict]), { sticky: true }),
    }).addTo(this.layers.units);
    L.geoJSON(cells, {
      pane: 'gm-onenet-cells',
      coordsToLatLng: (c) => this.latLng(c[0], c[1]),
      style: (f) => ({ ...CELL_STYLES[f.properties.status],
        className: `gm-onenet-cell gm-onenet-cell-${f.properties.status}` }),
      onEachFeature: (f, layer) => layer.bindTooltip(el('span', null,
        gridLabel(f.properties.name, f.properties.code), ' · ',
        STATUS_LABELS[f.properties.status]), { sticky: true }),
    }).addTo(this.layers.cells);
    const bounds = this.layers.units.getBounds();
    if (this.layers.cells.getBounds().isValid()) bounds.extend(this.layers.cells.getBounds());
    if (bounds.isValid()) this.map.fitBounds(bounds, { maxZoom: 17, padding: [10, 10] });
  }

  follow(title, job) {
    this.jobTitle.textContent = title;
    return followJob(this.api, job, (current) => this.progress.show(current));
  }

  async recompute() {
    hideBanner();
    this.refreshButton.disabled = true;
    try {
      this.jobTitle.textContent = WORDS.refresh;
      const job = await runJob(this.api, `${this.api}/onenet/layers/${this.layerId}/overlay`,
        undefined, (current) => this.progress.show(current));
      this.progress.finish(job, '比对完成');
      if (job.state === 'succeeded') await this.show(this.layerId);
    } catch (err) {
      banner(err.message);
    } finally {
      this.refreshButton.disabled = false;
    }
  }

  async exportLayer() {
    hideBanner();
    const button = document.getElementById('gm-onenet-export-submit');
    button.disabled = true;
    this.setState('exporting');
    try {
      this.jobTitle.textContent = WORDS.export;
      const body = {
        layer: 'onenet',
        format: document.getElementById('gm-onenet-format').value,
        foreign_layer: this.layerId,
      };
      const job = await runJob(this.api, `${this.api}/exports`, body,
        (current) => this.progress.show(current));
      this.progress.finish(job, '导出完成，文件已开始下载');
      this.lastExport = job;
      if (job.state === 'succeeded') downloadFile(this.api, job);
      this.setState(job.state === 'succeeded' ? 'exported' : 'error');
    } catch (err) {
      this.setState('error');
      banner(err.message);
    } finally {
      button.disabled = false;
    }
  }

  /** Save the proposed unified boundary set (a grid file for the import page). */
  async draft() {
    hideBanner();
    try {
      const draft = await requestJson(`${this.api}/onenet/layers/${this.layerId}/draft`);
      if (!draft.features.length) { banner(WORDS.draftEmpty); return; }
      const blob = new Blob([JSON.stringify(draft)], { type: 'application/geo+json' });
      const link = el('a', { href: URL.createObjectURL(blob), download: `${draft.name}.geojson`, hidden: '' });
      document.body.append(link);
      link.click();
      link.remove();
      URL.revokeObjectURL(link.href);
    } catch (err) {
      banner(err.message);
    }
  }

  async upload() {
    hideBanner();
    const file = document.getElementById('gm-onenet-file').files[0];
    const name = document.getElementById('gm-onenet-name').value.trim();
    if (!file) { banner('请选择要上传的网格文件'); return; }
    if (!name) { banner(`请填写${WORDS.name}`); return; }
    if (file.size > this.config.maxUploadBytes) {
      banner(`文件过大：上限 ${(this.config.maxUploadBytes / 1e6).toFixed(0)} MB`);
      return;
    }
    const body = new FormData();
    body.append('file', file);
    body.append('name', name);
    body.append('department', document.getElementById('gm-onenet-department').value);
    body.append('compare_level', document.getElementById('gm-onenet-level').value);
    body.append('crs', document.getElementById('gm-onenet-crs').value);
    const button = document.getElementById('gm-onenet-import-submit');
    button.disabled = true;
    this.setState('importing');
    try {
      const queued = await requestJson(`${this.api}/onenet/layers`, { method: 'POST', body });
      const job = await this.follow(WORDS.import, queued);
      this.progress.finish(job, '导入并比对完成');
      if (job.state === 'succeeded') {
        await this.loadLayers(job.result.layer);
      } else {
        this.setState('refused');
      }
    } catch (err) {
      this.setState('error');
      banner(err.message);
    } finally {
      button.disabled = false;
    }
  }

  /** Features drawn per layer and verdict (for the page's tests). */
  counts() {
    const out = {};
    this.layers.units.eachLayer((g) => g.eachLayer((f) => {
      const key = `unit-${f.feature.properties.verdict}`;
      out[key] = (out[key] || 0) + 1;
    }));
    this.layers.cells.eachLayer((g) => g.eachLayer((f) => {
      const key = `cell-${f.feature.properties.status}`;
      out[key] = (out[key] || 0) + 1;
    }));
    return out;
  }
}

/** Start the 一张网 page on the folium-created map. */
export function start(map, config) {
  return new OnenetPage(map, config);
}
