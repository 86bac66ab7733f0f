"""Personal data in Chromium: masked by default, revealed on request (one audit row each), the
audit page that shows those rows, and a member who sees only the households they cover."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gridmap.storage.models import Coverage, Person, User
from tests.web.browser import Api, Watched, drawn_household_ids, wait_for, wait_until_loaded

DONGCHENG_BBOX = "116.37,39.85,116.45,39.98"
_PLAIN_PHONE = re.compile(r"^\d{11}$")


def _reveals(api: Callable[..., Any], person_id: int) -> list[dict[str, Any]]:
    body = api(
        "demo-audit", "/audit", action="reveal", object_type="person", object_id=str(person_id)
    )
    entries: list[dict[str, Any]] = body["entries"]
    return entries


def _covered_by(engine: Engine, username: str) -> set[int]:
    """The households the person behind a member's account covers (党员分片包户)."""
    with Session(engine) as session:
        person = session.scalar(select(User.person_id).where(User.username == username))
        rows = session.scalars(select(Coverage.household_id).where(Coverage.person_id == person))
        return set(rows)


def _open_household(w: Watched, household: dict[str, Any]) -> None:
    lon, lat = household["geometry"]["coordinates"]
    w.open((17, lat, lon))
    marker = f"path.gm-hh-{household['id']}"
    wait_for(w.page, marker)
    # Households of a building overlap at zoom 17 (20–50 per micro-grid in one to three
    # buildings): the click is sent to this household's own marker, not to whichever is on top.
    w.page.locator(marker).dispatch_event("click")
    w.page.wait_for_selector(
        f"#gm-household[data-household-id='{household['id']}'][data-state=loaded]"
    )


def test_reveal_shows_a_plain_phone_and_writes_one_audit_row(
    street: Watched, api: Callable[..., Any], web_engine: Engine
) -> None:
    body = api("demo-street", "/households", bbox=DONGCHENG_BBOX, limit=200)
    household = next(f for f in body["features"] if f["properties"]["covered"])
    _open_household(street, household)
    page = street.page
    phone = page.locator(".gm-members .gm-phone .gm-masked").first
    masked = phone.locator(".gm-masked-text").inner_text()
    assert "*" in masked
    person_id = int(phone.get_attribute("data-id") or 0)
    before = _reveals(api, person_id)

    with page.expect_response("**/api/v1/reveal") as answer:
        phone.get_by_role("button", name="显示").click()
    assert answer.value.status == 200
    page.wait_for_selector(".gm-members .gm-phone .gm-masked.gm-revealed")
    shown = phone.locator(".gm-masked-text").inner_text()
    assert _PLAIN_PHONE.match(shown), shown
    assert shown[:3] == masked[:3] and shown[-4:] == masked[-4:]
    with Session(web_engine) as session:
        assert session.scalar(select(Person.phone).where(Person.id == person_id)) == shown
    assert phone.get_by_role("button", name="显示").count() == 0

    after = _reveals(api, person_id)
    assert len(after) == len(before) + 1
    newest = after[0]
    assert newest["username"] == "demo-street"
    assert newest["detail"] == {"field": "phone"}
    assert newest["outcome"] == "ok"
    street.screenshot("reveal_phone.png")
    street.assert_clean()


def test_audit_page_filters_by_username_and_exports_csv(
    watched: Watched, login_token: Callable[..., str]
) -> None:
    login_token("demo-chief")  # at least one row for the filter to find
    watched.login("demo-audit")
    page = watched.page
    assert watched.path() == "/audit"
    page.get_by_label("用户名").fill("demo-chief")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"/audit\?.*username=demo-chief"))
    names = page.locator("#gm-audit-table .gm-audit-username").all_inner_texts()
    assert names and set(names) == {"demo-chief"}
    assert page.get_by_label("用户名").input_value() == "demo-chief"
    watched.screenshot("audit_page.png")

    with page.expect_download() as download:
        page.locator("#gm-audit-csv").click()
    path = download.value.path()
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {r["username"] for r in rows} == {"demo-chief"}
    assert len(rows) == len(names)
    watched.assert_clean()


def test_audit_page_time_range_is_beijing_time(watched: Watched) -> None:
    watched.login("demo-audit")
    page = watched.page
    # Beijing midnight of a day long past is 16:00 UTC the day before: nothing that early.
    page.get_by_label("结束时间").fill("2000-01-01T00:00")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"until=2000-01-01T00%3A00"))
    assert page.get_by_text("没有符合条件的审计记录").is_visible()
    csv_href = page.locator("#gm-audit-csv").get_attribute("href") or ""
    assert "until=1999-12-31T16:00:00%2B00:00" in csv_href
    watched.assert_clean()


def test_member_sees_only_the_households_they_cover(
    new_watched: Callable[[], Watched], api: Callable[..., Any], web_engine: Engine
) -> None:
    covered = _covered_by(web_engine, "demo-member")
    assert covered
    listed = api("demo-member", "/households", bbox=DONGCHENG_BBOX, limit=5000)["features"]
    assert {f["id"] for f in listed} == covered

    member = new_watched()
    member.login("demo-member")
    assert "党员" in member.page.locator(".gm-role").inner_text()
    lon, lat = listed[0]["geometry"]["coordinates"]
    member.open((17, lat, lon))  # from zoom 17 one marker per household (below, per building)
    for layer in ("community", "zone", "micro", "household"):
        wait_until_loaded(member.page, layer)
    drawn = drawn_household_ids(member.page)
    # What the page drew is what the API gives the member for the same view, all covered.
    asked = [u for u in member.requests if "/api/v1/households?" in u][-1]
    bbox = re.search(r"bbox=([^&]+)", asked)
    assert bbox is not None
    same_view = api("demo-member", "/households", bbox=bbox.group(1).replace("%2C", ","))
    assert sorted(drawn) == sorted(f["id"] for f in same_view["features"])
    assert drawn and set(drawn) <= covered
    # The street administrator sees more households in the same view.
    street_view = api("demo-street", "/households", bbox=bbox.group(1).replace("%2C", ","))
    assert len(street_view["features"]) > len(drawn)

    # A member may not reveal: no "显示" buttons on the masked values.
    member.page.locator(f"path.gm-hh-{drawn[0]}").dispatch_event("click")  # markers overlap
    member.page.wait_for_selector("#gm-household[data-state=loaded]")
    assert member.page.locator("#gm-household .gm-masked").count() > 0
    assert member.page.locator("#gm-household .gm-reveal").count() == 0
    member.screenshot("member_map.png")
    member.assert_clean()


def test_worker_panel_names_the_zone_and_community_of_its_micro_grid(
    new_watched: Callable[[], Watched],
    api: Callable[..., Any],
    live_url: str,
    login_token: Callable[..., str],
) -> None:
    """The chain above the worker's micro-grid is not secret: its household panel names the
    片区网格 and 社区 (not 未落入网格), with their staff; those staff's phones stay masked,
    with no 显示 button, and the reveal API refuses them."""
    (household,) = api("demo-worker", "/households", bbox=DONGCHENG_BBOX, limit=1)["features"]
    grids = api("demo-worker", f"/households/{household['id']}/coverage")["grids"]
    assert [grids[level]["in_scope"] for level in ("micro", "zone", "community")] == [
        True,
        False,
        False,
    ]

    worker = new_watched()
    worker.login("demo-worker")
    _open_household(worker, household)
    panel = worker.page.locator("#gm-household")
    assert "未落入网格" not in panel.inner_text()
    for level, label in (("zone", "片区网格"), ("community", "社区")):
        item = panel.locator(f"li[data-level={level}]")
        assert item.get_attribute("data-in-scope") == "false"
        assert f"{label}：{grids[level]['name']} {grids[level]['code']}" in item.inner_text()
        assert grids[level]["staff"], f"the demo's {label} is staffed"
        for person in grids[level]["staff"]:
            assert person["name"] in item.inner_text()
        assert item.locator(".gm-phone .gm-masked").count() > 0
        assert item.locator(".gm-reveal").count() == 0
    micro = panel.locator("li[data-level=micro]")
    assert micro.get_attribute("data-in-scope") == "true"
    assert micro.locator(".gm-phone .gm-reveal").count() > 0  # its own grid's staff: revealable
    worker.screenshot("worker_household_panel.png")
    worker.assert_clean()

    reveal = Api(live_url, login_token("demo-worker"))
    for level in ("zone", "community"):
        for person in grids[level]["staff"]:
            body = {"object": "person", "id": person["person_id"], "field": "phone"}
            status, answer = reveal.call("POST", "/reveal", body)
            assert status == 404, answer
