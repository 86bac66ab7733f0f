"""The review page (一月一研判) in headless Chromium, over the city-scale data set.

A database of its own holds the Dongcheng demo and ``REVIEW_REQUESTS`` generated requests
(2 million by default, :mod:`gridmap.demo.generator`): the page must stay light and quick whatever
the volume, because every layer it draws is an aggregate or a vector tile. demo-auditor (the
whole district, read-only) logs in through the form; changing the category, the period and
the overdue filter changes the layers, and what the page shows agrees with the API. A
screenshot is saved under tests/artifacts/.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, ViewportSize
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from gridmap import create_app
from gridmap.core import clock, db
from gridmap.core.clock import BEIJING
from gridmap.core.settings import Settings
from gridmap.demo import generator as synth
from gridmap.demo import loader as demo
from gridmap.review import service as review
from gridmap.review.service import HEAT_POINT_CAP
from tests.conftest import create_test_database, drop_test_database
from tests.web.browser import ARTIFACTS, Watched, serving
from tests.web.conftest import DEMO_HOUSEHOLDS, LIVE_SETTINGS

REVIEW_REQUESTS = int(os.environ.get("GRIDMAP_TEST_REVIEW_REQUESTS", "2000000"))
#: The data is "as of" this moment, so the periods the page offers hold data.
AS_OF = dt.datetime(2026, 11, 20, 18, 0, tzinfo=BEIJING)
READY_MS = 120_000


@pytest.fixture(scope="module")
def review_url() -> Iterator[str]:
    """A live server over the demo city with ``REVIEW_REQUESTS`` requests, its clock at
    ``AS_OF`` so that the page opens on the data's last month whatever today's date."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "now", lambda: AS_OF.astimezone(dt.UTC))
        yield from _review_server()


def _review_server() -> Iterator[str]:
    name = f"gridmap_test_review_{os.getpid()}"
    _, url = create_test_database(name)
    engine = create_engine(url)
    with Session(engine) as session:
        demo.load(session, households=DEMO_HOUSEHOLDS, seed=7, settings=Settings())
        report = synth.generate_requests(session, count=REVIEW_REQUESTS, seed=11, end=AS_OF)
        session.commit()
    assert report.requests == REVIEW_REQUESTS
    engine.dispose()
    app: Flask = create_app(Settings(database_url=url, **LIVE_SETTINGS))
    with serving(app) as url:
        yield url
    db.dispose(app)
    drop_test_database(name)


@pytest.fixture
def reviewer(browser: Browser, review_url: str) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    watched = Watched.attach(context, review_url)
    watched.login("demo-auditor", next_path="/review")
    yield watched
    context.close()


def _ready(page: Page, previous: str | None = None) -> dict[str, Any]:
    """Wait until the page has drawn the layers of a query other than ``previous``."""
    page.wait_for_function(
        "(old) => document.body.dataset.reviewState === 'ready'"
        " && document.body.dataset.reviewQuery !== old",
        arg=previous,
        timeout=READY_MS,
    )
    shown: dict[str, Any] = page.evaluate(
        """() => ({
            query: document.body.dataset.reviewQuery,
            total: Number(document.getElementById('gm-review-total').textContent),
            overdue: Number(document.getElementById('gm-review-overdue-count').textContent),
            heat: Number(document.body.dataset.heatPoints),
            spots: Number(document.body.dataset.hotSpots),
            grids: Number(document.getElementById('gm-review-legend').dataset.grids),
        })"""
    )
    return shown


def _api(page: Page, path: str) -> Any:
    return page.evaluate(
        "async (p) => (await fetch(p, {credentials: 'same-origin'})).json()", f"/api/v1{path}"
    )


def test_filters_change_the_layers_of_the_city_scale_review(reviewer: Watched):
    page = reviewer.page
    assert reviewer.path() == "/review"
    first = _ready(page)
    assert first["query"] == f"period={review.last_month(AS_OF.date())}"
    assert first["total"] > 0 and 0 < first["heat"] <= HEAT_POINT_CAP and first["grids"] > 0
    summary = _api(page, f"/review/summary?{first['query']}")
    assert (summary["total"], summary["overdue"]) == (first["total"], first["overdue"])
    # The grids come as vector tiles drawn on canvases; at the district's zoom the heat (one
    # red blob there) waits for a closer zoom and its legend says so.
    page.wait_for_function(
        "() => document.querySelectorAll('.leaflet-gm-review-grids-pane canvas').length > 0"
    )
    page.evaluate("() => window.gridmapReview.map.setZoom(13)")
    page.wait_for_function("() => document.body.dataset.heatShown === 'false'")
    assert page.locator("canvas.leaflet-heatmap-layer").count() == 0
    assert "放大到 15 级及以上显示热力图" in page.locator("#gm-review-heat-note").inner_text()
    assert not any("/api/v1/requests" in url for url in reviewer.requests)
    _legends_read_well(page)

    page.select_option("#gm-review-category", "utility.heating")
    heating = _ready(page, first["query"])
    assert "category=utility.heating" in heating["query"]
    assert 0 < heating["total"] < first["total"] and heating["heat"] <= first["heat"]

    page.select_option("#gm-review-category", "")
    everything = _ready(page, heating["query"])
    page.evaluate(
        """() => {
            const slider = document.getElementById('gm-review-slider');
            slider.value = String(Number(slider.value) - 6);
            slider.dispatchEvent(new Event('change'));
        }"""
    )
    earlier = _ready(page, everything["query"])
    assert earlier["total"] != first["total"]

    page.check("#gm-review-overdue")
    late = _ready(page, earlier["query"])
    assert "overdue=true" in late["query"] and late["total"] == late["overdue"] < earlier["total"]
    page.uncheck("#gm-review-overdue")
    back = _ready(page, late["query"])
    assert back["total"] == earlier["total"]

    if back["spots"]:
        page.locator("#gm-review-candidates button, .gm-spot").first.click()
    else:
        page.locator(".folium-map").click(position={"x": 640, "y": 400})
    page.wait_for_selector("#gm-review-detail[data-code]", timeout=READY_MS)
    assert page.locator("#gm-review-detail .gm-sparkline").count() == 1
    reviewer.screenshot("review_page.png")
    reviewer.assert_clean()


def _legends_read_well(page: Page) -> None:
    """A legend for every layer; the choropleth's classes do not overlap; the Gi* symbols
    are named; the 未诉先办 candidates carry their community and no stray comma."""
    for block in ("heat", "choropleth", "hotspots"):
        assert page.locator(f"#gm-review-legend-{block}").is_visible()
    classes = page.evaluate(
        "() => JSON.parse(document.getElementById('gm-review-legend').dataset.classes)"
    )
    assert 2 <= len(classes) <= 5
    assert all(c["lo"] <= c["hi"] for c in classes)
    assert all(a["hi"] < b["lo"] for a, b in itertools.pairwise(classes))
    items = page.locator("#gm-review-legend li").all_inner_texts()
    assert items[0].strip() == "无诉求" and len(items) == len(classes) + 1
    for item, c in zip(items[1:], classes, strict=True):
        assert item.strip().startswith(str(c["lo"]))
    spots = page.locator("#gm-review-legend-spots li").all_inner_texts()
    assert len(spots) == 7 and "热点（99%）" in spots[0] and "未诉先办" in spots[-1]
    for text in page.locator("#gm-review-candidates li").all_inner_texts():
        assert "社区" in text, text
        assert "，，" not in text and not text.strip().endswith("，") and " ，" not in text


def test_the_heat_is_drawn_from_zoom_15_scaled_to_the_view(reviewer: Watched):
    page = reviewer.page
    _ready(page)
    page.evaluate("() => window.gridmapReview.map.setZoom(15)")
    page.wait_for_function("() => document.body.dataset.heatShown === 'true'")
    assert page.locator("canvas.leaflet-heatmap-layer").count() == 1
    note = page.locator("#gm-review-heat-note").inner_text()
    assert "按视野内微网格的诉求数着色" in note
    top = int(page.locator("#gm-review-heat-ramp").get_attribute("data-max") or 0)
    assert top >= 1 and f"{top} 件" in note
    reviewer.screenshot("review_heat_zoom15.png")
    reviewer.assert_clean()


@pytest.mark.parametrize(
    "viewport",
    [{"width": 1366, "height": 900}, {"width": 390, "height": 844}],
    ids=["laptop", "phone"],
)
def test_the_legends_read_at_a_laptop_and_a_phone_size(
    browser: Browser, review_url: str, viewport: ViewportSize
):
    """The legends of the three layers fit the sidebar without overlapping labels, and the
    page stays within the screen's width; screenshots of the page and of its legends."""
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    watched = Watched.attach(context, review_url)
    watched.login("demo-auditor", next_path="/review")
    page = watched.page
    _ready(page)
    _legends_read_well(page)
    width = viewport["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    boxes = [
        page.locator(selector).bounding_box()
        for selector in (
            "#gm-review-legend-heat",
            "#gm-review-legend-choropleth",
            "#gm-review-legend-hotspots",
        )
    ]
    for box in boxes:
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    rows = [
        page.locator(f"{ul} li").nth(i).bounding_box()
        for ul in ("#gm-review-legend", "#gm-review-legend-spots")
        for i in range(page.locator(f"{ul} li").count())
    ]
    tops = sorted((b["y"], b["y"] + b["height"]) for b in rows if b is not None)
    assert len(tops) == len(rows)
    assert all(a[1] <= b[0] + 0.5 for a, b in itertools.pairwise(tops)), tops
    watched.screenshot(f"review_{width}.png")
    # One picture per legend: on a phone the sidebar scrolls above the map.
    for block in ("heat", "choropleth", "hotspots"):
        legend = page.locator(f"#gm-review-legend-{block}")
        legend.scroll_into_view_if_needed()
        legend.screenshot(path=str(ARTIFACTS / f"review_legend_{block}_{width}.png"))
    watched.assert_clean()
    context.close()


def test_the_main_map_draws_city_scale_layers_from_vector_tiles(reviewer: Watched):
    page = reviewer.page
    reviewer.open((12, 39.925, 116.41))
    page.wait_for_function(
        "() => document.querySelectorAll('.leaflet-gm-grids-pane canvas').length > 0"
    )
    assert any("/api/v1/tiles/grids/12/" in url for url in reviewer.requests)
    page.check("#gm-requests-tiles")
    period = review.last_month(AS_OF.date())
    page.wait_for_function(
        "(p) => performance.getEntriesByType('resource')"
        ".some((e) => e.name.includes('/api/v1/tiles/requests/12/') && e.name.includes(p))",
        arg=f"period={period}",
    )
    page.wait_for_load_state("networkidle")
    reviewer.screenshot("main_map_city_tiles.png")
    reviewer.assert_clean()
