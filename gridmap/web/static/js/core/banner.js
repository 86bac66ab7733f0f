/* core/banner.js: the page's alert banner (#gm-banner in base.html). */

/** Show `message` in the page's alert banner, closable. */
export function banner(message) {
  const node = document.getElementById('gm-banner');
  node.querySelector('.gm-banner-text').textContent = message;
  node.hidden = false;
  node.querySelector('.gm-banner-close').onclick = () => { node.hidden = true; };
}
