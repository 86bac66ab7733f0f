/*
 * requests/ranking.js: 红黑榜, the 三率 ranking of GET /api/v1/rates for a level and month;
 * its Excel download is a background job (POST /api/v1/rates-jobs) followed with its progress.
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { el, percent } from '../core/dom.js';
import { downloadFile, JobProgress, runJob } from '../core/jobs.js';
import { BOARD_LABELS } from '../core/labels.js';

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
    const w = table.weights;
    document.getElementById('gm-ranking-title').textContent = table.title;
    document.getElementById('gm-ranking-note').textContent =
      `${table.period.from} 至 ${table.period.to}（北京时间）；综合得分 = 响应率 × ${w.response}`
      + ` + 解决率 × ${w.resolution} + 满意率 × ${w.satisfaction}（基本满意按 0.9 计），`
      + `前 ${table.board_size} 名上红榜、后 ${table.board_size} 名上黑榜；无诉求的不排名。`;
    const body = document.getElementById('gm-ranking-rows');
    body.replaceChildren(...table.rows.map((r) => el('tr',
      { class: r.board ? `gm-board-${r.board}` : null, 'data-code': r.code,
        'data-board': r.board || '' },
      el('td', {}, r.rank === null || r.rank === undefined ? '—' : String(r.rank)),
      el('td', {}, r.board ? el('span', { class: `gm-board gm-board-tag-${r.board}` },
        BOARD_LABELS[r.board]) : ''),
      el('td', {}, r.name, el('div', { class: 'gm-muted gm-small' }, r.code)),
      el('td', { class: 'gm-num' }, String(r.filed)),
      el('td', { class: 'gm-num' }, percent(r.response_rate)),
      el('td', { class: 'gm-num' }, percent(r.resolution_rate)),
      el('td', { class: 'gm-num' }, percent(r.satisfaction_rate)),
      el('td', { class: 'gm-num gm-score' },
        r.score === null || r.score === undefined ? '—' : r.score.toFixed(2)))));
    if (!table.rows.length) {
      body.append(el('tr', {}, el('td', { colspan: '8', class: 'gm-muted' }, '范围内没有网格。')));
    }
  }
}
