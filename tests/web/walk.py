"""What a person reads on a page, checked in the browser: words, layout and accessibility.

:func:`problems` looks at the page as it stands and names everything that would trip a
Chinese user up: an English word outside the whitelist, a literal null, undefined or NaN, a
serious or critical axe-core violation, a header word broken over two lines, a phone's 菜单
button on a wide screen, a header taller than :data:`HEADER_SHARE` of a phone's screen, a
touch target under 44 px, a heading covered by something drawn over it (a map). axe-core
is the npm package of ``package.json`` (``node_modules/axe-core``), evaluated into the page
through the DevTools protocol, which the page's Content-Security-Policy does not govern.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from gridmap.core import glossary

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: The share of a phone's screen the header may take (the rest is the page's).
HEADER_SHARE = 0.12
#: WCAG 2.5.5: the least height of something a finger presses, in CSS pixels.
TOUCH_PX = 44
#: Words that stay as they are in Chinese text: names of products and file formats (the
#: glossary's, which a problem's detail may use too), units (the map's scale, a file's size),
#: the hot-spot statistics. Codes and identifiers (usernames, grid codes, command lines) are not
#: listed: the page marks them ``translate="no"`` or ``<code>``.
WHITELIST = frozenset(glossary.NAMES_KEPT) | {
    "Leaflet",
    "m",
    "km",
    "MB",
    "Gi*",
    "Getis-Ord",
    "Mann-Kendall",
    "z",
}
#: An ASCII word: letters, with the joins of a product's name (Getis-Ord, Gi*, CGCS2000).
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z][A-Za-z0-9]*)*\*?")
_RAW = re.compile(r"\b(null|undefined|NaN)\b")

#: The text a person sees: text nodes of rendered elements, outside scripts and the parts
#: marked as codes; the placeholders of inputs and the chosen options of selects.
_VISIBLE_TEXT = """() => {
  const seen = (e) => e.checkVisibility({ visibilityProperty: true, opacityProperty: true })
    && e.getClientRects().length > 0;
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    if (!parent || !node.textContent.trim()) continue;
    if (parent.closest('script, style, template, code, kbd, samp, [translate="no"]')) continue;
    if (seen(parent)) out.push(node.textContent.trim());
  }
  document.querySelectorAll('input[placeholder], textarea[placeholder]').forEach((e) => {
    if (seen(e)) out.push(e.placeholder);
  });
  document.querySelectorAll('select').forEach((e) => {
    if (seen(e) && e.selectedOptions[0]) out.push(e.selectedOptions[0].textContent.trim());
  });
  return out;
}"""

_AXE_RUN = """async () => {
  const found = await axe.run(document, { resultTypes: ['violations'] });
  return found.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3)
      .map((n) => `${n.target.join(' ')} — ${(n.failureSummary || '').replace(/\\s+/g, ' ')}`)
      .join(' | ')}`);
}"""

#: Header texts that break inside themselves (a word over two lines): a text node whose
#: range has rectangles on more than one line.
_BROKEN_HEADER_WORDS = """() => {
  const out = [];
  const header = document.querySelector('.gm-header');
  if (!header) return out;
  const walker = document.createTreeWalker(header, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim() || !node.parentElement.checkVisibility()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    if (tops.size > 1) out.push(node.textContent.trim());
  }
  return out;
}"""

#: Things a finger presses that are shorter than the least touch target (phones only).
_SMALL_TARGETS = """(least) => {
  const selector = 'a[href], button, select, summary, [role="button"], '
    + 'input:not([type="hidden"]):not([type="checkbox"]):not([type="radio"])';
  return [...document.querySelectorAll(selector)]
    .filter((e) => e.checkVisibility({ visibilityProperty: true }))
    // A link inside a sentence is exempt (WCAG 2.5.5's inline exception).
    .filter((e) => !(e.tagName === 'A' && e.closest('p, li, td, dd') && !e.closest('nav')))
    // Leaflet's attribution is the map's small print.
    .filter((e) => !e.closest('.leaflet-control-attribution'))
    .filter((e) => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && r.height < least - 0.5;
    })
    .map((e) => {
      const what = e.textContent || e.value || e.getAttribute('aria-label') || '';
      const height = Math.round(e.getBoundingClientRect().height);
      return `${e.tagName.toLowerCase()} "${what.trim().slice(0, 20)}" ${height} px`;
    });
}"""

#: Headings in the viewport whose middle is covered by another element (a map over them).
_COVERED_HEADINGS = """() => [...document.querySelectorAll('h1, h2')]
  .filter((h) => h.checkVisibility())
  .filter((h) => {
    const r = h.getBoundingClientRect();
    const x = r.left + Math.min(r.width, 40) / 2;
    const y = r.top + r.height / 2;
    if (r.height === 0 || y < 0 || y > innerHeight || x < 0 || x > innerWidth) return false;
    // A heading scrolled out of its own scrolling box (a sidebar) is hidden, not covered.
    for (let box = h.parentElement; box; box = box.parentElement) {
      if (getComputedStyle(box).overflowY === 'visible') continue;
      const b = box.getBoundingClientRect();
      if (y < b.top || y > b.bottom || x < b.left || x > b.right) return false;
    }
    const top = document.elementFromPoint(x, y);
    return top !== null && !h.contains(top);
  })
  .map((h) => h.textContent.trim())"""


def english_words(texts: list[str]) -> list[str]:
    """The ASCII words of ``texts`` that are not in the whitelist, each once, in order."""
    found = [w for text in texts for w in _WORD.findall(text) if w not in WHITELIST]
    return list(dict.fromkeys(found))


def raw_values(texts: list[str]) -> list[str]:
    """Texts that show a program's empty value (null, undefined, NaN) to people."""
    return [text for text in texts if _RAW.search(text)]


def axe_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it stands."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    found: list[str] = page.evaluate(_AXE_RUN)
    return found


def problems(page: Page, *, phone: bool) -> list[str]:
    """Everything on ``page`` that breaks the rules of issue 15, as readable lines."""
    texts: list[str] = page.evaluate(_VISIBLE_TEXT)
    found = [f"English: {w}" for w in english_words(texts)]
    found += [f"raw value: {t[:80]}" for t in raw_values(texts)]
    found += [f"axe: {v[:400]}" for v in axe_violations(page)]
    found += [f"header word broken: {t}" for t in page.evaluate(_BROKEN_HEADER_WORDS)]
    found += [f"heading covered: {t}" for t in page.evaluate(_COVERED_HEADINGS)]
    if not phone and page.locator(".gm-menu-button").is_visible():
        found.append("a 菜单 button on a wide screen")
    if phone:
        height: Any = page.evaluate(
            "() => document.querySelector('.gm-header').getBoundingClientRect().height"
        )
        screen = page.viewport_size["height"] if page.viewport_size else 1
        if height > HEADER_SHARE * screen:
            found.append(f"header {height:.0f} px of a {screen} px screen")
        found += [f"touch target: {t}" for t in page.evaluate(_SMALL_TARGETS, TOUCH_PX)]
    return found


def menu_items_cut_off(page: Page) -> list[str]:
    """Open a phone's 菜单 and name the navigation items not wholly on the screen."""
    page.get_by_role("button", name="菜单").click()
    cut: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('.gm-nav a')].filter((a) => {
          const r = a.getBoundingClientRect();
          return r.width === 0 || r.left < 0 || r.right > innerWidth || r.top < 0
            || r.bottom > innerHeight;
        }).map((a) => a.textContent.trim())"""
    )
    page.keyboard.press("Escape")
    return cut
