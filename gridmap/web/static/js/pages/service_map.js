/*
 * pages/service_map.js: the 15-minute service circles (15分钟便民服务圈) for chiefs.
 *
 * start(map, config) fetches every layer from the API once (they are a district's sites and a
 * few hundred micro-grids, not tiles):
 *   - GET /service-map/gap-map: the micro-grids in scope coloured by the share of households
 *     outside every walking circle (the gap map);
 *   - GET /service-map/isochrones: each site's walking circles, the widest band palest;
 *   - GET /service-sites: the sites, coloured by kind, with hours and services in a popup;
 *   - GET /service-map/candidates: the candidate sites, numbered best first;
 *   - GET /service-map/gaps: the per-community and micro-grid table;
 *   - GET /service-map: when the circles were computed, and the network's connected pieces.
 * Every layer has its legend; text from the API is inserted as text, never as HTML.
 *
 * The element ids it uses are those of templates/service_map.html.
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { asText, el, percent } from '../core/dom.js';
import { beijing } from '../core/format.js';
import { followJob, JobProgress, runJob } from '../core/jobs.js';
import { SERVICE_MAP_LABELS as WORDS, SITE_KIND_LABELS } from '../core/labels.js';
import { prepareMap, projection } from '../core/map.js';

const KIND_COLOURS = {
  centre_street: '#b2182b',
  centre_community: '#d6604d',
  station: '#f4a582',
  canteen: '#1b7837',
  clinic: '#2166ac',
  day_care: '#762a83',
  convenience: '#8c510a',
};
// The bands, narrowest first: the 5-minute circle darkest.
const BAND_COLOURS = ['#08519c', '#3182bd', '#9ecae1', '#c6dbef', '#deebf7'];
// Classes of the uncovered share, with round bounds.
const GAP_CLASSES = [
  { upTo: 0, colour: '#f7f7f7', label: '0%' },
  { upTo: 0.1, colour: '#fee0d2', label: '≤ 10%' },
  { upTo: 0.3, colour: '#fc9272', label: '10%–30%' },
  { upTo: 0.6, colour: '#ef3b2c', label: '30%–60%' },
  { upTo: 1, colour: '#a50f15', label: '> 60%' },
];

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, key) => String(values[key]));
}

function gapClass(share) {
  return GAP_CLASSES.find((c) => share <= c.upTo) || GAP_CLASSES[GAP_CLASSES.length - 1];
}

function swatch(colour, shape) {
  return el('span', { class: `gm-service-swatch gm-service-swatch-${shape}`, style: `background:${colour}` });
}

class GridmapServiceMap {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.api = config.apiRoot;
    const { latLng } = projection(config);
    this.coordsToLatLng = (c) => latLng(c[0], c[1]);
    this.dom = {};
    [
      'show-sites', 'show-circles', 'show-gaps', 'show-candidates', 'legend-sites',
      'legend-circles', 'legend-gaps', 'legend-candidates', 'state', 'network', 'candidates',
      'table', 'upload-form', 'refresh', 'job', 'job-progress', 'job-status',
    ].forEach((id) => { this.dom[id] = document.getElementById(`gm-service-${id}`); });
    prepareMap(map, config);
    map.createPane('gm-service-gaps').style.zIndex = 405;
    map.createPane('gm-service-circles').style.zIndex = 410;
    map.createPane('gm-service-points').style.zIndex = 620;
    this.layers = {
      gaps: L.layerGroup().addTo(map),
      circles: L.layerGroup().addTo(map),
      sites: L.layerGroup().addTo(map),
      candidates: L.layerGroup().addTo(map),
    };
    ['sites', 'circles', 'gaps', 'candidates'].forEach((name) => {
      this.dom[`show-${name}`].addEventListener('change', (event) => {
        if (event.target.checked) this.layers[name].addTo(map);
        else map.removeLayer(this.layers[name]);
      });
    });
    if (config.bounds) map.fitBounds(config.bounds);
    if (this.dom['upload-form']) this.wireUpload();
    this.drawLegends([5, 10, 15]);
    this.load();
  }

  async load() {
    document.body.dataset.serviceMap = 'loading';
    try {
      const [state, gapMap, circles, sites, candidates, gaps] = await Promise.all([
        requestJson(`${this.api}/service-map`),
        requestJson(`${this.api}/service-map/gap-map`),
        requestJson(`${this.api}/service-map/isochrones`),
        requestJson(`${this.api}/service-sites`),
        requestJson(`${this.api}/service-map/candidates`),
        requestJson(`${this.api}/service-map/gaps`),
      ]);
      this.drawLegends(state.minutes);
      this.showState(state);
      this.drawGaps(gapMap);
      this.drawCircles(circles, state.minutes);
      this.drawSites(sites);
      this.drawCandidates(candidates);
      this.fillTable(gaps);
      document.body.dataset.serviceMap = 'ready';
    } catch (err) {
      banner(err.message);
      document.body.dataset.serviceMap = 'failed';
    }
  }

  wireUpload() {
    const progress = new JobProgress({
      section: this.dom.job, bar: this.dom['job-progress'], status: this.dom['job-status'],
    });
    const follow = async (post, doneText) => {
      const form = this.dom['upload-form'];
      form.querySelectorAll('button').forEach((b) => { b.disabled = true; });
      try {
        let job = await post();
        if (job.state === 'succeeded' && job.result && job.result.refresh_job) {
          const refresh = await requestJson(`${this.api}/jobs/${job.result.refresh_job}`);
          job = await followJob(this.api, refresh, (j) => progress.show(j));
        }
        // The layers first: the words "done" mean the map shows the new circles.
        if (job.state === 'succeeded') await this.load();
        progress.finish(job, doneText);
      } catch (err) {
        banner(err.message);
      } finally {
        form.querySelectorAll('button').forEach((b) => { b.disabled = false; });
      }
    };
    this.dom['upload-form'].addEventListener('submit', (event) => {
      event.preventDefault();
      const body = new FormData(this.dom['upload-form']);
      follow(() => runJob(this.api, `${this.api}/service-imports`, body,
        (j) => progress.show(j)), WORDS.imported);
    });
    this.dom.refresh.addEventListener('click', () => {
      follow(() => runJob(this.api, `${this.api}/service-map/refresh`, undefined,
        (j) => progress.show(j)), WORDS.refreshed);
    });
  }

  geoJson(collection, options) {
    return L.geoJSON(collection, { coordsToLatLng: this.coordsToLatLng, ...options });
  }

  drawGaps(collection) {
    this.layers.gaps.clearLayers();
    this.geoJson(collection, {
      pane: 'gm-service-gaps',
      style: (f) => ({
        color: '#666', weight: 1, fillOpacity: 0.55, fillColor: gapClass(f.properties.share).colour,
      }),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        layer.bindTooltip(asText(`${p.name}：${WORDS.uncovered} ${p.uncovered} / ${p.households}`));
      },
    }).addTo(this.layers.gaps);
  }

  drawCircles(collection, minutes) {
    this.layers.circles.clearLayers();
    this.geoJson(collection, {
      pane: 'gm-service-circles',
      interactive: false,
      style: (f) => {
        const colour = BAND_COLOURS[Math.max(0, minutes.indexOf(f.properties.minutes))];
        // Faint fills: dozens of circles overlap, and the gap map must show through them.
        return { color: colour, weight: 1, opacity: 0.6, fillColor: colour, fillOpacity: 0.05 };
      },
    }).addTo(this.layers.circles);
  }

  drawSites(collection) {
    this.layers.sites.clearLayers();
    this.geoJson(collection, {
      pointToLayer: (f, at) => L.circleMarker(at, {
        pane: 'gm-service-points', radius: 7, weight: 2, color: '#fff',
        fillColor: KIND_COLOURS[f.properties.kind] || '#333', fillOpacity: 1,
      }),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        layer.bindPopup(el('div', { class: 'gm-service-popup' },
          el('strong', null, p.name),
          el('div', null, SITE_KIND_LABELS[p.kind] || p.kind),
          p.address ? el('div', null, `${WORDS.address}：${p.address}`) : null,
          p.opening_hours ? el('div', null, `${WORDS.hours}：${p.opening_hours}`) : null,
          p.services.length ? el('div', null, `${WORDS.services}：${p.services.join('、')}`) : null));
        layer.bindTooltip(asText(p.name));
      },
    }).addTo(this.layers.sites);
  }

  drawCandidates(collection) {
    this.layers.candidates.clearLayers();
    const list = this.dom.candidates;
    list.replaceChildren();
    collection.features.forEach((f) => {
      const p = f.properties;
      const [lng, lat] = f.geometry.coordinates;
      const text = fill(WORDS.candidate, { rank: p.rank, households: p.households });
      L.marker(this.coordsToLatLng([lng, lat]), {
        pane: 'gm-service-points',
        icon: L.divIcon({ className: 'gm-service-candidate', html: String(p.rank), iconSize: [22, 22] }),
        title: text,
        alt: text,
      }).bindTooltip(asText(text)).addTo(this.layers.candidates);
      list.append(el('li', null, text));
    });
    if (!collection.features.length) list.append(el('li', { class: 'gm-muted' }, WORDS.empty));
  }

  fillTable(gaps) {
    const body = this.dom.table.tBodies[0];
    body.replaceChildren();
    const byCommunity = new Map(gaps.communities.map((c) => [c.code, []]));
    gaps.rows.forEach((r) => byCommunity.get(r.community_code)?.push(r));
    const row = (name, households, uncovered, cls) => el('tr', { class: cls },
      el('th', { scope: 'row' }, name),
      el('td', null, String(households)),
      el('td', null, String(uncovered)),
      el('td', null, households ? percent((households - uncovered) / households) : '—'));
    gaps.communities.forEach((c) => {
      body.append(row(c.name, c.households, c.uncovered, 'gm-service-community'));
      byCommunity.get(c.code).forEach((m) => body.append(row(m.name, m.households, m.uncovered, '')));
    });
    if (!gaps.communities.length) {
      body.append(el('tr', null, el('td', { colspan: '4', class: 'gm-muted' }, WORDS.empty)));
    }
  }

  showState(state) {
    const when = state.refreshed_at ? beijing(state.refreshed_at) : WORDS.never;
    const parts = [el('span', null, `${when}，${fill(WORDS.speed, { speed: state.speed_mps })}`)];
    if (state.stale) parts.push(el('strong', { class: 'gm-service-stale' }, ` ${WORDS.stale}`));
    this.dom.state.replaceChildren(...parts);
    this.dom.network.textContent = `${WORDS.network}：${fill(WORDS.components, {
      components: state.components, detached: state.detached_nodes,
    })}`;
  }

  drawLegends(minutes) {
    const { dom } = this;
    dom['legend-sites'].replaceChildren(...Object.entries(SITE_KIND_LABELS).map(([kind, label]) => (
      el('li', null, swatch(KIND_COLOURS[kind], 'dot'), label))));
    dom['legend-circles'].replaceChildren(...minutes.map((m, i) => (
      el('li', null, swatch(BAND_COLOURS[i], 'area'), fill(WORDS.minutes, { minutes: m })))));
    dom['legend-gaps'].replaceChildren(...GAP_CLASSES.map((c) => (
      el('li', null, swatch(c.colour, 'area'), c.label))));
    dom['legend-candidates'].replaceChildren(el('li', null,
      el('span', { class: 'gm-service-candidate gm-service-candidate-key', 'aria-hidden': 'true' }, '1'),
      WORDS.candidates));
  }
}

export function start(map, config) {
  return new GridmapServiceMap(map, config);
}
