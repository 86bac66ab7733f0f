/*
 * pages/accounts.js: the system administrator's password reset on the account list.
 *
 * A reset answers a one-time password made by the server; it is shown once, here, for the
 * administrator to hand over, and never stored by the page.
 */
import { requestJson } from '../core/api.js';
import { banner, hideBanner } from '../core/banner.js';
import { beijing } from '../core/format.js';

async function reset(usersUrl, button) {
  const { userId, username } = button.dataset;
  if (!window.confirm(`重置账号 ${username} 的密码？其现有登录将全部退出，原密码立即失效。`)) return;
  button.disabled = true;
  hideBanner();
  try {
    const answer = await requestJson(`${usersUrl}/${userId}/password`, { method: 'POST' });
    const box = document.getElementById('gm-reset-result');
    box.querySelector('.gm-reset-username').textContent = username;
    box.querySelector('#gm-one-time-password').textContent = answer.one_time_password;
    box.querySelector('.gm-reset-expires').textContent = beijing(answer.expires_at);
    box.hidden = false;
    box.scrollIntoView();
  } catch (err) {
    banner(`重置密码失败：${err.message}`);
  } finally {
    button.disabled = false;
  }
}

/** Wire the reset buttons; `usersUrl` is the API's account list. */
export function start(usersUrl) {
  document.querySelectorAll('button.gm-reset-password').forEach((button) => {
    button.addEventListener('click', () => reset(usersUrl, button));
  });
}
