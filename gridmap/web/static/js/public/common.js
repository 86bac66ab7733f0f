/*
 * public/common.js: what the public pages share: the error line, and the phone code
 * (获取验证码) with its captcha, shown when the server asks for one after repeated use.
 */
import { requestJson } from '../core/api.js';
import { PUBLIC_LABELS } from '../core/labels.js';

export const MOBILE = /^1[3-9][0-9]{9}$/;

export function showError(message) {
  const box = document.getElementById('gm-public-error');
  box.textContent = message;
  box.hidden = !message;
  if (message) box.scrollIntoView({ block: 'nearest' });
}

/** 获取验证码 for `purpose` (file, lookup); `draft()` is the token of the last code sent. */
export class PhoneCode {
  constructor(apiRoot, purpose) {
    this.apiRoot = apiRoot;
    this.purpose = purpose;
    this.draft = null;
    this.phone = document.getElementById('gm-public-phone');
    this.button = document.getElementById('gm-public-get-code');
    this.sent = document.getElementById('gm-public-code-sent');
    this.captchaBox = document.getElementById('gm-public-captcha');
    this.captchaId = null;
    this.button.addEventListener('click', () => this.ask());
    document.getElementById('gm-public-captcha-refresh')
      .addEventListener('click', () => this.loadCaptcha());
  }

  async loadCaptcha() {
    const shown = await requestJson(`${this.apiRoot}/captcha`);
    this.captchaId = shown.id;
    document.getElementById('gm-public-captcha-image').src = shown.image;
    document.getElementById('gm-public-captcha-answer').value = '';
    this.captchaBox.hidden = false;
  }

  async ask() {
    const phone = this.phone.value.trim();
    if (!MOBILE.test(phone)) {
      showError(PUBLIC_LABELS.phone + '：' + PUBLIC_LABELS.phoneHint);
      return;
    }
    const body = { phone, purpose: this.purpose };
    if (!this.captchaBox.hidden && this.captchaId) {
      body.captcha_id = this.captchaId;
      body.captcha = document.getElementById('gm-public-captcha-answer').value.trim();
    }
    this.button.disabled = true;
    try {
      const answer = await requestJson(`${this.apiRoot}/codes`, { method: 'POST', body });
      this.draft = answer.draft;
      this.captchaBox.hidden = true;
      showError('');
      this.countDown(60);
    } catch (err) {
      this.button.disabled = false;
      showError(err.message);
      if (err.code === 'captcha-required' || err.code === 'captcha-wrong') await this.loadCaptcha();
    }
  }

  countDown(seconds) {
    this.sent.hidden = false;
    this.sent.textContent = PUBLIC_LABELS.codeSent.replace('{seconds}', seconds);
    if (seconds <= 0) {
      this.button.disabled = false;
      this.sent.hidden = true;
      return;
    }
    setTimeout(() => this.countDown(seconds - 1), 1000);
  }
}
