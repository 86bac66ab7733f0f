/*
 * patrol/replay.js: 巡查回放, a chief's page — a day's patrols in scope, one replayed on the map
 * (track, check-ins, households reached by check-in or pass-by) with a time slider, and the
 * overdue duties (counts per worker and micro-grid, and their map layer).
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { asText, el } from '../core/dom.js';
import { beijing, clock } from '../core/format.js';
import { OVERDUE_LABEL, VISIT_HOW_LABELS } from '../core/labels.js';
import { prepareMap, projection } from '../core/map.js';
import { COLOURS, gridOutline, metres } from './common.js';

const REPLAY_SECONDS = 20;
const REPLAY_TICK_MS = 50;

export class Replay {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.latLng = projection(config).latLng;
    this.root = document.getElementById('gm-replay');
    this.dateInput = document.getElementById('gm-replay-date');
    this.listNode = document.getElementById('gm-replay-list');
    this.countNode = document.getElementById('gm-replay-count');
    this.detailNode = document.getElementById('gm-replay-detail');
    this.slider = document.getElementById('gm-replay-slider');
    this.timeNode = document.getElementById('gm-replay-time');
    this.playButton = document.getElementById('gm-replay-play');
    this.overdueToggle = document.getElementById('gm-overdue-layer');
    prepareMap(map, config);
    map.createPane('gm-replay-points').style.zIndex = 430;
    this.overdueLayer = L.layerGroup().addTo(map);
    this.layer = L.layerGroup().addTo(map);
    this.marker = null;
    this.vertices = [];
    this.playing = null;
    this.selected = null;
    this.loaded = null;
    this.dateInput.value = config.today;
    this.dateInput.max = config.today;
    this.dateInput.addEventListener('change', () => this.loadList());
    this.slider.addEventListener('input', () => this.moveTo(Number(this.slider.value)));
    this.playButton.addEventListener('click', () => this.togglePlay());
    this.overdueToggle.addEventListener('change', () => {
      if (this.overdueToggle.checked) this.overdueLayer.addTo(map);
      else this.overdueLayer.remove();
    });
    gridOutline(map, config, this.latLng).then((outline) => {
      if (!this.selected && outline.getBounds().isValid()) {
        map.fitBounds(outline.getBounds(), { maxZoom: 17 });
      }
    }).catch((err) => banner(`网格加载失败：${err.message}`));
    this.loadList();
    this.loadOverdue();
  }

  async loadList() {
    this.root.dataset.state = 'loading';
    const args = new URLSearchParams({ limit: '200' });
    if (this.dateInput.value) args.set('date', this.dateInput.value);
    try {
      const body = await requestJson(`${this.config.apiRoot}/patrols?${args}`);
      const rows = body.features || [];
      this.countNode.textContent = rows.length
        ? `${this.dateInput.value} 共 ${rows.length} 次巡查${body.next ? '（只列出前 200 次）' : ''}`
        : `${this.dateInput.value} 没有巡查记录`;
      this.listNode.replaceChildren(...rows.map((f) => this.row(f.properties)));
      this.root.dataset.state = 'ready';
      if (rows.length) await this.select(rows[0].properties.id);
      else this.clear();
    } catch (err) {
      this.root.dataset.state = 'error';
      banner(`巡查记录加载失败：${err.message}`);
    }
  }

  row(p) {
    const button = el('button', { type: 'button', class: 'gm-replay-row', 'data-id': p.id },
      el('strong', null, `${p.person.name || '—'} · ${p.work_list.name}`),
      el('span', { class: 'gm-muted gm-small' },
        `${beijing(p.started_at)}${p.ended_at ? `–${clock(Date.parse(p.ended_at))}` : ' 巡查中'}`
        + ` · ${metres(p.length_m)} · ${p.grid_name || p.grid_code || ''}`
        + `${p.source === 'upload' ? ' · 上传' : ''}`));
    button.addEventListener('click', () => this.select(p.id));
    return el('li', null, button);
  }

  clear() {
    this.stop();
    this.layer.clearLayers();
    this.marker = null;
    this.selected = null;
    this.detailNode.hidden = true;
  }

  async select(id) {
    this.stop();
    this.selected = id;
    this.listNode.querySelectorAll('.gm-replay-row').forEach((node) => {
      node.setAttribute('aria-pressed', String(node.dataset.id === String(id)));
    });
    try {
      const body = await requestJson(`${this.config.apiRoot}/patrols/${id}`);
      if (this.selected !== id) return;
      this.draw(body);
      this.loaded = id;
    } catch (err) {
      banner(`巡查 #${id} 加载失败：${err.message}`);
    }
  }

  draw(collection) {
    this.layer.clearLayers();
    this.marker = null;
    const features = collection.features || [];
    const track = features.find((f) => f.properties.kind === 'track');
    const checkIns = features.filter((f) => f.properties.kind === 'check_in');
    const reached = features.filter((f) => f.properties.kind === 'reached');
    this.vertices = [];
    if (track && track.geometry) {
      track.geometry.coordinates.forEach((part, i) => {
        const times = track.properties.times[i] || [];
        const line = part.map((c, j) => {
          this.vertices.push({ t: times[j], lon: c[0], lat: c[1] });
          return this.latLng(c[0], c[1]);
        });
        L.polyline(line, {
          color: COLOURS.track, weight: 4, opacity: 0.8, className: 'gm-replay-track',
        }).addTo(this.layer);
      });
    }
    this.vertices.sort((a, b) => a.t - b.t);
    reached.forEach((f) => this.reachedMarker(f).addTo(this.layer));
    checkIns.forEach((f) => this.checkInMarker(f).addTo(this.layer));
    this.showInfo(collection.properties, checkIns, reached);
    this.setupSlider();
    const bounds = L.featureGroup(this.layer.getLayers()).getBounds();
    if (bounds.isValid()) this.map.fitBounds(bounds.pad(0.15), { maxZoom: 18 });
  }

  reachedMarker(f) {
    const p = f.properties;
    const byCheckIn = p.how === 'check_in';
    const marker = L.circleMarker(this.latLng(...f.geometry.coordinates), {
      pane: 'gm-replay-points',
      radius: 7,
      color: byCheckIn ? COLOURS.done : COLOURS.passBy,
      weight: byCheckIn ? 2 : 2.5,
      dashArray: byCheckIn ? null : '3 3',
      fillColor: byCheckIn ? COLOURS.done : '#fff',
      fillOpacity: byCheckIn ? 0.85 : 0.6,
      className: `gm-reached gm-reached-${p.how}`,
    });
    marker.feature = f;
    marker.bindTooltip(asText(`${p.address || `住户 ${p.household_id}`}：${VISIT_HOW_LABELS[p.how] || p.how}`
      + ` ${clock(Date.parse(p.at))}${p.distance_m === null ? '' : `，距轨迹 ${metres(p.distance_m)}`}`));
    return marker;
  }

  checkInMarker(f) {
    const p = f.properties;
    const marker = L.circleMarker(this.latLng(...f.geometry.coordinates), {
      pane: 'gm-replay-points', radius: 4, color: COLOURS.checkIn, weight: 2,
      fillColor: COLOURS.checkIn, fillOpacity: 1, className: 'gm-replay-checkin',
    });
    marker.feature = f;
    marker.bindTooltip(asText(`签到 住户 ${p.household_id}，${clock(Date.parse(p.at))}`));
    return marker;
  }

  showInfo(p, checkIns, reached) {
    const byHow = (how) => reached.filter((f) => f.properties.how === how).length;
    const report = p.report || {};
    document.getElementById('gm-replay-info').replaceChildren(
      el('dt', null, '巡查人'), el('dd', null, p.person.name || '—'),
      el('dt', null, '清单'), el('dd', null, p.work_list.name),
      el('dt', null, '网格'), el('dd', null, p.grid_name || p.grid_code || '—'),
      el('dt', null, '时间'), el('dd', null,
        `${beijing(p.started_at)}–${p.ended_at ? clock(Date.parse(p.ended_at)) : '巡查中'}`),
      el('dt', null, '轨迹'), el('dd', null, p.length_m === null ? '无轨迹'
        : `${metres(p.length_m)}，${report.points_kept || 0} 个定位点`
          + `${p.source === 'upload' ? '（上传）' : ''}`),
      el('dt', null, '到达住户'), el('dd', { id: 'gm-replay-reached' },
        `签到 ${byHow('check_in')} 户，途经 ${byHow('pass_by')} 户`));
    document.getElementById('gm-replay-checkins').replaceChildren(...(checkIns.length
      ? checkIns.map((f) => el('li', { 'data-household': f.properties.household_id },
        `${clock(Date.parse(f.properties.at))} 住户 ${f.properties.household_id}`,
        f.properties.distance_m === null ? '（无位置）'
          : `（距住户 ${metres(f.properties.distance_m)}）`,
        f.properties.note ? el('span', { class: 'gm-muted' }, ` ${f.properties.note}`) : null))
      : [el('li', { class: 'gm-muted' }, '没有签到')]));
    this.detailNode.hidden = false;
  }

  // ---- time slider ---------------------------------------------------------------------

  setupSlider() {
    const usable = this.vertices.length > 0;
    this.slider.disabled = !usable;
    this.playButton.disabled = !usable;
    if (!usable) {
      this.timeNode.textContent = '无轨迹';
      return;
    }
    this.t0 = this.vertices[0].t;
    this.t1 = this.vertices[this.vertices.length - 1].t;
    this.slider.min = '0';
    this.slider.max = String(Math.max(1, Math.ceil(this.t1 - this.t0)));
    this.slider.value = '0';
    this.marker = L.circleMarker(this.latLng(this.vertices[0].lon, this.vertices[0].lat), {
      pane: 'gm-replay-points', radius: 9, color: '#fff', weight: 3,
      fillColor: COLOURS.track, fillOpacity: 1, className: 'gm-replay-marker',
    }).addTo(this.layer);
    this.moveTo(0);
  }

  /** Where the patrol was `offset` seconds after its first fix (between two fixes: on the
   * straight line between them). */
  moveTo(offset) {
    if (!this.marker) return;
    const t = this.t0 + offset;
    const v = this.vertices;
    let i = 0;
    // The last fix at or before t (of fixes with one time, the last): at the end, the end.
    while (i < v.length - 1 && v[i + 1].t <= t) i += 1;
    const a = v[i];
    const b = v[Math.min(i + 1, v.length - 1)];
    const f = b.t > a.t ? Math.min(1, Math.max(0, (t - a.t) / (b.t - a.t))) : 0;
    this.marker.setLatLng(this.latLng(a.lon + f * (b.lon - a.lon), a.lat + f * (b.lat - a.lat)));
    this.timeNode.textContent = clock(t * 1000);
  }

  togglePlay() {
    if (this.playing) {
      this.stop();
      return;
    }
    const max = Number(this.slider.max);
    if (Number(this.slider.value) >= max) this.slider.value = '0';
    const step = Math.max(1, max / ((REPLAY_SECONDS * 1000) / REPLAY_TICK_MS));
    this.playButton.textContent = '⏸ 暂停';
    this.playing = setInterval(() => {
      const next = Math.min(max, Number(this.slider.value) + step);
      this.slider.value = String(next);
      this.moveTo(next);
      if (next >= max) this.stop();
    }, REPLAY_TICK_MS);
  }

  stop() {
    if (this.playing) clearInterval(this.playing);
    this.playing = null;
    this.playButton.textContent = '▶ 播放';
  }

  // ---- overdue duties ------------------------------------------------------------------

  async loadOverdue() {
    const panel = document.getElementById('gm-overdue');
    try {
      const body = await requestJson(
        `${this.config.apiRoot}/patrols/overdue?format=geojson&level=micro`);
      this.showCounts(body.counts, body.numberReturned);
      this.drawOverdue(body.features || []);
      panel.dataset.state = 'ready';
    } catch (err) {
      panel.dataset.state = 'error';
      document.getElementById('gm-overdue-lists').textContent = `${OVERDUE_LABEL}情况加载失败`;
      banner(`${OVERDUE_LABEL}情况加载失败：${err.message}`);
    }
  }

  drawOverdue(features) {
    this.overdueLayer.clearLayers();
    const coords = (c) => this.latLng(c[0], c[1]);
    features.forEach((f) => {
      const p = f.properties;
      const label = `${OVERDUE_LABEL}：${(this.listNames || {})[p.work_list] || p.work_list}`
        + ` ${p.address || p.name || p.code || ''}`;
      if (!f.geometry) return;
      if (f.geometry.type === 'Point') {
        L.circleMarker(coords(f.geometry.coordinates), {
          radius: 5, color: COLOURS.overdue, weight: 1.5, fillColor: '#fff', fillOpacity: 0.9,
          className: 'gm-overdue gm-overdue-household',
        }).bindTooltip(asText(label)).addTo(this.overdueLayer);
      } else {
        L.geoJSON(f, {
          coordsToLatLng: coords,
          style: {
            color: COLOURS.overdue, weight: 1, dashArray: '4 4', fillColor: COLOURS.overdue,
            fillOpacity: 0.06, className: 'gm-overdue gm-overdue-grid',
          },
        }).bindTooltip(asText(label)).addTo(this.overdueLayer);
      }
    });
  }

  showCounts(counts, shown) {
    const lists = counts.lists || [];
    this.listNames = Object.fromEntries(lists.map((l) => [l.code, l.name]));
    document.getElementById('gm-overdue-lists').textContent = lists.length
      ? `${counts.date}：${lists.map((l) => `${l.name} ${l.due}/${l.total}`).join('，')}`
        + `（${OVERDUE_LABEL}/应办；地图显示 ${shown} 项）`
      : '没有工作清单。';
    const header = el('tr', null, el('th', null, ''),
      lists.map((l) => el('th', { class: 'gm-num' }, l.name)));
    const rows = (entries, key) => entries.map((e) => el('tr', { 'data-key': e[key] },
      el('td', null, e.name || e[key]),
      lists.map((l) => {
        const due = e.due[l.code];
        return el('td', { class: `gm-num${due ? ' gm-status-uncovered' : ''}` },
          due === undefined ? '—' : String(due));
      })));
    document.getElementById('gm-overdue-workers').replaceChildren(header.cloneNode(true),
      ...rows(counts.by_worker || [], 'person_id'));
    document.getElementById('gm-overdue-grids').replaceChildren(header,
      ...rows(counts.by_grid || [], 'code'));
  }
}
