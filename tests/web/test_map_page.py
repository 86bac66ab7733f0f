"""The grid chief's map page in real headless Chromium against a live server (demo Dongcheng).

Debian's ``chromium`` is required: without it these tests fail, they never skip. Playwright's
own browser download is never used.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, Route, sync_playwright

from gridmap.spatial.crs import gcj02_to_wgs84, wgs84_to_gcj02

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
DONGCHENG_BBOX = "116.37,39.85,116.45,39.98"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
COVERED_FILL = "#2e9d4f"
UNCOVERED_FILL = "#d7301f"
FOCUS_STROKE = "#c8102e"
WAIT_MS = 15_000


def _api(live_url: str, path: str, **params: Any) -> Any:
    url = f"{live_url}/api/v1{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def _count(page: Page, selector: str) -> int:
    return int(page.evaluate("(s) => document.querySelectorAll(s).length", selector))


# Labels the user can see: not hidden by zoom (display) nor by decluttering (visibility).
_VISIBLE_LABELS = """((level) => [...document.querySelectorAll(`.gm-label-${level}`)]
    .filter((n) => {
        const style = getComputedStyle(n);
        return style.display !== 'none' && style.visibility === 'visible';
    }).length)"""


def _wait_for(page: Page, selector: str) -> None:
    """Wait until at least one element matches ``selector`` (SVG paths count while hidden)."""
    page.wait_for_function(
        "(s) => document.querySelectorAll(s).length > 0", arg=selector, timeout=WAIT_MS
    )


@dataclass
class Watched:
    """A page with every request and console error it produced recorded."""

    page: Page
    live_url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        host = urllib.parse.urlsplit(self.live_url).netloc
        return [
            url
            for url in self.requests
            if urllib.parse.urlsplit(url).scheme not in ("data", "blob")
            and urllib.parse.urlsplit(url).netloc != host
        ]

    def open(self, view: tuple[int, float, float] | None = None) -> None:
        """Open the page, at ``(zoom, lat, lon)`` if given, else where the page fits the data."""
        fragment = "" if view is None else "#map={}/{:.6f}/{:.6f}".format(*view)
        self.page.goto(f"{self.live_url}/{fragment}")

    def assert_clean(self) -> None:
        assert self.console_errors == []
        assert self.foreign_requests() == []


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (./scripts/test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def watched(browser: Browser, live_url: str) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    w = Watched(page, live_url)

    def on_request(request: Request) -> None:
        w.requests.append(request.url)

    page.on("request", on_request)
    page.on("console", lambda m: w.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: w.console_errors.append(f"uncaught: {e}"))
    yield w
    context.close()


@pytest.fixture(scope="module")
def covered_household(live_url: str) -> dict[str, Any]:
    """A demo household that party members cover, with its coverage from the API."""
    body = _api(live_url, "/households", bbox=DONGCHENG_BBOX, limit=500)
    covered = [f for f in body["features"] if f["properties"]["covered"]]
    assert covered, "the demo data should hold covered households"
    feature = covered[0]
    lon, lat = feature["geometry"]["coordinates"]
    return {"id": feature["properties"]["id"], "lon": lon, "lat": lat}


def test_page_loads_offline_without_errors(watched: Watched) -> None:
    watched.open()
    # With no view in the URL the page fits itself to the communities the server holds.
    _wait_for(watched.page, "path.gm-grid-community")
    assert "网格地图" in watched.page.title()
    assert watched.page.locator("#gm-banner").is_hidden()
    assert watched.page.get_by_placeholder("网格编码或地址").is_visible()
    assert watched.page.get_by_text("未包户").is_visible()  # the legend
    watched.assert_clean()


def test_three_grid_levels_with_labels(watched: Watched, covered_household: dict[str, Any]) -> None:
    watched.open((16, covered_household["lat"], covered_household["lon"]))
    for level in ("community", "zone", "micro"):
        _wait_for(watched.page, f"path.gm-grid-{level}")
    page = watched.page
    for level in ("community", "zone", "micro"):
        page.wait_for_function(f"() => {_VISIBLE_LABELS}('{level}') > 0")
    # Micro-grid labels give way when zoomed out (they would pile on top of each other).
    for zoom in (15, 14):
        # One click per settled view (the hash follows on moveend): Leaflet ignores a zoom
        # asked for while the previous zoom is still animating.
        page.locator(".leaflet-control-zoom-out").click()
        page.wait_for_function("(z) => location.hash.startsWith(`#map=${z}/`)", arg=zoom)
    page.wait_for_function(f"() => {_VISIBLE_LABELS}('micro') === 0")
    assert page.evaluate(f"() => {_VISIBLE_LABELS}('community')") > 0
    assert _count(page, "path.gm-grid-micro") > 0
    watched.assert_clean()


def test_households_only_from_zoom_15(watched: Watched, covered_household: dict[str, Any]) -> None:
    watched.open((14, covered_household["lat"], covered_household["lon"]))
    page = watched.page
    _wait_for(page, "path.gm-grid-micro")
    hint = page.locator("#gm-map-hint")
    assert hint.is_visible()
    assert "放大到 15 级以上显示住户" in hint.inner_text()
    assert _count(page, "path.gm-household") == 0

    page.locator(".leaflet-control-zoom-in").click()
    _wait_for(page, "path.gm-household")
    assert hint.is_hidden()
    fills = page.evaluate(
        "() => [...new Set([...document.querySelectorAll('path.gm-household')]"
        ".map((p) => p.getAttribute('fill')))]"
    )
    assert set(fills) <= {COVERED_FILL, UNCOVERED_FILL}
    assert COVERED_FILL in fills

    # The sidebar toggles a layer off and on again.
    toggle = page.get_by_label("住户", exact=True)
    toggle.uncheck()
    page.wait_for_function("() => !document.querySelector('path.gm-household')")
    toggle.check()
    _wait_for(page, "path.gm-household")
    watched.assert_clean()


def test_click_household_shows_coverage(
    watched: Watched, covered_household: dict[str, Any]
) -> None:
    watched.open((17, covered_household["lat"], covered_household["lon"]))
    page = watched.page
    marker = f"path.gm-hh-{covered_household['id']}"
    _wait_for(page, marker)
    page.locator(marker).click()
    panel = page.locator("#gm-household")
    page.wait_for_selector("#gm-household[data-state=loaded]")
    shown_id = panel.get_attribute("data-household-id")
    assert shown_id == str(covered_household["id"])

    coverage = _api(watched.live_url, f"/households/{shown_id}/coverage")
    text = panel.inner_text()
    assert coverage["household"]["address"] in text
    assert coverage["members"], "a covered household lists its members"
    for member in coverage["members"]:
        assert member["name"] in text
    staff = [s for g in coverage["grids"].values() if g for s in g["staff"]]
    assert staff, "the demo grids should be staffed"
    labels = {
        "chief": "总网格长",
        "zone_leader": "网格长",
        "grid_worker": "网格员",
        "building_leader": "楼栋长",
    }
    for person in staff:
        assert person["name"] in text
        assert labels[person["role"]] in text
    assert "已包户" in text

    # The picture for people to look at: one zoom out, so the grids around it show too.
    page.locator(".leaflet-control-zoom-out").click()
    page.wait_for_function("() => location.hash.startsWith('#map=16/')")
    _wait_for(page, f"{marker}[stroke='#111']")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_page.png"))
    watched.assert_clean()


def _bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    rings = (
        geometry["coordinates"]
        if geometry["type"] == "Polygon"
        else [ring for polygon in geometry["coordinates"] for ring in polygon]
    )
    lons = [x for ring in rings for x, _ in ring]
    lats = [y for ring in rings for _, y in ring]
    return min(lons), min(lats), max(lons), max(lats)


def test_search_by_grid_code_flies_there(watched: Watched) -> None:
    micro = _api(watched.live_url, "/grids", level="micro", bbox=DONGCHENG_BBOX, limit=1)
    (feature,) = micro["features"]
    code = feature["properties"]["code"]
    west, south, east, north = _bounds(feature["geometry"])

    watched.open()
    page = watched.page
    _wait_for(page, "path.gm-grid-community")
    page.get_by_placeholder("网格编码或地址").fill(code)
    page.get_by_placeholder("网格编码或地址").press("Enter")
    page.wait_for_function(
        """([w, s, e, n]) => {
            const m = window.gridmap.map, c = m.getCenter();
            return m.getZoom() >= 15 && c.lng > w && c.lng < e && c.lat > s && c.lat < n;
        }""",
        arg=[west, south, east, north],
    )
    assert code in page.locator("#gm-search-results").inner_text()
    # The grid found is outlined once its level has loaded for the new view.
    _wait_for(page, f'path.gm-grid-micro[stroke="{FOCUS_STROKE}"]')
    watched.assert_clean()


def test_api_errors_show_a_banner(watched: Watched, covered_household: dict[str, Any]) -> None:
    def unavailable(route: Route) -> None:
        problem = {
            "title": "数据库暂不可用",
            "status": 503,
            "detail": "请稍后再试",
            "code": "unavailable",
        }
        route.fulfill(status=503, content_type="application/problem+json", body=json.dumps(problem))

    page = watched.page
    page.route("**/api/v1/households?*", unavailable)
    watched.open((16, covered_household["lat"], covered_household["lon"]))
    banner = page.locator("#gm-banner")
    banner.wait_for(state="visible")
    assert "住户图层加载失败" in banner.inner_text()
    assert "数据库暂不可用：请稍后再试" in banner.inner_text()
    banner.locator("button").click()
    assert banner.is_hidden()

    # A real problem from the server (an unknown household) is shown the same way.
    page.evaluate("() => window.gridmap.selectHousehold(2147483000)")
    banner.wait_for(state="visible")
    assert "404" in banner.inner_text()
    # The browser logs each failed response itself; nothing else may be logged.
    assert all("Failed to load resource" in e for e in watched.console_errors)
    assert watched.foreign_requests() == []


def test_gcj02_basemap_shifts_overlays_and_unshifts_the_bbox(
    watched: Watched, covered_household: dict[str, Any]
) -> None:
    page = watched.page

    # The live server's basemap is "none"; serve its page as a GCJ-02 deployment would.
    def as_gcj02(route: Route) -> None:
        response = route.fetch()
        html = response.text()
        assert '"basemapCrs": "none"' in html
        route.fulfill(
            response=response,
            body=html.replace('"basemapCrs": "none"', '"basemapCrs": "gcj02"'),
        )

    page.route(f"{watched.live_url}/", as_gcj02)
    watched.open((17, covered_household["lat"], covered_household["lon"]))
    _wait_for(page, "path.gm-household")

    # The forward transform agrees with the server's own (gridmap.spatial.crs).
    points = [(116.397428, 39.90923), (116.37, 39.85), (116.45, 39.98), (121.47, 31.23)]
    shifted = page.evaluate(
        "(pts) => pts.map(([x, y]) => GridmapPage.gcj02.fromWgs84(x, y))", points
    )
    for (lon, lat), (jlon, jlat) in zip(points, shifted, strict=True):
        glon, glat = wgs84_to_gcj02(lon, lat)
        assert abs(jlon - float(glon)) < 1e-9 and abs(jlat - float(glat)) < 1e-9

    # Households are drawn shifted: a marker sits at the GCJ-02 position of its feature.
    drawn = page.evaluate(
        """() => {
            const l = window.gridmap.layers.household.getLayers()[0];
            return [l.feature.geometry.coordinates, [l.getLatLng().lng, l.getLatLng().lat]];
        }"""
    )
    (lon, lat), (dlon, dlat) = drawn
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert abs(dlon - float(glon)) < 1e-9 and abs(dlat - float(glat)) < 1e-9
    assert abs(dlon - lon) > 1e-3  # Beijing's offset is ~500 m: the shift really happened

    # The bbox sent to the API is the view shifted back to WGS 84.
    view = page.evaluate(
        "() => { const b = window.gridmap.map.getBounds();"
        " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }"
    )
    asked = [
        urllib.parse.parse_qs(urllib.parse.urlsplit(u).query)["bbox"][0]
        for u in watched.requests
        if "/api/v1/households?" in u
    ]
    bbox = [float(v) for v in asked[-1].split(",")]
    corners_lon, corners_lat = gcj02_to_wgs84(
        [view[0], view[2], view[0], view[2]], [view[1], view[3], view[3], view[1]]
    )
    expected = [min(corners_lon), min(corners_lat), max(corners_lon), max(corners_lat)]
    for got, want in zip(bbox, expected, strict=True):
        assert abs(got - float(want)) < 2e-6
    watched.assert_clean()
