/* core/dom.js: small DOM helpers; text from the API is always inserted as text, never HTML. */

/** Create an element; children are nodes or strings (always inserted as text, never HTML). */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([key, value]) => {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  });
  children.flat().forEach((child) => {
    if (child === null || child === undefined || child === false) return;
    node.append(child instanceof Node ? child : String(child));
  });
  return node;
}

/**
 * Content for a Leaflet tooltip or popup. Leaflet puts a string in as HTML (innerHTML), so a
 * grid name or an address from an import would run as markup; a node holding the text cannot.
 */
export function asText(value) {
  const node = document.createElement('span');
  node.textContent = value === null || value === undefined ? '' : String(value);
  return node;
}

/** A value usable in a CSS class name (ids go into class names so tests and styles find them). */
export function cssToken(value) {
  return String(value).replace(/[^A-Za-z0-9_-]/g, '_');
}

/** `fn` called once calls stop for `ms` milliseconds. */
export function debounce(fn, ms) {
  let timer = null;
  return function () {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

/** A share (0.25) as a percentage ("25.0%"); no value: "—". */
export function percent(share) {
  return share === null || share === undefined ? '—' : `${(share * 100).toFixed(1)}%`;
}

/**
 * A grid as people read it: its name, with its code as a smaller secondary label (a code is
 * an identifier, marked not to be translated).
 */
export function gridLabel(name, code) {
  const label = el('span', { class: 'gm-grid-name' }, name);
  if (code && code !== name) label.append(' ', el('span', { class: 'gm-code', translate: 'no' }, code));
  return label;
}
