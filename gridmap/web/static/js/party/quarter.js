/* party/quarter.js: a quarter ("2026Q4") as people write it (2026年第4季度). */
import { PARTY_LABELS } from '../core/labels.js';

export function quarterName(label) {
  const [year, number] = label.split('Q');
  return PARTY_LABELS.quarterName.replace('{year}', year).replace('{number}', number);
}
