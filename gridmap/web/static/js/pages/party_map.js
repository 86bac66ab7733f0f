/*
 * pages/party_map.js: 党建地图, the chief's party map.
 *
 * One request (/api/v1/party/map) brings five layers, each turned on and off in the sidebar:
 * the micro-grids' coverage as a choropleth (households covered by a member or worker), the
 * buildings (a 楼栋长 or none), the 党员中心户 with a line to each neighbour they look after,
 * the posts (楼栋长, 单元长 and the members' service posts) and the homes of the members
 * registered with a community. Names and phones are masked by the API as the reader's role
 * reads them; a phone the reader may reveal today has a 显示 button (each reveal is audited).
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { el, percent } from '../core/dom.js';
import { prepareMap, projection } from '../core/map.js';
import { BUILDING_LABELS as B, PARTY_MAP_LABELS as T } from '../core/labels.js';

const LAYERS = ['coverage', 'buildings', 'centrals', 'posts', 'members'];
const COLOURS = {
  head: '#8a1c1c', building: '#7a869a', central: '#c98a00', neighbour: '#c98a00',
  post: '#5b2a86', member: '#c0392b',
};
/** Coverage classes, highest first: the share covered at least ``min``. */
const COVERAGE = [
  { code: 'full', min: 1, colour: '#1b5e20' },
  { code: 'most', min: 0.8, colour: '#66a86b' },
  { code: 'half', min: 0.5, colour: '#f2c14e' },
  { code: 'low', min: 0, colour: '#d9534f' },
];

/** The coverage class of a micro-grid's rate (null: no households). */
export function coverageClass(rate) {
  if (rate === null || rate === undefined) return { code: 'empty', colour: '#d0d5dc' };
  return COVERAGE.find((c) => rate >= c.min);
}

class PartyMapPage {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.proj = projection(config);
    this.root = document.getElementById('gm-party-map');
    this.detail = document.getElementById('gm-party-map-detail');
    this.layers = Object.fromEntries(LAYERS.map((code) => [code, L.layerGroup().addTo(map)]));
    this.kinds = {};
    prepareMap(map, config);
    for (const box of document.querySelectorAll('#gm-party-map-layers input[name=layer]')) {
      box.addEventListener('change', () => {
        const layer = this.layers[box.value];
        if (box.checked) layer.addTo(this.map);
        else layer.remove();
      });
    }
    this.load();
  }

  async load() {
    try {
      const api = this.config.apiRoot;
      const [posts, body] = await Promise.all([
        requestJson(`${api}/party/posts`), requestJson(`${api}/party/map`)]);
      this.kinds = Object.fromEntries(posts.posts.map((p) => [p.code, p.name]));
      this.show(body.features);
    } catch (err) {
      banner(err.message);
    }
    this.root.dataset.state = 'ready';
  }

  latLng(lon, lat) {
    return this.proj.latLng(lon, lat);
  }

  geoJson(feature, options) {
    return L.geoJSON(feature, { coordsToLatLng: (c) => this.latLng(c[0], c[1]), ...options });
  }

  show(features) {
    const by = Object.fromEntries(LAYERS.map((code) => [code, []]));
    for (const f of features) {
      const layer = { building: 'buildings', central: 'centrals', member: 'members' }[
        f.properties.layer] || f.properties.layer;
      by[layer].push(f);
    }
    by.coverage.forEach((f) => this.coverage(f));
    by.buildings.forEach((f) => this.building(f));
    by.centrals.forEach((f) => this.central(f));
    by.members.forEach((f) => this.member(f));
    const posts = by.buildings.filter((f) => f.properties.posts.length).length
      + by.members.filter((f) => f.properties.posts.length).length;
    const counts = { ...Object.fromEntries(LAYERS.map((c) => [c, by[c].length])), posts };
    for (const code of LAYERS) {
      document.getElementById(`gm-party-map-count-${code}`).textContent = String(counts[code]);
    }
    const bounds = L.latLngBounds([]);
    for (const code of LAYERS) {
      this.layers[code].eachLayer((l) => bounds.extend(l.getBounds ? l.getBounds() : l.getLatLng()));
    }
    if (bounds.isValid()) this.map.fitBounds(bounds, { maxZoom: 17, padding: [20, 20] });
  }

  coverage(f) {
    const p = f.properties;
    const klass = coverageClass(p.rate);
    const shown = this.geoJson(f, {
      style: { color: '#555', weight: 1, fillColor: klass.colour, fillOpacity: 0.35 },
    });
    shown.getLayers().forEach((l) => {
      l.feature.properties.coverageClass = klass.code;
    });
    shown.bindTooltip(`${p.name}：${T.covered} ${p.covered}/${p.households} ${T.households}`
      + `${p.rate === null ? '' : ` · ${percent(p.rate)}`}`, { sticky: true });
    shown.on('click', () => this.showDetail(p.name, [
      [T.households, String(p.households)], [T.covered, String(p.covered)],
      [T.rate, p.rate === null ? T.empty : percent(p.rate)]]));
    shown.addTo(this.layers.coverage);
  }

  buildingName(p) {
    return p.name || `${p.number}${B.number_suffix}`;
  }

  postLabel(post) {
    const role = post.role === 'building_head' ? B.building_head
      : `${post.unit}${B.unit_suffix}${B.unit_head}`;
    return `${role}：${post.name}`;
  }

  building(f) {
    const p = f.properties;
    const head = p.posts.find((post) => post.role === 'building_head');
    const colour = head ? COLOURS.head : COLOURS.building;
    const shown = this.geoJson(f, {
      style: { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.25 },
      pointToLayer: (_, at) => L.circleMarker(at, { radius: 6, color: colour, weight: 2 }),
    });
    const name = this.buildingName(p);
    shown.bindTooltip(head ? `${name} · ${B.building_head}：${head.name}` : `${name} · ${B.none}`);
    shown.on('click', () => this.showDetail(name, [
      [B.households, String(p.households)],
      ...p.posts.map((post) => [post.role === 'building_head' ? B.building_head
        : `${post.unit}${B.unit_suffix}${B.unit_head}`, post])]));
    shown.addTo(this.layers.buildings);
    if (p.posts.length) {
      const at = shown.getBounds().getCenter();
      L.circleMarker(at, { radius: 4, color: '#fff', weight: 1, fillColor: COLOURS.post, fillOpacity: 1 })
        .bindTooltip(p.posts.map((post) => this.postLabel(post)).join('；'))
        .addTo(this.layers.posts);
    }
  }

  central(f) {
    const p = f.properties;
    const [lon, lat] = f.geometry.coordinates;
    const at = this.latLng(lon, lat);
    for (const [nLon, nLat] of p.neighbours) {
      const there = this.latLng(nLon, nLat);
      L.polyline([at, there], { color: COLOURS.neighbour, weight: 2, dashArray: '4 4', interactive: false })
        .addTo(this.layers.centrals);
      L.circleMarker(there, { radius: 4, color: COLOURS.neighbour, weight: 2, fillOpacity: 0 })
        .addTo(this.layers.centrals);
    }
    L.circleMarker(at, { radius: 8, color: '#fff', weight: 2, fillColor: COLOURS.central, fillOpacity: 1 })
      .bindTooltip(`${T.central}：${p.name} · ${T.neighbours} ${p.neighbours.length}`)
      .on('click', () => this.showDetail(T.central, [
        [T.central, p], [T.neighbours, String(p.neighbours.length)]]))
      .addTo(this.layers.centrals);
  }

  member(f) {
    const p = f.properties;
    const [lon, lat] = f.geometry.coordinates;
    const at = this.latLng(lon, lat);
    const posts = p.posts.map((code) => this.kinds[code] || code).join('、');
    L.circleMarker(at, { radius: 6, color: '#fff', weight: 2, fillColor: COLOURS.member, fillOpacity: 0.9 })
      .bindTooltip(`${T.member}：${p.name}`)
      .on('click', () => this.showDetail(T.member, [
        [T.member, p], [T.community, p.community.name], [T.unit, p.unit || B.none],
        [T.servicePosts, posts || B.none]]))
      .addTo(this.layers.members);
    if (p.posts.length) {
      L.circleMarker(at, { radius: 3, color: COLOURS.post, weight: 1, fillColor: COLOURS.post, fillOpacity: 1 })
        .bindTooltip(`${T.servicePosts}：${posts}`)
        .addTo(this.layers.posts);
    }
  }

  /** The sidebar's detail: a title and rows of [label, text or person]. */
  showDetail(title, rows) {
    this.detail.replaceChildren(el('h2', {}, title), el('dl', { class: 'gm-party-quarter' },
      ...rows.flatMap(([label, value]) => [el('dt', {}, label), el('dd', {},
        ...(typeof value === 'string' ? [value] : this.person(value)))])));
  }

  /** A person as the API masked them; a phone revealable today has a 显示 button. */
  person(p) {
    const phone = el('span', { class: 'gm-masked' }, p.phone || B.none);
    const parts = [`${p.name} · ${T.phone} `, phone];
    if (p.phone && p.revealable) {
      const button = el('button', { type: 'button', class: 'gm-button gm-small' }, T.reveal);
      button.addEventListener('click', async () => {
        button.disabled = true;
        try {
          const shown = await requestJson(`${this.config.apiRoot}/reveal`, {
            method: 'POST', body: { object: 'person', id: p.person_id, field: 'phone' },
          });
          phone.textContent = shown.value;
          button.remove();
        } catch (err) {
          banner(err.message);
          button.disabled = false;
        }
      });
      parts.push(' ', button);
    }
    return parts;
  }
}

export function start(map, config) {
  return new PartyMapPage(map, config);
}
