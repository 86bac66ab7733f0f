"""The residents' request pages (群众诉求) in headless Chromium, logged in through the form.

demo-worker, on a phone-sized screen, files a request through the intake form at a point of its
own micro-grid (a double click files it once), finds it in 我的, accepts, starts and completes it
with the detail page's buttons, and meets the conflict a stale ETag gives. demo-chief sees the
open requests on the map coloured by 红黄牌 and in the inbox's 即将到期 and 已超时 tabs, and
finds the request it filed on the page (页面上报) under 我上报的. What the
pages did is checked against the API and the database as the server sees them.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from playwright.sync_api import Browser, FilePayload, Page, ViewportSize
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from gridmap.access.security import SESSION_COOKIE
from gridmap.core import clock, glossary
from gridmap.core.settings import Settings
from gridmap.files import stores
from gridmap.requests import rates
from gridmap.storage.models import ResidentRequest
from gridmap.web.maps import (
    LEAFLET_CSS,
    LEAFLET_JS,
    PAGE_JS,
    REQUESTS_JS,
    build_requests_map,
    render_parts,
    requests_config,
)
from tests.web.browser import CHIEF, WORKER, Api, Watched, count, wait_for

#: Rows per page of the ranking table (requests/ranking.js).
PAGE_SIZE = 50

PHONE: ViewportSize = {"width": 390, "height": 844}
#: A micro-level category: the worker of the micro-grid owns it at once (首接负责).
CATEGORY = "sanitation.garbage"
CONFLICT = "他人已修改此诉求"


@pytest.fixture(scope="module")
def worker_grid(worker_api: Api) -> BaseGeometry:
    """demo-worker's micro-grid."""
    grids = worker_api.get("/grids?level=micro")["features"]
    assert len(grids) == 1, "demo-worker's scope is one micro-grid"
    return shape(grids[0]["geometry"])


@pytest.fixture(scope="module")
def worker_point(worker_grid: BaseGeometry) -> tuple[float, float]:
    """A point (lon, lat) well inside demo-worker's micro-grid."""
    point = worker_grid.representative_point()
    return point.x, point.y


def _spread_points(grid: BaseGeometry, n: int) -> list[tuple[float, float]]:
    """``n`` points inside ``grid``, apart: halfway from an inner point to corners of its hull."""
    centre = grid.representative_point()
    corners = list(grid.convex_hull.exterior.coords)[:-1]
    points = []
    for x, y in corners:
        candidate = Point(centre.x + (x - centre.x) / 2, centre.y + (y - centre.y) / 2)
        if grid.contains(candidate):
            points.append((candidate.x, candidate.y))
    step = max(1, len(points) // n)
    chosen = points[::step][:n]
    assert len(chosen) == n, "the micro-grid is too odd a shape to spread points in"
    return chosen


@pytest.fixture
def phone(browser: Browser, live_url: str) -> Iterator[Watched]:
    """A watched page on a phone-sized screen (a grid worker in the street)."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    yield Watched.attach(context, live_url)
    context.close()


def _requests_in_db(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(ResidentRequest)) or 0)


def _click_map_at(page: Page, map_selector: str, lon: float, lat: float) -> None:
    """Click the Leaflet map at a lon/lat (the live server's basemap is none: no shift)."""
    page.locator(map_selector).scroll_into_view_if_needed()
    x, y = page.evaluate(
        """([lat, lon]) => {
            const p = window.gridmapRequests.map.latLngToContainerPoint([lat, lon]);
            return [p.x, p.y];
        }""",
        [lat, lon],
    )
    box = page.locator(map_selector).bounding_box()
    assert box is not None
    assert 0 < x < box["width"] and 0 < y < box["height"], "the point is not in the map's view"
    page.mouse.click(box["x"] + x, box["y"] + y)


def _timeline_length(page: Page) -> int:
    return count(page, "#gm-timeline > li")


def _act(page: Page, label: str, state: str) -> None:
    """Press an action button (and confirm its form, if it opens one); wait for ``state``."""
    before = _timeline_length(page)
    page.locator("#gm-actions").get_by_role("button", name=label, exact=True).click()
    if page.locator("#gm-action-form").is_visible():
        page.locator("#gm-action-form textarea[name=note]").fill(f"{label}：已到现场")
        page.get_by_role("button", name="确认").click()
    page.wait_for_selector(f"#gm-detail-state[data-state={state}]")
    page.wait_for_selector("#gm-detail[data-state=ready]")
    assert _timeline_length(page) > before


def test_worker_files_and_handles_a_request_on_a_phone(
    phone: Watched,
    worker_api: Api,
    worker_point: tuple[float, float],
    web_engine: Engine,
) -> None:
    page = phone.page
    phone.login(WORKER, next_path="/requests/new")
    assert phone.path() == "/requests/new"
    page.wait_for_function("() => window.gridmapRequests && window.gridmapRequests.grids")
    page.get_by_label("诉求类别").select_option(CATEGORY)
    page.get_by_label("诉求内容").fill("3号楼门口垃圾满溢，联系电话13812345678")
    page.get_by_label("电话").fill("13900001111")
    _click_map_at(page, ".gm-new-map .folium-map", *worker_point)
    assert float(page.locator("#gm-new-lon").input_value()) == pytest.approx(
        worker_point[0], abs=1e-4
    )
    phone.screenshot("request_new_phone.png")

    # A double click (or a retry) of one filled-in form files one request.
    before = _requests_in_db(web_engine)
    page.locator("#gm-new-submit").dblclick()
    page.wait_for_url(re.compile(r"/requests/\d+$"))
    request_id = int(phone.path().rsplit("/", 1)[1])
    page.wait_for_selector("#gm-detail[data-state=ready]")
    assert _requests_in_db(web_engine) == before + 1
    record = worker_api.get(f"/requests/{request_id}")
    assert record["state"] == "reported" and record["category"]["code"] == CATEGORY
    assert record["location"]["lon"] == pytest.approx(worker_point[0], abs=1e-4)
    text = page.locator("#gm-detail").inner_text()
    assert "13812345678" not in text and "13900001111" not in text  # masked on the server
    assert page.locator("#gm-detail-state").inner_text() == glossary.STATES["reported"]

    # It is the worker's own (首接负责): it shows in 我的.
    page.goto(phone.url("/requests?tab=mine"))
    page.wait_for_selector("#gm-inbox[data-state=ready]")
    row = page.locator(f".gm-request-row[data-id='{request_id}']")
    assert row.is_visible()
    assert "垃圾" in row.inner_text() and glossary.STATES["reported"] in row.inner_text()
    phone.screenshot("requests_inbox_phone.png")

    row.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/requests/{request_id}$"))
    page.wait_for_selector("#gm-detail[data-state=ready]")
    _act(page, "受理", "accepted")
    _act(page, "开始处置", "handling")
    _act(page, "办结", "completed")
    record = worker_api.get(f"/requests/{request_id}")
    assert record["state"] == "completed"
    assert [e["action"] for e in record["timeline"]][-3:] == ["accept", "start", "complete"]
    assert _timeline_length(page) == len(record["timeline"])
    page.locator("#gm-timeline").scroll_into_view_if_needed()
    phone.screenshot("request_detail_phone.png")

    # Someone else comments meanwhile: the page's ETag is stale, its next action gets 412.
    status, _ = worker_api.call(
        "POST",
        f"/requests/{request_id}/transitions",
        {"action": "comment", "note": "电话回访居民"},
        {"If-Match": record["etag"]},
    )
    assert status == 200
    page.locator("#gm-actions").get_by_role("button", name="备注").click()
    page.locator("#gm-action-form textarea[name=note]").fill("已清运")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="确认").click()
    assert answer.value.status == 412
    error = page.locator("#gm-action-error")
    error.wait_for()
    assert CONFLICT in error.inner_text()
    error.scroll_into_view_if_needed()
    phone.screenshot("request_conflict_phone.png")
    page.get_by_role("button", name="重新加载").click()
    page.wait_for_selector("#gm-detail[data-state=ready]")
    assert not error.is_visible()
    assert "电话回访居民" in page.locator("#gm-timeline").inner_text()
    # The browser logs the 412 of the stale POST itself; nothing else may be logged.
    assert all("412" in e for e in phone.console_errors)
    assert phone.csp_violations == []
    assert phone.foreign_requests() == []


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(out, "JPEG")
    return out.getvalue()


def _payload(name: str, data: bytes) -> FilePayload:
    """A file as a phone's picker hands it over: declared a JPEG whatever it holds."""
    return {"name": name, "mimeType": "image/jpeg", "buffer": data}


def _thumbnails_loaded(page: Page, selector: str) -> int:
    """How many thumbnails under ``selector`` the browser decoded (served as images)."""
    return int(
        page.evaluate(
            """(s) => Array.from(document.querySelectorAll(s))
                .filter((img) => img.complete && img.naturalWidth > 0).length""",
            selector,
        )
    )


def test_worker_attaches_photos_on_a_phone(
    phone: Watched,
    worker_api: Api,
    worker_point: tuple[float, float],
    live_app: Flask,
    tmp_path: Path,
) -> None:
    """The intake form's photo picker (the phone's camera) uploads a photo and shows its
    thumbnail, refuses a text file named .jpg in Chinese; the request's timeline shows the
    photo, and the 开始处置 step takes a 处置前 photo the same way."""
    live_app.extensions["gridmap.files"] = stores.DiskStore(tmp_path / "files")
    page = phone.page
    phone.login(WORKER, next_path="/requests/new")
    page.wait_for_function("() => window.gridmapRequests && window.gridmapRequests.grids")
    picker = page.locator("#gm-new-photo-input")
    assert picker.get_attribute("accept") == "image/*"
    assert picker.get_attribute("capture") is not None
    assert str(glossary.PHOTOS["add"]) in page.locator("#gm-new-photos").inner_text()
    page.get_by_label("诉求类别").select_option(CATEGORY)
    page.get_by_label("诉求内容").fill("楼道堆放杂物，见照片")
    _click_map_at(page, ".gm-new-map .folium-map", *worker_point)

    fake = _payload("not-a-photo.jpg", b"<svg onload=x>")
    picker.set_input_files(files=[fake])
    error = page.locator("#gm-new-error")
    error.wait_for()
    assert glossary.PROBLEMS["not-a-photo"].rstrip("。") in error.inner_text()
    page.wait_for_selector("#gm-new-photos[data-state=ready]")
    assert count(page, "#gm-new-photos li") == 0

    site = _payload("site.jpg", _jpeg((180, 90, 30)))
    picker.set_input_files(files=[site])
    page.wait_for_selector("#gm-new-photos li.gm-photo img.gm-photo-thumb")
    page.wait_for_function(
        "() => { const i = document.querySelector('#gm-new-photos img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    phone.screenshot("request_new_photo_phone.png")
    page.locator("#gm-new-submit").click()
    page.wait_for_url(re.compile(r"/requests/\d+$"))
    request_id = int(phone.path().rsplit("/", 1)[1])
    page.wait_for_selector("#gm-detail[data-state=ready]")
    record = worker_api.get(f"/requests/{request_id}")
    assert len(record["photos"]) == 1
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#gm-timeline img.gm-photo-thumb'))"
        ".some((i) => i.complete && i.naturalWidth > 0)"
    )

    _act(page, "受理", "accepted")
    page.locator("#gm-actions").get_by_role("button", name="开始处置", exact=True).click()
    form = page.locator("#gm-field-photo")
    assert glossary.PHOTO_PURPOSES["before"] in form.inner_text()
    before = _payload("before.jpg", _jpeg((20, 90, 160)))
    page.locator("#gm-action-photo-input").set_input_files(files=[before])
    page.wait_for_selector("#gm-field-photo li.gm-photo img.gm-photo-thumb")
    page.get_by_role("button", name="确认").click()
    page.wait_for_selector("#gm-detail-state[data-state=handling]")
    page.wait_for_selector("#gm-detail[data-state=ready]")
    record = worker_api.get(f"/requests/{request_id}")
    assert len(record["timeline"][-1]["photos"]) == 1
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#gm-timeline img.gm-photo-thumb'))"
        ".filter((i) => i.complete && i.naturalWidth > 0).length === 2"
    )
    assert _thumbnails_loaded(page, "#gm-timeline img.gm-photo-thumb") == 2
    page.locator("#gm-timeline").scroll_into_view_if_needed()
    phone.screenshot("request_detail_photos_phone.png")
    # The refused upload's 415 is the only error the browser logged.
    assert all("415" in e for e in phone.console_errors), phone.console_errors
    assert phone.csp_violations == []
    assert phone.foreign_requests() == []


def test_chief_files_from_the_page_and_finds_it_under_filed(
    new_watched: Callable[[], Watched],
    chief_api: Api,
    worker_point: tuple[float, float],
) -> None:
    """A request the chief files on the page is labelled 页面上报 (not 系统上报) and, owned by
    the micro-grid's worker (首接负责), is not in the chief's 我的 but in 我上报的."""
    chief = new_watched()
    chief.login(CHIEF, next_path="/requests/new")
    page = chief.page
    page.wait_for_function("() => window.gridmapRequests && window.gridmapRequests.grids")
    page.get_by_label("诉求类别").select_option(CATEGORY)
    page.get_by_label("诉求内容").fill("小区东门路灯不亮")
    _click_map_at(page, ".gm-new-map .folium-map", *worker_point)
    page.locator("#gm-new-submit").click()
    page.wait_for_url(re.compile(r"/requests/\d+$"))
    request_id = int(chief.path().rsplit("/", 1)[1])
    page.wait_for_selector("#gm-detail[data-state=ready]")
    source = page.locator("#gm-detail-fields dt:text-is('来源') + dd")
    assert source.inner_text() == glossary.SOURCES["page"] == "页面上报"
    record = chief_api.get(f"/requests/{request_id}")
    assert record["source"] == "page" and record["level"] == "micro"  # the worker's
    # 一键转需求: the request joins the community's 需求清单, titled by its category.
    page.get_by_role("button", name="转为需求").click()
    page.wait_for_selector("#gm-to-need-result[data-need]")
    need_id = page.locator("#gm-to-need-result").get_attribute("data-need")
    need = chief_api.get(f"/party/needs/{need_id}")
    assert need["source"] == "request" and need["title"] == record["category"]["name"]

    page.goto(chief.url("/requests?tab=mine"))
    page.wait_for_selector("#gm-inbox[data-state=ready]")
    assert page.locator(f".gm-request-row[data-id='{request_id}']").count() == 0
    page.goto(chief.url("/requests?tab=filed"))
    page.wait_for_selector("#gm-inbox[data-state=ready]")
    assert page.locator(".gm-tabs [aria-current=page]").inner_text() == "我上报的"
    row = page.locator(f".gm-request-row[data-id='{request_id}']")
    assert row.is_visible() and "路灯" in row.inner_text()
    chief.screenshot("requests_inbox_filed.png")
    chief.assert_clean()


def _file(api: Api, point: tuple[float, float], note: str) -> int:
    lon, lat = point
    status, body = api.call(
        "POST",
        "/requests",
        {"category": CATEGORY, "description": note, "location": {"lon": lon, "lat": lat}},
    )
    assert status == 201, body
    return int(body["id"])


@pytest.fixture(scope="module")
def carded(chief_api: Api, worker_grid: BaseGeometry, web_engine: Engine) -> dict[str, int]:
    """Three open requests in the worker's micro-grid: one on time, one due soon (黄牌) and one
    overdue (红牌), their clocks set back in the database."""
    labels = {"green": "正常", "yellow": "将到期", "red": "超时"}
    ids = {
        card: _file(chief_api, point, f"{labels[card]}：路口垃圾")
        for card, point in zip(labels, _spread_points(worker_grid, 3), strict=True)
    }
    now = dt.datetime.now(dt.UTC)
    clocks = {
        "yellow": (now - dt.timedelta(days=30), now + dt.timedelta(minutes=30)),
        "red": (now - dt.timedelta(days=30), now - dt.timedelta(hours=1)),
    }
    with Session(web_engine) as session:
        for card, (started, deadline) in clocks.items():
            session.execute(
                update(ResidentRequest)
                .where(ResidentRequest.id == ids[card])
                .values(stage_started_at=started, stage_deadline=deadline)
            )
        session.commit()
    for card, request_id in ids.items():
        assert chief_api.get(f"/requests/{request_id}")["warning"] == card
    return ids


def test_chief_sees_open_requests_on_the_map_by_urgency(
    new_watched: Callable[[], Watched], carded: dict[str, int]
) -> None:
    chief = new_watched()
    chief.login(CHIEF, next_path="/requests/map")
    page = chief.page
    assert page.locator(".gm-nav").get_by_text("诉求地图").is_visible()
    wait_for(page, "path.gm-request-marker")
    page.wait_for_function("() => window.gridmapRequests.loaded > 0")
    drawn = page.evaluate(
        """() => window.gridmapRequests.layer.getLayers().map(
            (m) => [m.feature.id, m.feature.properties.warning])"""
    )
    cards = {int(i): w for i, w in drawn}
    for card, request_id in carded.items():
        assert cards.get(request_id) == card
    assert count(page, "path.gm-request-red") >= 1 and count(page, "path.gm-request-yellow") >= 1
    assert "红牌" in page.locator("#gm-requests-count").inner_text()
    chief.screenshot("requests_map.png")
    chief.assert_clean()


@pytest.mark.parametrize(("tab", "card"), [("red", "red"), ("yellow", "yellow")])
def test_inbox_tabs_show_due_soon_and_overdue(
    new_watched: Callable[[], Watched], carded: dict[str, int], tab: str, card: str
) -> None:
    chief = new_watched()
    chief.login(CHIEF, next_path=f"/requests?tab={tab}")
    page = chief.page
    page.wait_for_selector("#gm-inbox[data-state=ready]")
    assert page.locator(".gm-tabs [aria-current=page]").get_attribute("data-tab") == tab
    assert page.locator(f".gm-request-row[data-id='{carded[card]}']").is_visible()
    others = [i for c, i in carded.items() if c != card]
    for request_id in others:
        assert page.locator(f".gm-request-row[data-id='{request_id}']").count() == 0
    badges = page.locator(".gm-request-row .gm-card-badge")
    assert {badges.nth(i).get_attribute("data-card") for i in range(badges.count())} == {card}
    if tab == "red":
        chief.screenshot("requests_inbox_overdue.png")
    chief.assert_clean()


def test_request_pages_refuse_what_the_role_may_not_do(
    new_watched: Callable[[], Watched], carded: dict[str, int]
) -> None:
    """A member (党员) reads but does not handle: no intake link nor page; an unknown request
    is a 404 page, as the API answers."""
    member = new_watched()
    member.login("demo-member", next_path="/requests")
    page = member.page
    assert page.locator(".gm-nav").get_by_text("诉求地图").is_visible()
    assert page.locator(".gm-nav").get_by_text("上报诉求").count() == 0
    response = page.goto(member.url("/requests/new"))
    assert response is not None and response.status == 403
    response = page.goto(member.url(f"/requests/{carded['red']}"))
    assert response is not None and response.status == 404


def _rank_some_grids(
    chief_api: Api, worker_api: Api, worker_grid: BaseGeometry, period: str
) -> tuple[str, str]:
    """This month, demo-worker's micro-grid files at least the minimum volume (the requests
    filed here accepted, so that it has a response rate and a score) and another micro-grid
    one request: one is ranked, the other shown below the minimum, in whatever order the
    module's tests run. Returns their codes."""
    rows = chief_api.get(f"/rates?level=micro&period={period}")["rows"]
    (own,) = worker_api.get("/grids?level=micro")["features"]
    mine = next(r for r in rows if r["code"] == own["properties"]["code"])
    needed = max(1, rates.MIN_FILED - mine["filed"])
    for point in _spread_points(worker_grid, needed):
        request_id = _file(chief_api, point, "排名：路灯不亮")
        etag = worker_api.get(f"/requests/{request_id}")["etag"]
        status, body = worker_api.call(
            "POST", f"/requests/{request_id}/transitions", {"action": "accept"}, {"If-Match": etag}
        )
        assert status == 200, body
    empty = next(r["code"] for r in rows if r["filed"] == 0)
    other = next(
        f
        for f in chief_api.get("/grids?level=micro")["features"]
        if f["properties"]["code"] == empty
    )
    inside = shape(other["geometry"]).representative_point()
    _file(chief_api, (inside.x, inside.y), "排名：井盖缺失")
    return mine["code"], empty


def test_chief_sees_the_ranking_board(
    new_watched: Callable[[], Watched],
    chief_api: Api,
    worker_api: Api,
    worker_grid: BaseGeometry,
    carded: dict[str, int],
) -> None:
    """红黑榜: the page opens on the last complete month, shows GET /api/v1/rates for the
    chosen level and month with its period, formulas, weights, minimum volume and tie rule,
    the best rows on the red board, the reason a row is not ranked, and offers the Excel
    download."""
    chief = new_watched()
    chief.login(CHIEF, next_path="/requests/ranking?level=micro")
    page = chief.page
    page.wait_for_selector("#gm-ranking[data-state=ready]")
    opened = page.locator("input[name=period]").input_value()
    assert opened == rates.last_complete_month(clock.today())
    # The requests the fixtures filed are this month's.
    period = clock.today().strftime("%Y-%m")
    ranked, small = _rank_some_grids(chief_api, worker_api, worker_grid, period)
    page.goto(chief.url(f"/requests/ranking?level=micro&period={period}"))
    page.wait_for_selector("#gm-ranking[data-state=ready]")
    table = chief_api.get(f"/rates?level=micro&period={period}")
    assert count(page, "#gm-ranking-rows tr") == min(len(table["rows"]), PAGE_SIZE) > 0
    # How the ranking was made, as the API (and the downloads) say it.
    notes = page.locator("#gm-ranking-notes")
    shown = dict(
        zip(
            notes.locator("dt").all_inner_texts(),
            notes.locator("dd").all_inner_texts(),
            strict=True,
        )
    )
    assert shown == {n["label"]: n["text"] for n in table["notes"]}
    first, last = table["period"]["from"], table["period"]["to"]
    assert shown["统计周期"].startswith(f"{first} 至 {last}（北京时间），数据截至 ")
    assert shown["综合得分"].startswith("100 ×（响应率 × 0.1 + 解决率 × 0.5 + 满意率 × 0.4）")
    assert shown["解决率"].startswith("回访已解决数 ÷ 回访数")
    assert "不少于 5 件" in shown["最低件数"] and "受理诉求数多、解决率高" in shown["并列规则"]
    assert notes.is_visible()
    rows = {r["code"]: r for r in table["rows"]}
    assert rows[ranked]["rank"] is not None and rows[small]["unranked"] == "below_minimum"
    red = [code for code, r in rows.items() if r["board"] == "red"]
    assert red, "a micro-grid with enough requests is ranked: the red board is not empty"
    for code in red:
        row = page.locator(f"#gm-ranking-rows tr[data-code='{code}']")
        assert row.get_attribute("class") == "gm-board-red"
    assert all(r["filed"] >= 5 for r in rows.values() if r["board"])
    reason = page.locator(f"#gm-ranking-rows tr[data-code='{small}'] .gm-unranked")
    assert reason.inner_text() == "本期受理诉求少于最低件数，不排名"
    # The Excel download is a background job (followed in tests/web/test_report_downloads.py,
    # where a worker runs); here the button is offered.
    assert page.get_by_role("button", name="导出 Excel").is_visible()
    chief.screenshot("requests_ranking.png")
    # Another level reloads the page with the API's rows of that level.
    page.locator("select[name=level]").select_option("zone")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"level=zone"))
    page.wait_for_selector("#gm-ranking[data-state=ready]")
    zones = chief_api.get(f"/rates?level=zone&period={period}")["rows"]
    assert count(page, "#gm-ranking-rows tr") == min(len(zones), PAGE_SIZE)
    # By owner unit: each row says the peers it is ranked among (a grid worker never against
    # a department), as the API groups them.
    page.locator("select[name=by]").select_option("owner")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"by=owner"))
    page.wait_for_selector("#gm-ranking[data-state=ready]")
    owners = chief_api.get(f"/rates?by=owner&level=zone&period={period}")
    shown_rows = page.locator("#gm-ranking-rows tr")
    assert shown_rows.evaluate_all("rs => rs.map(r => r.dataset.code)") == [
        r["code"] for r in owners["rows"][:PAGE_SIZE]
    ]
    peers = page.locator("#gm-ranking-rows .gm-peer").all_inner_texts()
    assert peers == [glossary.PEERS[r["peer"]] for r in owners["rows"][:PAGE_SIZE]]
    assert "网格员" in peers
    worker_row = next(r for r in owners["rows"] if r["peer"] == "person:grid_worker")
    assert worker_row["rank"] == 1 and worker_row["board"] == "red"
    chief.assert_clean()


def test_the_district_ranking_is_paged(street: Watched, api: Callable[..., Any]) -> None:
    """The street's micro-grids are more than a page: 50 rows at a time, in the API's order,
    with "—" for the rates and scores that do not exist (never 100 for no requests)."""
    page = street.page
    page.goto(street.url("/requests/ranking?level=micro"))
    page.wait_for_selector("#gm-ranking[data-state=ready]")
    period = page.locator("input[name=period]").input_value()
    rows = api("demo-street", "/rates", level="micro", period=period)["rows"]
    assert len(rows) > PAGE_SIZE
    pages = -(-len(rows) // PAGE_SIZE)
    assert count(page, "#gm-ranking-rows tr") == PAGE_SIZE
    assert page.locator("#gm-ranking-page").inner_text() == f"第 1 / {pages} 页，共 {len(rows)} 行"
    page.get_by_role("button", name="下一页").click()
    shown = page.locator("#gm-ranking-rows tr").evaluate_all("rs => rs.map(r => r.dataset.code)")
    assert shown == [r["code"] for r in rows[PAGE_SIZE : 2 * PAGE_SIZE]]
    assert page.get_by_role("button", name="上一页").is_enabled()
    unscored = [r for r in rows[PAGE_SIZE : 2 * PAGE_SIZE] if r["score"] is None]
    for row in unscored[:5]:
        cells = page.locator(f"#gm-ranking-rows tr[data-code='{row['code']}'] td")
        assert cells.nth(0).inner_text() == "—" and cells.nth(7).inner_text() == "—"
    street.assert_clean()


@pytest.mark.parametrize("page", ["detail", "new", "map"])
def test_request_maps_link_only_vendored_assets(page: str) -> None:
    settings = Settings(
        basemap_crs="gcj02", basemap_url="http://tiles.intranet.example/{z}/{x}/{y}.png"
    )
    config = requests_config(settings, page=page, requestId=1)
    parts = render_parts(build_requests_map(settings, asset_url=_asset, config=config))
    html = f"{parts.header}{parts.html}{parts.script}"
    # The page's own module (preloaded; it imports the shared core), not the grid map's.
    assets = [_asset(p) for p in (LEAFLET_JS, LEAFLET_CSS, REQUESTS_JS)]
    assert _asset(PAGE_JS) not in html
    assert re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) == assets
    assert set(re.findall(r"https?://([^/\"']+)", html)) <= {"tiles.intranet.example"}
    assert '"basemapCrs": "gcj02"' in html and f'"page": "{page}"' in html


def test_request_map_builder_checks_the_page() -> None:
    with pytest.raises(ValueError, match="config"):
        build_requests_map(Settings(), asset_url=_asset, config={"page": "inbox"})


def _asset(path: str) -> str:
    return f"/assets/{path}"


@pytest.mark.parametrize(
    "path", ["/requests", "/requests/new", "/requests/map", "/requests/ranking", "/requests/{id}"]
)
def test_request_pages_are_offline_with_nonced_scripts(
    live_app: Flask, login_token: Callable[..., str], carded: dict[str, int], path: str
) -> None:
    client = live_app.test_client()
    client.set_cookie(SESSION_COOKIE, login_token(CHIEF, kind="web"))
    with client.get(path.format(id=carded["red"])) as response:
        assert response.status_code == 200
        csp = response.headers["Content-Security-Policy"]
        html = response.get_data(as_text=True)
    (nonce,) = re.findall(r"script-src 'self' 'nonce-([^']+)'", csp)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attributes for attributes in inline), inline
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert not re.search(r"https?://", html)  # basemap none: no other host at all
    for url in re.findall(r"""src=["'](/assets/[^"']+)["']""", html):
        with client.get(url) as asset:
            assert asset.status_code == 200, url


def test_request_page_query_strings_are_checked(
    live_app: Flask, login_token: Callable[..., str]
) -> None:
    client = live_app.test_client()
    client.set_cookie(SESSION_COOKIE, login_token(CHIEF, kind="web"))
    for path in (
        "/requests?tab=nope",
        "/requests/ranking?period=2026-13",
        "/requests/ranking?level=x",
    ):
        with client.get(path) as response:
            assert response.status_code == 400, path


def test_a_verifier_calls_back_on_a_phone(
    phone: Watched, worker_api: Api, worker_point: tuple[float, float]
) -> None:
    """demo-verifier (核查回访员 of the street) records a 回访 of a request demo-worker
    completed: the page asks whether it is resolved, the satisfaction and how it was asked."""
    status, record = worker_api.call(
        "POST",
        "/requests",
        {
            "category": CATEGORY,
            "description": "楼道灯不亮，请尽快修理",
            "location": {"lon": worker_point[0], "lat": worker_point[1], "crs": "EPSG:4326"},
        },
    )
    assert status == 201, record
    for action in ("accept", "start", "complete"):
        status, record = worker_api.call(
            "POST",
            f"/requests/{record['id']}/transitions",
            {"action": action},
            {"If-Match": record["etag"]},
        )
        assert status == 200, record
    phone.login("demo-verifier", next_path=f"/requests/{record['id']}")
    page = phone.page
    page.wait_for_selector("#gm-detail[data-state=ready]")
    buttons = page.locator("#gm-actions button")
    assert buttons.all_inner_texts() == [glossary.ACTIONS["callback"], glossary.ACTIONS["verify"]]
    buttons.get_by_text(glossary.ACTIONS["callback"], exact=True).click()
    form = page.locator("#gm-action-form")
    form.get_by_label(glossary.RESOLVED_ANSWERS["resolved"]).check()
    form.get_by_label(glossary.RATINGS["basically_satisfied"]).check()
    form.get_by_label(glossary.CALLBACK_CHANNELS["phone"]).check()
    form.locator("textarea[name=note]").fill("电话回访：灯已修好")
    phone.screenshot("request_callback_phone.png")
    page.get_by_role("button", name="确认").click()
    page.wait_for_selector("#gm-detail-state[data-state=feedback]")
    last = page.locator("#gm-timeline > li").last.inner_text()
    assert glossary.ACTIONS["callback"] in last and glossary.RESOLVED_ANSWERS["resolved"] in last
    answered = worker_api.get(f"/requests/{record['id']}")
    assert answered["timeline"][-1]["detail"]["channel"] == "phone"
    assert phone.console_errors == [] and phone.csp_violations == []
