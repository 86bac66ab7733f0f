/*
 * requests/intake.js: 上报诉求, the intake form; a click on the map sets the place; one
 * Idempotency-Key per filled-in form, so a double click or a retry files the request once.
 */
import { newKey, requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { PHOTO_LABELS } from '../core/labels.js';
import { prepareMap, projection } from '../core/map.js';
import { PhotoPicker } from '../core/photos.js';

export class Intake {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.proj = projection(config);
    this.form = document.getElementById('gm-new-request');
    this.error = document.getElementById('gm-new-error');
    this.submit = document.getElementById('gm-new-submit');
    this.marker = null;
    this.picker = new PhotoPicker(document.getElementById('gm-new-photos'), config.apiRoot,
      (message) => this.showError(message));
    // One key per filled-in form: a second click or a retry of the same form is one request;
    // a changed form is a new request (the server rejects one key with two bodies).
    this.key = newKey();
    prepareMap(map, config);
    map.getContainer().style.cursor = 'crosshair';
    map.on('click', (e) => this.pick(e.latlng));
    this.form.addEventListener('input', () => { this.key = newKey(); });
    this.form.addEventListener('change', () => this.placeMode());
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
    this.placeMode();
    this.showGrids();
  }

  /** The caller's micro-grids as outlines, so the worker sees where the place falls. */
  async showGrids() {
    try {
      const body = await requestJson(`${this.config.apiRoot}/grids?level=micro&limit=500`);
      const layer = L.geoJSON(body, {
        coordsToLatLng: (c) => {
          const p = this.proj.toDisplay(c[0], c[1]);
          return L.latLng(p[1], p[0]);
        },
        style: { color: '#3c8d7a', weight: 1, fillOpacity: 0.05 },
        interactive: false,
      }).addTo(this.map);
      this.grids = layer;
      if (layer.getLayers().length) this.map.fitBounds(layer.getBounds(), { maxZoom: 17 });
    } catch (err) {
      banner(`网格加载失败：${err.message}`);
    }
  }

  placeMode() {
    const byMap = this.form.elements.place.value === 'map';
    document.getElementById('gm-new-point').hidden = !byMap;
    document.getElementById('gm-new-point-hint').hidden = !byMap;
    document.getElementById('gm-new-household').hidden = byMap;
  }

  pick(latlng) {
    if (this.form.elements.place.value !== 'map') return;
    const [lon, lat] = this.proj.fromDisplay(latlng.lng, latlng.lat);
    this.form.elements.lon.value = lon.toFixed(7);
    this.form.elements.lat.value = lat.toFixed(7);
    if (this.marker) this.marker.setLatLng(latlng);
    else this.marker = L.marker(latlng, { keyboard: false }).addTo(this.map);
    this.key = newKey();
  }

  body() {
    const f = this.form.elements;
    const text = (name) => f[name].value.trim();
    const body = { category: text('category'), description: text('description') };
    const problems = [];
    if (!body.category) problems.push('请选择诉求类别');
    if (!body.description) problems.push('请填写诉求内容');
    if (f.place.value === 'map') {
      if (!text('lon') || !text('lat')) problems.push('请在地图上点选位置');
      else body.location = { lon: Number(text('lon')), lat: Number(text('lat')), crs: 'EPSG:4326' };
    } else if (!/^[1-9][0-9]*$/.test(text('household_id'))) {
      problems.push('请填写住户编号');
    } else {
      body.household_id = Number(text('household_id'));
    }
    const contact = {};
    if (text('contact_name')) contact.name = text('contact_name');
    if (text('contact_phone')) contact.phone = text('contact_phone');
    if (Object.keys(contact).length) body.contact = contact;
    if (this.picker.busy()) problems.push(PHOTO_LABELS.wait);
    if (this.picker.ids().length) body.photos = this.picker.ids();
    return { body, problems };
  }

  async send() {
    if (this.sending) return;
    const { body, problems } = this.body();
    if (problems.length) {
      this.showError(problems.join('；'));
      return;
    }
    this.sending = true;
    this.submit.disabled = true;
    this.error.hidden = true;
    try {
      const record = await requestJson(`${this.config.apiRoot}/requests`, {
        method: 'POST', body, headers: { 'Idempotency-Key': this.key },
      });
      window.location.assign(`${this.config.urls.inbox}/${record.id}`);
    } catch (err) {
      this.showError(`提交失败：${err.message}`);
      this.sending = false;
      this.submit.disabled = false;
    }
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = false;
    this.error.scrollIntoView({ block: 'nearest' });
  }
}

