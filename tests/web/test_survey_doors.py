"""The grid worker's monthly survey (月摸排) tells the doors of one building apart.

A demo micro-grid holds a few buildings of tens of households each. Masked to
"…第1社区*号楼*单元***", six households of one building read alike and the worker cannot tell
which door to knock on; masking follows duty (:func:`gridmap.core.privacy.disclosure_for`),
so the worker reads building, unit and room of every household of the list, through the API
and on the phone page, while the street administrator, who has no door to knock on, reads
the same households masked.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Browser

from tests.web.browser import WORKER, Api, Watched
from tests.web.test_requests_pages import PHONE

SURVEY = "monthly_survey"
#: A whole door: building, unit and room, digits and all.
DOOR = re.compile(r"(?P<building>.*\d+号楼)(?P<unit>\d+)单元(?P<room>\d+)$")
#: How many households of one building the test tells apart (the issue's six).
SIX = 6


def _survey(api: Api) -> list[dict[str, Any]]:
    lists = {entry["code"]: entry for entry in api.get("/worklists")["lists"]}
    assert SURVEY in lists, "the demo seeds the standard lists"
    return [i for i in lists[SURVEY]["items"] if i["type"] == "household"]


def _by_building(addresses: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for address in addresses:
        door = DOOR.match(address)
        assert door, f"not a whole door: {address!r}"
        out[door["building"]].append(address)
    return out


def test_the_workers_survey_list_gives_every_door(
    live_url: str, login_token: Callable[..., str]
) -> None:
    worker = Api(live_url, login_token(WORKER))
    items = _survey(worker)
    buildings = _by_building([i["address"] for i in items])
    biggest = max(buildings.values(), key=len)
    assert len(biggest) >= SIX, "a demo building holds at least six households of the list"
    for doors in buildings.values():
        assert len(set(doors)) == len(doors), "two households of one building read alike"
    # The same households, read by the street administrator: no door, as before.
    street = Api(live_url, login_token("demo-street"))
    grid = items[0]["micro_grid_code"]
    listed = street.get(f"/households?grid={grid}&limit=1000")["features"]
    masked = {f["id"]: f["properties"]["address"] for f in listed}
    assert masked and {i["id"] for i in items} <= set(masked)
    assert not any(DOOR.match(masked[i["id"]]) for i in items)


def test_on_the_phone_six_households_of_one_building_are_told_apart(
    browser: Browser, live_url: str
) -> None:
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    phone = Watched.attach(context, live_url)
    try:
        phone.login(WORKER, next_path="/patrol")
        page = phone.page
        page.wait_for_selector("#gm-patrol[data-state=ready]")
        duties = page.locator(f".gm-worklist[data-list={SURVEY}] .gm-duty[data-household]")
        labels = [
            text.replace("关爱对象", "").strip()
            for text in duties.locator(".gm-duty-what").all_inner_texts()
        ]
        buildings = _by_building(labels)
        six = next(doors for doors in buildings.values() if len(doors) >= SIX)[:SIX]
        assert len(set(six)) == SIX, six
        # Each of the six says its unit and room: what the worker reads at the stairwell.
        found = [door for d in six if (door := DOOR.match(d))]
        assert len({(door["unit"], door["room"]) for door in found}) == SIX
        phone.screenshot("worker_survey_doors.png")
        phone.assert_clean()
    finally:
        context.close()
