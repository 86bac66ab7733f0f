"""The assignment page (分配包户) in headless Chromium, logged in through the form as the demo
community's chief (demo-chief): lasso and polygon selection, assign and release, the balanced
proposal shown as a diff, adjusted and accepted, staffing, reports, and the conflict a stale
ETag gives. What the page did is checked against the API (the database as the server sees it).

The live demo is small (4,000 households over the district, a handful per zone), so the busiest
zone of the chief's community gets a few buildings of households of its own (uncovered, some of
them care households); nothing else in the demo is touched.
"""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gridmap.core import glossary
from gridmap.grid import ingest
from tests.web.browser import CHIEF, Api, Watched, count

BUILDINGS = 4
PER_BUILDING = 12
CONFLICT = "他人已修改，请刷新"


def coverage(api: Api, zone: str) -> dict[int, int | None]:
    """Who covers each household of ``zone`` now (person id, or None)."""
    return {h["id"]: h["current"] for h in api.get(f"/grids/{zone}/coverage")["households"]}


@pytest.fixture(scope="module")
def zone(chief_api: Api, web_engine: Engine) -> str:
    """The busiest zone of demo-chief's community, with a few more buildings of households."""
    zones = [f["properties"]["code"] for f in chief_api.get("/grids?level=zone")["features"]]
    busiest = max(zones, key=lambda z: len(chief_api.get(f"/grids/{z}/coverage")["households"]))
    micro = chief_api.get(f"/grids?level=micro&parent={busiest}")["features"]
    rng = np.random.default_rng(11)
    rows: list[dict[str, Any]] = []
    for feature in micro[:BUILDINGS]:
        centre = shapely.point_on_surface(shape(feature["geometry"]))
        for i in range(PER_BUILDING):
            # Within ~6 m of the building's point: one building, well inside the micro-grid.
            rows.append(
                {
                    "lon": centre.x + rng.uniform(-5e-5, 5e-5),
                    "lat": centre.y + rng.uniform(-4e-5, 4e-5),
                    "address": f"测试楼{len(rows) // PER_BUILDING + 1}号{i + 1}室",
                    "care_tags": "elderly_alone" if i % 5 == 0 else "",
                }
            )
    with Session(web_engine) as session:
        ingest.import_households(session, pd.DataFrame(rows).astype(str), "EPSG:4490")
        session.commit()
    return str(busiest)


@pytest.fixture
def chief(new_watched: Callable[[], Watched], zone: str) -> Iterator[Watched]:
    """The assignment page of ``zone``, reached through the login form."""
    watched = new_watched()
    watched.login(CHIEF, next_path=f"/assign?grid={zone}")
    assert watched.path() == f"/assign?grid={zone}"
    ready(watched)
    yield watched


def ready(watched: Watched) -> None:
    """Wait until the page has no request under way."""
    watched.page.wait_for_selector("#gm-assign[data-state=ready]", state="attached")


def households_on_screen(watched: Watched) -> list[dict[str, Any]]:
    """Every household the page drew: id, shown member, and where it is on the page (px)."""
    found: list[dict[str, Any]] = watched.page.evaluate(
        """() => {
            const a = window.gridmapAssign;
            const box = a.map.getContainer().getBoundingClientRect();
            return [...a.households.values()].map((h) => {
                const p = a.map.latLngToContainerPoint(h.marker.getLatLng());
                return {id: h.id, person: a.shownPerson(h), micro: h.micro,
                        x: p.x + box.left, y: p.y + box.top};
            });
        }"""
    )
    return found


def selection(watched: Watched) -> set[int]:
    return set(watched.page.evaluate("() => [...window.gridmapAssign.selection]"))


def choose_member(watched: Watched, person_id: int) -> None:
    watched.page.locator(f"#gm-members [data-person-id='{person_id}']").click()
    member = watched.page.locator(f"#gm-members [data-person-id='{person_id}']")
    assert member.get_attribute("aria-pressed") == "true"


def members_with_home(api: Api, zone: str) -> list[int]:
    return [m["id"] for m in api.get(f"/grids/{zone}/coverage")["members"] if m["lon"] is not None]


def building(watched: Watched, index: int) -> list[dict[str, Any]]:
    """The households of one of the test's buildings (the last ids, building by building)."""
    drawn = sorted(households_on_screen(watched), key=lambda h: h["id"])
    ours = drawn[-BUILDINGS * PER_BUILDING :]
    return ours[index * PER_BUILDING : (index + 1) * PER_BUILDING]


def around(houses: list[dict[str, Any]], margin: float, sides: int) -> list[tuple[float, float]]:
    """A closed ring of points (px) around the households, ``margin`` px beyond the farthest."""
    cx = sum(h["x"] for h in houses) / len(houses)
    cy = sum(h["y"] for h in houses) / len(houses)
    radius = max(math.hypot(h["x"] - cx, h["y"] - cy) for h in houses) + margin
    return [
        (
            cx + radius * math.cos(2 * math.pi * k / sides),
            cy + radius * math.sin(2 * math.pi * k / sides),
        )
        for k in range(sides)
    ]


def rate(watched: Watched) -> tuple[int, int]:
    node = watched.page.locator("#gm-coverage-rate")
    return int(node.get_attribute("data-covered") or -1), int(
        node.get_attribute("data-total") or -1
    )


def test_lasso_selection_assigned_to_a_member(chief: Watched, chief_api: Api, zone: str) -> None:
    page = chief.page
    assert page.locator(".gm-nav").get_by_text("分配包户").is_visible()
    before = coverage(chief_api, zone)
    covered, total = rate(chief)
    assert total == len(before) >= BUILDINGS * PER_BUILDING
    assert covered == sum(p is not None for p in before.values())
    target = building(chief, 0)
    assert all(before[h["id"]] is None for h in target), "the test's buildings start uncovered"
    assert count(page, "path.gm-household.gm-uncovered") >= len(target)

    # Freehand lasso (leaflet-lasso): press, drag around the building, release.
    page.get_by_role("button", name="套索").click()
    ring = around(target, 14, 24)
    page.mouse.move(*ring[0])
    page.mouse.down()
    for point in ring[1:] + ring[:1]:
        page.mouse.move(*point, steps=2)
    page.mouse.up()
    chosen = selection(chief)
    assert {h["id"] for h in target} <= chosen
    assert page.locator("#gm-selected-count").inner_text() == str(len(chosen))
    assert count(page, "path.gm-household.gm-selected") == len(chosen)

    member = members_with_home(chief_api, zone)[0]
    choose_member(chief, member)
    page.get_by_role("button", name="分配给当前党员").click()
    ready(chief)
    after = coverage(chief_api, zone)
    assert {h: after[h] for h in chosen} == dict.fromkeys(chosen, member)
    assert {h: p for h, p in after.items() if h not in chosen} == {
        h: p for h, p in before.items() if h not in chosen
    }
    newly = sum(before[h] is None for h in chosen)
    assert rate(chief) == (covered + newly, total)
    assert "已分配" in page.locator("#gm-status").inner_text()
    colour = page.locator(f"#gm-members [data-person-id='{member}'] .gm-member-swatch")
    fill = colour.evaluate("(n) => n.style.background")
    marker = page.locator(f"path.gm-hh-{target[0]['id']}")
    assert marker.get_attribute("data-person") == str(member)
    assert (
        page.evaluate(
            "(c) => { const d = document.createElement('div'); d.style.color = c;"
            " return d.style.color; }",
            marker.get_attribute("fill"),
        )
        == fill
    )

    # A click selects one household, its whole building or its whole micro-grid.
    page.get_by_role("button", name="清除选择").click()
    assert selection(chief) == set()
    page.get_by_label("整栋楼").check()
    other = building(chief, 2)
    page.locator(f"path.gm-hh-{other[0]['id']}").dispatch_event("click")
    assert {h["id"] for h in other} <= selection(chief)
    page.get_by_role("button", name="清除选择").click()
    page.get_by_label("整个微网格").check()
    page.locator(f"path.gm-hh-{other[0]['id']}").dispatch_event("click")
    same_micro = {h["id"] for h in households_on_screen(chief) if h["micro"] == other[0]["micro"]}
    assert selection(chief) == same_micro
    page.get_by_label("单户").check()
    page.locator(f"path.gm-hh-{other[0]['id']}").dispatch_event("click")
    assert selection(chief) == same_micro - {other[0]["id"]}
    chief.assert_clean()


def test_polygon_selection_released(chief: Watched, chief_api: Api, zone: str) -> None:
    page = chief.page
    target = building(chief, 1)
    member = members_with_home(chief_api, zone)[1]
    # Give the building to a member through the API first, then release it on the page.
    etag = chief_api.get(f"/grids/{zone}/coverage")["etag"]
    ids = [h["id"] for h in target]
    status, _ = chief_api.call(
        "POST",
        f"/grids/{zone}/coverage",
        {"op": "assign", "person_id": member, "household_ids": ids},
        {"If-Match": etag},
    )
    assert status == 200
    page.reload()
    ready(chief)
    covered, total = rate(chief)

    # Leaflet.Draw polygon: click the vertices, then the first one again to close it. Draw
    # ignores a click within 50 ms of the last (a touch screen's duplicate): pause like a person.
    page.get_by_role("button", name="多边形").click()
    ring = around(target, 16, 6)
    for point in [*ring, ring[0]]:
        page.mouse.click(*point)
        page.wait_for_timeout(80)
    chosen = selection(chief)
    assert set(ids) <= chosen
    page.get_by_role("button", name="解除包户").click()
    ready(chief)
    after = coverage(chief_api, zone)
    assert all(after[h] is None for h in chosen)
    assert rate(chief) == (sum(p is not None for p in after.values()), total)
    assert rate(chief)[0] <= covered - len(ids)
    chief.assert_clean()


def test_proposal_adjusted_and_accepted(chief: Watched, chief_api: Api, zone: str) -> None:
    page = chief.page
    # The form's defaults (issue 15): the members the server suggests, no load typed.
    suggested = chief_api.get(f"/grids/{zone}/coverage")["suggested_members"]
    checked = page.evaluate(
        "() => [...document.querySelectorAll('#gm-proposal-members input:checked')]"
        ".map((i) => Number(i.value))"
    )
    assert sorted(checked) == sorted(suggested) and suggested
    assert page.locator("#gm-min-load").input_value() == ""
    assert page.locator("#gm-max-load").input_value() == ""
    page.get_by_role("button", name="智能分配").click()
    page.wait_for_selector("#gm-proposal:not([hidden])")
    ready(chief)
    proposal: dict[str, Any] = page.evaluate(
        "() => Object.fromEntries(window.gridmapAssign.proposal.pairs)"
    )
    pairs = {int(h): p for h, p in proposal.items()}
    before = coverage(chief_api, zone)
    assert set(pairs) == set(before)
    assert None not in pairs.values(), "capacity suffices: every household covered"
    changes = sum(pairs[h] != before[h] for h in pairs)
    assert changes > 0  # the building released above, at least
    assert page.locator("#gm-proposal-changes").inner_text() == str(changes)
    assert count(page, "path.gm-household.gm-changed") == changes
    stats = page.locator("#gm-proposal-stats").inner_text()
    assert "100.0%" in stats and "平均距离" in stats and "最大/平均负荷" in stats
    assert "（自动）" in stats and "负荷范围" in stats
    assert any(label in stats for label in glossary.DIVISION_SOLUTIONS.values()), stats
    assert coverage(chief_api, zone) == before, "a proposal writes nothing"

    # The chief moves one household of the proposal to another member before accepting.
    moved = building(chief, 2)[0]["id"]
    other = next(m for m in members_with_home(chief_api, zone) if m != pairs[moved])
    page.locator(f"path.gm-hh-{moved}").dispatch_event("click")
    assert selection(chief) == {moved}
    choose_member(chief, other)
    page.get_by_role("button", name="分配给当前党员").click()
    pairs[moved] = other
    assert page.locator(f"path.gm-hh-{moved}").get_attribute("data-person") == str(other)
    assert coverage(chief_api, zone) == before, "adjusting the proposal writes nothing"
    # The picture for people: the proposal's panel in view, no tooltip under the mouse.
    page.mouse.move(640, 30)
    page.evaluate(
        "() => window.gridmapAssign.map.eachLayer((l) => l.closeTooltip && l.closeTooltip())"
    )
    page.locator("#gm-proposal").scroll_into_view_if_needed()
    chief.screenshot("assign_page.png")

    page.get_by_role("button", name="接受方案").click()
    page.wait_for_selector("#gm-proposal", state="hidden")
    ready(chief)
    assert coverage(chief_api, zone) == pairs
    assert rate(chief) == (len(pairs), len(pairs))
    assert "方案已接受" in page.locator("#gm-status").inner_text()
    chief.assert_clean()


def test_stale_etag_shows_the_conflict(chief: Watched, chief_api: Api, zone: str) -> None:
    page = chief.page
    state = chief_api.get(f"/grids/{zone}/coverage")
    house = building(chief, 3)[0]["id"]
    first, second = members_with_home(chief_api, zone)[:2]
    # Someone else gives the household to `first` after the page loaded.
    status, _ = chief_api.call(
        "POST",
        f"/grids/{zone}/coverage",
        {"op": "assign", "person_id": first, "household_ids": [house]},
        {"If-Match": state["etag"]},
    )
    assert status == 200
    page.locator(f"path.gm-hh-{house}").dispatch_event("click")
    choose_member(chief, second)
    page.get_by_role("button", name="分配给当前党员").click()
    banner = page.locator("#gm-banner")
    banner.wait_for()
    assert CONFLICT in banner.inner_text()
    ready(chief)
    assert coverage(chief_api, zone)[house] == first, "the other change is not overwritten"
    fresh = chief_api.get(f"/grids/{zone}/coverage")["etag"]
    assert page.evaluate("() => window.gridmapAssign.etag") == fresh
    assert page.locator(f"path.gm-hh-{house}").get_attribute("data-person") == str(first)

    # A proposal accepted after someone else's change is refused the same way.
    banner.locator("button").click()
    page.get_by_role("button", name="智能分配").click()
    page.wait_for_selector("#gm-proposal:not([hidden])")
    ready(chief)
    status, _ = chief_api.call(
        "POST",
        f"/grids/{zone}/coverage",
        {"op": "release", "household_ids": [house]},
        {"If-Match": fresh},
    )
    assert status == 200
    page.get_by_role("button", name="接受方案").click()
    banner.wait_for()
    assert CONFLICT in banner.inner_text()
    ready(chief)
    assert page.locator("#gm-proposal").is_hidden()
    assert coverage(chief_api, zone)[house] is None
    # The browser logs the refused request (HTTP 412) itself; nothing else may be logged.
    assert all("412" in e for e in chief.console_errors)
    assert chief.csp_violations == [] and chief.foreign_requests() == []


def test_staffing_and_reports(chief: Watched, chief_api: Api, zone: str) -> None:
    page = chief.page
    micro = chief_api.get(f"/grids?level=micro&parent={zone}")["features"][0]["properties"]["code"]
    person = members_with_home(chief_api, zone)[2]
    page.locator("#gm-staff-grid").select_option(micro)
    ready(chief)
    page.locator("#gm-staff-person").fill(str(person))
    page.locator("#gm-staff-role").select_option("building_leader")
    page.get_by_role("button", name="新增岗位").click()
    ready(chief)
    posts = chief_api.get(f"/grids/{micro}/staff")["assignments"]
    post = next(p for p in posts if p["person_id"] == person and p["role"] == "building_leader")
    row = page.locator(f"#gm-staff tr[data-assignment-id='{post['id']}']")
    assert "楼栋长" in row.inner_text() and post["name"] in row.inner_text()
    row.get_by_role("button", name="结束").click()
    ready(chief)
    assert row.count() == 0
    ids = {p["id"] for p in chief_api.get(f"/grids/{micro}/staff")["assignments"]}
    assert post["id"] not in ids

    # Reports: uncovered households of the zone as a table, on the map, and as downloads.
    uncovered = chief_api.get(f"/reports/uncovered?grid={zone}")["rows"]
    table = page.locator("#gm-report table[data-report=uncovered] tbody tr")
    assert table.count() == len(uncovered)
    page.get_by_role("button", name="在地图上显示").click()
    assert count(page, "path.gm-household.gm-highlight") == len(uncovered)
    for link in ("CSV", "Excel"):
        href = page.get_by_role("link", name=link).get_attribute("href")
        assert href is not None
        answer = page.request.get(chief.url(href))
        assert answer.status == 200, href
    page.locator("#gm-report-name").select_option("coverage")
    ready(chief)
    rates = chief_api.get(f"/reports/coverage?grid={zone}")["rows"]
    assert page.locator("#gm-report table[data-report=coverage] tbody tr").count() == len(rates)
    page.get_by_role("button", name="在地图上显示").click()
    lit = sum(r["rate"] < 1 for r in rates)
    assert count(page, "path.gm-assign-micro[stroke='#00b4d8']") == lit
    chief.assert_clean()


def test_map_popup_links_to_the_assignment_page(
    new_watched: Callable[[], Watched], zone: str
) -> None:
    watched = new_watched()
    watched.login(CHIEF)
    page = watched.page
    page.wait_for_function("() => window.gridmap && window.gridmap.canAssign")
    page.wait_for_selector("path.gm-grid-zone", state="attached")
    page.evaluate(
        """(code) => {
            const layers = window.gridmap.layers.zone.getLayers();
            layers.find((l) => l.feature.properties.code === code).openPopup();
        }""",
        zone,
    )
    link = page.locator(".gm-grid-popup .gm-assign-link")
    assert link.get_attribute("href") == f"/assign?grid={zone}"
    link.click()
    page.wait_for_url(f"**/assign?grid={zone}")
    ready(watched)
    watched.assert_clean()


def test_grid_choice_and_refusals(
    new_watched: Callable[[], Watched], live_url: str, login_token: Callable[..., str], zone: str
) -> None:
    # Without a grid the page offers the caller's zones.
    watched = new_watched()
    watched.login(CHIEF, next_path="/assign")
    ready(watched)
    assert watched.page.locator(f"#gm-grid-choices a[href='?grid={zone}']").count() == 1
    watched.assert_clean()

    def status(username: str, query: str) -> int:
        request = urllib.request.Request(
            f"{live_url}/assign{query}",
            headers={"Authorization": f"Bearer {login_token(username)}", "Accept": "text/html"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    assert status(CHIEF, f"?grid={zone}") == 200
    assert status(CHIEF, "?grid=abc") == 400
    assert status(CHIEF, "?grid=110101001") == 400  # a street is not a zone nor a micro-grid
    assert status(CHIEF, "?grid=11019999999901") == 404  # outside the chief's community
    assert status("demo-member", f"?grid={zone}") == 403
    assert status("demo-worker", f"?grid={zone}") == 403
