/*
 * public/file.js: 我要反映, a resident's filing: a category, a place on the map or from the
 * phone's location, words, photos (kept on the phone until the code is sent, then uploaded
 * with the draft token), the phone's code; the server answers a tracking number (查询码).
 */
import { requestJson } from '../core/api.js';
import { PUBLIC_LABELS } from '../core/labels.js';
import { prepareMap, projection } from '../core/map.js';
import { PhoneCode, showError } from './common.js';

export class Filing {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.proj = projection(config);
    this.form = document.getElementById('gm-public-form');
    this.submit = document.getElementById('gm-public-submit');
    this.point = null;
    this.marker = null;
    this.files = [];
    this.code = new PhoneCode(config.apiRoot, 'file');
    prepareMap(map, config);
    if (config.bounds) {
      const [x0, y0, x1, y1] = config.bounds;
      map.fitBounds([this.proj.latLng(x0, y0), this.proj.latLng(x1, y1)]);
    }
    map.on('click', (e) => this.place(e.latlng));
    document.getElementById('gm-public-locate').addEventListener('click', () => this.locate());
    document.getElementById('gm-public-photos-label').textContent =
      PUBLIC_LABELS.photos.replace('{n}', config.maxPhotos);
    document.getElementById('gm-public-photo-input')
      .addEventListener('change', (e) => this.addPhotos(e.target));
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
  }

  place(latlng) {
    const [lon, lat] = this.proj.fromDisplay(latlng.lng, latlng.lat);
    this.point = { lon, lat };
    if (this.marker) this.marker.setLatLng(latlng);
    else this.marker = L.marker(latlng, { keyboard: false }).addTo(this.map);
    document.getElementById('gm-public-place').textContent =
      `${PUBLIC_LABELS.placeChosen}（${lon.toFixed(5)}, ${lat.toFixed(5)}）`;
  }

  locate() {
    const hint = document.getElementById('gm-public-place');
    if (!navigator.geolocation) {
      hint.textContent = PUBLIC_LABELS.locateFailed;
      return;
    }
    hint.textContent = PUBLIC_LABELS.locating;
    navigator.geolocation.getCurrentPosition((found) => {
      // The phone gives WGS 84; the basemap may be shifted (GCJ-02).
      const latlng = this.proj.latLng(found.coords.longitude, found.coords.latitude);
      this.map.setView(latlng, 17);
      this.place(latlng);
    }, () => { hint.textContent = PUBLIC_LABELS.locateFailed; }, { timeout: 10000 });
  }

  addPhotos(input) {
    for (const file of input.files) {
      if (this.files.length >= this.config.maxPhotos) break;
      this.files.push(file);
    }
    input.value = '';
    this.showPhotos();
  }

  showPhotos() {
    const list = document.getElementById('gm-public-photos');
    list.replaceChildren(...this.files.map((file, i) => {
      const item = document.createElement('li');
      item.textContent = `${file.name}（${Math.ceil(file.size / 1024)} KB）`;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = '×';
      remove.setAttribute('aria-label', `${PUBLIC_LABELS.photos.split('（')[0]} ${i + 1}`);
      remove.addEventListener('click', () => { this.files.splice(i, 1); this.showPhotos(); });
      item.append(remove);
      return item;
    }));
  }

  problems() {
    const f = this.form.elements;
    const found = [];
    if (!f.category.value) found.push(PUBLIC_LABELS.category);
    if (!this.point) found.push(PUBLIC_LABELS.noPlace);
    const words = f.description.value.trim().length;
    if (words < 5 || words > 500) found.push(PUBLIC_LABELS.descriptionHint);
    if (!this.code.draft) found.push(PUBLIC_LABELS.getCode);
    if (!/^[0-9]{6}$/.test(f.code.value.trim())) found.push(PUBLIC_LABELS.code);
    return found;
  }

  async uploadPhotos() {
    const ids = [];
    for (const file of this.files) {
      const body = new FormData();
      body.append('draft', this.code.draft);
      body.append('file', file);
      const stored = await requestJson(`${this.config.apiRoot}/photos`, { method: 'POST', body });
      ids.push(stored.id);
    }
    return ids;
  }

  async send() {
    if (this.sending) return;
    const problems = this.problems();
    if (problems.length) {
      showError(problems.join('；'));
      return;
    }
    this.sending = true;
    this.submit.disabled = true;
    this.submit.textContent = PUBLIC_LABELS.submitting;
    showError('');
    try {
      if (!this.photoIds) this.photoIds = await this.uploadPhotos();
      const f = this.form.elements;
      const body = {
        draft: this.code.draft,
        code: f.code.value.trim(),
        category: f.category.value,
        description: f.description.value.trim(),
        lon: this.point.lon,
        lat: this.point.lat,
        photos: this.photoIds,
      };
      const filed = await requestJson(`${this.config.apiRoot}/requests`, { method: 'POST', body });
      this.done(filed.tracking_number);
    } catch (err) {
      showError(err.message);
      this.sending = false;
      this.submit.disabled = false;
      this.submit.textContent = PUBLIC_LABELS.submit;
    }
  }

  done(number) {
    this.form.hidden = true;
    document.getElementById('gm-public-done').hidden = false;
    document.getElementById('gm-public-number').textContent = number;
    document.getElementById('gm-public-follow').href =
      this.config.statusUrl.replace('NUMBER', encodeURIComponent(number));
  }
}
