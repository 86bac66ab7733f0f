/* core/banner.js: the page's alert banner (#gm-banner in base.html). */

/** Show `message` in the page's alert banner, closable. */
export function banner(message) {
  const node = document.getElementById('gm-banner');
  node.querySelector('.gm-banner-text').textContent = message;
  node.hidden = false;
  node.querySelector('.gm-banner-close').onclick = () => hideBanner();
}

/** Hide the banner and forget its message. */
export function hideBanner() {
  const node = document.getElementById('gm-banner');
  node.hidden = true;
  node.querySelector('.gm-banner-text').textContent = '';
}
