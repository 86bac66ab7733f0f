/*
 * core/jobs.js: following a background job (后台任务) from a page — the one way every page
 * asks for one, polls GET /api/v1/jobs/<id>, shows its progress, and fetches its file.
 *
 * A page submits the job's POST (runJob), gets each answer while it runs (onProgress: show it
 * with a JobProgress over a <progress> and a status line), and receives the finished job:
 * `state` is 'succeeded' (its `result`, with `result.file` when it made one) or 'failed'
 * (its `error`, a problem+json document with a Chinese `detail`).
 */
import { problemMessage, requestJson } from './api.js';
import { JOB_STATE_LABELS } from './labels.js';

const POLL_MS = 500;
const FINISHED = ['succeeded', 'failed'];

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** A job's state, message and progress as one Chinese line: 运行中 · 生成工作簿 · 70%. */
export function jobText(job) {
  const state = JOB_STATE_LABELS[job.state] || job.state;
  const message = job.message && job.message !== state ? ` · ${job.message}` : '';
  return `${state}${message} · ${job.progress}%`;
}

/** Poll `job` until it has finished, calling onProgress(job) with each answer; its last. */
export async function followJob(apiRoot, job, onProgress = () => {}) {
  let current = job;
  for (;;) {
    onProgress(current);
    if (FINISHED.includes(current.state)) return current;
    await sleep(POLL_MS);
    current = await requestJson(`${apiRoot}/jobs/${job.id}`);
  }
}

/** POST `body` to `url` (an endpoint answering 202 with a job) and follow the job. */
export async function runJob(apiRoot, url, body, onProgress) {
  const job = await requestJson(url, { method: 'POST', body });
  return followJob(apiRoot, job, onProgress);
}

/** Where a finished job's file is (its owner's only). */
export function fileUrl(apiRoot, job) {
  return `${apiRoot}/jobs/${job.id}/file`;
}

/** Save a finished job's file as the browser saves a download. */
export function downloadFile(apiRoot, job) {
  const link = document.createElement('a');
  link.href = fileUrl(apiRoot, job);
  link.download = job.result.file.name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}

/** A job's progress shown in a page: a <progress> bar and a status line (aria-live). */
export class JobProgress {
  constructor({ section, bar, status }) {
    this.section = section;
    this.bar = bar;
    this.status = status;
  }

  show(job) {
    if (this.section && this.section.hidden) {
      this.section.hidden = false;
      this.section.scrollIntoView({ block: 'nearest' });
    }
    this.bar.value = job.progress;
    this.status.textContent = jobText(job);
  }

  /** The outcome in words: done, or why it failed (the problem's message, core/api.js). */
  finish(job, doneText) {
    this.bar.value = job.state === 'succeeded' ? 100 : this.bar.value;
    this.status.textContent = job.state === 'succeeded'
      ? doneText : `失败：${job.error ? problemMessage(job.error, job.error.status) : '任务运行出错'}`;
  }
}
