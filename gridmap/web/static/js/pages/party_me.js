/*
 * pages/party_me.js: 我的双报到, an in-service member's phone page.
 *
 * Report to the community where one lives (the recorded home or the phone's position at home
 * locates it; registered already, the same form is a move), withdraw a sign-up, choose
 * service posts, sign up for the community's activities (社区吹哨、党员报到), check in at the
 * place while one takes place (the position is sent; the server measures the distance), and
 * this quarter's services and hours against the rule.
 */
import { requestJson } from '../core/api.js';
import { banner } from '../core/banner.js';
import { el } from '../core/dom.js';
import { beijing } from '../core/format.js';
import { PARTY_LABELS as T } from '../core/labels.js';
import { quarterName } from '../party/quarter.js';

/** The phone's position as the API's point (WGS 84). */
function here() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) {
      reject(new Error(T.noLocation));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lon: p.coords.longitude, lat: p.coords.latitude, crs: 'EPSG:4326' }),
      () => reject(new Error(T.noLocation)),
      { enableHighAccuracy: true, timeout: 15000 },
    );
  });
}

class MyPartyPage {
  constructor(config) {
    this.api = `${config.apiRoot}/party`;
    this.root = document.getElementById('gm-party-me');
    this.community = document.getElementById('gm-party-community');
    this.registerForm = document.getElementById('gm-party-register-form');
    this.register = document.getElementById('gm-party-register');
    this.moveNote = document.getElementById('gm-party-move-note');
    this.result = document.getElementById('gm-party-result');
    this.quarter = document.getElementById('gm-party-quarter');
    this.list = document.getElementById('gm-party-activities');
    this.posts = document.getElementById('gm-party-posts');
    this.kinds = {};
    this.registerForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.registerAt(new FormData(this.registerForm).get('where'));
    });
    document.getElementById('gm-party-posts-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.savePosts();
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
      const [kinds, me] = await Promise.all([
        requestJson(`${this.api}/posts`), requestJson(`${this.api}/me`)]);
      this.kinds = Object.fromEntries(kinds.posts.map((p) => [p.code, p.name]));
      this.showMe(me);
      await this.loadActivities();
    } catch (err) {
      banner(err.message);
    }
    this.root.dataset.state = 'ready';
  }

  showMe(me) {
    const reg = me.registration;
    this.community.textContent = reg
      ? `${T.community}：${reg.community.name}${reg.unit ? ` · ${reg.unit.name}` : ''}`
      : T.notRegistered;
    // Unregistered: report by home; registered: a move (the registration closes today).
    this.registerForm.hidden = false;
    this.moveNote.hidden = !reg;
    this.register.textContent = reg ? T.move : T.register;
    if (reg) {
      this.community.append(el('span', { class: 'gm-small' }, ` · ${T.since} ${reg.since}`));
    }
    const q = me.quarter;
    this.quarter.replaceChildren(
      el('dt', {}, T.quarter), el('dd', {}, quarterName(q.quarter)),
      el('dt', {}, T.services), el('dd', { id: 'gm-party-services' }, `${q.services} / ${q.rule.services}`),
      el('dt', {}, T.hours), el('dd', { id: 'gm-party-hours' }, `${q.hours} / ${q.rule.hours}`),
      el('dt', {}, T.met), el('dd', { id: 'gm-party-met', 'data-met': String(q.met) },
        q.met ? T.met : T.notMet),
    );
    const chosen = new Set(me.posts);
    this.posts.replaceChildren(...Object.entries(this.kinds).map(([code, name]) => el('label',
      { class: 'gm-choice' },
      el('input', { type: 'checkbox', name: 'kinds', value: code, ...(chosen.has(code) ? { checked: '' } : {}) }),
      ` ${name}`)));
  }

  async loadActivities() {
    const body = await requestJson(`${this.api}/me/activities?days=7`);
    const now = Date.now();
    this.list.replaceChildren(...(body.results.length
      ? body.results.map((a) => this.item(a, now))
      : [el('li', { class: 'gm-muted' }, T.noActivities)]));
  }

  item(a, now) {
    const started = Date.parse(a.starts_at) <= now;
    const ended = Date.parse(a.ends_at) < now;
    const li = el('li', { 'data-activity': a.id },
      el('strong', {}, a.title),
      el('span', { class: 'gm-small' }, ` ${this.kinds[a.kind] || a.kind}`),
      el('div', { class: 'gm-small' }, `${beijing(a.starts_at)} – ${beijing(a.ends_at)} · ${a.place_name}`),
      el('div', { class: 'gm-small' }, `${T.places} ${a.signed}/${a.wanted}`));
    const mine = a.mine;
    if (mine && mine.attended_at) {
      li.append(el('div', { class: 'gm-party-done' }, `${T.attended} · ${mine.hours} 小时`));
    } else if (mine && started && !ended) {
      li.append(this.button(T.checkIn, () => this.checkIn(a)));
      li.append(this.button(T.cancel, () => this.cancel(a), 'gm-button-secondary'));
    } else if (mine && !ended) {
      li.append(el('div', { class: 'gm-small' }, T.signedUp));
      li.append(this.button(T.cancel, () => this.cancel(a), 'gm-button-secondary'));
    } else if (mine) {
      li.append(el('div', { class: 'gm-small' }, T.signedUp));
    } else if (!ended && a.signed < a.wanted) {
      li.append(this.button(T.signUp, () => this.signUp(a)));
    } else if (!ended) {
      li.append(el('div', { class: 'gm-small' }, T.full));
    }
    return li;
  }

  button(text, action, extra = '') {
    const b = el('button', { type: 'button', class: `gm-button gm-patrol-big ${extra}`.trim() }, text);
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        await action();
      } catch (err) {
        this.say(err.message, 'error');
      }
      b.disabled = false;
    });
    return b;
  }

  async refresh() {
    this.showMe(await requestJson(`${this.api}/me`));
    await this.loadActivities();
  }

  async signUp(a) {
    await requestJson(`${this.api}/me/activities/${a.id}/signup`, { method: 'POST' });
    this.say(`${T.signedUp}：${a.title}`);
    await this.refresh();
  }

  async cancel(a) {
    await requestJson(`${this.api}/me/activities/${a.id}/signup`, { method: 'DELETE' });
    this.say(`${T.cancelled}：${a.title}`);
    await this.refresh();
  }

  async checkIn(a) {
    this.say(T.locating);
    const point = await here();
    const done = await requestJson(`${this.api}/me/activities/${a.id}/check-in`,
      { method: 'POST', body: point });
    this.say(`${T.attended}：${a.title} · ${done.hours} 小时`);
    await this.refresh();
  }

  /** Report by the recorded home or by where the phone is; registered already, a move. */
  async registerAt(where) {
    this.register.disabled = true;
    try {
      const body = {};
      if (where === 'here') {
        this.say(T.locating);
        body.home = await here();
      }
      const made = await requestJson(`${this.api}/me/registration`, { method: 'POST', body });
      this.say(`${T.community}：${made.community.name}`);
      await this.refresh();
    } catch (err) {
      this.say(err.message, 'error');
    }
    this.register.disabled = false;
  }

  async savePosts() {
    const kinds = [...this.posts.querySelectorAll('input:checked')].map((i) => i.value);
    try {
      await requestJson(`${this.api}/me/posts`, { method: 'PUT', body: { kinds } });
      this.say(T.saved);
    } catch (err) {
      this.say(err.message, 'error');
    }
  }
}

export function start(config) {
  return new MyPartyPage(config);
}
