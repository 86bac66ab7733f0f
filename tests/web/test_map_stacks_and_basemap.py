"""The map page where the data are dense or the network is bad (issue 15): the households of
one building are spread around its point with their count, never stacked on one pixel; and a
basemap tile host that never answers does not hold the page's load event (the tab's spinner)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser

from gridmap import create_app
from gridmap.core import db
from gridmap.core.settings import Settings
from tests.web.browser import Watched, count, serving, wait_for, wait_until_loaded
from tests.web.conftest import LIVE_SETTINGS
from tests.web.test_map_page import DONGCHENG_BBOX

#: core/map.js gives a basemap tile up after this long.
TILE_TIMEOUT_S = 8


@pytest.fixture(scope="module")
def building(api: Callable[..., Any]) -> tuple[float, float]:
    """Where demo-street's first household is (its building's households lie within metres)."""
    body = api("demo-street", "/households", bbox=DONGCHENG_BBOX, limit=1)
    lon, lat = body["features"][0]["geometry"]["coordinates"]
    return lon, lat


def test_households_of_a_building_are_clustered_then_spread(
    street: Watched, building: tuple[float, float]
) -> None:
    lon, lat = building
    street.open((16, lat, lon))
    page = street.page
    wait_for(page, "path.gm-household")
    wait_until_loaded(page, "household")
    assert int(page.evaluate("() => document.body.dataset.householdStacks")) > 0
    # At zoom 16 every heap of households is one marker with its count: no marker lies on
    # another (markers are at most 22 px wide; heaps' markers are more than 26 px apart).
    centres = page.evaluate(
        """() => [...document.querySelectorAll('path.gm-household')].map((p) => {
            const b = p.getBoundingClientRect();
            return [b.x + b.width / 2, b.y + b.height / 2];
        })"""
    )
    closest = min(
        ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5
        for i, (ax, ay) in enumerate(centres)
        for bx, by in centres[i + 1 :]
    )
    assert closest > 22, closest
    labels = page.locator(".gm-stack-count span").all_inner_texts()
    assert labels and all(t.endswith(" 户") and int(t.split()[0]) >= 2 for t in labels)
    assert count(page, "path.gm-household-stack") == len(labels)
    drawn = page.evaluate("() => window.gridmap.counts.household")
    singles = count(page, "path.gm-household:not(.gm-household-stack)")
    assert sum(int(t.split()[0]) for t in labels) + singles == drawn
    street.screenshot("map_households_clustered.png")
    # A heap's marker zooms in to where its households are drawn one by one, spread.
    page.locator("path.gm-household-stack").first.dispatch_event("click")
    page.wait_for_function("() => window.gridmap.map.getZoom() === 17")
    wait_until_loaded(page, "household")
    page.wait_for_function("() => !document.querySelector('path.gm-household-stack')")
    assert count(page, "path.gm-household") > 0
    street.screenshot("map_households_spread.png")
    street.assert_clean()


class SilentHost:
    """A tile host that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.held:
            connection.close()


@pytest.fixture(scope="module")
def silent_basemap_url(web_database_url: str) -> Iterator[str]:
    """A live server whose basemap is the silent host."""
    host = SilentHost()
    settings = LIVE_SETTINGS | {
        "basemap_crs": "wgs84",
        "basemap_url": f"http://127.0.0.1:{host.port}/{{z}}/{{x}}/{{y}}.png",
    }
    app: Flask = create_app(Settings(database_url=web_database_url, **settings))
    with serving(app) as url:
        yield url
    db.dispose(app)
    host.close()


def test_a_silent_basemap_never_holds_the_page_load(
    browser: Browser, silent_basemap_url: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        watched = Watched.attach(context, silent_basemap_url)
        watched.login("demo-street")
        page = watched.page
        started = time.monotonic()
        page.goto(watched.url("/"), wait_until="load", timeout=(TILE_TIMEOUT_S + 20) * 1000)
        assert time.monotonic() - started < TILE_TIMEOUT_S + 20
        page.wait_for_function("() => Number(document.body.dataset.basemapTimedOut) > 0")
        assert "底图加载超时" in page.locator(".leaflet-control-attribution").inner_text()
        # The app's own layers are drawn regardless.
        wait_for(page, "path.gm-grid-community")
        assert count(page, "img.leaflet-tile") > 0
        assert watched.csp_violations == [] and watched.console_errors == []
    finally:
        context.close()
