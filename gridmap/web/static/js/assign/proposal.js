/*
 * assign/proposal.js: the balanced proposal (智能分配) — asked for (POST …/division), shown
 * as a diff, adjusted by the chief and accepted in one transaction (PUT …/division).
 */
import { requestJson } from '../core/api.js';
import { el, percent } from '../core/dom.js';
import { DIVISION_SOLUTION_LABELS } from '../core/labels.js';
import { round } from './shared.js';

/** "8–12 户（自动）": the load range a proposal used, and whether the server derived it. */
function loadRange(range) {
  if (!range) return '—';
  const text = `${round(range.min, 1)}–${round(range.max, 1)} 户`;
  return range.derived && range.derived.length ? `${text}（自动）` : text;
}

/** Methods of the assignment page (mixed into AssignPage). */
export class AssignProposal {
  renderProposalMembers() {
    const box = document.getElementById('gm-proposal-members');
    if (this.proposalChecked === null && this.suggestedMembers) {
      // Default: the members the server suggests (those covering the grid today, then the
      // nearest others until the mean load is usual), not every member of the community.
      this.proposalChecked = new Set(this.suggestedMembers || []);
    }
    box.replaceChildren(...this.members.map((m) => {
      const input = el('input', { type: 'checkbox', name: 'member', value: m.id });
      input.checked = Boolean(this.proposalChecked && this.proposalChecked.has(m.id));
      input.addEventListener('change', () => {
        if (!this.proposalChecked) this.proposalChecked = new Set();
        if (input.checked) this.proposalChecked.add(m.id);
        else this.proposalChecked.delete(m.id);
      });
      return el('label', { class: 'gm-check' }, input,
        el('span', { class: 'gm-member-swatch', style: `background:${this.colourOf(m.id)}` }),
        `${m.name}${m.lon === null ? '（无住址）' : ''}`);
    }));
  }

  async propose(event) {
    event.preventDefault();
    const checked = this.proposalChecked || new Set();
    const memberIds = this.members.map((m) => m.id).filter((id) => checked.has(id));
    if (!memberIds.length) {
      this.say('请至少选择一名党员参与分配');
      return;
    }
    const body = {
      member_ids: memberIds,
      care_weight: this.config.careWeight,
      fresh: document.getElementById('gm-fresh').checked,
    };
    // An empty bound is derived by the server from the households and the chosen members.
    const low = document.getElementById('gm-min-load').value;
    const high = document.getElementById('gm-max-load').value;
    if (low !== '') body.min_load = Number(low);
    if (high !== '') body.max_load = Number(high);
    await this.run('智能分配', async () => {
      const answer = await requestJson(
        this.api(`/grids/${encodeURIComponent(this.code)}/division`), { method: 'POST', body });
      if (answer.etag !== this.etag) await this.reload();
      this.proposal = {
        etag: answer.etag,
        pairs: new Map(answer.assignments.map((a) => [a.household_id, a.person_id])),
        current: new Map(answer.assignments.map((a) => [a.household_id, a.current])),
        stats: answer.stats || {},
        range: answer.load_range || null,
      };
      this.selection.clear();
      this.renderAll();
      this.say('已生成分配方案，请核对后接受');
    });
  }

  renderProposal() {
    const box = document.getElementById('gm-proposal');
    this.renderProposalMembers();
    if (!this.proposal) {
      box.hidden = true;
      this.root.classList.remove('gm-proposing');
      return;
    }
    box.hidden = false;
    this.root.classList.add('gm-proposing');
    let changed = 0;
    let covered = 0;
    this.households.forEach((h) => {
      if (this.isChanged(h)) changed += 1;
      if (this.shownPerson(h) !== null) covered += 1;
    });
    document.getElementById('gm-proposal-changes').textContent = String(changed);
    const s = this.proposal.stats;
    const rows = [
      ['方案覆盖率', `${covered} / ${this.households.size} 户（${percent(this.households.size ? covered / this.households.size : 0)}）`],
      ['求解覆盖率', s.coverage === undefined ? '—' : percent(s.coverage)],
      ['负荷范围', loadRange(this.proposal.range)],
      ['最大/平均负荷', s.max_mean_load === undefined ? '—' : round(s.max_mean_load, 2)],
      ['平均距离', s.mean_distance_m === undefined ? '—' : `${round(s.mean_distance_m, 0)} 米`],
      ['求解状态', DIVISION_SOLUTION_LABELS[s.solution] || s.status || '—'],
    ];
    document.getElementById('gm-proposal-stats').replaceChildren(
      ...rows.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
  }

  async acceptProposal() {
    if (!this.proposal) return;
    const proposal = this.proposal;
    const assignments = [...proposal.pairs].map(([household_id, person_id]) => ({
      household_id, person_id,
    }));
    await this.run('接受方案', async () => {
      const answer = await this.write(`/grids/${encodeURIComponent(this.code)}/division`,
        { assignments }, { method: 'PUT', etag: proposal.etag });
      this.proposal = null;
      this.etag = answer.etag;
      await this.reload();
      this.say(`方案已接受，变更 ${answer.changed} 户`);
    });
  }

  discardProposal() {
    this.proposal = null;
    this.renderAll();
    this.say('已放弃方案');
  }
}
