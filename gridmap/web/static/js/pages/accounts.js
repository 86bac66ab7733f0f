/*
 * pages/accounts.js: the system administrator's password reset on the account list, and the
 * security administrator's role grant.
 *
 * A reset answers a one-time password made by the server; it is shown once, here, for the
 * administrator to hand over, and never stored by the page. A grant shows the fields its
 * role needs (a scope, a person, a department, a unit picked from the list) and sends those.
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

/** Show the fields the chosen role needs, and only those. */
function showFields(form) {
  const role = form.elements.role.value;
  form.querySelectorAll('[data-for-roles]').forEach((label) => {
    const wanted = label.dataset.forRoles.split(' ').includes(role);
    label.hidden = !wanted;
    label.querySelector('input, select').disabled = !wanted;
  });
}

/** The grant's body: the role and the fields it needs, numbers as numbers. */
function grantBody(form) {
  const body = { role: form.elements.role.value };
  for (const name of ['scope_code', 'person_id', 'department_id', 'party_unit_id']) {
    const field = form.elements[name];
    if (field.disabled || field.value === '') continue;
    body[name] = name === 'scope_code' ? field.value : Number(field.value);
  }
  return body;
}

function wireGrant(usersUrl, form) {
  const result = document.getElementById('gm-grant-result');
  form.elements.role.addEventListener('change', () => showFields(form));
  showFields(form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const user = form.elements.user_id.selectedOptions[0];
    hideBanner();
    try {
      await requestJson(`${usersUrl}/${user.value}/role`, { method: 'PUT', body: grantBody(form) });
      result.textContent = `已授予账号 ${user.textContent.trim()}：${form.elements.role.selectedOptions[0].textContent.trim()}`;
    } catch (err) {
      result.textContent = '';
      banner(`授予角色失败：${err.message}`);
    }
  });
}

/** Wire the reset buttons and the grant form; `usersUrl` is the API's account list. */
export function start(usersUrl) {
  document.querySelectorAll('button.gm-reset-password').forEach((button) => {
    button.addEventListener('click', () => reset(usersUrl, button));
  });
  const form = document.getElementById('gm-grant-form');
  if (form) wireGrant(usersUrl, form);
}
