/*
 * core/format.js: times as users read them. The API sends UTC (ISO 8601); every page shows
 * Beijing time (Asia/Shanghai), whatever the browser's own time zone, in the one format of
 * pages, reports and downloads alike (gridmap.core.clock.DATE_TIME): "2026-12-03 16:41".
 */

const ZONE = 'Asia/Shanghai';
const PARTS = new Intl.DateTimeFormat('en-GB', {
  timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
  minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});

/** The Beijing date and time of `ms` as {year, month, day, hour, minute, second} strings. */
function partsOf(ms) {
  return Object.fromEntries(PARTS.formatToParts(new Date(ms))
    .filter((p) => p.type !== 'literal').map((p) => [p.type, p.value]));
}

/** An ISO time from the API in Beijing time ("2026-11-22 09:30"), or "—". */
export function beijing(iso) {
  if (!iso) return '—';
  const p = partsOf(Date.parse(iso));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** A time in milliseconds as Beijing time of day ("09:30:05"). */
export function clock(ms) {
  const p = partsOf(ms);
  return `${p.hour}:${p.minute}:${p.second}`;
}
