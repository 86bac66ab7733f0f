/*
 * core/outbox.js: the writes of the worker's pages (fixes, check-ins, visit logs, a patrol's
 * start and end) kept in IndexedDB until the server has them, so that a phone without signal
 * or a reload loses nothing.
 *
 * Each write is stored with its Idempotency-Key before it is sent and sent in the order it was
 * made, one at a time, until one fails for the network (it is tried again when the browser is
 * back online, and every few seconds); a write the server refuses for what it holds (a 4xx) is
 * dropped and reported. A patrol started offline has no id yet: its writes name it by a local
 * reference (`ref`), which the start's answer resolves; paths say `{patrol}` and a body member
 * named in `refField` gets the id too. Writes and state are the signed-in user's: another user
 * signing in on the same phone neither sees nor sends them.
 *
 * Photos taken for a write (a check-in's, a visit's) are kept as Blobs, each a write of its
 * own stored in the same transaction just before the write that refers to them, so they are
 * uploaded first (POST /files with their own Idempotency-Key: a photo sent twice is stored
 * once); the write then carries the ids the uploads were given (`photoField`: "photo" for
 * one, "photos" for a list). A photo the server refuses is left out of its write.
 */
import { newKey, requestJson } from './api.js';

const DB_NAME = 'gridmap-outbox';
const OPS = 'ops';
const STATE = 'state';
/** Seconds between two attempts while writes wait. */
const RETRY_SECONDS = 5;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function openDb() {
  const request = indexedDB.open(DB_NAME, 1);
  request.onupgradeneeded = () => {
    request.result.createObjectStore(OPS, { keyPath: 'id', autoIncrement: true });
    request.result.createObjectStore(STATE);
  };
  return promised(request);
}

/** Whether a failure is the network's or the session's (try again later) rather than a
 * refusal of what the write holds. A 409 is a refusal too: a patrol ended or running
 * elsewhere, or this very write still being stored by an earlier attempt. */
function transient(err) {
  return !err.status || err.status >= 500 || [401, 408, 429].includes(err.status);
}

export class Outbox {
  /**
   * `apiRoot` prefixes the paths; `onChange(waiting)` hears what waits after every change;
   * `onSent(op, answer)` and `onRefused(op, err)` hear each write's fate.
   */
  constructor(apiRoot, { onChange, onSent, onRefused } = {}) {
    this.apiRoot = apiRoot;
    this.onChange = onChange || (() => {});
    this.onSent = onSent || (() => {});
    this.onRefused = onRefused || (() => {});
    this.db = openDb();
    this.sending = null;
    const name = document.querySelector('.gm-username');
    this.user = name ? name.textContent.trim() : '';
    window.addEventListener('online', () => this.flush());
    setInterval(() => this.flush(), RETRY_SECONDS * 1000);
  }

  async store(mode, name) {
    const db = await this.db;
    return db.transaction(name, mode).objectStore(name);
  }

  /**
   * Keep a write (kind, path, body, key, ref, refField, setsRef) and try to send it; with
   * `photos` (Blobs uploaded for `purpose`), these first, their ids then in `op.photoField`.
   */
  async add(op, { photos = [], purpose } = {}) {
    const ops = await this.store('readwrite', OPS);
    const refs = [];
    for (const blob of photos) {
      const key = newKey();
      refs.push(key);
      ops.add({
        kind: 'photo', path: '/files', key, blob, purpose, user: this.user,
      });
    }
    const write = refs.length ? { ...op, photoRefs: refs } : op;
    await promised(ops.add({ ...write, user: this.user }));
    await this.changed();
    this.flush();
  }

  /** The user's writes still waiting, oldest first. */
  async waiting() {
    const ops = await promised((await this.store('readonly', OPS)).getAll());
    return ops.filter((op) => op.user === this.user);
  }

  async get(name) {
    return promised((await this.store('readonly', STATE)).get(`${this.user}:${name}`));
  }

  async set(name, value) {
    const state = await this.store('readwrite', STATE);
    const key = `${this.user}:${name}`;
    await promised(value === undefined ? state.delete(key) : state.put(value, key));
  }

  async changed() {
    this.onChange(await this.waiting());
  }

  /** Send what waits, oldest first; resolves true when nothing is left. */
  flush() {
    if (!this.sending) {
      this.sending = this.sendAll().finally(() => {
        this.sending = null;
      });
    }
    return this.sending;
  }

  async sendAll() {
    for (;;) {
      const [op] = await this.waiting();
      if (!op) return true;
      if (!navigator.onLine) return false;
      const ok = await this.send(op);
      if (!ok) return false;
    }
  }

  /** The ids the uploads of `op`'s photos were given (left out: those refused); null while
   * one waits to be uploaded. */
  async photoIds(op) {
    const ids = [];
    for (const ref of op.photoRefs) {
      const id = await this.get(`photo:${ref}`);
      if (id === undefined) return null;
      if (id) ids.push(id);
    }
    return ids;
  }

  async sendPhoto(op) {
    const form = new FormData();
    form.append('purpose', op.purpose);
    form.append('file', op.blob, op.blob.name || 'photo.jpg');
    try {
      const answer = await requestJson(`${this.apiRoot}${op.path}`, {
        method: 'POST', body: form, headers: { 'Idempotency-Key': op.key },
      });
      await this.set(`photo:${op.key}`, answer.id);
      await this.remove(op);
      this.onSent(op, answer);
    } catch (err) {
      // 409: the same upload still being stored by an earlier attempt; its answer will come.
      if (transient(err) || err.status === 409) {
        this.onChange(await this.waiting(), err);
        return false;
      }
      await this.set(`photo:${op.key}`, null); // its write goes without it
      await this.remove(op);
      this.onRefused(op, err);
    }
    return true;
  }

  async send(op) {
    if (op.kind === 'photo') return this.sendPhoto(op);
    let path = op.path;
    const body = { ...op.body };
    if (op.photoRefs) {
      const ids = await this.photoIds(op);
      if (ids === null) return false; // a photo of it is not uploaded yet
      if (op.photoField === 'photo') {
        if (ids.length) body.photo = ids[0];
      } else {
        body[op.photoField || 'photos'] = ids;
      }
    }
    if (op.ref) {
      const id = await this.get(`ref:${op.ref}`);
      if (id === undefined) return false; // its patrol's start has not been answered yet
      path = path.replace('{patrol}', String(id));
      if (op.refField) body[op.refField] = id;
    }
    let answer = null;
    try {
      answer = await requestJson(`${this.apiRoot}${path}`, {
        method: 'POST', body, headers: { 'Idempotency-Key': op.key },
      });
    } catch (err) {
      if (transient(err)) {
        this.onChange(await this.waiting(), err);
        return false;
      }
      await this.remove(op);
      await this.forgetPhotos(op);
      if (op.setsRef) await this.dropRef(op.setsRef); // a patrol never started: nothing of it
      this.onRefused(op, err);
      return true;
    }
    if (op.setsRef) await this.set(`ref:${op.setsRef}`, answer.id);
    await this.remove(op);
    await this.forgetPhotos(op);
    this.onSent(op, answer);
    return true;
  }

  async forgetPhotos(op) {
    for (const ref of op.photoRefs || []) await this.set(`photo:${ref}`, undefined);
  }

  async dropRef(ref) {
    const ops = await this.waiting();
    const orphans = ops.filter((op) => op.ref === ref);
    const photos = new Set(orphans.flatMap((op) => op.photoRefs || []));
    for (const op of ops.filter((o) => o.kind === 'photo' && photos.has(o.key))) {
      await this.remove(op);
    }
    for (const op of orphans) await this.remove(op);
  }

  async remove(op) {
    await promised((await this.store('readwrite', OPS)).delete(op.id));
    await this.changed();
  }
}

/**
 * What waits, counted for people: fixes (points), check-ins, visit logs, photos and other
 * writes, in the glossary's words ("待发送：定位点 12 · 签到 2 · 民情日志 1 · 照片 2").
 */
export function waitingText(ops, labels, extraFixes = 0) {
  const counts = {
    fixes: extraFixes, check_ins: 0, visits: 0, photos: 0, other: 0,
  };
  ops.forEach((op) => {
    if (op.kind === 'fixes') counts.fixes += op.body.points.length;
    else if (op.kind === 'check_in') counts.check_ins += 1;
    else if (op.kind === 'visit') counts.visits += 1;
    else if (op.kind === 'photo') counts.photos += 1;
    else counts.other += 1;
  });
  const parts = Object.entries(counts).filter(([, n]) => n > 0)
    .map(([kind, n]) => `${labels[kind]} ${n}`);
  return parts.length ? `${labels.title}：${parts.join(' · ')}` : labels.empty;
}
