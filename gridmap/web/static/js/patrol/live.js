/*
 * patrol/live.js: a running patrol on the worker's page — start and end it; while it runs the
 * browser's position is queued in numbered batches every few seconds; check-ins at the
 * households of the running list and visit logs (民情日志). Every write goes through the
 * outbox (core/outbox.js): kept in IndexedDB with its Idempotency-Key and sent in order when
 * the connection allows, so a patrol recorded without signal, even across a reload of the
 * page, arrives whole and once. A patrol started offline is named by a local reference until
 * the server answers its start. Photos taken for a check-in or a visit are queued with it
 * and uploaded just before it.
 */
import { newKey, onServerClock } from '../core/api.js';
import { banner } from '../core/banner.js';
import { OUTBOX_QUEUE_LABELS } from '../core/labels.js';
import { Outbox, waitingText } from '../core/outbox.js';
import { PhotoPicker } from '../core/photos.js';
import { visitBody } from '../visits/form.js';
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
/** The glossary's word (OUTBOX_QUEUE_LABELS) for each kind of write. */
const KIND_LABEL = {
  fixes: 'fixes', check_in: 'check_ins', visit: 'visits', photo: 'photos',
};
/** The running patrol as kept on the phone (IndexedDB): survives a reload. */
const RUNNING = 'patrol';

/** The live-patrol methods of the worker's page (mixed into WorkerPage). */
export class LivePatrol {
  makeOutbox() {
    this.answers = {}; // Idempotency-Key → the answer, for the write that waits for it
    this.outbox = new Outbox(this.config.apiRoot, {
      onChange: (ops, err) => this.showWaiting(ops, err),
      onSent: (op, answer) => this.onSent(op, answer),
      onRefused: (op, err) => banner(`${OUTBOX_QUEUE_LABELS[KIND_LABEL[op.kind] || 'other']}`
        + `未被接受：${err.message}`),
    });
    this.checkInPhotos = new PhotoPicker(document.getElementById('gm-checkin-photos'),
      this.config.apiRoot, banner, { keep: true, max: 1 });
    this.visitPhotos = new PhotoPicker(document.getElementById('gm-patrol-visit-photos'),
      this.config.apiRoot, banner, { keep: true });
    const refresh = () => this.outbox.changed();
    window.addEventListener('online', refresh);
    window.addEventListener('offline', refresh);
  }

  showWaiting(ops, err) {
    let text = waitingText(ops, OUTBOX_QUEUE_LABELS, this.queue.length);
    const waiting = ops.length + this.queue.length;
    if (!navigator.onLine && waiting) text = `${OUTBOX_QUEUE_LABELS.offline}。${text}`;
    else if (err && waiting) text = `${text}（${err.message}）`;
    this.outboxNode.textContent = text;
    this.outboxNode.dataset.state = waiting ? 'waiting' : 'sent';
    this.outboxNode.dataset.waiting = String(ops.length);
    if (err && this.patrol) this.setStatus(`上传失败，稍后自动重试：${err.message}`, 'retrying');
  }

  onSent(op, answer) {
    if (op.kind === 'photo') return;
    this.answers[op.key] = answer;
    if (op.kind === 'fixes') this.stored = answer.points;
    if (op.kind === 'start' && this.patrol && this.patrol.ref === op.setsRef) {
      this.patrol.id = answer.id;
      this.root.dataset.patrol = String(answer.id);
      this.outbox.set(RUNNING, this.patrol);
    }
    if (this.patrol && this.status.dataset.state !== 'checked-in') this.showRunning();
  }

  /** Send what waits now; the answer to the write keyed `key` if it has been sent. */
  async sendNow(key) {
    await this.outbox.flush();
    const answer = this.answers[key];
    delete this.answers[key];
    return answer;
  }

  async startPatrol() {
    this.startButton.disabled = true;
    this.geoMessage.hidden = true;
    const list = this.lists.lists.find((l) => l.code === this.listSelect.value);
    const patrol = {
      ref: newKey(),
      id: null,
      work_list: { code: list.code, name: list.name },
      started_at: new Date(onServerClock(Date.now())).toISOString(),
      lastSeq: -1,
      fixes: 0,
    };
    const key = newKey();
    try {
      await this.outbox.set(RUNNING, patrol);
      await this.outbox.add({
        kind: 'start', path: '/patrols', key, setsRef: patrol.ref,
        body: { work_list: list.code, started_at: patrol.started_at },
      });
      const answer = await this.sendNow(key);
      if (answer) patrol.id = answer.id;
      await this.outbox.set(RUNNING, patrol);
      this.trackLine.setLatLngs([]);
      this.begin(patrol);
    } catch (err) {
      banner(`开始巡查失败：${err.message}`);
    } finally {
      this.startButton.disabled = false;
    }
  }

  /** Carry on with `patrol` ({ref, id, work_list, started_at, lastSeq, fixes}). */
  begin(patrol) {
    this.patrol = patrol;
    this.startedMs = Date.parse(patrol.started_at);
    this.stored = 0;
    this.lastSeq = patrol.lastSeq;
    this.fixCount = patrol.fixes || 0;
    this.listSelect.value = patrol.work_list.code;
    this.listSelect.disabled = true;
    this.startButton.hidden = true;
    this.stopButton.hidden = false;
    this.stopButton.disabled = false;
    this.root.dataset.patrol = patrol.id ? String(patrol.id) : '';
    this.renderLists();
    this.drawDuties();
    this.fillVisitHouseholds();
    this.showRunning();
    this.watch();
  }

  /** The patrol the server says runs (started on another page load): kept on the phone. */
  async adopt(summary) {
    const ref = `patrol-${summary.id}`;
    await this.outbox.set(`ref:${ref}`, summary.id);
    const patrol = {
      ref, id: summary.id, work_list: summary.work_list, started_at: summary.started_at,
      lastSeq: -1, fixes: 0,
    };
    await this.outbox.set(RUNNING, patrol);
    this.begin(patrol);
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
   * rising across a reload of the page (the last number is kept on the phone too). */
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
    this.fixCount += 1;
    this.trackLine.addLatLng(here);
    if (!this.map.getBounds().contains(here)) this.map.panTo(here);
    this.showRunning();
  }

  /** Move the fixes taken since the last batch into the outbox (with the last number kept,
   * so a reload numbers on from it) and send what waits. */
  async queueFixes() {
    if (!this.patrol || !this.queue.length) return;
    const points = this.queue.splice(0, MAX_BATCH);
    this.patrol.lastSeq = this.lastSeq;
    this.patrol.fixes = this.fixCount;
    await this.outbox.set(RUNNING, this.patrol);
    await this.outbox.add({
      kind: 'fixes', path: '/patrols/{patrol}/points', ref: this.patrol.ref, key: newKey(),
      body: { points },
    });
  }

  /** Every few seconds: queue the new fixes, then send what waits. */
  async flush() {
    await this.queueFixes();
    return this.outbox.flush();
  }

  async stopPatrol() {
    this.stopButton.disabled = true;
    const patrol = this.patrol;
    const key = newKey();
    try {
      await this.queueFixes();
      await this.outbox.add({
        kind: 'end', path: '/patrols/{patrol}/end', ref: patrol.ref, key,
        body: { ended_at: new Date(onServerClock(Date.now())).toISOString() },
      });
      await this.outbox.set(RUNNING, undefined);
      if (this.watchId !== null) navigator.geolocation.clearWatch(this.watchId);
      this.watchId = null;
      this.patrol = null;
      this.root.dataset.patrol = '';
      const summary = await this.sendNow(key);
      if (summary) {
        this.root.dataset.ended = String(summary.id);
        const report = summary.report || {};
        this.showIdle(`巡查已结束：${summary.work_list.name}，轨迹 ${metres(summary.length_m)}，`
          + `保留 ${report.points_kept || 0} 个定位点。`);
        await this.loadLists();
        this.fillSelects();
      } else {
        this.showIdle(`巡查已结束：${patrol.work_list.name}，记录保存在本机，联网后自动发送。`);
      }
      this.status.dataset.state = 'ended';
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
    const body = { household_id: item.id, at: new Date(onServerClock(Date.now())).toISOString() };
    if (this.position) {
      body.location = {
        lon: Number(this.position.lon.toFixed(7)), lat: Number(this.position.lat.toFixed(7)),
      };
    }
    const key = newKey();
    const where = item.address || `住户 ${item.id}`;
    try {
      await this.queueFixes();
      await this.outbox.add({
        kind: 'check_in', path: '/patrols/{patrol}/checkins', ref: this.patrol.ref, key, body,
        photoField: 'photo',
      }, { photos: this.checkInPhotos.kept(), purpose: 'check_in' });
      this.checkInPhotos.reset();
      const answer = await this.sendNow(key);
      if (answer) {
        const far = answer.distance_m === null || answer.distance_m === undefined ? '（无位置）'
          : `（距住户 ${metres(answer.distance_m)}）`;
        await this.loadLists();
        this.setStatus(`已签到：${where}${far}`, 'checked-in');
      } else {
        button.textContent = '已签到（待发送）';
        this.setStatus(`已签到：${where}（保存在本机，联网后发送）`, 'checked-in');
      }
      setTimeout(() => { if (this.patrol) this.showRunning(); }, 4000);
    } catch (err) {
      button.disabled = false;
      banner(`签到失败：${err.message}`);
    }
  }

  /** 民情日志 during the patrol: a visit to a household of the running list, on this patrol. */
  async logVisit() {
    const household = this.visitHousehold.value;
    if (!household) return;
    const body = visitBody(this.visitForm, 'gm-patrol-visit', household,
      onServerClock(Date.now()));
    const op = {
      kind: 'visit', path: '/visits', key: newKey(), body, photoField: 'photos',
    };
    if (this.patrol) Object.assign(op, { ref: this.patrol.ref, refField: 'patrol_id' });
    this.visitSubmit.disabled = true;
    try {
      await this.queueFixes();
      await this.outbox.add(op, { photos: this.visitPhotos.kept(), purpose: 'visit' });
      this.visitPhotos.reset();
      this.visitForm.querySelector('textarea').value = '';
      this.visitForm.querySelectorAll('input[type=checkbox]').forEach((box) => {
        box.checked = false;
      });
      const answer = await this.sendNow(op.key);
      this.visitResult.textContent = answer ? `已记录民情日志（${answer.address || `住户 ${household}`}）`
        : '已保存民情日志，联网后自动发送';
      this.visitResult.dataset.state = answer ? 'done' : 'waiting';
      this.visitResult.hidden = false;
    } catch (err) {
      banner(`民情日志保存失败：${err.message}`);
    } finally {
      this.visitSubmit.disabled = false;
    }
  }
}
