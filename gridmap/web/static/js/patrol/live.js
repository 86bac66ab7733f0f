/*
 * patrol/live.js: a running patrol on the worker's page — start and end it; while it runs the
 * browser's position is posted in numbered batches every few seconds (a batch is retried with
 * its Idempotency-Key and the same numbers, so a retry stores nothing twice); check-ins at the
 * households of the running list.
 */
import { newKey, onServerClock, requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { COLOURS, metres } from './common.js';

const MAX_BATCH = 500;
/** Fixes less precise than this (a cell-tower guess) are not posted. */
const MAX_ACCURACY_M = 1000;
/** Fixes taken this long before the patrol began (a cached position) are not posted. */
const STALE_FIX_MS = 60 * 1000;
const GEO_ERRORS = {
  1: '未获得定位权限：请在浏览器设置中允许本网站使用位置信息。巡查轨迹不会记录，仍可入户签到（不带位置）。',
  2: '无法获取当前位置（定位不可用）。巡查轨迹暂不记录，仍可入户签到（不带位置）。',
  3: '定位超时，正在继续尝试…',
};

/** The live-patrol methods of the worker's page (mixed into WorkerPage). */
export class LivePatrol {
  async startPatrol() {
    this.startButton.disabled = true;
    this.geoMessage.hidden = true;
    try {
      const summary = await requestJson(`${this.config.apiRoot}/patrols`, {
        method: 'POST',
        body: { work_list: this.listSelect.value },
        headers: { 'Idempotency-Key': newKey() },
      });
      this.trackLine.setLatLngs([]);
      this.begin(summary);
    } catch (err) {
      banner(`开始巡查失败：${err.message}`);
    } finally {
      this.startButton.disabled = false;
    }
  }

  begin(summary) {
    this.patrol = summary;
    this.startedMs = Date.parse(summary.started_at);
    this.stored = 0;
    this.lastSeq = -1;
    this.listSelect.value = summary.work_list.code;
    this.listSelect.disabled = true;
    this.startButton.hidden = true;
    this.stopButton.hidden = false;
    this.stopButton.disabled = false;
    this.root.dataset.patrol = String(summary.id);
    this.renderLists();
    this.drawDuties();
    this.showRunning();
    this.watch();
  }

  watch() {
    if (!('geolocation' in navigator)) {
      this.geoError(GEO_ERRORS[2]);
      return;
    }
    this.watchId = navigator.geolocation.watchPosition(
      (position) => this.onFix(position),
      (error) => {
        this.geoError(GEO_ERRORS[error.code] || `定位失败：${error.message}`);
        if (error.code === 1 && this.watchId !== null) {
          navigator.geolocation.clearWatch(this.watchId);
          this.watchId = null;
        }
      },
      { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 });
  }

  geoError(message) {
    this.geoMessage.textContent = message;
    this.geoMessage.hidden = false;
    this.root.dataset.geolocation = 'unavailable';
  }

  /** Number a fix: tenths of a second since the patrol began, so numbers stay unique and
   * rising across a reload of the page, which starts counting afresh. */
  nextSeq(ms) {
    const seq = Math.max(this.lastSeq + 1, Math.floor((ms - this.startedMs) / 100));
    this.lastSeq = seq;
    return seq;
  }

  onFix(position) {
    const c = position.coords;
    this.geoMessage.hidden = true;
    this.root.dataset.geolocation = 'ok';
    this.position = { lon: c.longitude, lat: c.latitude, accuracy: c.accuracy };
    const here = this.latLng(c.longitude, c.latitude);
    if (!this.here) {
      this.here = L.circleMarker(here, {
        radius: 8, color: '#fff', weight: 3, fillColor: COLOURS.track, fillOpacity: 1,
        className: 'gm-here',
      }).addTo(this.map);
    } else {
      this.here.setLatLng(here);
    }
    if (!this.patrol) return;
    const at = onServerClock(position.timestamp || Date.now());
    if (at < this.startedMs - STALE_FIX_MS || !(c.accuracy <= MAX_ACCURACY_M)) return;
    this.queue.push({
      seq: this.nextSeq(at),
      t: new Date(at).toISOString(),
      lon: Number(c.longitude.toFixed(7)),
      lat: Number(c.latitude.toFixed(7)),
      accuracy_m: Math.round(c.accuracy * 10) / 10,
    });
    this.trackLine.addLatLng(here);
    if (!this.map.getBounds().contains(here)) this.map.panTo(here);
    this.showRunning();
  }

  /**
   * Post the next batch of fixes. A batch that failed is posted again exactly as it was
   * (same key, same numbers) before anything newer, so a retry stores nothing twice.
   */
  flush() {
    if (this.sending) return this.sending;
    if (!this.patrol) return Promise.resolve(true);
    if (!this.batch) {
      if (!this.queue.length) return Promise.resolve(true);
      this.batch = { key: newKey(), points: this.queue.slice(0, MAX_BATCH) };
    }
    const batch = this.batch;
    const url = `${this.config.apiRoot}/patrols/${this.patrol.id}/points`;
    this.sending = requestJson(url, {
      method: 'POST', body: { points: batch.points }, headers: { 'Idempotency-Key': batch.key },
    }).then((answer) => {
      this.queue.splice(0, batch.points.length);
      this.batch = null;
      this.stored = answer.points;
      if (this.patrol) this.showRunning();
      return true;
    }, (err) => {
      if (err.status >= 400 && err.status < 500 && ![401, 408, 429].includes(err.status)) {
        // Refused for what it holds (a bad clock, a patrol ended elsewhere): never resent.
        this.queue.splice(0, batch.points.length);
        this.batch = null;
        banner(`定位点未被接受：${err.message}`);
      } else {
        this.setStatus(`定位点上传失败，稍后自动重试：${err.message}`, 'retrying');
      }
      return false;
    }).finally(() => {
      this.sending = null;
    });
    return this.sending;
  }

  /** Post every fix still waiting; false when some could not be sent. */
  async flushAll() {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      if (this.sending) await this.sending;
      if (!this.queue.length) return true;
      await this.flush();
    }
    return !this.queue.length;
  }

  async stopPatrol() {
    this.stopButton.disabled = true;
    const patrol = this.patrol;
    try {
      if (!(await this.flushAll())) {
        banner('还有定位点未能上传，请检查网络后再结束巡查。');
        return;
      }
      this.endKey = this.endKey || newKey();
      const summary = await requestJson(`${this.config.apiRoot}/patrols/${patrol.id}/end`, {
        method: 'POST', body: {}, headers: { 'Idempotency-Key': this.endKey },
      });
      this.endKey = null;
      if (this.watchId !== null) navigator.geolocation.clearWatch(this.watchId);
      this.watchId = null;
      this.patrol = null;
      this.queue = [];
      this.root.dataset.patrol = '';
      this.root.dataset.ended = String(summary.id);
      const report = summary.report || {};
      this.showIdle(`巡查已结束：${summary.work_list.name}，轨迹 ${metres(summary.length_m)}，`
        + `保留 ${report.points_kept || 0} 个定位点。`);
      this.status.dataset.state = 'ended';
      await this.loadLists();
      this.fillSelects();
    } catch (err) {
      banner(`结束巡查失败：${err.message}`);
    } finally {
      this.stopButton.disabled = false;
    }
  }

  /** 入户签到 at a household of the running list, where the phone is (if it knows). */
  async checkIn(item, button) {
    if (!this.patrol) return;
    button.disabled = true;
    const pending = this.checkIns[item.id] || { key: newKey(), body: { household_id: item.id } };
    if (!this.checkIns[item.id] && this.position) {
      pending.body.location = {
        lon: Number(this.position.lon.toFixed(7)), lat: Number(this.position.lat.toFixed(7)),
      };
    }
    this.checkIns[item.id] = pending;
    const url = `${this.config.apiRoot}/patrols/${this.patrol.id}/checkins`;
    try {
      const answer = await requestJson(url, {
        method: 'POST', body: pending.body, headers: { 'Idempotency-Key': pending.key },
      });
      delete this.checkIns[item.id];
      const far = answer.distance_m === null || answer.distance_m === undefined ? '（无位置）'
        : `（距住户 ${metres(answer.distance_m)}）`;
      await this.loadLists();
      this.setStatus(`已签到：${item.address || `住户 ${item.id}`}${far}`, 'checked-in');
      setTimeout(() => { if (this.patrol) this.showRunning(); }, 4000);
    } catch (err) {
      if (err.status && err.status < 500) delete this.checkIns[item.id];
      button.disabled = false;
      banner(`签到失败：${err.message}`);
    }
  }

}
