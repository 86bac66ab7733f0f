"""The grid chief's map page in real headless Chromium against a live server (demo Dongcheng),
logged in through the login form as the street administrator (demo-street), whose scope is the
street of the demo's first community: every place these tests open is taken from the API as
that account sees it, so it lies in that street.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Route

from gridmap.core import glossary
from gridmap.spatial.crs import gcj02_to_wgs84, wgs84_to_gcj02
from tests.web.browser import Watched, count, wait_for, wait_until_loaded

DONGCHENG_BBOX = "116.37,39.85,116.45,39.98"
COVERED_FILL = "#2e9d4f"
UNCOVERED_FILL = "#d7301f"
FOCUS_STROKE = "#c8102e"

# Labels the user can see: not hidden by zoom (display) nor by decluttering (visibility).
_VISIBLE_LABELS = """((level) => [...document.querySelectorAll(`.gm-label-${level}`)]
    .filter((n) => {
        const style = getComputedStyle(n);
        return style.display !== 'none' && style.visibility === 'visible';
    }).length)"""


@pytest.fixture(scope="module")
def covered_household(api: Callable[..., Any]) -> dict[str, Any]:
    """A household in demo-street's street that party members cover."""
    body = api("demo-street", "/households", bbox=DONGCHENG_BBOX, limit=500)
    covered = [f for f in body["features"] if f["properties"]["covered"]]
    assert covered, "the demo data should hold covered households in demo-street's street"
    feature = covered[0]
    lon, lat = feature["geometry"]["coordinates"]
    return {"id": feature["properties"]["id"], "lon": lon, "lat": lat}


def test_page_loads_offline_without_errors(street: Watched) -> None:
    street.open()
    # With no view in the URL the page fits itself to the communities the server holds.
    wait_for(street.page, "path.gm-grid-community")
    assert "网格地图" in street.page.title()
    assert street.page.locator("#gm-banner").is_hidden()
    assert street.page.get_by_placeholder("网格编码或地址").is_visible()
    assert street.page.get_by_text("未包户").is_visible()  # the legend
    street.assert_clean()


def test_three_grid_levels_with_labels(street: Watched, covered_household: dict[str, Any]) -> None:
    street.open((16, covered_household["lat"], covered_household["lon"]))
    for level in ("community", "zone", "micro"):
        wait_for(street.page, f"path.gm-grid-{level}")
    page = street.page
    for level in ("community", "zone", "micro"):
        page.wait_for_function(f"() => {_VISIBLE_LABELS}('{level}') > 0")
    # Micro-grid labels give way when zoomed out (they would pile on top of each other); the
    # communities of demo-street's street are small (~0.7 km), so their labels fit from zoom 15.
    page.locator(".leaflet-control-zoom-out").click()
    page.wait_for_function("() => location.hash.startsWith('#map=15/')")
    # The layers reload for the new view (and have no labels for a moment meanwhile).
    for level in ("community", "zone", "micro"):
        wait_until_loaded(page, level)
    page.wait_for_function(f"() => {_VISIBLE_LABELS}('micro') === 0")
    page.wait_for_function(f"() => {_VISIBLE_LABELS}('community') > 0")
    assert count(page, "path.gm-grid-micro") > 0
    street.assert_clean()


def test_households_only_from_zoom_15(street: Watched, covered_household: dict[str, Any]) -> None:
    street.open((14, covered_household["lat"], covered_household["lon"]))
    page = street.page
    wait_for(page, "path.gm-grid-micro")
    hint = page.locator("#gm-map-hint")
    assert hint.is_visible()
    assert "放大到 15 级以上显示住户" in hint.inner_text()
    assert count(page, "path.gm-household") == 0

    page.locator(".leaflet-control-zoom-in").click()
    wait_for(page, "path.gm-household")
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
    wait_for(page, "path.gm-household")
    street.assert_clean()


def test_click_household_shows_coverage(
    street: Watched, covered_household: dict[str, Any], api: Callable[..., Any]
) -> None:
    street.open((17, covered_household["lat"], covered_household["lon"]))
    page = street.page
    marker = f"path.gm-hh-{covered_household['id']}"
    wait_for(page, marker)
    # Households of a building overlap at zoom 17 (20–50 per micro-grid in one to three
    # buildings): the click is sent to this household's own marker, not to whichever is on top.
    page.locator(marker).dispatch_event("click")
    panel = page.locator("#gm-household")
    page.wait_for_selector("#gm-household[data-state=loaded]")
    shown_id = panel.get_attribute("data-household-id")
    assert shown_id == str(covered_household["id"])

    coverage = api("demo-street", f"/households/{shown_id}/coverage")
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

    # Another household selected: its marker is drawn as the selection, the first one no
    # longer (only these two markers are restyled).
    wait_for(page, f"{marker}[stroke='#111']")
    other = page.locator(f"path[class*='gm-hh-']:not(.gm-hh-{covered_household['id']})").first
    other.dispatch_event("click")
    page.wait_for_function(
        "id => { const p = document.getElementById('gm-household');"
        " return p.dataset.householdId !== id && p.dataset.state === 'loaded'; }",
        arg=str(covered_household["id"]),
    )
    assert page.locator(f"{marker}[stroke='#111']").count() == 0
    assert page.locator("path.gm-household[stroke='#111']").count() == 1
    page.locator(marker).dispatch_event("click")
    page.wait_for_selector(f"#gm-household[data-household-id='{shown_id}'][data-state=loaded]")

    # The picture for people to look at: one zoom out, so the grids around it show too.
    page.locator(".leaflet-control-zoom-out").click()
    page.wait_for_function("() => location.hash.startsWith('#map=16/')")
    wait_for(page, f"{marker}[stroke='#111']")
    street.screenshot("map_page.png")
    street.assert_clean()


def _bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    rings = (
        geometry["coordinates"]
        if geometry["type"] == "Polygon"
        else [ring for polygon in geometry["coordinates"] for ring in polygon]
    )
    lons = [x for ring in rings for x, _ in ring]
    lats = [y for ring in rings for _, y in ring]
    return min(lons), min(lats), max(lons), max(lats)


def test_search_by_grid_code_flies_there(street: Watched, api: Callable[..., Any]) -> None:
    micro = api("demo-street", "/grids", level="micro", bbox=DONGCHENG_BBOX, limit=1)
    (feature,) = micro["features"]
    code = feature["properties"]["code"]
    west, south, east, north = _bounds(feature["geometry"])

    street.open()
    page = street.page
    wait_for(page, "path.gm-grid-community")
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
    wait_for(page, f'path.gm-grid-micro[stroke="{FOCUS_STROKE}"]')
    street.assert_clean()


def test_api_errors_show_a_banner(street: Watched, covered_household: dict[str, Any]) -> None:
    def unavailable(route: Route) -> None:
        problem = {
            "title": "数据库暂不可用",
            "status": 503,
            "detail": "请稍后再试",
            "code": "unavailable",
        }
        route.fulfill(status=503, content_type="application/problem+json", body=json.dumps(problem))

    page = street.page
    page.route("**/api/v1/households?*", unavailable)
    street.open((16, covered_household["lat"], covered_household["lon"]))
    banner = page.locator("#gm-banner")
    banner.wait_for(state="visible")
    assert "住户图层加载失败" in banner.inner_text()
    # The glossary's message for the code, the Chinese detail, the status; never the title.
    said = banner.inner_text()
    assert f"{glossary.PROBLEMS['unavailable'].rstrip('。')}：请稍后再试（错误 503）" in said
    assert "数据库暂不可用" not in said
    banner.locator("button").click()
    assert banner.is_hidden()

    # A real problem from the server (an unknown household) is shown the same way.
    page.evaluate("() => window.gridmap.selectHousehold(2147483000)")
    banner.wait_for(state="visible")
    assert "404" in banner.inner_text()
    # The browser logs each failed response itself; nothing else may be logged.
    assert all("Failed to load resource" in e for e in street.console_errors)
    assert street.csp_violations == []
    assert street.foreign_requests() == []


def test_gcj02_basemap_shifts_overlays_and_unshifts_the_bbox(
    street: Watched, covered_household: dict[str, Any]
) -> None:
    page = street.page

    # The live server's basemap is "none"; serve its page as a GCJ-02 deployment would.
    def as_gcj02(route: Route) -> None:
        response = route.fetch()
        html = response.text()
        assert '"basemapCrs": "none"' in html
        route.fulfill(
            response=response,
            body=html.replace('"basemapCrs": "none"', '"basemapCrs": "gcj02"'),
        )

    page.route(f"{street.live_url}/", as_gcj02)
    street.open((17, covered_household["lat"], covered_household["lon"]))
    wait_for(page, "path.gm-household")

    # The forward transform agrees with the server's own (gridmap.spatial.crs).
    points = [(116.397428, 39.90923), (116.37, 39.85), (116.45, 39.98), (121.47, 31.23)]
    shifted = page.evaluate(
        "(pts) => pts.map(([x, y]) => GridmapPage.gcj02.fromWgs84(x, y))", points
    )
    for (lon, lat), (jlon, jlat) in zip(points, shifted, strict=True):
        glon, glat = wgs84_to_gcj02(lon, lat)
        assert abs(jlon - float(glon)) < 1e-9 and abs(jlat - float(glat)) < 1e-9

    # Households are drawn shifted: a marker sits at the GCJ-02 position of its feature (one
    # not spread around its building's other households, map/layers.js).
    drawn = page.evaluate(
        """() => {
            const g = window.gridmap;
            const l = g.layers.household.getLayers()
                .find((m) => !g.stacks.has(String(m.feature.properties.id)));
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
        for u in street.requests
        if "/api/v1/households?" in u
    ]
    bbox = [float(v) for v in asked[-1].split(",")]
    corners_lon, corners_lat = gcj02_to_wgs84(
        [view[0], view[2], view[0], view[2]], [view[1], view[3], view[3], view[1]]
    )
    expected = [min(corners_lon), min(corners_lat), max(corners_lon), max(corners_lat)]
    for got, want in zip(bbox, expected, strict=True):
        assert abs(got - float(want)) < 2e-6
    street.assert_clean()
