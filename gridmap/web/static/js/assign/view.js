/*
 * assign/view.js: what the assignment page shows — today's coverage or the proposal, each
 * household coloured by the member who covers it (red: nobody; a purple ring: a care
 * household), the coverage rate and the members' loads.
 */
import { el, percent } from '../core/dom.js';
import { PERSON_KIND_LABELS, ROLE_LABELS } from '../core/labels.js';
import { COLOURS, round } from './shared.js';

/** Methods of the assignment page (mixed into AssignPage). */
export class AssignView {
  shownPerson(h) {
    if (this.proposal) {
      const p = this.proposal.pairs.get(h.id);
      return p === undefined ? h.current : p;
    }
    return h.current === undefined ? null : h.current;
  }

  isChanged(h) {
    if (!this.proposal) return false;
    const before = this.proposal.current.has(h.id) ? this.proposal.current.get(h.id) : h.current;
    return this.shownPerson(h) !== before;
  }

  colourOf(personId) {
    return this.colours.get(personId) || '#555555';
  }

  householdStyle(h) {
    const person = this.shownPerson(h);
    const style = {
      radius: 6,
      fillColor: person === null ? COLOURS.uncovered : this.colourOf(person),
      fillOpacity: 0.9,
      color: '#ffffff',
      weight: 1,
      opacity: 1,
    };
    if (h.care) Object.assign(style, { color: COLOURS.care, weight: 3 });
    if (this.isChanged(h)) Object.assign(style, { color: COLOURS.changed, weight: 3, radius: 8 });
    if (this.highlight.has(h.id)) {
      Object.assign(style, { color: COLOURS.highlight, weight: 4, radius: 9 });
    }
    if (this.selection.has(h.id)) {
      Object.assign(style, { color: COLOURS.selected, weight: 4, radius: 9 });
    }
    return style;
  }

  restyle(h) {
    const style = this.householdStyle(h);
    h.marker.setStyle(style);
    h.marker.setRadius(style.radius);
    const node = h.marker.getElement();
    if (!node) return;
    const person = this.shownPerson(h);
    node.dataset.person = person === null ? '' : String(person);
    node.classList.toggle('gm-uncovered', person === null);
    node.classList.toggle('gm-selected', this.selection.has(h.id));
    node.classList.toggle('gm-changed', this.isChanged(h));
    node.classList.toggle('gm-highlight', this.highlight.has(h.id));
    node.classList.toggle('gm-care', Boolean(h.care));
  }

  renderAll() {
    this.households.forEach((h) => this.restyle(h));
    this.renderRate();
    this.renderMembers();
    this.renderSelection();
    this.renderProposal();
    this.renderPeople();
  }

  /** Weighted loads of the shown division: person id → {n, w}. */
  loads() {
    const weight = this.config.careWeight;
    const loads = new Map();
    this.households.forEach((h) => {
      const p = this.shownPerson(h);
      if (p === null) return;
      const load = loads.get(p) || { n: 0, w: 0 };
      load.n += 1;
      load.w += h.care ? weight : 1;
      loads.set(p, load);
    });
    return loads;
  }

  renderRate() {
    const total = this.households.size;
    let covered = 0;
    this.households.forEach((h) => { if (h.current !== null) covered += 1; });
    const node = document.getElementById('gm-coverage-rate');
    node.dataset.covered = String(covered);
    node.dataset.total = String(total);
    node.textContent = total
      ? `${covered} / ${total} 户（${percent(covered / total)}）` : '该网格暂无住户';
  }

  renderMembers() {
    const loads = this.loads();
    const list = document.getElementById('gm-members');
    if (!this.members.length) {
      list.replaceChildren(el('li', { class: 'gm-muted' }, '本社区暂无可包户的党员'));
      return;
    }
    list.replaceChildren(...this.members.map((m) => {
      const load = loads.get(m.id) || { n: 0, w: 0 };
      const item = el('li', {
        class: 'gm-member',
        role: 'button',
        tabindex: '0',
        'data-person-id': m.id,
        'aria-pressed': String(this.currentMember === m.id),
      },
      el('span', { class: 'gm-member-swatch', style: `background:${this.colourOf(m.id)}` }),
      el('span', { class: 'gm-member-name' }, m.name),
      el('span', { class: 'gm-muted gm-small' },
        `${PERSON_KIND_LABELS[m.kind] || m.kind}${m.lon === null ? '·无住址' : ''}`),
      el('span', { class: 'gm-member-load', title: '户数 / 加权户数（关爱对象加权）' },
        `${load.n} 户 / ${round(load.w)}`));
      const choose = () => this.chooseMember(m.id);
      item.addEventListener('click', choose);
      item.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); choose(); }
      });
      return item;
    }));
    const current = this.members.find((m) => m.id === this.currentMember);
    document.getElementById('gm-current-member').textContent = current
      ? `${current.name}（编号 ${current.id}）` : '未选择';
  }

  chooseMember(id) {
    this.currentMember = this.currentMember === id ? null : id;
    this.renderMembers();
  }

  renderPeople() {
    const people = new Map(this.members.map((m) => [m.id, `${m.name}（${PERSON_KIND_LABELS[m.kind] || m.kind}）`]));
    ((this.staff && this.staff.posts) || []).forEach((p) => {
      if (!people.has(p.person_id)) people.set(p.person_id, `${p.name}（${ROLE_LABELS[p.role]}）`);
    });
    document.getElementById('gm-people').replaceChildren(...[...people].map(
      ([id, label]) => el('option', { value: id, label: `${id} ${label}` })));
  }
}
