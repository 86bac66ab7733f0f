"""楼栋 on the grid map in headless Chromium (demo Dongcheng, demo-street): the buildings layer
drawn from zoom 16 with its legend entry, and the household panel naming the household's
building, unit, 楼栋长, 单元长 and 党员中心户 as the API masks them; on a phone (390×844) and a
laptop, with no serious axe violation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import ViewportSize

from gridmap.core import glossary
from tests.web.browser import Watched, wait_for
from tests.web.walk import axe_violations

DONGCHENG_BBOX = "116.37,39.85,116.45,39.98"
SIZES: dict[str, ViewportSize] = {
    "phone": {"width": 390, "height": 844},
    "laptop": {"width": 1366, "height": 900},
}


@pytest.fixture(scope="module")
def household_in_a_building(api: Callable[..., Any]) -> dict[str, Any]:
    """A household of demo-street's street whose building has a 楼栋长 and a 党员中心户."""
    body = api("demo-street", "/households", bbox=DONGCHENG_BBOX, limit=300)
    for feature in body["features"]:
        hid = feature["properties"]["id"]
        coverage = api("demo-street", f"/households/{hid}/coverage")
        building = coverage["building"]
        if building and building["posts"] and building["central"]:
            lon, lat = feature["geometry"]["coordinates"]
            return {"id": hid, "lon": lon, "lat": lat, "building": building}
    pytest.fail("the demo should hold households in buildings with a 楼栋长 and a 中心户")


@pytest.mark.parametrize("size", SIZES)
def test_buildings_from_zoom_16_and_the_household_panel_names_their_people(
    new_watched: Callable[..., Watched], household_in_a_building: dict[str, Any], size: str
) -> None:
    watched = new_watched(SIZES[size])
    watched.login("demo-street")
    page = watched.page
    house = household_in_a_building
    watched.open((15, house["lat"], house["lon"]))
    wait_for(page, "path.gm-grid-micro")
    assert page.locator(".gm-building").count() == 0  # not below zoom 16
    watched.open((16, house["lat"], house["lon"]))
    wait_for(page, ".gm-building")
    labels = glossary.BUILDINGS
    assert page.get_by_text(f"{labels['layer']}（16 级以上）").is_visible()
    watched.screenshot(f"map-buildings-z16-{size}.png")

    watched.open((17, house["lat"], house["lon"]))
    marker = f"path.gm-hh-{house['id']}"
    wait_for(page, marker)
    page.locator(marker).dispatch_event("click")
    page.wait_for_selector("#gm-household[data-state=loaded]")
    text = page.locator("#gm-household").inner_text()
    building = house["building"]
    assert labels["building_head"] in text and labels["central"] in text
    head = next(p for p in building["posts"] if p["role"] == "building_head")
    assert head["name"] in text and head["phone"] in text  # masked as the API sent it
    assert building["central"]["person"]["name"] in text
    assert (building["name"] or building["number"]) in text
    assert axe_violations(page) == []
    watched.screenshot(f"map-building-panel-{size}.png")
    watched.assert_clean()
