/*
 * pages/party_lists.js: 三张清单, the chief's map and lists.
 *
 * The map shows open needs and available resources (points rounded by the API to about
 * 200 m), a dashed line from each need to the nearest resource within 1 km; beside it the
 * service projects to confirm (确认) or decline (退回), the needs, the 微心愿 fulfilled and
 * waiting for confirmation, and the wishes counted per member and unit. Every change sends
 * If-Match with the revision the list was loaded at.
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { el } from '../core/dom.js';
import { prepareMap, projection } from '../core/map.js';
import {
  LISTS_LABELS as T, MATCH_STATE_LABELS, NEED_KIND_LABELS, NEED_STATE_LABELS,
  RESOURCE_KIND_LABELS, WISH_STATE_LABELS,
} from '../core/labels.js';

const COLOURS = { need: '#c0392b', resource: '#1f6f9f' };

class ListsPage {
  constructor(map, config) {
    this.map = map;
    this.api = `${config.apiRoot}/party`;
    this.proj = projection(config);
    this.root = document.getElementById('gm-lists');
    this.result = document.getElementById('gm-lists-result');
    this.layer = L.layerGroup().addTo(map);
    prepareMap(map, config);
    this.form('gm-lists-wish-form', 'wishes', (data) => ({
      community: data.get('community'), title: data.get('title'), detail: data.get('detail'),
      consent: data.get('consent') === 'on',
    }), T.wishRecorded);
    this.form('gm-lists-need-form', 'needs', (data) => ({
      community: data.get('community'), title: data.get('title'), kind: data.get('kind'),
    }), T.needRecorded);
    this.load();
  }

  /** A recording form: its fields as the API's body, posted, then the lists reloaded. */
  form(id, path, body, done) {
    const node = document.getElementById(id);
    node.addEventListener('submit', async (event) => {
      event.preventDefault();
      let said = done;
      try {
        await requestJson(`${this.api}/${path}`,
          { method: 'POST', body: body(new FormData(node)) });
        node.reset();
      } catch (err) {
        said = err.message;
      }
      await this.load();
      this.say(said);
    });
  }

  say(text) {
    this.result.textContent = text;
  }

  async load() {
    try {
      const [layer, matches, needs, wishes, counts] = await Promise.all([
        requestJson(`${this.api}/lists/map`),
        requestJson(`${this.api}/matches`),
        requestJson(`${this.api}/needs?state=open`),
        requestJson(`${this.api}/wishes`),
        requestJson(`${this.api}/wish-counts`),
      ]);
      this.showMap(layer.features);
      this.fill('gm-lists-matches', matches.results, (m) => this.matchItem(m));
      this.fill('gm-lists-needs', needs.results, (n) => el('li', { 'data-need': n.id },
        el('strong', {}, n.title), ` · ${NEED_KIND_LABELS[n.kind] || n.kind}`,
        el('span', { class: 'gm-small' }, ` ${NEED_STATE_LABELS[n.state] || n.state}`)));
      this.fill('gm-lists-wishes', wishes.results, (w) => this.wishItem(w));
      this.fill('gm-lists-counts', counts.results, (c) => el('li', {},
        `${c.type === 'unit' ? T.unit : T.member} ${c.name}：${c.claimed} / ${c.fulfilled} / ${c.confirmed}`));
    } catch (err) {
      banner(err.message);
    }
    this.root.dataset.state = 'ready';
  }

  fill(id, rows, item) {
    document.getElementById(id).replaceChildren(...(rows.length
      ? rows.map(item) : [el('li', { class: 'gm-muted' }, T.nothing)]));
  }

  latLng(lon, lat) {
    const [x, y] = this.proj.toDisplay(lon, lat);
    return L.latLng(y, x);
  }

  showMap(features) {
    this.layer.clearLayers();
    const resources = new Map();
    for (const f of features) {
      const p = f.properties;
      const at = this.latLng(...f.geometry.coordinates);
      if (p.layer === 'resource') resources.set(p.id, at);
      const kinds = p.layer === 'need' ? NEED_KIND_LABELS : RESOURCE_KIND_LABELS;
      L.circleMarker(at, {
        radius: 7, color: '#fff', weight: 2, fillColor: COLOURS[p.layer], fillOpacity: 0.9,
      }).bindTooltip(`${p.layer === 'need' ? T.need : T.resource} · ${kinds[p.kind] || p.kind}：${p.title}`)
        .addTo(this.layer);
    }
    for (const f of features) {
      const near = f.properties.near_resource_id;
      if (f.properties.layer === 'need' && resources.has(near)) {
        L.polyline([this.latLng(...f.geometry.coordinates), resources.get(near)], {
          color: '#555', weight: 2, dashArray: '4 4', interactive: false,
        }).addTo(this.layer);
      }
    }
    const points = features.map((f) => this.latLng(...f.geometry.coordinates));
    if (points.length) this.map.fitBounds(L.latLngBounds(points), { maxZoom: 15, padding: [30, 30] });
  }

  matchItem(m) {
    const li = el('li', { 'data-match': m.id },
      el('strong', {}, m.need.title),
      el('div', { class: 'gm-small' },
        `${T.provider}：${m.provider.name} · ${MATCH_STATE_LABELS[m.state] || m.state}`));
    const tag = `"match.${m.id}.${m.revision}"`;
    if (m.state === 'proposed') {
      li.append(this.button(T.confirm, () => this.post(`matches/${m.id}/confirm`, tag)));
    }
    if (m.state === 'proposed' || m.state === 'confirmed') {
      li.append(this.button(T.decline, () => this.post(`matches/${m.id}/decline`, tag)));
    }
    return li;
  }

  wishItem(w) {
    const li = el('li', { 'data-wish': w.id },
      el('strong', {}, w.title),
      el('div', { class: 'gm-small' }, `${WISH_STATE_LABELS[w.state] || w.state}${
        w.claimant ? ` · ${T.provider}：${w.claimant.name}` : ''}`));
    if (w.state === 'fulfilled') {
      const tag = `"wish.${w.id}.${w.revision}"`;
      li.append(this.button(T.confirmWish,
        () => this.post(`wishes/${w.id}/confirmation`, tag, { how: 'worker' })));
    }
    return li;
  }

  button(text, action) {
    const b = el('button', { type: 'button', class: 'gm-button gm-small' }, text);
    b.addEventListener('click', async () => {
      b.disabled = true;
      let said = `${text} ✓`;
      try {
        await action();
      } catch (err) {
        said = err.message;
      }
      await this.load();
      this.say(said);
    });
    return b;
  }

  post(path, tag, body) {
    return requestJson(`${this.api}/${path}`,
      { method: 'POST', body, headers: { 'If-Match': tag } });
  }
}

export function start(map, config) {
  return new ListsPage(map, config);
}
