/*
 * core/photos.js: photos (照片) on the pages. A picker uploads each chosen photo at once
 * (POST /api/v1/files with its purpose; the server checks it by content and answers a
 * problem when it refuses it) and shows its thumbnail; the page then sends the photos' ids
 * with the request or the step. On the worker's offline pages a picker made with
 * {keep: true} uploads nothing: it keeps the chosen photos (Blobs) for the page to queue with
 * the check-in or visit they belong to (core/outbox.js), which uploads them when the
 * connection allows. photoThumbs shows a timeline event's photos. Every word comes from the
 * glossary (PHOTO_LABELS).
 */
import { requestJson } from './api.js';
import { el } from './dom.js';
import { PHOTO_LABELS } from './labels.js';

const URL_PHOTO = /^https?:\/\//;
/** The width of a kept photo's preview, in pixels (twice the thumbnail's CSS width). */
const PREVIEW_WIDTH = 144;

/** A small JPEG data: URL of the photo `file` (the page's CSP allows data: images). */
async function preview(file) {
  const bitmap = await createImageBitmap(file, { resizeWidth: PREVIEW_WIDTH });
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  bitmap.close();
  return canvas.toDataURL('image/jpeg', 0.7);
}

export class PhotoPicker {
  /**
   * `root` holds a file input (.gm-photo-input) and a list (.gm-photo-list); its
   * data-purpose is the purpose uploads are made for. `onError(message)` shows a refusal.
   * With `keep`, photos are kept on the phone (kept()), at most `max` of them.
   */
  constructor(root, apiRoot, onError, { keep = false, max = 9 } = {}) {
    this.root = root;
    this.apiRoot = apiRoot;
    this.onError = onError;
    this.keep = keep;
    this.max = max;
    this.list = root.querySelector('.gm-photo-list');
    this.input = root.querySelector('.gm-photo-input');
    this.legend = root.querySelector('legend');
    this.photos = [];
    this.blobs = []; // {file, url, item}: the photos kept on the phone
    this.pending = 0;
    this.input.addEventListener('change', () => this.add(Array.from(this.input.files)));
  }

  /** Uploads from now on are for `purpose` (intake, before, after). */
  setPurpose(purpose) {
    this.root.dataset.purpose = purpose;
    if (this.legend) this.legend.textContent = PHOTO_LABELS.purposes[purpose] || purpose;
  }

  reset() {
    this.photos = [];
    this.blobs = [];
    this.list.replaceChildren();
    this.input.value = '';
    this.root.dataset.kept = '0';
  }

  /** The photos kept on the phone (keep mode): Blobs, for the outbox to upload. */
  kept() {
    return this.blobs.map((b) => b.file);
  }

  /** The ids of the photos uploaded and kept. */
  ids() {
    return this.photos.map((p) => p.id);
  }

  busy() {
    return this.pending > 0;
  }

  async add(files) {
    this.input.value = '';
    if (this.keep) {
      files.forEach((file) => this.hold(file));
      return;
    }
    for (const file of files) {
      // One at a time: a phone on a weak connection sends one photo well rather than nine badly.
      await this.upload(file);
    }
  }

  /** Keep `file` on the phone with its preview (the oldest goes beyond `max`). */
  hold(file) {
    if (this.blobs.length >= this.max) this.drop(this.blobs[0]);
    const kept = { file };
    const remove = el('button', { type: 'button', class: 'gm-photo-remove' }, PHOTO_LABELS.remove);
    remove.addEventListener('click', () => this.drop(kept));
    const label = PHOTO_LABELS.purposes[this.root.dataset.purpose] || '';
    kept.item = el('li', { class: 'gm-photo gm-photo-kept', title: PHOTO_LABELS.kept },
      el('span', { class: 'gm-photo-thumb' }, label), remove);
    this.list.append(kept.item);
    this.blobs.push(kept);
    this.root.dataset.kept = String(this.blobs.length);
    preview(file).then((src) => {
      kept.item.firstChild.replaceWith(el('img', { src, alt: label, class: 'gm-photo-thumb' }));
    }).catch(() => {}); // a photo the browser cannot draw keeps its label
  }

  drop(kept) {
    kept.item.remove();
    this.blobs = this.blobs.filter((b) => b !== kept);
    this.root.dataset.kept = String(this.blobs.length);
  }

  async upload(file) {
    const item = el('li', { class: 'gm-photo gm-photo-pending' }, PHOTO_LABELS.uploading);
    this.list.append(item);
    this.pending += 1;
    this.root.dataset.state = 'uploading';
    const form = new FormData();
    form.append('purpose', this.root.dataset.purpose);
    form.append('file', file);
    try {
      const photo = await requestJson(`${this.apiRoot}/files`, { method: 'POST', body: form });
      this.photos.push(photo);
      const remove = el('button', { type: 'button', class: 'gm-photo-remove' }, PHOTO_LABELS.remove);
      remove.addEventListener('click', () => {
        this.photos = this.photos.filter((p) => p !== photo);
        item.remove();
      });
      item.replaceChildren(el('img', {
        src: photo.thumbnail_url, alt: PHOTO_LABELS.purposes[photo.purpose], class: 'gm-photo-thumb',
      }), remove);
      item.className = 'gm-photo';
      item.dataset.id = photo.id;
    } catch (err) {
      item.remove();
      this.onError(err.message);
    } finally {
      this.pending -= 1;
      if (!this.pending) this.root.dataset.state = 'ready';
    }
  }
}

/** A timeline event's photos as thumbnails linking to the photo (a URL photo: a link). */
export function photoThumbs(photos, apiRoot) {
  if (!photos || !photos.length) return '';
  return el('div', { class: 'gm-event-photos' }, photos.map((p) => {
    if (URL_PHOTO.test(p)) {
      return el('a', { href: p, rel: 'noopener noreferrer', target: '_blank' }, PHOTO_LABELS.link);
    }
    const url = `${apiRoot}/files/${encodeURIComponent(p)}`;
    return el('a', { href: url, target: '_blank', title: PHOTO_LABELS.open },
      el('img', {
        src: `${url}/thumbnail`, alt: PHOTO_LABELS.open, class: 'gm-photo-thumb', loading: 'lazy',
      }));
  }));
}
