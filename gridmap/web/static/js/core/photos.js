/*
 * core/photos.js: photos (照片) on the pages. A picker uploads each chosen photo at once
 * (POST /api/v1/files with its purpose; the server checks it by content and answers a
 * problem when it refuses it) and shows its thumbnail; the page then sends the photos' ids
 * with the request or the step. photoThumbs shows a timeline event's photos. Every word
 * comes from the glossary (PHOTO_LABELS).
 */
import { requestJson } from './api.js';
import { el } from './dom.js';
import { PHOTO_LABELS } from './labels.js';

const URL_PHOTO = /^https?:\/\//;

export class PhotoPicker {
  /**
   * `root` holds a file input (.gm-photo-input) and a list (.gm-photo-list); its
   * data-purpose is the purpose uploads are made for. `onError(message)` shows a refusal.
   */
  constructor(root, apiRoot, onError) {
    this.root = root;
    this.apiRoot = apiRoot;
    this.onError = onError;
    this.list = root.querySelector('.gm-photo-list');
    this.input = root.querySelector('.gm-photo-input');
    this.legend = root.querySelector('legend');
    this.photos = [];
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
    this.list.replaceChildren();
    this.input.value = '';
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
    for (const file of files) {
      // One at a time: a phone on a weak connection sends one photo well rather than nine badly.
      await this.upload(file);
    }
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
