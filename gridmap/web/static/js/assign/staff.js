/*
 * assign/staff.js: the grid's posts (格中有人: add and end them) and its reports
 * (unstaffed, uncovered, overloaded, coverage) with their CSV and Excel downloads.
 */
import { requestJson } from '../core/api.js';
import { el, gridLabel, percent } from '../core/dom.js';
import {
  CARE_TAG_LABELS, LEVEL_LABELS, PERSON_KIND_LABELS, ROLE_LABELS,
} from '../core/labels.js';
import { REPORT_COLUMNS, REPORT_ROWS_SHOWN, ROLES_BY_LEVEL, round } from './shared.js';

/** Methods of the assignment page (mixed into AssignPage). */
export class AssignStaff {
  fillStaffGrids() {
    const grids = [{ code: this.code, name: this.grid.properties.name, level: this.level }];
    if (this.level === 'zone') {
      this.micro.forEach((m) => grids.push({
        code: m.code, name: m.feature.properties.name, level: 'micro',
      }));
    }
    this.staffGrids = new Map(grids.map((g) => [g.code, g]));
    document.getElementById('gm-staff-grid').replaceChildren(...grids.map((g) => el('option',
      { value: g.code }, `${LEVEL_LABELS[g.level]} ${g.name || g.code}`)));
  }

  async loadStaff(code) {
    const body = await this.get(`/grids/${encodeURIComponent(code)}/staff`);
    this.staff = { code, etag: body.etag, posts: body.assignments || [] };
    document.getElementById('gm-staff-grid').value = code;
    const level = this.staffGrids.get(code).level;
    document.getElementById('gm-staff-role').replaceChildren(...ROLES_BY_LEVEL[level].map(
      (r) => el('option', { value: r }, ROLE_LABELS[r])));
    const rows = this.staff.posts.map((p) => {
      const end = el('button', { type: 'button', class: 'gm-end-post', 'data-id': p.id }, '结束');
      end.addEventListener('click', () => this.endPost(p));
      return el('tr', { 'data-assignment-id': p.id },
        el('td', null, ROLE_LABELS[p.role] || p.role),
        el('td', null, `${p.name}（${p.person_id}）`),
        el('td', { class: 'gm-nowrap' }, p.start_date || ''),
        el('td', null, end));
    });
    document.getElementById('gm-staff').replaceChildren(...(rows.length ? rows
      : [el('tr', null, el('td', { colspan: '4', class: 'gm-warning' }, '暂无人员（格中无人）'))]));
    this.renderPeople();
  }

  async addPost(event) {
    event.preventDefault();
    const personId = Number(document.getElementById('gm-staff-person').value);
    const role = document.getElementById('gm-staff-role').value;
    if (!Number.isInteger(personId) || personId < 1) {
      this.say('请填写人员编号');
      return;
    }
    const staff = this.staff;
    await this.run('新增岗位', async () => {
      await this.write(`/grids/${encodeURIComponent(staff.code)}/staff`,
        { person_id: personId, role }, { etag: staff.etag });
      document.getElementById('gm-staff-person').value = '';
      await Promise.all([this.loadStaff(staff.code), this.reload()]);
      this.say(`已新增${ROLE_LABELS[role]}（人员 ${personId}）`);
    });
  }

  async endPost(post) {
    const staff = this.staff;
    await this.run('结束岗位', async () => {
      await this.write(`/assignments/${post.id}/end`, {}, { etag: staff.etag });
      await Promise.all([this.loadStaff(staff.code), this.reload()]);
      this.say(`已结束 ${post.name} 的${ROLE_LABELS[post.role] || post.role}岗位`);
    });
  }

  /** A grid of the page by its name, its code as a secondary label (a code if unknown). */
  gridName(code) {
    const grid = this.staffGrids && this.staffGrids.get(code);
    return grid && grid.name ? gridLabel(grid.name, code) : el('span', { translate: 'no' }, code);
  }

  // ---- reports ---------------------------------------------------------------------------------

  reportQuery(name) {
    const query = new URLSearchParams({ grid: this.code });
    if (name === 'overloaded') {
      query.set('max_load', document.getElementById('gm-max-load').value || '15');
      query.set('care_weight', String(this.config.careWeight));
    }
    return query;
  }

  async loadReport() {
    const name = document.getElementById('gm-report-name').value;
    const query = this.reportQuery(name);
    const body = await requestJson(`${this.config.reportsRoot}/${name}?${query}`);
    this.report = body;
    const headings = body.columns || {};
    const keys = (REPORT_COLUMNS[name] || Object.keys(headings)).filter((k) => k in headings);
    const rows = body.rows || [];
    const value = (row, key) => {
      const v = row[key];
      if (v === null || v === undefined || v === '') return '—';
      if (key === 'rate' && typeof v === 'number') return percent(v);
      if (key === 'level') return LEVEL_LABELS[v] || v;
      if (key === 'missing_role') return ROLE_LABELS[v] || v;
      if (key === 'kind') return PERSON_KIND_LABELS[v] || v;
      if (key === 'care_tags') return v.split(';').map((t) => CARE_TAG_LABELS[t] || t).join('、');
      if (key === 'micro_grid_code') return this.gridName(v);
      if (typeof v === 'number' && !Number.isInteger(v)) return round(v, 2);
      return String(v);
    };
    const table = el('table', { class: 'gm-table gm-report-table', 'data-report': name },
      el('thead', null, el('tr', null, keys.map((k) => el('th', null, headings[k])))),
      el('tbody', null, rows.slice(0, REPORT_ROWS_SHOWN).map((r) => el('tr', null,
        keys.map((k) => el('td', null, value(r, k)))))));
    const more = rows.length > REPORT_ROWS_SHOWN
      ? el('p', { class: 'gm-muted gm-small' }, `仅显示前 ${REPORT_ROWS_SHOWN} 条，请下载查看全部`)
      : null;
    // replaceChildren would write a null as the text "null".
    document.getElementById('gm-report').replaceChildren(...[
      el('p', { class: 'gm-report-title' }, `${body.title}：共 ${rows.length} 条`),
      rows.length ? table : el('p', { class: 'gm-muted' }, '无'), more].filter(Boolean));
    const links = document.getElementById('gm-report-links');
    links.hidden = !this.canExport;
    document.getElementById('gm-report-csv').href =
      `${this.config.reportsRoot}/${name}.csv?${query}`;
    document.getElementById('gm-report-xlsx').href =
      `${this.config.reportsRoot}/${name}.xlsx?${query}`;
  }

  /** 在地图上显示: outline the households or grids the report lists, and zoom to them. */
  showReport() {
    if (!this.report) return;
    const rows = this.report.rows || [];
    this.highlight = new Set();
    this.highlightGrids = new Set();
    if (this.report.name === 'uncovered') {
      rows.forEach((r) => this.highlight.add(r.id));
    } else if (this.report.name === 'overloaded') {
      const people = new Set(rows.map((r) => r.id));
      this.households.forEach((h) => { if (people.has(h.current)) this.highlight.add(h.id); });
    } else {
      rows.filter((r) => this.report.name !== 'coverage' || r.rate < 1)
        .forEach((r) => this.highlightGrids.add(r.code));
    }
    this.households.forEach((h) => this.restyle(h));
    this.micro.forEach((m) => m.layer.setStyle(this.microStyle(m)));
    const bounds = L.latLngBounds([]);
    this.highlight.forEach((id) => {
      const h = this.households.get(id);
      if (h) bounds.extend(h.marker.getLatLng());
    });
    this.micro.filter((m) => this.highlightGrids.has(m.code))
      .forEach((m) => bounds.extend(m.layer.getBounds()));
    const shown = this.highlight.size + this.highlightGrids.size;
    if (bounds.isValid()) this.map.fitBounds(bounds, { padding: [40, 40], maxZoom: 18 });
    this.say(shown ? `地图上已标出 ${this.highlight.size ? `${this.highlight.size} 户`
      : `${this.highlightGrids.size} 个网格`}（青色）` : '该报表在本网格内没有可标出的对象');
  }
}
