/*
 * pages/party_unit.js: 双报告, a unit's party organisation reads how its in-service members
 * served in the communities where they live this quarter (or an earlier one), against the
 * rule.
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { PARTY_LABELS as T } from '../core/labels.js';
import { fillQuarters, showReport } from '../party/report.js';

const KEYS = ['name', 'community_name', 'quarter_services', 'quarter_hours', 'met'];

class UnitPage {
  constructor(config) {
    this.api = `${config.apiRoot}/party/my-unit/report`;
    this.root = document.getElementById('gm-party-unit');
    this.quarter = document.getElementById('gm-party-quarter');
    document.getElementById('gm-party-report-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.load();
    });
    this.load();
  }

  async load() {
    const q = this.quarter.value;
    try {
      const body = await requestJson(q ? `${this.api}?quarter=${encodeURIComponent(q)}` : this.api);
      if (!this.quarter.options.length) fillQuarters(this.quarter, body.quarter);
      document.getElementById('gm-party-unit-name').textContent = `${body.unit.name} · ${T.report}`;
      showReport(document.getElementById('gm-party-report'),
        document.getElementById('gm-party-summary'), body, KEYS);
    } catch (err) {
      banner(err.message);
    }
    this.root.dataset.state = 'ready';
  }
}

export function start(config) {
  return new UnitPage(config);
}
