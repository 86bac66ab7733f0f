/*
 * core/format.js: times as users read them. The API sends UTC (ISO 8601); every page shows
 * Beijing time (Asia/Shanghai), whatever the browser's own time zone.
 */

const ZONE = 'Asia/Shanghai';
const DATE_TIME = new Intl.DateTimeFormat('zh-CN', {
  timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
  minute: '2-digit', hour12: false,
});
// Within the last days (visits, a day's patrols) the year says nothing.
const SHORT_DATE_TIME = new Intl.DateTimeFormat('zh-CN', {
  timeZone: ZONE, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  hour12: false,
});
const CLOCK = new Intl.DateTimeFormat('zh-CN', {
  timeZone: ZONE, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});

/** An ISO time from the API in Beijing time ("2026/11/22 09:30"), or "—". */
export function beijing(iso) {
  return iso ? DATE_TIME.format(new Date(iso)) : '—';
}

/** An ISO time of the last days in Beijing time, without the year ("11/22 09:30"), or "—". */
export function beijingShort(iso) {
  return iso ? SHORT_DATE_TIME.format(new Date(iso)) : '—';
}

/** A time in milliseconds as Beijing time of day ("09:30:05"). */
export function clock(ms) {
  return CLOCK.format(new Date(ms));
}
