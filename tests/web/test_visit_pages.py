"""The worker's pages on a phone (390×844): a party member records a visit (民情日志) and files
a request from it, which the grid worker and the chief see; and the patrol page offline — a
10-minute patrol with two check-ins and a visit log recorded with the network off, a photo
with a check-in and one with the visit, the page reloaded, the network back (the answer to
the first photo's upload lost on the way): everything arrives once, each photo stored once
and attached to its check-in or visit. axe finds no serious violation."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, Route
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from gridmap.storage.models import (
    HouseholdVisit,
    Patrol,
    PatrolCheckIn,
    PatrolPoint,
    StoredFile,
)
from tests.requests.photos import image
from tests.web.browser import CHIEF, MEMBER, WORKER, Api, Watched
from tests.web.test_requests_pages import PHONE
from tests.web.walk import axe_violations

SURVEY = "monthly_survey"
#: A walk of ten minutes to and fro around a household: fixes every 5 s of the page's clock.
PATROL_MINUTES = 10

#: navigator.geolocation for a phone walking to and fro around (lon0, lat0): a fix every 5 s
#: of the page's clock (which the test drives), its time the page's time.
GEOLOCATION = """
(() => {
  const [lon0, lat0] = %s;
  const watches = new Map();
  let next = 1;
  const here = () => {
    const s = Date.now() / 1000;
    return {
      coords: {
        longitude: lon0 + 0.0012 * Math.sin(s / 100), latitude: lat0 + 0.0003 * Math.cos(s / 100),
        accuracy: 5, altitude: null, altitudeAccuracy: null, heading: null, speed: null,
      },
      timestamp: Date.now(),
    };
  };
  const geolocation = {
    getCurrentPosition(ok) { setTimeout(() => ok(here()), 0); },
    watchPosition(ok) {
      const id = next++;
      setTimeout(() => ok(here()), 0);
      watches.set(id, setInterval(() => ok(here()), 5000));
      return id;
    },
    clearWatch(id) { clearInterval(watches.get(id)); watches.delete(id); },
  };
  Object.defineProperty(navigator, 'geolocation', { get: () => geolocation });
})();
"""


@pytest.fixture(autouse=True)
def no_running_patrol(web_engine: Engine) -> Iterator[None]:
    """A worker has one running patrol at most: end whatever a test left running."""
    yield
    with Session(web_engine) as session:
        session.execute(update(Patrol).where(Patrol.ended_at.is_(None)).values(ended_at=func.now()))
        session.commit()


@pytest.fixture
def phones(browser: Browser, live_url: str) -> Iterator[Callable[..., Watched]]:
    made: list[BrowserContext] = []

    def make(**options: Any) -> Watched:
        context = browser.new_context(viewport=PHONE, locale="zh-CN", **options)
        made.append(context)
        return Watched.attach(context, live_url)

    yield make
    for context in made:
        context.close()


def _shared_household(member_api: Api, worker_api: Api) -> dict[str, Any]:
    """A household demo-member covers in demo-worker's micro-grid."""
    mine = {f["id"]: f for f in member_api.get("/households?limit=1000")["features"]}
    theirs = {f["id"] for f in worker_api.get("/households?limit=1000")["features"]}
    shared = sorted(set(mine) & theirs)
    assert shared, "demo-member covers households in demo-worker's micro-grid"
    return dict(mine[shared[0]])


def test_a_member_records_a_visit_and_files_a_request_from_it(
    phones: Callable[..., Watched],
    member_api: Api,
    worker_api: Api,
    chief_api: Api,
    web_engine: Engine,
) -> None:
    home = _shared_household(member_api, worker_api)
    member = phones()
    member.login(MEMBER, next_path="/visits")
    page = member.page
    page.wait_for_selector("#gm-visits[data-state=ready]")
    page.locator("#gm-visit-household").select_option(str(home["id"]))
    page.get_by_role("radio", name="入户").check()
    page.get_by_role("checkbox", name="养老照护").check()
    page.get_by_role("checkbox", name="安全隐患").check()
    page.get_by_label("走访情况").fill("老人独居，楼道堆放杂物")
    _take_photo(page, "#gm-visit-photos", "corridor.jpg")
    page.get_by_role("button", name="保存走访").click()
    page.wait_for_selector("#gm-visit-result[data-state=done]")
    visit_id = int(page.locator("#gm-visit-result").get_attribute("data-visit") or 0)
    assert "养老照护" in page.locator("#gm-visit-result").inner_text()
    assert page.locator("#gm-outbox").get_attribute("data-state") == "sent"
    page.locator("#gm-request-category").select_option("emergency.hazard")
    page.get_by_label("诉求描述").fill("楼道堆放杂物，消防通道不畅")
    page.get_by_role("button", name="上报诉求").click()
    page.wait_for_selector("#gm-request-result[data-state=done]")
    request_id = int(page.locator("#gm-request-result").get_attribute("data-request") or 0)
    page.wait_for_selector(f"#gm-my-visits li[data-visit='{visit_id}'] .gm-visit-request")
    # 一键转需求: the visit's household's need joins the community's list, titled by its topic.
    mine = page.locator(f"#gm-my-visits li[data-visit='{visit_id}']")
    mine.get_by_role("button", name="转为需求").click()
    page.wait_for_selector(f"#gm-my-visits li[data-visit='{visit_id}'] .gm-visit-need-done")
    need_id = int(mine.locator(".gm-visit-need-done").inner_text().split("#")[1])
    need = chief_api.get(f"/party/needs/{need_id}")
    assert (need["source"], need["kind"], need["title"]) == ("visit", "care", "走访发现：养老照护")
    member.screenshot("visits_member.png")
    assert axe_violations(page) == []
    member.assert_clean()

    # The grid worker sees the request (its timeline names the visit) and the visit.
    request = worker_api.get(f"/requests/{request_id}")
    assert request["household_id"] == home["id"]
    assert request["timeline"][0]["detail"]["visit_id"] == visit_id
    logs = worker_api.get(f"/households/{home['id']}/visits")["logs"]
    assert [log["id"] for log in logs][:1] == [visit_id] and logs[0]["request_id"] == request_id
    (photo,) = logs[0]["photos"]
    assert worker_api.get(f"/files/{photo}/info")["purpose"] == "visit"
    with Session(web_engine) as session:
        visit = session.get(HouseholdVisit, visit_id)
        assert visit is not None and visit.request_id == request_id
        assert visit.topics == ["elderly_care", "safety"] and visit.channel == "in_person"

    # The chief's map: the household's panel lists the visit log and its request.
    chief = phones()
    chief.login(CHIEF, next_path="/")
    chief.page.wait_for_function("() => window.gridmap && window.gridmap.ready")
    chief.page.evaluate(f"() => window.gridmap.selectHousehold({home['id']})")
    chief.page.wait_for_selector("#gm-household .gm-visits-section[data-state=loaded]")
    panel = chief.page.locator(f"#gm-household .gm-visit-logs li[data-visit='{visit_id}']")
    assert "入户" in panel.inner_text() and f"诉求 #{request_id}" in panel.inner_text()
    chief.assert_clean()


def _run(context: BrowserContext, page: Page, minutes: float) -> None:
    """Drive the page's clock ``minutes`` on, a fix (and a batch) every 5 s."""
    for _ in range(int(minutes * 12)):
        context.clock.run_for(5000)
        page.wait_for_timeout(20)  # IndexedDB works on real time


def _check_in(page: Page, household_id: int) -> None:
    button = page.locator(
        f".gm-worklist[data-list={SURVEY}] .gm-checkin[data-household='{household_id}']"
    )
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_selector("#gm-patrol-status[data-state=checked-in]")


def _take_photo(page: Page, picker: str, name: str) -> None:
    """Choose a photo in the picker: kept on the phone, its preview shown."""
    kept = int(page.locator(picker).get_attribute("data-kept") or 0)
    photo: FilePayload = {
        "name": name,
        "mimeType": "image/jpeg",
        "buffer": image("JPEG", (640, 480)),
    }
    page.locator(f"{picker} .gm-photo-input").set_input_files(files=[photo])
    page.wait_for_selector(f"{picker}[data-kept='{kept + 1}'] img.gm-photo-thumb")


def test_a_patrol_recorded_offline_arrives_once(
    phones: Callable[..., Watched], worker_api: Api, web_engine: Engine
) -> None:
    lists = {entry["code"]: entry for entry in worker_api.get("/worklists")["lists"]}
    homes = [i for i in lists[SURVEY]["items"] if i["type"] == "household"][:3]
    assert len(homes) == 3, "demo-worker's micro-grid holds households to survey"
    began = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    phone = phones()
    context, page = phone.page.context, phone.page
    context.clock.install(time=began)
    context.add_init_script(GEOLOCATION % f"[{homes[0]['lon']}, {homes[0]['lat']}]")
    phone.login(WORKER, next_path="/patrol")
    page.wait_for_selector("#gm-patrol[data-state=ready]")
    page.wait_for_selector("html[data-offline-ready=true]", timeout=60_000)
    with Session(web_engine) as session:
        before = session.scalar(select(func.max(Patrol.id))) or 0
        files_before = session.scalar(select(func.count()).select_from(StoredFile)) or 0

    context.set_offline(True)
    page.locator("#gm-patrol-list").select_option(SURVEY)
    page.get_by_role("button", name="开始巡查").click()
    page.wait_for_selector("#gm-patrol-status[data-state=running]")
    assert page.locator("#gm-patrol").get_attribute("data-patrol") == ""
    _run(context, page, 3)
    _take_photo(page, "#gm-checkin-photos", "door.jpg")
    _check_in(page, homes[1]["id"])
    assert page.locator("#gm-checkin-photos").get_attribute("data-kept") == "0"
    _run(context, page, 2)
    _take_photo(page, "#gm-patrol-visit-photos", "kitchen.jpg")
    page.locator("#gm-patrol-visit-household").select_option(str(homes[2]["id"]))
    page.get_by_role("radio", name="电话").check()
    page.get_by_role("checkbox", name="医疗健康").check()
    page.get_by_role("button", name="保存民情日志").click()
    page.wait_for_selector("#gm-patrol-visit-result[data-state=waiting]")
    _run(context, page, 1)
    page.wait_for_function("() => window.gridmapPatrol.queue.length === 0")

    # A reload without a network: the page comes from the service worker, the patrol from
    # IndexedDB, and the fixes go on being numbered after the last one.
    page.reload()
    page.wait_for_selector("#gm-patrol[data-state=ready]")
    page.wait_for_selector("#gm-patrol-status[data-state=running]")
    _run(context, page, 2)
    _check_in(page, homes[0]["id"])
    _run(context, page, PATROL_MINUTES - 8)
    fixes = int(page.evaluate("() => window.gridmapPatrol.fixCount"))
    assert fixes >= PATROL_MINUTES * 12 - 2
    waiting = page.locator("#gm-outbox").inner_text()
    assert "待发送" in waiting and "签到 2" in waiting and "民情日志 1" in waiting
    assert "照片 2" in waiting and "离线" in waiting
    page.locator(".gm-patrol-bar").scroll_into_view_if_needed()
    page.get_by_role("button", name="结束巡查").click()
    page.wait_for_selector("#gm-patrol-status[data-state=ended]")
    phone.screenshot("patrol_offline.png")
    assert axe_violations(page) == []
    with Session(web_engine) as session:
        assert (session.scalar(select(func.max(Patrol.id))) or 0) == before

    # The first photo reaches the server but its answer is lost: the phone sends it again.
    lost: list[str] = []

    def lose_first_answer(route: Route) -> None:
        if route.request.method != "POST" or lost:
            route.continue_()
            return
        answer = route.fetch()
        lost.append(answer.json()["id"])
        route.abort("connectionreset")

    context.route("**/api/v1/files", lose_first_answer)
    context.set_offline(False)
    page.wait_for_selector("#gm-outbox[data-state=sent]", timeout=90_000)
    assert "全部已发送" in page.locator("#gm-outbox").inner_text()
    with Session(web_engine) as session:
        (patrol,) = session.scalars(select(Patrol).where(Patrol.id > before)).all()
        assert patrol.ended_at is not None and patrol.source == "live"
        span = patrol.ended_at - patrol.started_at
        assert span >= dt.timedelta(minutes=PATROL_MINUTES - 0.5)
        points = session.scalar(select(func.count()).where(PatrolPoint.patrol_id == patrol.id))
        assert points == fixes
        check_ins = session.scalars(
            select(PatrolCheckIn.household_id).where(PatrolCheckIn.patrol_id == patrol.id)
        ).all()
        assert sorted(check_ins) == sorted([homes[1]["id"], homes[0]["id"]])
        (visit,) = session.scalars(
            select(HouseholdVisit).where(HouseholdVisit.patrol_id == patrol.id)
        ).all()
        assert visit.household_id == homes[2]["id"] and visit.channel == "phone"
        assert visit.topics == ["health"]
        # Each photo stored once, attached to its check-in or visit; the lost answer's
        # photo is the one the retry was given back.
        assert session.scalar(select(func.count()).select_from(StoredFile)) == files_before + 2
        (door,) = session.scalars(
            select(StoredFile)
            .join(PatrolCheckIn, PatrolCheckIn.id == StoredFile.check_in_id)
            .where(PatrolCheckIn.patrol_id == patrol.id)
        ).all()
        (kitchen,) = session.scalars(
            select(StoredFile).where(StoredFile.visit_id == visit.id)
        ).all()
        first = session.scalar(
            select(PatrolCheckIn).where(
                PatrolCheckIn.patrol_id == patrol.id, PatrolCheckIn.household_id == homes[1]["id"]
            )
        )
        assert first is not None and first.photo == door.id and door.id in lost
        assert door.purpose == "check_in" and kitchen.purpose == "visit"
    assert phone.csp_violations == [] and phone.foreign_requests() == []


def test_the_worker_pages_are_an_installable_app_served_by_flask(live_app: Flask) -> None:
    client = live_app.test_client()
    with client.get("/manifest.webmanifest") as response:
        assert response.status_code == 200 and response.mimetype == "application/manifest+json"
        manifest = response.get_json(force=True)
    assert manifest["start_url"] == "/patrol" and manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as image:
            assert image.status_code == 200 and image.mimetype == "image/png"
    with client.get("/sw.js") as response:
        assert response.status_code == 200 and response.mimetype == "text/javascript"
        script = response.get_data(as_text=True)
    (listed,) = re.findall(r"const PRECACHE = (\[.*?\]);", script)
    assets = json.loads(listed)
    assert "/assets/js/pages/visits.js" in assets and "/assets/js/core/outbox.js" in assets
    assert "/assets/vendor/leaflet/leaflet.js" in assets
    assert not re.search(r"https?://", script)
    for url in assets:
        with client.get(url) as asset:
            assert asset.status_code == 200, url
