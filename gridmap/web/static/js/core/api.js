/*
 * core/api.js: the one client of gridmap's JSON API used by every page module.
 *
 * The session cookie authenticates; a write carries the CSRF token the page was rendered with
 * (base.html) as X-CSRFToken; a failure throws an ApiError whose message is the problem+json
 * title and detail, ready to show to the user.
 */

/** An API failure with the message to show (problem+json title and detail). */
export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || null;
  }
}

/** Devices whose clock is within this of the server's are taken as right (Date has seconds). */
const CLOCK_TOLERANCE_MS = 60 * 1000;
/** How far the server's clock is ahead of this device's, from the last answer's Date header
 * (0 when within the tolerance). */
let clockOffsetMs = 0;

function noteServerDate(response) {
  const serverMs = Date.parse(response.headers.get('Date') || '');
  if (Number.isNaN(serverMs)) return;
  const offset = serverMs - Date.now();
  clockOffsetMs = Math.abs(offset) > CLOCK_TOLERANCE_MS ? offset : 0;
}

/**
 * A time read on this device (ms since 1970) on the server's clock: a phone whose date or
 * time is set wrong still records times the server accepts (a fix's time comes from the
 * phone, the patrol's start from the server).
 */
export function onServerClock(ms) {
  return ms + clockOffsetMs;
}

/** The CSRF token the page was rendered with (base.html), sent back on every write. */
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') : '';
}

/**
 * Fetch JSON from the API; a failure throws an ApiError with the problem's title and detail.
 * `body` is sent as JSON, or as it is if it is FormData (a file upload: multipart, whose
 * boundary the browser writes); `headers` adds request headers (If-Match, Idempotency-Key).
 */
export async function requestJson(url, { signal, method = 'GET', body, headers: extra } = {}) {
  const headers = Object.assign(
    { Accept: 'application/geo+json, application/json, application/problem+json' }, extra);
  const init = { signal, method, headers, credentials: 'same-origin' };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET') headers['X-CSRFToken'] = csrfToken();
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError('无法连接服务器，请检查网络', 0);
  }
  noteServerDate(response);
  let answer = null;
  if ((response.headers.get('Content-Type') || '').includes('json')) {
    try {
      answer = await response.json();
    } catch (err) {
      if (err.name === 'AbortError') throw err;
    }
  }
  if (response.status === 401) {
    throw new ApiError('登录已失效，请刷新页面重新登录（HTTP 401）', 401, 'unauthorized');
  }
  if (!response.ok) {
    const title = (answer && answer.title) || response.statusText || '请求失败';
    const detail = answer && answer.detail ? `：${answer.detail}` : '';
    throw new ApiError(`${title}${detail}（HTTP ${response.status}）`, response.status,
      answer && answer.code);
  }
  if (answer === null) throw new ApiError('服务器返回的不是 JSON 数据', response.status);
  return answer;
}

export function getJson(url, signal) {
  return requestJson(url, { signal });
}

/**
 * A random Idempotency-Key. crypto.getRandomValues works on plain-http intranet hosts too,
 * where crypto.randomUUID (secure contexts only) is missing.
 */
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
