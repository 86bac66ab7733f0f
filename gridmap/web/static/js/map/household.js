/*
 * map/household.js: the grid map's search and household panel (pages/map.js) — who covers a
 * clicked household (党员分片包户 and the grid staff above it), its last visits, and personal
 * data masked by the API, revealed one value at a time (each reveal is audited).
 */
import { getJson, requestJson } from '../core/api.js';
import { el, gridLabel } from '../core/dom.js';
import { beijing } from '../core/format.js';
import {
  BUILDING_LABELS, CARE_TAG_LABELS, PERSON_KIND_LABELS, ROLE_LABELS, VISIT_CHANNEL_LABELS, VISIT_HOW_LABELS,
  VISIT_TOPIC_LABELS,
} from '../core/labels.js';
import { COVERAGE_LEVELS, GRID_LEVELS, LAYER_LABELS } from './style.js';

// "3" → "3号楼" (and a masked "*" → "*号楼"), while "3号楼" or "A座" stay as they are.
function suffixed(value, suffix) {
  if (value === null || value === undefined || value === '') return null;
  return /^[\d*]+$/.test(String(value)) ? `${value}${suffix}` : String(value);
}

/** The search and household methods of the grid map page (mixed into GridmapPage). */
export class HouseholdPanel {
  async search(q) {
    const list = this.dom.results;
    list.replaceChildren(el('li', { class: 'gm-muted' }, '搜索中…'));
    let results;
    try {
      const body = await getJson(
        `${this.config.apiRoot}/search?${new URLSearchParams({ q })}`);
      results = Array.isArray(body.results) ? body.results : [];
    } catch (err) {
      list.replaceChildren();
      this.showError(`搜索失败：${err.message}`);
      return;
    }
    if (results.length === 0) {
      list.replaceChildren(el('li', { class: 'gm-muted' }, `未找到“${q}”相关的网格或住户`));
      return;
    }
    list.replaceChildren(...results.map((result) => {
      const button = el('button', { type: 'button' },
        el('span', { class: 'gm-search-kind' }, result.type === 'household' ? '住户' : '网格'),
        result.label || String(result.id));
      button.addEventListener('click', () => this.goTo(result));
      return el('li', null, button);
    }));
    this.goTo(results[0]);
  }

  /** Fly to a search result; a grid is outlined, a household opens its coverage panel. */
  goTo(result) {
    const [minLng, minLat, maxLng, maxLat] = result.bbox;
    const sw = this.toDisplay(minLng, minLat);
    const ne = this.toDisplay(maxLng, maxLat);
    const bounds = L.latLngBounds([sw[1], sw[0]], [ne[1], ne[0]]);
    if (result.type === 'household') {
      this.selectHousehold(result.id);
      this.map.flyTo(bounds.getCenter(), Math.max(this.zooms.household + 2, this.map.getZoom()));
      return;
    }
    this.focusGrid = String(result.id);
    GRID_LEVELS.forEach((level) => this.layers[level].resetStyle());
    this.map.flyToBounds(bounds, { maxZoom: 18, padding: [24, 24] });
  }

  // ---- household coverage (党员分片包户) ------------------------------------------------------

  async selectHousehold(id) {
    const previous = this.selectedHousehold;
    this.selectedHousehold = String(id);
    this.restyleHouseholds([previous, this.selectedHousehold]);
    const panel = this.dom.household;
    panel.dataset.householdId = this.selectedHousehold;
    panel.dataset.state = 'loading';
    panel.replaceChildren(el('p', { class: 'gm-muted' }, '加载中…'));
    if (this.coverageController) this.coverageController.abort();
    const controller = new AbortController();
    this.coverageController = controller;
    try {
      const body = await getJson(
        `${this.config.apiRoot}/households/${encodeURIComponent(id)}/coverage`, controller.signal);
      await this.ready;
      if (controller.signal.aborted) return;
      panel.replaceChildren(...this.coverageNodes(body), this.visitsNode(id, controller.signal));
      panel.dataset.state = 'loaded';
      panel.scrollIntoView({ block: 'nearest' });
    } catch (err) {
      if (err.name === 'AbortError') return;
      panel.replaceChildren(el('p', { class: 'gm-warning' }, '包户情况加载失败'));
      panel.dataset.state = 'error';
      this.showError(`住户包户情况加载失败：${err.message}`);
    }
  }

  /**
   * Restyle the markers of these households only (the one selected before and the one
   * selected now): restyling every marker in view (thousands at zoom 17 in a dense district)
   * took most of a click's time before its panel showed.
   */
  restyleHouseholds(ids) {
    const wanted = new Set(ids.filter((x) => x !== null && x !== undefined).map(String));
    const layer = this.layers.household;
    layer.eachLayer((marker) => {
      if (wanted.has(String(marker.feature.properties.id))) layer.resetStyle(marker);
    });
  }

  coverageNodes(body) {
    const h = body.household || {};
    const tags = Array.isArray(h.care_tags) ? h.care_tags : [];
    const members = Array.isArray(body.members) ? body.members : [];
    const place = [suffixed(h.building, '号楼'), suffixed(h.unit, '单元'), suffixed(h.room, '室')]
      .filter(Boolean).join(' ');
    return [
      el('p', { class: 'gm-address' }, h.address
        ? this.masked('household', h.id, 'address', h.address) : `住户 ${h.id}`),
      el('dl', null,
        place ? [el('dt', null, '楼栋房号'), el('dd', null, place)] : null,
        el('dt', null, '居住人数'), el('dd', null, h.residents === undefined ? '—' : h.residents),
        el('dt', null, '关爱对象'),
        el('dd', null, tags.length
          ? tags.map((t) => el('span', { class: 'gm-tag' }, CARE_TAG_LABELS[t] || t)) : '无'),
        el('dt', null, '包户状态'),
        el('dd', null, h.covered
          ? el('span', { class: 'gm-status-covered' }, '已包户')
          : el('span', { class: 'gm-status-uncovered' }, '未包户'))),
      el('h3', null, `包户党员（${members.length}）`),
      members.length
        ? el('ul', { class: 'gm-members' }, members.map((m) => el('li', null,
          this.masked('person', m.id, 'name', m.name),
          PERSON_KIND_LABELS[m.kind] ? `（${PERSON_KIND_LABELS[m.kind]}）` : '',
          m.phone
            ? el('span', { class: 'gm-phone' }, this.masked('person', m.id, 'phone', m.phone))
            : null)))
        : el('p', { class: 'gm-warning' }, '暂无党员包户，需补充分片包户'),
      ...this.buildingNodes(body.building),
      el('h3', null, '网格人员'),
      el('ul', { class: 'gm-staff' }, COVERAGE_LEVELS.map((level) => this.gridNode(level,
        (body.grids || {})[level]))),
    ];
  }

  /**
   * 楼栋: the household's building and unit, their 楼栋长 and 单元长, and the 党员中心户 that
   * looks after it (names as the API sent them, revealable like every name).
   */
  buildingNodes(building) {
    const B = BUILDING_LABELS;
    const title = el('h3', null, B.building);
    if (!building) return [title, el('p', { class: 'gm-muted gm-building-panel' }, B.none)];
    const place = [suffixed(building.number, B.number_suffix),
      suffixed(building.unit, B.unit_suffix)].filter(Boolean).join(' ');
    const posts = Array.isArray(building.posts) ? building.posts : [];
    const central = building.central;
    const person = (p) => [
      this.masked('person', p.person_id || p.id, 'name', p.name),
      p.phone ? el('span', { class: 'gm-phone' },
        this.masked('person', p.person_id || p.id, 'phone', p.phone)) : null];
    return [title, el('dl', { class: 'gm-building-panel' },
      el('dt', null, B.building), el('dd', null, building.name || place || B.none),
      ...['building_head', 'unit_head'].flatMap((role) => {
        const post = posts.find((p) => p.role === role);
        return [el('dt', null, B[role]), el('dd', null, post ? person(post) : B.none)];
      }),
      el('dt', null, B.central),
      el('dd', null, central
        ? [...person(central.person), central.is_this_household
          ? el('span', { class: 'gm-tag' }, B.is_central) : null]
        : B.none))];
  }

  /**
   * 巡查走访: the household's last patrols and visits (who, when, 签到 or 经过), filled in
   * when they arrive, so that the coverage above shows at once.
   */
  visitsNode(id, signal) {
    const list = el('ul', { class: 'gm-visits' }, el('li', { class: 'gm-muted' }, '加载中…'));
    const section = el('div', { class: 'gm-visits-section', 'data-state': 'loading' },
      el('h3', null, '最近巡查走访'), list);
    getJson(`${this.config.apiRoot}/households/${encodeURIComponent(id)}/visits?limit=5`, signal)
      .then((body) => {
        const visits = Array.isArray(body.visits) ? body.visits : [];
        section.firstChild.textContent = `最近巡查走访（${visits.length}）`;
        list.replaceChildren(...(visits.length ? visits.map((v) => el('li', null,
          el('span', { class: `gm-visit-how gm-visit-${v.how}` }, VISIT_HOW_LABELS[v.how] || v.how),
          ` ${beijing(v.at)} `,
          this.masked('person', v.person && v.person.id, 'name', v.person && v.person.name),
          v.work_list ? el('span', { class: 'gm-muted' }, ` ${v.work_list.name}`) : null))
          : [el('li', { class: 'gm-warning' }, '暂无巡查走访记录')]));
        const logs = Array.isArray(body.logs) ? body.logs : [];
        section.append(el('h3', null, `民情日志（${logs.length}）`),
          el('ul', { class: 'gm-visit-logs' }, logs.length ? logs.map((v) => this.logNode(v))
            : [el('li', { class: 'gm-muted' }, '暂无民情日志')]));
        section.dataset.state = 'loaded';
      }, (err) => {
        if (err.name === 'AbortError') return;
        list.replaceChildren(el('li', { class: 'gm-warning' }, '巡查走访记录加载失败'));
        section.dataset.state = 'error';
      });
    return section;
  }

  /** 民情日志: when, who, how (入户/电话/微信), the topics, the note and the request filed. */
  logNode(v) {
    const topics = (v.topics || []).map((t) => VISIT_TOPIC_LABELS[t] || t).join('、');
    return el('li', { 'data-visit': v.id },
      el('span', { class: 'gm-visit-how' }, VISIT_CHANNEL_LABELS[v.channel] || v.channel),
      ` ${beijing(v.at)} `,
      this.masked('person', v.person && v.person.id, 'name', v.person && v.person.name),
      topics ? el('span', { class: 'gm-muted' }, ` ${topics}`) : null,
      v.note ? el('div', { class: 'gm-small' }, v.note) : null,
      v.request_id ? el('a', { href: `/requests/${v.request_id}` }, ` 诉求 #${v.request_id}`)
        : null);
  }

  gridNode(level, grid) {
    const label = LAYER_LABELS[level];
    if (!grid) return el('li', { class: 'gm-warning' }, `${label}：未落入网格`);
    const staff = Array.isArray(grid.staff) ? grid.staff : [];
    // The zone and community above the reader's own grid are named (the chain is not
    // secret), but their staff's phones are not the reader's to reveal.
    const revealable = grid.in_scope !== false;
    return el('li', { 'data-level': level, 'data-in-scope': String(revealable) },
      `${label}：`, gridLabel(grid.name || grid.code, grid.code),
      staff.length
        ? el('ul', null, staff.map((s) => el('li', null,
          `${ROLE_LABELS[s.role] || s.role}：`,
          this.masked('person', s.person_id, 'name', s.name, revealable),
          s.phone
            ? el('span', { class: 'gm-phone' },
              this.masked('person', s.person_id, 'phone', s.phone, revealable))
            : null)))
        : el('ul', null, el('li', { class: 'gm-warning' }, '暂无人员（格中无人）')));
  }

  // ---- personal data: masked by the API, revealed one value at a time (audited) -----------

  /**
   * A masked value as the API sent it; for roles that may reveal, with a "显示" button that
   * asks the server for the plain value (each click is one audit row there). A value the API
   * sent plain (a door of the reader's duty, a colleague's name) has nothing to reveal.
   */
  masked(object, id, field, text, revealable = true) {
    if (text && !String(text).includes('*')) {
      return el('span', { class: 'gm-plain', 'data-object': object, 'data-field': field }, text);
    }
    const value = el('span', { class: 'gm-masked-text' }, text);
    const node = el('span',
      { class: 'gm-masked', 'data-object': object, 'data-id': id, 'data-field': field }, value);
    if (!this.canReveal || !revealable || id === null || id === undefined || !text) return node;
    const button = el('button',
      { type: 'button', class: 'gm-reveal', title: '查看明文（将记入审计日志）' }, '显示');
    button.addEventListener('click', () => this.reveal(node, value, button));
    node.append(button);
    return node;
  }

  async reveal(node, value, button) {
    button.disabled = true;
    const { object, id, field } = node.dataset;
    try {
      const body = await requestJson(`${this.config.apiRoot}/reveal`, {
        method: 'POST', body: { object, id: Number(id), field },
      });
      value.textContent = body.value === null || body.value === undefined ? '—' : body.value;
      node.classList.add('gm-revealed');
      button.remove();
    } catch (err) {
      button.disabled = false;
      this.showError(`显示失败：${err.message}`);
    }
  }
}
