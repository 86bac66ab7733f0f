"""The service-circle page (15分钟便民服务圈) in headless Chromium, on the demo's synthetic
network and sites, at a laptop's and a phone's size.

demo-chief logs in through the form and opens the page: the sites, the walking circles, the
gap map and the candidate sites are drawn, each with its legend; the table lists the
community and its micro-grids with the figures the API gives; a site's popup names its kind
in Chinese. No serious axe-core violation, nothing logged, no other host asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect
from shapely.geometry import shape

from gridmap.core import glossary
from tests.web.browser import Watched, count
from tests.web.walk import axe_violations
from tests.workers import start_worker, stop_worker

LAPTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
WORDS = glossary.SERVICE_MAP


def _open(watched: Watched) -> Page:
    watched.login("demo-chief", next_path="/service-map")
    page = watched.page
    page.wait_for_selector("body[data-service-map=ready]", timeout=60_000)
    return page


def test_a_chief_sees_sites_circles_gaps_candidates_and_the_table(
    new_watched: Callable[..., Watched], api: Callable[..., Any]
) -> None:
    watched = new_watched(LAPTOP)
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
    # Leaflet fades a popup in; its text is judged for contrast once fully opaque.
    expect(page.locator(".leaflet-popup")).to_have_css("opacity", "1")
    assert any(label in popup.inner_text() for label in glossary.SITE_KINDS.values())
    assert axe_violations(page) == []
    watched.assert_clean()


def test_the_page_works_on_a_phone(new_watched: Callable[..., Watched]) -> None:
    watched = new_watched(PHONE)
    page = _open(watched)
    assert page.locator("#gm-service-table").count() == 1
    assert axe_violations(page) == []
    watched.assert_clean()


@pytest.fixture
def service_worker(
    web_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """A ``flask gridmap worker`` on the live server's database, for the page's jobs."""
    worker = start_worker(web_database_url, tmp_path_factory.mktemp("worker") / "worker.log")
    yield
    stop_worker(worker)


@pytest.mark.usefixtures("service_worker")
def test_a_street_administrator_imports_a_site_and_the_circles_follow(
    new_watched: Callable[..., Watched],
    api: Callable[..., Any],
    tmp_path: Path,
) -> None:
    watched = new_watched(LAPTOP)
    watched.login("demo-street", next_path="/service-map")
    page = watched.page
    page.wait_for_selector("body[data-service-map=ready]", timeout=60_000)
    assert page.locator("#gm-service-upload-what option[value=network]").count() == 0
    micro = api("demo-street", "/service-map/gap-map")["features"][0]["geometry"]
    inside = shape(micro).representative_point()
    before = len(api("demo-street", "/service-sites")["features"])
    site = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [inside.x, inside.y]},
        "properties": {
            "编码": "WEB-1",
            "名称": "新建助餐点",
            "类型": "助餐点",
            "开放时间": "每日 11:00-13:00",
        },
    }
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [site]}), "utf-8")
    page.set_input_files("#gm-service-upload-file", str(path))
    page.get_by_role("button", name=WORDS["submit"]).click()
    page.wait_for_function(
        "t => document.getElementById('gm-service-job-status').textContent === t",
        arg=WORDS["imported"],
        timeout=120_000,
    )
    page.wait_for_selector("body[data-service-map=ready]")
    sites = api("demo-street", "/service-sites")["features"]
    assert len(sites) == before + 1 and "WEB-1" in {s["id"] for s in sites}
    assert count(page, ".leaflet-gm-service-points-pane path.leaflet-interactive") == before + 1
    assert api("demo-street", "/service-map")["stale"] is False
    assert axe_violations(page) == []
    watched.assert_clean()
