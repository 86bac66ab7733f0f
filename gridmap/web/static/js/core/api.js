/*
 * core/api.js: the one client of gridmap's JSON API used by every page module.
 *
 * The session cookie authenticates; a write carries the CSRF token the page was rendered with
 * (base.html) as X-CSRFToken; a failure throws an ApiError whose message is the glossary's
 * Chinese message for the problem's code, ready to show to the user.
 */

import {
  NAMES_KEPT, PROBLEM_LABELS, PROBLEM_STATUS_LABEL, PROBLEMS_BY_STATUS,
} from './labels.js';

/** An API failure with the message to show (Chinese, from the problem's code). */
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
/** How far the server's clock is ahead of this device's, from the answers' Date headers
 * (0 when within the tolerance). A Date header has whole seconds, so each answer measures the
 * offset up to a second off: the offset is kept until a measure differs from it by more than
 * the tolerance, so that fixes a second apart stay a second apart and in order. */
let clockOffsetMs = 0;

function noteServerDate(response) {
  // A copy the service worker kept (js/sw.js) tells the time it was fetched, not the time now.
  if (response.headers.get('X-Gridmap-Offline-Copy')) return;
  const serverMs = Date.parse(response.headers.get('Date') || '');
  if (Number.isNaN(serverMs)) return;
  const offset = serverMs - Date.now();
  if (Math.abs(offset - clockOffsetMs) <= CLOCK_TOLERANCE_MS) return;
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

// A detail written in Chinese says more than the code's message; an English one (for machines
// and logs) is never shown. Asides in full-width brackets that hold English are dropped. The
// names of products and file formats (Shapefile, GeoJSON) stay as they are in Chinese text.
const LATIN_WORDS = /[A-Za-z][A-Za-z0-9]*/g;
const CJK = /[\u4e00-\u9fff]/;

function hasEnglish(text) {
  return (text.match(LATIN_WORDS) || []).some((w) => w.length > 1 && !NAMES_KEPT.has(w));
}

function chineseDetail(detail) {
  if (typeof detail !== 'string') return '';
  const text = detail.replace(/（[^）]*）/g, (aside) => (hasEnglish(aside) ? '' : aside)).trim();
  return CJK.test(text) && !hasEnglish(text) ? text : '';
}

/**
 * What a page says of a refused request: the glossary's message for the problem's code (or
 * its status class), its Chinese detail if it has one, and the status ("（错误 422）").
 */
export function problemMessage(answer, status) {
  const code = answer && answer.code;
  const message = PROBLEM_LABELS[code] || PROBLEMS_BY_STATUS[status >= 500 ? '5xx' : '4xx'];
  const detail = chineseDetail(answer && answer.detail);
  const said = detail ? `${message.replace(/。$/, '')}：${detail}` : message;
  return `${said}（${PROBLEM_STATUS_LABEL.replace('{status}', status)}）`;
}

/** The CSRF token the page was rendered with (base.html), sent back on every write. */
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') : '';
}

/**
 * Fetch JSON from the API; a failure throws an ApiError with the problem's Chinese message.
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
    throw new ApiError(problemMessage({ code: 'unauthorized' }, 401), 401, 'unauthorized');
  }
  if (!response.ok) {
    throw new ApiError(problemMessage(answer, response.status), response.status,
      answer && answer.code);
  }
  if (answer === null) throw new ApiError('服务器返回的不是 JSON 数据', response.status);
  if (method === 'GET') readUrls.add(new URL(url, window.location.href).href);
  return answer;
}

/** The URLs of the GETs this page has read, for the service worker to keep (core/install.js). */
export const readUrls = new Set();

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
