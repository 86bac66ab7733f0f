/*
 * pages/report_job.js: the page of a report job (一月一研判报告 生成中). It follows the job with
 * its progress; when the job is done it reloads, and the same address then serves the report
 * the job stored. A failure is shown with its Chinese reason.
 *
 * The element ids it uses are those of templates/review_report_job.html.
 */
import { banner } from '../core/banner.js';
import { followJob, JobProgress } from '../core/jobs.js';

class ReportJobPage {
  constructor(config) {
    this.config = config;
    this.root = document.getElementById('gm-report-job');
    this.progress = new JobProgress({
      bar: document.getElementById('gm-report-job-progress'),
      status: document.getElementById('gm-report-job-status'),
    });
    this.follow();
  }

  async follow() {
    try {
      const done = await followJob(this.config.apiRoot, this.config.job,
        (job) => this.progress.show(job));
      this.root.dataset.state = done.state;
      this.progress.finish(done, '已完成，正在打开报告…');
      if (done.state === 'succeeded') window.location.reload();
    } catch (err) {
      this.root.dataset.state = 'error';
      banner(`无法获取报告进度：${err.message}`);
    }
  }
}

/** Start the report job's page. */
export function start(config) {
  return new ReportJobPage(config);
}
