/*
 * pages/party_claim.js: 身边可认领, a member's (or a unit's) phone page.
 *
 * The open needs and 微心愿 of one's community, nearest first (from the member's registered
 * home, or from the phone's position once asked), each claimed with one tap (认领). A claim
 * someone else made first is said so, and the list reloads.
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { el } from '../core/dom.js';
import { LISTS_LABELS as T, NEED_KIND_LABELS, WISH_STATE_LABELS } from '../core/labels.js';

class ClaimPage {
  constructor(config) {
    this.apiRoot = config.apiRoot;
    this.api = `${config.apiRoot}/party`;
    this.root = document.getElementById('gm-claim');
    this.list = document.getElementById('gm-claim-list');
    this.result = document.getElementById('gm-claim-result');
    this.mine = document.getElementById('gm-claim-mine');
    this.offerForm = document.getElementById('gm-offer-form');
    this.offerForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.offer();
    });
    this.load();
  }

  say(text, kind = 'ok') {
    this.result.hidden = false;
    this.result.dataset.kind = kind;
    this.result.textContent = text;
  }

  async load() {
    try {
      const [body, mine] = await Promise.all([
        requestJson(`${this.api}/claimable`), requestJson(`${this.api}/me/claims`)]);
      this.list.replaceChildren(...(body.results.length
        ? body.results.map((item) => this.item(item))
        : [el('li', { class: 'gm-muted' }, T.nothingNear)]));
      this.mine.replaceChildren(...(mine.wishes.length
        ? mine.wishes.map((w) => this.mineItem(w))
        : [el('li', { class: 'gm-muted' }, T.nothing)]));
    } catch (err) {
      banner(err.message);
    }
    this.root.dataset.state = 'ready';
  }

  item(item) {
    const what = item.type === 'wish' ? T.wish : (NEED_KIND_LABELS[item.kind] || T.need);
    const li = el('li', { 'data-type': item.type, 'data-id': item.id },
      el('span', { class: 'gm-badge' }, what),
      ' ', el('strong', {}, item.title));
    if (item.detail) li.append(el('div', { class: 'gm-small' }, item.detail));
    if (item.distance_m !== null && item.distance_m !== undefined) {
      li.append(el('div', { class: 'gm-small' }, item.distance_m < 100
        ? T.veryNear : `${T.distance} ${item.distance_m} ${T.metres}`));
    }
    const button = el('button', { type: 'button', class: 'gm-button gm-patrol-big' },
      `${T.claim}${item.type === 'wish' ? T.wish : T.need}`);
    button.addEventListener('click', () => this.claim(item, button));
    li.append(button);
    return li;
  }

  /** A wish one claimed: its state, and for one still to fulfil, a photo as proof. */
  mineItem(w) {
    const li = el('li', { 'data-mine': w.id }, el('strong', {}, w.title),
      el('div', { class: 'gm-small' }, WISH_STATE_LABELS[w.state] || w.state));
    if (w.state !== 'claimed') return li;
    const input = el('input', { type: 'file', accept: 'image/*', capture: 'environment',
      id: `gm-proof-${w.id}` });
    const label = el('label', { for: `gm-proof-${w.id}`, class: 'gm-small' }, T.proofPhoto);
    const button = el('button', { type: 'button', class: 'gm-button gm-patrol-big' }, T.fulfil);
    button.addEventListener('click', () => this.fulfil(w, input, button));
    li.append(label, input, button);
    return li;
  }

  async fulfil(w, input, button) {
    const file = input.files && input.files[0];
    if (!file) {
      this.say(T.proofPhoto, 'error');
      return;
    }
    button.disabled = true;
    let said = `${T.fulfilled}：${w.title}`;
    let kind = 'ok';
    try {
      const form = new FormData();
      form.append('purpose', 'after');
      form.append('file', file);
      const photo = await requestJson(`${this.apiRoot}/files`,
        { method: 'POST', body: form });
      await requestJson(`${this.api}/wishes/${w.id}/fulfilment`,
        { method: 'POST', body: { note: '', photos: [photo.id] } });
    } catch (err) {
      said = err.message;
      kind = 'error';
    }
    await this.load();
    this.say(said, kind);
  }

  /** 资源清单: what one offers the community (a room, a skill, time…). */
  async offer() {
    const data = new FormData(this.offerForm);
    try {
      await requestJson(`${this.api}/resources`,
        { method: 'POST', body: { kind: data.get('kind'), title: data.get('title') } });
      this.offerForm.reset();
      this.say(T.offered);
    } catch (err) {
      this.say(err.message, 'error');
    }
  }

  async claim(item, button) {
    button.disabled = true;
    const path = item.type === 'wish'
      ? `${this.api}/wishes/${item.id}/claims` : `${this.api}/needs/${item.id}/claims`;
    const body = item.type === 'wish' ? undefined : {};
    let said = `${T.claimed}：${item.title}`;
    let kind = 'ok';
    try {
      await requestJson(path, { method: 'POST', body });
    } catch (err) {
      said = err.message;
      kind = 'error';
    }
    await this.load();
    this.say(said, kind);
  }
}

export function start(config) {
  return new ClaimPage(config);
}
