/*
 * party/report.js: the quarter's 双报到 table as a page shows it — one row per member (and
 * community), the columns and words of the glossary, met or not.
 */
import { el } from '../core/dom.js';
import { PARTY_LABELS as T, PARTY_REPORT_COLUMN_LABELS as COLUMNS } from '../core/labels.js';
import { quarterName } from './quarter.js';

function cell(row, key) {
  if (key === 'met') return row.met ? T.met : T.notMet;
  const value = row[key];
  return value === null || value === undefined ? '' : String(value);
}

/** Fill `table` (a <table> with a <thead> and a <tbody>) and `summary` from the API's answer;
 * over several communities, the summary names each one's count too. */
export function showReport(table, summary, body, keys = Object.keys(COLUMNS)) {
  const s = body.summary;
  const whole = `${quarterName(body.quarter)} · ${T.met} ${s.met} / ${s.members}`;
  const each = (body.by_community || []).length > 1
    ? body.by_community.map((c) => `${c.name} ${c.met} / ${c.members}`).join('；') : '';
  summary.textContent = each ? `${whole}（${each}）` : whole;
  table.tHead.replaceChildren(el('tr', {},
    ...keys.map((k) => el('th', { scope: 'col' }, COLUMNS[k]))));
  table.tBodies[0].replaceChildren(...body.rows.map((r) => el('tr',
    { 'data-person': r.person_id, 'data-met': String(r.met) },
    ...keys.map((k) => el('td', {}, cell(r, k))))));
}

/** Fill a <select> with this quarter and the four before it, named as people write them. */
export function fillQuarters(select, current) {
  let [year, number] = current.split('Q').map(Number);
  const labels = [];
  for (let i = 0; i < 5; i += 1) {
    labels.push(`${year}Q${number}`);
    number -= 1;
    if (number === 0) {
      number = 4;
      year -= 1;
    }
  }
  select.replaceChildren(...labels.map((l) => el('option', { value: l }, quarterName(l))));
}
