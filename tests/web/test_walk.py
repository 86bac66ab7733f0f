"""Must hold (issue 15): each role walks its main journey on a laptop (1366×900) and a phone
(390×844) in Chromium, and every page on the way is read as a Chinese user reads it.

A page fails on an English word outside the whitelist, a literal null/undefined/NaN, a serious
or critical axe-core violation, a header word broken over two lines, a header over 12 % of a
phone's screen, a touch target under 44 px on a phone, or a heading covered by the map
(:mod:`tests.web.walk`); on a phone, every item of the folded navigation must be on the screen
once the 菜单 is open. Each role's failures are listed together, page by page. A screenshot of
every page at both sizes is kept in ``tests/artifacts/walk/``. The audit administrator and the
login page are walked too, so that every page is checked.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from shapely.geometry import shape

from tests.web.browser import WAIT_MS, WORKER, Watched
from tests.web.walk import menu_items_cut_off, problems

SIZES: dict[str, ViewportSize] = {
    "laptop": {"width": 1366, "height": 900},
    "phone": {"width": 390, "height": 844},
}
#: A micro-level category: the worker of the micro-grid owns it at once (首接负责).
CATEGORY = "sanitation.garbage"


@dataclass(frozen=True)
class Place:
    """What the journeys visit: a request and a household in demo-worker's micro-grid."""

    request_id: int
    household_id: int
    lon: float
    lat: float


@pytest.fixture(scope="module")
def place(live_url: str, login_token: Callable[..., str]) -> Place:
    """A request the worker files (seen by the chief and street too) and a household."""
    token = login_token(WORKER)

    def call(method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{live_url}/api/v1{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    grid = shape(call("GET", "/grids?level=micro")["features"][0]["geometry"])
    point = grid.representative_point()
    filed = call(
        "POST",
        "/requests",
        {
            "category": CATEGORY,
            "description": "楼前垃圾未清运",
            "location": {"lon": point.x, "lat": point.y},
        },
    )
    bbox = ",".join(f"{v:.6f}" for v in grid.bounds)
    household = call("GET", f"/households?bbox={bbox}&limit=50")["features"][0]
    lon, lat = household["geometry"]["coordinates"]
    return Place(int(filed["id"]), int(household["properties"]["id"]), lon, lat)


def _settle(page: Page) -> None:
    """Wait until the page has loaded what it shows: no request running, nothing loading."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "() => !document.querySelector('[data-state=\"loading\"]')", timeout=WAIT_MS
    )
    page.wait_for_timeout(300)


Step = tuple[str, Callable[[Page, str, Place], None]]


def _go(path: str) -> Callable[[Page, str, Place], None]:
    def go(page: Page, base: str, place: Place) -> None:
        page.goto(base + path.format(request=place.request_id))
        _settle(page)

    return go


def _map_household(page: Page, base: str, place: Place) -> None:
    """The map at the household, and its panel (包户情况) as a click on it opens it."""
    page.goto(f"{base}/#map=17/{place.lat:.6f}/{place.lon:.6f}")
    _settle(page)
    page.evaluate("(id) => window.gridmap.selectHousehold(id)", place.household_id)
    page.locator(".gm-household dl").first.wait_for()
    _settle(page)


def _assign_reports(page: Page, base: str, place: Place) -> None:
    """分配包户: the first grid offered, then its report of uncovered households."""
    page.goto(base + "/assign")
    _settle(page)
    page.locator("#gm-grid-choices a").first.click()
    _settle(page)
    page.select_option("#gm-report-name", "uncovered")
    page.click("#gm-report-show")
    page.locator(".gm-report-title").wait_for()
    _settle(page)


def _overloaded_report(page: Page, base: str, place: Place) -> None:
    """The same page's report of overloaded members: often empty, which must read "无"."""
    page.select_option("#gm-report-name", "overloaded")
    page.click("#gm-report-show")
    page.locator(".gm-report-title", has_text="超负荷").wait_for()
    _settle(page)


def _proposal(page: Page, base: str, place: Place) -> None:
    """智能分配 with the form's defaults: the proposal, or why there is none, in Chinese."""
    page.get_by_role("button", name="智能分配").click()
    page.wait_for_function(
        """() => !document.getElementById('gm-proposal').hidden
            || !document.getElementById('gm-banner').hidden""",
        timeout=WAIT_MS,
    )
    page.wait_for_selector("#gm-assign[data-state=ready]", state="attached")
    _settle(page)


CHIEF_JOURNEY: list[Step] = [
    ("map", _go("/")),
    ("household", _map_household),
    ("assign", _assign_reports),
    ("assign-overloaded", _overloaded_report),
    ("assign-proposal", _proposal),
    ("inbox", _go("/requests?tab=all")),
    ("request", _go("/requests/{request}")),
    ("request-new", _go("/requests/new")),
    ("requests-map", _go("/requests/map")),
    ("ranking", _go("/requests/ranking")),
    ("review", _go("/review")),
    ("service-map", _go("/service-map")),
    ("patrol", _go("/patrol")),
    ("patrols", _go("/patrols")),
    ("party", _go("/party")),
    ("party-lists", _go("/party/lists")),
    ("party-map", _go("/party/map")),
]
JOURNEYS: dict[str, list[Step]] = {
    "demo-street": CHIEF_JOURNEY,
    "demo-chief": CHIEF_JOURNEY,
    WORKER: [
        ("patrol", _go("/patrol")),
        ("visits", _go("/visits")),
        ("map", _go("/")),
        ("household", _map_household),
        ("inbox", _go("/requests")),
        ("request", _go("/requests/{request}")),
        ("request-new", _go("/requests/new")),
        ("requests-map", _go("/requests/map")),
        ("ranking", _go("/requests/ranking")),
    ],
    "demo-member": [
        ("map", _go("/")),
        ("visits", _go("/visits")),
        ("party-me", _go("/party/me")),
        ("party-claim", _go("/party/claim")),
        ("inbox", _go("/requests")),
        ("requests-map", _go("/requests/map")),
        ("ranking", _go("/requests/ranking")),
        ("password", _go("/password")),
        ("forbidden", _go("/assign")),
    ],
    "demo-verifier": [
        ("map", _go("/")),
        ("inbox", _go("/requests?tab=all")),
        ("request", _go("/requests/{request}")),
        ("requests-map", _go("/requests/map")),
        ("ranking", _go("/requests/ranking")),
    ],
    # A department officer (部门报到): its inbox's tabs and the requests' map.
    "demo-dept-cgzf": [
        ("inbox", _go("/requests")),
        ("inbox-extension", _go("/requests?tab=extension")),
        ("inbox-cohandling", _go("/requests?tab=cohandling")),
        ("requests-map", _go("/requests/map")),
        ("password", _go("/password")),
    ],
    # A unit's party organisation (双报告): its members' quarter.
    "demo-unit": [
        ("unit", _go("/party/unit")),
        ("password", _go("/password")),
    ],
    "demo-system": [
        ("import", _go("/grids/import")),
        ("accounts", _go("/accounts")),
    ],
    "demo-audit": [
        ("audit", _go("/audit")),
        ("accounts", _go("/accounts")),
    ],
}


@pytest.fixture
def walker(browser: Browser, live_url: str) -> Iterator[Callable[[str], Watched]]:
    contexts = []

    def make(size: str) -> Watched:
        phone = size == "phone"
        context = browser.new_context(
            viewport=SIZES[size], locale="zh-CN", is_mobile=phone, has_touch=phone
        )
        contexts.append(context)
        return Watched.attach(context, live_url)

    yield make
    for context in contexts:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("role", list(JOURNEYS))
def test_role_walks_its_journey_in_chinese(
    walker: Callable[[str], Watched], place: Place, role: str, size: str
) -> None:
    watched = walker(size)
    watched.login(role)
    page, phone = watched.page, size == "phone"
    found: dict[str, list[str]] = {}
    for name, step in JOURNEYS[role]:
        step(page, watched.live_url, place)
        watched.screenshot(f"walk/{role}-{size}-{name}.png")
        wrong = problems(page, phone=phone)
        if phone and name == JOURNEYS[role][0][0]:
            wrong += [f"menu item off the screen: {t}" for t in menu_items_cut_off(page)]
        if wrong:
            found[f"{name} ({watched.path()})"] = wrong
    assert found == {}, "\n".join(
        f"{where}:\n  " + "\n  ".join(lines) for where, lines in found.items()
    )
    assert watched.csp_violations == []
    assert watched.foreign_requests() == []


@pytest.mark.parametrize("size", list(SIZES))
def test_login_page_in_chinese(walker: Callable[[str], Watched], size: str) -> None:
    watched = walker(size)
    watched.page.goto(watched.url("/login"))
    _settle(watched.page)
    watched.screenshot(f"walk/login-{size}.png")
    assert problems(watched.page, phone=size == "phone") == []
