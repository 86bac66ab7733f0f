/*
 * core/header.js: the header's menu on a phone. The navigation and the account fold behind
 * the 菜单 button (a disclosure: aria-expanded), so the header takes one short row; the menu
 * opens over the page and closes on Escape, on a click outside it, or when a link is followed.
 * On a wide screen the button is hidden by the stylesheet and the menu is always shown.
 */

function setOpen(header, button, open) {
  header.classList.toggle('gm-menu-open', open);
  button.setAttribute('aria-expanded', String(open));
}

function init() {
  const header = document.querySelector('.gm-header');
  const button = header && header.querySelector('.gm-menu-button');
  if (!button) return;
  button.hidden = false;
  header.classList.add('gm-menu-ready');
  button.addEventListener('click', () => {
    setOpen(header, button, !header.classList.contains('gm-menu-open'));
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && header.classList.contains('gm-menu-open')) {
      setOpen(header, button, false);
      button.focus();
    }
  });
  document.addEventListener('click', (event) => {
    if (!header.contains(event.target)) setOpen(header, button, false);
  });
}

init();
