/*
 * pages/party.js: 双报到, the chief's page.
 *
 * Publish an activity for a community's members (社区吹哨), see the activities with their
 * places taken and attendance, confirm a signed-up member's attendance, and the quarter's
 * table of members against the rule (双报告) with its Excel download, a background job the
 * page follows (core/jobs.js).
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { el } from '../core/dom.js';
import { beijing } from '../core/format.js';
import { downloadFile, JobProgress, runJob } from '../core/jobs.js';
import { ATTENDANCE_HOW_LABELS, PARTY_LABELS as T } from '../core/labels.js';
import { fillQuarters, showReport } from '../party/report.js';

/** A datetime-local value (Beijing time) as an ISO moment with its offset. */
const moment = (value) => `${value}:00+08:00`;

class PartyPage {
  constructor(config) {
    this.config = config;
    this.api = `${config.apiRoot}/party`;
    this.root = document.getElementById('gm-party');
    this.publishForm = document.getElementById('gm-party-publish');
    this.publishResult = document.getElementById('gm-party-publish-result');
    this.activities = document.querySelector('#gm-party-activities tbody');
    this.signupsCard = document.getElementById('gm-party-signups-card');
    this.signups = document.getElementById('gm-party-signups');
    this.report = document.getElementById('gm-party-report');
    this.summary = document.getElementById('gm-party-summary');
    this.quarter = document.getElementById('gm-party-quarter');
    this.kinds = {};
    this.progress = new JobProgress({
      section: document.getElementById('gm-party-job'),
      bar: document.getElementById('gm-party-progress'),
      status: document.getElementById('gm-party-status'),
    });
    this.publishForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.publish();
    });
    document.getElementById('gm-party-report-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.loadReport();
    });
    document.getElementById('gm-party-xlsx').addEventListener('click', () => this.exportXlsx());
    this.load();
  }

  async load() {
    try {
      const kinds = await requestJson(`${this.api}/posts`);
      this.kinds = Object.fromEntries(kinds.posts.map((p) => [p.code, p.name]));
      document.getElementById('gm-party-kind').replaceChildren(
        ...kinds.posts.map((p) => el('option', { value: p.code }, p.name)));
      await Promise.all([this.loadActivities(), this.loadReport(), this.placeAtCentre()]);
    } catch (err) {
      banner(err.message);
    }
    this.root.dataset.state = 'ready';
  }

  /** The place defaults to the middle of the community (its outline's bounding box). */
  async placeAtCentre() {
    const form = this.publishForm.elements;
    if (!this.config.community || form.lon.value) return;
    const grid = await requestJson(`${this.config.apiRoot}/grids/${this.config.community}`);
    const flat = grid.geometry ? grid.geometry.coordinates.flat(Infinity) : [];
    if (!flat.length) return;
    const mid = (i) => {
      const values = flat.filter((_, j) => j % 2 === i);
      return (Math.min(...values) + Math.max(...values)) / 2;
    };
    form.lon.value = mid(0).toFixed(6);
    form.lat.value = mid(1).toFixed(6);
  }

  async loadActivities() {
    const body = await requestJson(`${this.api}/activities`);
    this.activities.replaceChildren(...body.results.map((a) => {
      const open = el('button', { type: 'button', class: 'gm-button' }, T.signups);
      open.addEventListener('click', () => this.showSignups(a.id));
      return el('tr', { 'data-activity': a.id },
        el('td', {}, a.title),
        el('td', {}, this.kinds[a.kind] || a.kind),
        el('td', {}, `${beijing(a.starts_at)} – ${beijing(a.ends_at)}`),
        el('td', {}, `${a.signed}/${a.wanted}`),
        el('td', {}, String(a.attended)),
        el('td', {}, open));
    }));
  }

  async showSignups(activityId) {
    const a = await requestJson(`${this.api}/activities/${activityId}`);
    this.signupsCard.hidden = false;
    this.signupsCard.dataset.activity = activityId;
    document.getElementById('gm-party-signups-title').textContent = `${T.signups} · ${a.title}`;
    this.signups.replaceChildren(...a.signups.map((s) => {
      const li = el('li', { 'data-person': s.person_id }, el('strong', {}, s.name), ' ');
      if (s.attended_at) {
        li.append(el('span', { class: 'gm-party-done' },
          `${ATTENDANCE_HOW_LABELS[s.how]} · ${s.hours} 小时`));
      } else {
        const b = el('button', { type: 'button', class: 'gm-button' }, T.confirm);
        b.addEventListener('click', () => this.confirm(activityId, s.person_id));
        li.append(b);
      }
      return li;
    }));
  }

  async confirm(activityId, personId) {
    try {
      await requestJson(`${this.api}/activities/${activityId}/attendance`,
        { method: 'POST', body: { person_id: personId } });
      await Promise.all([this.showSignups(activityId), this.loadActivities(), this.loadReport()]);
    } catch (err) {
      banner(err.message);
    }
  }

  async publish() {
    const f = new FormData(this.publishForm);
    const body = {
      community: f.get('community'),
      kind: f.get('kind'),
      title: f.get('title'),
      starts_at: moment(f.get('starts_at')),
      ends_at: moment(f.get('ends_at')),
      place_name: f.get('place_name'),
      place: { lon: Number(f.get('lon')), lat: Number(f.get('lat')), crs: 'EPSG:4326' },
      wanted: Number(f.get('wanted')),
    };
    try {
      const made = await requestJson(`${this.api}/activities`, { method: 'POST', body });
      this.publishResult.textContent = `${T.publish}：${made.title}`;
      await this.loadActivities();
    } catch (err) {
      this.publishResult.textContent = err.message;
    }
  }

  quarterQuery() {
    const q = this.quarter.value.trim();
    return q ? `?quarter=${encodeURIComponent(q)}` : '';
  }

  async loadReport() {
    const body = await requestJson(`${this.api}/report${this.quarterQuery()}`);
    if (!this.quarter.options.length) fillQuarters(this.quarter, body.quarter);
    showReport(this.report, this.summary, body);
  }

  async exportXlsx() {
    const q = this.quarter.value.trim();
    try {
      const job = await runJob(this.config.apiRoot, `${this.api}/report-jobs`,
        q ? { quarter: q } : {}, (j) => this.progress.show(j));
      this.progress.finish(job, T.export);
      if (job.state === 'succeeded') downloadFile(this.config.apiRoot, job);
    } catch (err) {
      banner(err.message);
    }
  }
}

export function start(config) {
  return new PartyPage(config);
}
