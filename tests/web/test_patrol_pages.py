"""The patrol pages (巡查走访, 巡查回放) in headless Chromium, logged in through the form.

demo-worker, on a phone-sized screen with the browser's geolocation granted, sees today's work
lists, starts a patrol, walks past a household of its micro-grid (the emulated position moved
step by step; one batch of fixes is answered with a 503 after the server stored it, and the
page's retry stores nothing twice), checks in there and ends the patrol: the database then
holds the track, the check-in and the households reached, the chief's replay page shows the
track with the check-in, and the household's panel on the main map lists the visit. A GPX
file uploaded from the page becomes a patrol; with geolocation denied the page says so and a
check-in is still recorded, without a position.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, Route
from pyproj import Geod
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from gridmap.access.security import SESSION_COOKIE
from gridmap.core.settings import Settings
from gridmap.storage.models import Patrol, PatrolCheckIn, PatrolPoint, PatrolReach
from gridmap.web.maps import (
    LEAFLET_CSS,
    LEAFLET_JS,
    PAGE_JS,
    PATROL_JS,
    build_patrol_map,
    render_parts,
)
from tests.web.browser import CHIEF, WORKER, Api, Watched, count, wait_for
from tests.web.test_requests_pages import PHONE

SURVEY = "monthly_survey"
#: Degrees of longitude between two emulated fixes (≈ 8.5 m at Beijing's latitude), one a
#: second or more apart: a walking pace, well below the track cleaner's speed limit.
STEP_DEG = 0.0001
STEPS = 7


@pytest.fixture(autouse=True)
def no_running_patrol(web_engine: Engine) -> Iterator[None]:
    """A worker has one running patrol at most: end whatever an earlier test left running."""
    yield
    with Session(web_engine) as session:
        session.execute(update(Patrol).where(Patrol.ended_at.is_(None)).values(ended_at=func.now()))
        session.commit()


def _survey_household(api: Api) -> dict[str, Any]:
    """A household of demo-worker's monthly survey (月摸排), one still due if any is."""
    lists = {entry["code"]: entry for entry in api.get("/worklists")["lists"]}
    assert SURVEY in lists, "the demo seeds the standard lists"
    items = [i for i in lists[SURVEY]["items"] if i["type"] == "household"]
    assert items, "demo-worker's micro-grid should hold households to survey"
    return dict(sorted(items, key=lambda i: i["done"])[0])


def _phone(browser: Browser, live_url: str, **options: Any) -> Watched:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", **options)
    return Watched.attach(context, live_url)


@pytest.fixture
def phones(browser: Browser, live_url: str) -> Iterator[Callable[..., Watched]]:
    """Phone-sized watched pages, with whatever context options (geolocation) a test needs."""
    made: list[Watched] = []

    def make(**options: Any) -> Watched:
        made.append(_phone(browser, live_url, **options))
        return made[-1]

    yield make
    for watched in made:
        watched.page.context.close()


def _open_worker_page(phone: Watched) -> Page:
    phone.login(WORKER, next_path="/patrol")
    assert phone.path() == "/patrol"
    page = phone.page
    page.wait_for_selector("#gm-patrol[data-state=ready]")
    return page


def _start(page: Page, work_list: str) -> int:
    page.locator("#gm-patrol-list").select_option(work_list)
    page.get_by_role("button", name="开始巡查").click()
    page.wait_for_selector("#gm-patrol-status[data-state=running]")
    return int(page.locator("#gm-patrol").get_attribute("data-patrol") or 0)


def _check_in(page: Page, household_id: int) -> None:
    button = page.locator(f".gm-worklist[data-list={SURVEY}] .gm-checkin")
    button = button.and_(page.locator(f"[data-household='{household_id}']"))
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_selector("#gm-patrol-status[data-state=checked-in]")


def _stop(page: Page) -> None:
    page.locator(".gm-patrol-bar").scroll_into_view_if_needed()
    page.get_by_role("button", name="结束巡查").click()
    page.wait_for_selector("#gm-patrol-status[data-state=ended]", timeout=30_000)


def _fixes_drawn(page: Page) -> int:
    return int(page.evaluate("() => window.gridmapPatrol.trackLine.getLatLngs().length"))


def _fail_once_after_storing(page: Page, replayed: list[str]) -> None:
    """The first batch of fixes reaches the server, but the phone hears a 503: it must post the
    same batch again (same key, same numbers), which the server replays."""
    failed: list[str] = []

    def handle(route: Route) -> None:
        if failed:
            route.continue_()
            return
        stored = route.fetch()
        assert stored.status == 200, stored.text()
        failed.append(route.request.url)
        route.fulfill(
            status=503,
            content_type="application/problem+json",
            body='{"title": "Service Unavailable", "status": 503}',
        )

    page.route(re.compile(r"/api/v1/patrols/\d+/points$"), handle)
    page.on(
        "response",
        lambda r: replayed.append(r.url) if r.headers.get("idempotent-replayed") else None,
    )


def _rows(engine: Engine, model: Any, patrol_id: int) -> list[Any]:
    with Session(engine) as session:
        return list(session.scalars(select(model).where(model.patrol_id == patrol_id)))


def test_worker_patrols_on_a_phone_and_the_chief_replays_it(
    browser: Browser,
    live_url: str,
    worker_api: Api,
    chief_api: Api,
    web_engine: Engine,
    new_watched: Callable[[], Watched],
) -> None:
    home = _survey_household(worker_api)
    assert not home["done"]
    walk = [(home["lon"] + (i - STEPS // 2) * STEP_DEG, home["lat"]) for i in range(STEPS)]
    phone = _phone(
        browser,
        live_url,
        geolocation={"longitude": walk[0][0], "latitude": walk[0][1]},
        permissions=["geolocation"],
    )
    try:
        page = _open_worker_page(phone)
        # Today's lists, as the API counts them.
        lists = {e["code"]: e for e in worker_api.get("/worklists")["lists"]}
        for code, entry in lists.items():
            card = page.locator(f".gm-worklist[data-list={code}]")
            assert entry["name"] in card.inner_text()
            assert f"待办 {entry['due']}" in card.inner_text()
        page.locator("#gm-patrol-list").select_option(SURVEY)
        survey = lists[SURVEY]
        assert count(page, "path.gm-duty-due") == survey["due"]  # the list's households
        assert count(page, "path.gm-duty-done") == survey["done"]
        assert page.locator(".gm-checkin").first.is_disabled()  # no patrol yet

        replayed: list[str] = []
        _fail_once_after_storing(page, replayed)
        patrol_id = _start(page, SURVEY)
        assert patrol_id > 0
        # The first fix is where the phone stands when the patrol starts; then it walks on.
        page.wait_for_function("() => window.gridmapPatrol.trackLine.getLatLngs().length >= 1")
        for i, (lon, lat) in enumerate(walk[1:], start=2):
            page.wait_for_timeout(1000)
            page.context.set_geolocation({"longitude": lon, "latitude": lat})
            page.wait_for_function(
                "(n) => window.gridmapPatrol.trackLine.getLatLngs().length >= n", arg=i
            )
        drawn = _fixes_drawn(page)
        assert drawn >= STEPS
        # Stored in batches; the batch that met the 503 was posted again and replayed.
        page.wait_for_function(
            "(n) => window.gridmapPatrol.stored >= n && !window.gridmapPatrol.queue.length",
            arg=drawn,
            timeout=30_000,
        )
        assert replayed, "the failed batch was posted again with its key"
        assert len(_rows(web_engine, PatrolPoint, patrol_id)) == drawn

        _check_in(page, home["id"])
        assert (
            page.locator(
                f".gm-worklist[data-list={SURVEY}] .gm-duty[data-household='{home['id']}']"
            ).get_attribute("data-done")
            == "true"
        )
        page.locator(".gm-patrol-map").scroll_into_view_if_needed()
        phone.screenshot("patrol_worker.png")
        _stop(page)
        assert "巡查已结束" in page.locator("#gm-patrol-status").inner_text()
        # The browser logs the 503 it was made to hear; nothing else may be logged.
        assert len(phone.console_errors) == 1 and "503" in phone.console_errors[0]
        assert phone.csp_violations == [] and phone.foreign_requests() == []
    finally:
        phone.page.context.close()

    with Session(web_engine) as session:
        patrol = session.get(Patrol, patrol_id)
        assert patrol is not None and patrol.ended_at is not None and patrol.source == "live"
        assert patrol.track is not None
        assert patrol.track_report["points_kept"] == drawn
    (check_in,) = _rows(web_engine, PatrolCheckIn, patrol_id)
    assert check_in.household_id == home["id"] and check_in.geom is not None
    # Checked in where the walk ended, three steps east of the household.
    _, _, apart = Geod(ellps="GRS80").inv(walk[-1][0], walk[-1][1], home["lon"], home["lat"])
    assert check_in.distance_m == pytest.approx(apart, abs=0.5)
    reached = {r.household_id: r.how for r in _rows(web_engine, PatrolReach, patrol_id)}
    assert reached[home["id"]] == "check_in"
    survey = {e["code"]: e for e in worker_api.get("/worklists")["lists"]}[SURVEY]
    assert [i["done"] for i in survey["items"] if i.get("id") == home["id"]] == [True]

    # The chief replays it: the track, the check-in and the households reached.
    chief = new_watched()
    chief.login(CHIEF, next_path="/patrols")
    page = chief.page
    assert page.locator(".gm-nav").get_by_text("巡查回放").is_visible()
    page.wait_for_selector("#gm-replay[data-state=ready]")
    page.locator(f".gm-replay-row[data-id='{patrol_id}']").click()
    page.wait_for_function(f"() => window.gridmapPatrol.loaded === {patrol_id}")
    assert count(page, "path.gm-replay-track") >= 1
    assert count(page, "path.gm-replay-checkin") == 1
    assert count(page, "path.gm-reached-check_in") >= 1
    # The chief sees the households of its community; passing along the community's edge, the
    # walk may reach a few beyond it (households fill every micro-grid of the demo).
    seen = _households_in_community_of(web_engine, home["id"])
    expected_pass_by = sum(1 for h, how in reached.items() if how == "pass_by" and h in seen)
    assert expected_pass_by > 0
    assert count(page, "path.gm-reached-pass_by") == expected_pass_by
    assert f"住户 {home['id']}" in page.locator("#gm-replay-checkins").inner_text()
    assert "签到 1 户" in page.locator("#gm-replay-reached").inner_text()
    # The slider moves the marker along the track; play moves it on by itself.
    start = page.evaluate("() => window.gridmapPatrol.marker.getLatLng().lng")
    last = page.locator("#gm-replay-slider").get_attribute("max")
    assert last is not None
    page.locator("#gm-replay-slider").fill(last)
    end = page.evaluate("() => window.gridmapPatrol.marker.getLatLng().lng")
    assert end == pytest.approx(walk[-1][0], abs=1e-6) and start == pytest.approx(walk[0][0])
    page.locator("#gm-replay-slider").fill("0")
    page.get_by_role("button", name="▶ 播放").click()
    page.wait_for_function("() => Number(document.getElementById('gm-replay-slider').value) > 0")
    page.get_by_role("button", name="⏸ 暂停").click()
    # The overdue panel: counts per worker and micro-grid, and its layer.
    page.wait_for_selector("#gm-overdue[data-state=ready]")
    overdue = chief_api.get("/patrols/overdue")
    assert count(page, "#gm-overdue-workers tr[data-key]") == len(overdue["by_worker"])
    assert count(page, "#gm-overdue-grids tr[data-key]") == len(overdue["by_grid"])
    if overdue["rows"]:
        wait_for(page, "path.gm-overdue")
    page.locator("#gm-replay-slider").fill("0")
    chief.screenshot("patrol_replay.png")
    chief.assert_clean()

    # The household's panel on the main map lists the visit next to its members.
    page.goto(chief.url("/"))
    page.wait_for_function("() => window.gridmap && window.gridmap.ready")
    page.evaluate(f"() => window.gridmap.selectHousehold({home['id']})")
    page.wait_for_selector("#gm-household .gm-visits-section[data-state=loaded]")
    visits = page.locator("#gm-household .gm-visits").inner_text()
    assert "签到" in visits and "月摸排" in visits
    chief.assert_clean()


def _gpx(points: list[tuple[float, float]], start: dt.datetime) -> bytes:
    stamps = [start + dt.timedelta(seconds=5 * i) for i in range(len(points))]
    trkpts = "".join(
        f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}"><time>'
        f"{t.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}</time></trkpt>"
        for (lon, lat), t in zip(points, stamps, strict=True)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<gpx version="1.1" creator="phone" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><name>巡查</name><trkseg>{trkpts}</trkseg></trk></gpx>"
    ).encode()


def test_an_uploaded_gpx_track_becomes_a_patrol(
    phones: Callable[..., Watched], worker_api: Api, web_engine: Engine
) -> None:
    home = _survey_household(worker_api)
    # 41 fixes 5 s apart, 6 m apart: a slow walk of 240 m past the household, two hours ago.
    walk = [(home["lon"] + (i - 20) * 0.00007, home["lat"] + 0.0001) for i in range(41)]
    began = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    phone = phones()
    page = _open_worker_page(phone)
    page.locator("#gm-upload-list").select_option("daily_patrol")
    page.locator("#gm-upload-file").set_input_files(
        {"name": "track.gpx", "mimeType": "application/gpx+xml", "buffer": _gpx(walk, began)}
    )
    page.get_by_role("button", name="上传", exact=True).click()
    result = page.locator("#gm-upload-result[data-state=done]")
    result.wait_for()
    assert "已上传" in result.inner_text() and "日巡查" in result.inner_text()
    patrol_id = int(result.get_attribute("data-patrol") or 0)
    with Session(web_engine) as session:
        patrol = session.get(Patrol, patrol_id)
        assert patrol is not None and patrol.source == "upload" and patrol.track is not None
        assert patrol.track_report["points_kept"] == len(walk)
        assert abs(patrol.started_at - began.replace(microsecond=0)) < dt.timedelta(seconds=1)
    assert (
        worker_api.get(f"/patrols/{patrol_id}")["properties"]["work_list"]["code"] == "daily_patrol"
    )
    reached = {r.household_id: r.how for r in _rows(web_engine, PatrolReach, patrol_id)}
    assert reached.get(home["id"]) == "pass_by"  # ≈ 11 m from the track
    phone.assert_clean()


def test_denied_geolocation_is_said_and_check_in_works_without_a_position(
    phones: Callable[..., Watched], worker_api: Api, web_engine: Engine
) -> None:
    home = _survey_household(worker_api)
    phone = phones()  # no geolocation permission
    page = _open_worker_page(phone)
    patrol_id = _start(page, SURVEY)
    message = page.locator("#gm-geo-message")
    message.wait_for()
    assert "未获得定位权限" in message.inner_text() and "仍可入户签到" in message.inner_text()
    assert page.locator("#gm-patrol").get_attribute("data-geolocation") == "unavailable"
    page.evaluate("() => window.scrollTo(0, 0)")
    phone.screenshot("patrol_worker_denied.png")
    _check_in(page, home["id"])
    assert "无位置" in page.locator("#gm-patrol-status").inner_text()
    _stop(page)
    (check_in,) = _rows(web_engine, PatrolCheckIn, patrol_id)
    assert check_in.household_id == home["id"] and check_in.geom is None
    with Session(web_engine) as session:
        patrol = session.get(Patrol, patrol_id)
        assert patrol is not None and patrol.track is None and patrol.ended_at is not None
    phone.assert_clean()


def test_patrol_pages_by_role(new_watched: Callable[[], Watched]) -> None:
    """The nav offers 巡查走访 to roles that handle and 巡查回放 to roles that assign; a member
    (党员) opens neither, a worker not the replay."""
    worker = new_watched()
    worker.login(WORKER)
    nav = worker.page.locator(".gm-nav")
    assert nav.get_by_text("巡查走访").is_visible() and nav.get_by_text("巡查回放").count() == 0
    response = worker.page.goto(worker.url("/patrols"))
    assert response is not None and response.status == 403
    member = new_watched()
    member.login("demo-member")
    assert member.page.locator(".gm-nav").get_by_text("巡查").count() == 0
    for path in ("/patrol", "/patrols"):
        response = member.page.goto(member.url(path))
        assert response is not None and response.status == 403, path


def test_a_chief_without_a_person_is_told_the_worker_page_is_not_theirs(
    new_watched: Callable[[], Watched],
) -> None:
    chief = new_watched()
    chief.login(CHIEF, next_path="/patrol")
    page = chief.page
    page.wait_for_selector("#gm-patrol[data-state=error]")
    assert "未关联网格员" in page.locator("#gm-patrol-status").inner_text()
    assert page.locator("#gm-patrol-start").is_disabled()
    # The 422 of the work lists is logged by the browser; nothing else may be.
    assert all("422" in e for e in chief.console_errors)
    assert chief.csp_violations == [] and chief.foreign_requests() == []


@pytest.mark.parametrize("page", ["worker", "replay"])
def test_patrol_maps_link_only_vendored_assets(page: str) -> None:
    settings = Settings(
        basemap_crs="gcj02", basemap_url="http://tiles.intranet.example/{z}/{x}/{y}.png"
    )
    config = {"page": page, "apiRoot": "/api/v1", "today": "2026-01-05"}
    parts = render_parts(build_patrol_map(settings, asset_url=_asset, config=config))
    html = f"{parts.header}{parts.html}{parts.script}"
    # The page's own module (preloaded; it imports the shared core), not the grid map's.
    assets = [_asset(p) for p in (LEAFLET_JS, LEAFLET_CSS, PATROL_JS)]
    assert _asset(PAGE_JS) not in html
    assert re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) == assets
    assert set(re.findall(r"https?://([^/\"']+)", html)) <= {"tiles.intranet.example"}
    assert '"basemapCrs": "gcj02"' in html and f'"page": "{page}"' in html


def test_patrol_map_builder_checks_the_page() -> None:
    with pytest.raises(ValueError, match="config"):
        build_patrol_map(Settings(), asset_url=_asset, config={"page": "inbox"})


def _asset(path: str) -> str:
    return f"/assets/{path}"


@pytest.mark.parametrize(("path", "user"), [("/patrol", WORKER), ("/patrols", CHIEF)])
def test_patrol_pages_are_offline_with_nonced_scripts(
    live_app: Flask, login_token: Callable[..., str], path: str, user: str
) -> None:
    client = live_app.test_client()
    client.set_cookie(SESSION_COOKIE, login_token(user, kind="web"))
    with client.get(path) as response:
        assert response.status_code == 200
        csp = response.headers["Content-Security-Policy"]
        html = response.get_data(as_text=True)
    (nonce,) = re.findall(r"script-src 'self' 'nonce-([^']+)'", csp)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attributes for attributes in inline), inline
    assert not re.search(r"\son[a-z]+=", html)
    assert not re.search(r"https?://", html)
    for url in re.findall(r"""src=["'](/assets/[^"']+)["']""", html):
        with client.get(url) as asset:
            assert asset.status_code == 200, url


def test_patrol_page_lets_a_phone_pinch_zoom(
    live_app: Flask, login_token: Callable[..., str]
) -> None:
    # folium's own viewport tag says maximum-scale=1.0, user-scalable=no: the worker could not
    # zoom the page to read it. Only base.html's tag may remain.
    client = live_app.test_client()
    client.set_cookie(SESSION_COOKIE, login_token(WORKER, kind="web"))
    with client.get("/patrol") as response:
        assert response.status_code == 200
        html = response.get_data(as_text=True)
    viewports = re.findall(r"""<meta\s+name=["']viewport["'][^>]*>""", html)
    assert len(viewports) == 1, viewports
    assert "user-scalable" not in viewports[0]
    assert "maximum-scale" not in viewports[0]
    assert 'content="width=device-width, initial-scale=1"' in viewports[0]


def _households_in_community_of(engine: Engine, household_id: int) -> set[int]:
    """Ids of the households in the community of a household."""
    sql = text(
        "SELECT h.id FROM household h JOIN grid g ON g.id = h.micro_grid_id"
        " JOIN household x ON x.id = :household JOIN grid m ON m.id = x.micro_grid_id"
        " WHERE left(g.code, 12) = left(m.code, 12)"
    )
    with engine.connect() as conn:
        return set(conn.execute(sql, {"household": household_id}).scalars())
