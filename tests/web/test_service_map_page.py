"""The service-circle page (15分钟便民服务圈) in headless Chromium, on the demo's synthetic
network and sites, at a laptop's and a phone's size.

demo-chief logs in through the form and opens the page: the sites, the walking circles, the
gap map and the candidate sites are drawn, each with its legend; the table lists the
community and its micro-grids with the figures the API gives; a site's popup names its kind
in Chinese. No serious axe-core violation, nothing logged, no other host asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from gridmap.core import glossary
from tests.web.browser import Watched, count
from tests.web.walk import axe_violations

LAPTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
WORDS = glossary.SERVICE_MAP


@pytest.fixture
def sized(browser: Browser, live_url: str) -> Iterator[Callable[[ViewportSize], Watched]]:
    contexts = []

    def make(size: ViewportSize) -> Watched:
        context = browser.new_context(viewport=size, locale="zh-CN")
        contexts.append(context)
        return Watched.attach(context, live_url)

    yield make
    for context in contexts:
        context.close()


def _open(watched: Watched) -> Page:
    watched.login("demo-chief", next_path="/service-map")
    page = watched.page
    page.wait_for_selector("body[data-service-map=ready]", timeout=60_000)
    return page


def test_a_chief_sees_sites_circles_gaps_candidates_and_the_table(
    sized: Callable[[ViewportSize], Watched], api: Callable[..., Any]
) -> None:
    watched = sized(LAPTOP)
    page = _open(watched)
    gaps = api("demo-chief", "/service-map/gaps")
    sites = api("demo-chief", "/service-sites")["features"]
    circles = api("demo-chief", "/service-map/isochrones")["features"]
    candidates = api("demo-chief", "/service-map/candidates")["features"]
    assert sites and circles and gaps["rows"]
    # One path per circle and per micro-grid of the gap map; one marker per site.
    assert count(page, ".leaflet-gm-service-circles-pane path") == len(circles)
    assert count(page, ".leaflet-gm-service-gaps-pane path") == len(gaps["rows"])
    assert count(page, ".leaflet-gm-service-points-pane path.leaflet-interactive") == len(sites)
    assert count(page, ".leaflet-gm-service-points-pane .gm-service-candidate") == len(candidates)
    assert page.locator("#gm-service-candidates li").count() == max(1, len(candidates))
    rows = page.locator("#gm-service-table tbody tr")
    assert rows.count() == len(gaps["rows"]) + len(gaps["communities"])
    community = gaps["communities"][0]
    first = rows.nth(0).locator("th, td").all_inner_texts()
    assert first[:3] == [
        community["name"],
        str(community["households"]),
        str(community["uncovered"]),
    ]
    legend = page.locator(".gm-service-sidebar").inner_text()
    for label in glossary.SITE_KINDS.values():
        assert label in legend
    assert WORDS["minutes"].format(minutes=15) in legend
    assert WORDS["never"] not in page.locator("#gm-service-state").inner_text()
    page.locator(".leaflet-gm-service-points-pane path.leaflet-interactive").first.click(force=True)
    popup = page.locator(".gm-service-popup")
    popup.wait_for()
    assert any(label in popup.inner_text() for label in glossary.SITE_KINDS.values())
    assert axe_violations(page) == []
    watched.assert_clean()


def test_the_page_works_on_a_phone(sized: Callable[[ViewportSize], Watched]) -> None:
    watched = sized(PHONE)
    page = _open(watched)
    assert page.locator("#gm-service-table").count() == 1
    assert axe_violations(page) == []
    watched.assert_clean()
