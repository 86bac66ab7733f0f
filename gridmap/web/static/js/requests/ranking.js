/*
 * requests/ranking.js: 红黑榜, the 三率 ranking of GET /api/v1/rates for a level and month;
 * its Excel download is a background job (POST /api/v1/rates-jobs) followed with its progress.
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { el, percent } from '../core/dom.js';
import { downloadFile, JobProgress, runJob } from '../core/jobs.js';
import { BOARD_LABELS, PEER_LABELS, TIE_LABEL, UNRANKED_LABELS } from '../core/labels.js';

/** Rows per page of the ranking table. */
export const PAGE_SIZE = 50;

/** A rate with the number of requests it was computed over ("—" when none). */
function rateCell(rate, count) {
  return el('td', { class: 'gm-num' }, percent(rate),
    count ? el('span', { class: 'gm-muted gm-small' }, `（${count}）`) : '');
}

export class Ranking {
  constructor(config) {
    this.config = config;
    this.root = document.getElementById('gm-ranking');
    this.exportButton = document.getElementById('gm-ranking-xlsx');
    if (this.exportButton) {
      this.exportJob = new JobProgress({
        section: document.getElementById('gm-ranking-job'),
        bar: document.getElementById('gm-ranking-progress'),
        status: document.getElementById('gm-ranking-status'),
      });
      this.exportButton.addEventListener('click', () => this.exportWorkbook());
    }
    this.rows = [];
    this.page = 0;
    document.getElementById('gm-ranking-prev').addEventListener('click', () => this.turn(-1));
    document.getElementById('gm-ranking-next').addEventListener('click', () => this.turn(1));
    this.load();
  }

  /** The ranking as an Excel workbook, built by a background job, then saved. */
  async exportWorkbook() {
    const { apiRoot } = this.config;
    this.exportButton.disabled = true;
    try {
      const body = { ...this.config.query, format: 'xlsx' };
      const done = await runJob(apiRoot, `${apiRoot}/rates-jobs`, body,
        (job) => this.exportJob.show(job));
      this.exportJob.finish(done, `已完成：${done.state === 'succeeded' ? done.result.file.name : ''}`);
      if (done.state === 'succeeded') downloadFile(apiRoot, done);
    } catch (err) {
      banner(`导出失败：${err.message}`);
    } finally {
      this.exportButton.disabled = false;
    }
  }

  async load() {
    const args = new URLSearchParams(this.config.query);
    try {
      this.show(await requestJson(`${this.config.apiRoot}/rates?${args}`));
      this.root.dataset.state = 'ready';
    } catch (err) {
      this.root.dataset.state = 'error';
      banner(`三率排名加载失败：${err.message}`);
    }
  }

  show(table) {
    document.getElementById('gm-ranking-title').textContent = table.title;
    // How the ranking was made (period, formulas, weights, minimum volume, tie rule, each
    // peer group's boards), in the server's words: the downloads carry the same lines.
    document.getElementById('gm-ranking-notes').replaceChildren(...table.notes.flatMap((n) => [
      el('dt', {}, n.label), el('dd', {}, n.text)]));
    this.rows = table.rows;
    this.byOwner = table.by === 'owner';
    this.answers = this.byAnswers(table);
    this.page = 0;
    this.renderPage();
  }

  /** Whether 解决率 counts the 回访 answers (else the old completions by the due date). */
  byAnswers(table) {
    return !table.formula || table.formula.resolution === 'answers';
  }

  /** One page of rows (a district has thousands of micro-grids: one table of them all took
   * 61 k DOM nodes and 21 s to render). */
  renderPage() {
    const body = document.getElementById('gm-ranking-rows');
    const pages = Math.max(1, Math.ceil(this.rows.length / PAGE_SIZE));
    this.page = Math.min(Math.max(this.page, 0), pages - 1);
    const shown = this.rows.slice(this.page * PAGE_SIZE, (this.page + 1) * PAGE_SIZE);
    body.replaceChildren(...shown.map((r) => el('tr',
      { class: r.board ? `gm-board-${r.board}` : null, 'data-code': r.code,
        'data-board': r.board || '' },
      el('td', {}, r.rank === null || r.rank === undefined ? '—' : String(r.rank),
        r.tie ? el('span', { class: 'gm-muted gm-small gm-tie' }, ` ${TIE_LABEL}`) : ''),
      el('td', {}, r.board ? el('span', { class: `gm-board gm-board-tag-${r.board}` },
        BOARD_LABELS[r.board]) : ''),
      el('td', {}, r.name, el('div', { class: 'gm-muted gm-small' }, r.code),
        // By owner, several peer groups share the table: each row says its own.
        this.byOwner ? el('div', { class: 'gm-small gm-peer' }, PEER_LABELS[r.peer] || r.peer) : '',
        r.unranked ? el('div', { class: 'gm-muted gm-small gm-unranked' },
          UNRANKED_LABELS[r.unranked] || r.unranked) : ''),
      el('td', { class: 'gm-num' }, String(r.filed)),
      rateCell(r.response_rate, r.response_counted),
      rateCell(r.resolution_rate, this.answers ? r.answered : r.due),
      rateCell(r.satisfaction_rate, r.rated),
      el('td', { class: 'gm-num gm-score' },
        r.score === null || r.score === undefined ? '—' : r.score.toFixed(2)))));
    if (!this.rows.length) {
      body.append(el('tr', {}, el('td', { colspan: '8', class: 'gm-muted' },
        this.byOwner ? '本期没有诉求。' : '范围内没有网格。')));
    }
    const pager = document.getElementById('gm-ranking-pager');
    pager.hidden = pages <= 1;
    document.getElementById('gm-ranking-page').textContent =
      `第 ${this.page + 1} / ${pages} 页，共 ${this.rows.length} 行`;
    document.getElementById('gm-ranking-prev').disabled = this.page === 0;
    document.getElementById('gm-ranking-next').disabled = this.page >= pages - 1;
  }

  turn(step) {
    this.page += step;
    this.renderPage();
    document.getElementById('gm-ranking-table').scrollIntoView({ block: 'start' });
  }
}
