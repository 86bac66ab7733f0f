"""双报到's pages in headless Chromium, on the live demo (whose members are registered and
whose communities hold a quarter of activities): an in-service member on a phone (390×844)
signs up for an activity and confirms attendance by checking in near its place; the chief on
a laptop and a phone confirms a member's attendance, reads the quarter's table and downloads
it as Excel through the background job (a real worker runs). axe finds no serious violation.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import ViewportSize
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gridmap.storage.models import ActivitySignup
from tests.web.browser import CHIEF, MEMBER, Api, Watched
from tests.web.test_requests_pages import PHONE
from tests.web.walk import axe_violations
from tests.workers import start_worker, stop_worker

LAPTOP: ViewportSize = {"width": 1366, "height": 900}
JOB_MS = 180_000
#: navigator.geolocation answering one fixed point.
GEOLOCATION = """
(() => {
  const [lon, lat] = %s;
  const geolocation = {
    getCurrentPosition(ok) {
      setTimeout(() => ok({ coords: { longitude: lon, latitude: lat, accuracy: 5 },
        timestamp: Date.now() }), 0);
    },
    watchPosition() { return 0; },
    clearWatch() {},
  };
  Object.defineProperty(navigator, 'geolocation', { get: () => geolocation });
})();
"""


@pytest.fixture(scope="module")
def worker(web_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A job worker on the live demo's database, for the table's Excel download."""
    process = start_worker(web_database_url, tmp_path_factory.mktemp("worker") / "worker.log")
    yield
    stop_worker(process)


def _running_activity(chief_api: Api, member_api: Api, title: str) -> dict[str, Any]:
    """An activity of the member's community that began ten minutes ago, at a place 100 m
    east of the member's home community's first activity."""
    me = member_api.get("/party/me")
    assert me["registration"], "the demo registers demo-member with their community"
    community = me["registration"]["community"]["code"]
    now = dt.datetime.now(dt.UTC)
    body = {
        "community": community,
        "kind": "care",
        "title": title,
        "starts_at": (now - dt.timedelta(minutes=10)).isoformat(),
        "ends_at": (now + dt.timedelta(hours=2)).isoformat(),
        "place_name": "社区党群服务中心",
        "place": {"lon": 116.4, "lat": 39.93, "crs": "EPSG:4490"},
        "wanted": 5,
    }
    listed = chief_api.get("/party/activities")["results"]
    if listed:
        body["place"] = listed[0]["place"] | {"crs": "EPSG:4490"}
    status, made = chief_api.call("POST", "/party/activities", body)
    assert status == 201, made
    return dict(made)


def test_a_member_signs_up_and_checks_in_at_the_place(
    new_watched: Callable[..., Watched], chief_api: Api, member_api: Api, web_engine: Engine
) -> None:
    activity = _running_activity(chief_api, member_api, "独居老人探访（签到）")
    place = activity["place"]
    phone = new_watched(PHONE, is_mobile=True, has_touch=True)
    # 50 m north of the place
    phone.page.context.add_init_script(GEOLOCATION % f"[{place['lon']}, {place['lat'] + 0.00045}]")
    phone.login(MEMBER, next_path="/party/me")
    page = phone.page
    page.wait_for_selector("#gm-party-me[data-state=ready]")
    assert "报到社区" in page.locator("#gm-party-community").inner_text()
    item = page.locator(f"#gm-party-activities li[data-activity='{activity['id']}']")
    item.get_by_role("button", name="报名").click()
    page.wait_for_selector(f"#gm-party-activities li[data-activity='{activity['id']}'] button")
    item.get_by_role("button", name="现场签到").click()
    page.wait_for_selector(
        f"#gm-party-activities li[data-activity='{activity['id']}'] .gm-party-done"
    )
    assert "已出勤" in item.inner_text()
    assert "已出勤" in page.locator("#gm-party-result").inner_text()
    with Session(web_engine) as session:
        entry = session.scalar(
            select(ActivitySignup).where(ActivitySignup.activity_id == activity["id"])
        )
        assert entry is not None and entry.how == "check_in"
        assert entry.distance_m is not None and 40 < entry.distance_m < 60
    # Posts: choose two and keep them.
    page.get_by_role("checkbox", name="心理辅导").check()
    page.get_by_role("button", name="保存岗位").click()
    page.wait_for_function(
        "() => document.getElementById('gm-party-result').textContent === '已保存'"
    )
    assert "counselling" in member_api.get("/party/me")["posts"]
    phone.screenshot("party_member.png")
    assert axe_violations(page) == []
    phone.assert_clean()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_chief_confirms_attendance_and_downloads_the_quarter(
    new_watched: Callable[..., Watched],
    chief_api: Api,
    member_api: Api,
    worker: None,
    viewport: ViewportSize,
) -> None:
    activity = _running_activity(chief_api, member_api, f"平安巡逻（{viewport['width']}）")
    status, _ = member_api.call("POST", f"/party/me/activities/{activity['id']}/signup")
    assert status == 201
    chief = new_watched(viewport, accept_downloads=True)
    chief.login(CHIEF, next_path="/party")
    page = chief.page
    page.wait_for_selector("#gm-party[data-state=ready]")
    # Publish through the form: the place defaults to the community's middle.
    assert page.locator("input[name=lon]").input_value() != ""
    title = f"政策宣讲（{viewport['width']}）"
    form = page.locator("#gm-party-publish")
    form.get_by_label("活动名称").fill(title)
    form.get_by_label("服务岗位").select_option("policy_talk")
    form.get_by_label("开始时间").fill("2026-12-20T09:00")
    form.get_by_label("结束时间").fill("2026-12-20T11:00")
    form.get_by_label("活动地点").fill("社区党群服务中心")
    form.get_by_role("button", name="发布活动").click()
    page.wait_for_selector(f"#gm-party-activities td:text-is('{title}')")
    published = [a for a in chief_api.get("/party/activities")["results"] if a["title"] == title]
    assert len(published) == 1 and published[0]["kind"] == "policy_talk"
    assert published[0]["starts_at"] == "2026-12-20T01:00:00+00:00"
    row = page.locator(f"#gm-party-activities tr[data-activity='{activity['id']}']")
    row.get_by_role("button", name="报名与出勤").click()
    page.wait_for_selector(f"#gm-party-signups-card[data-activity='{activity['id']}']")
    page.locator("#gm-party-signups").get_by_role("button", name="确认出勤").first.click()
    page.wait_for_selector("#gm-party-signups .gm-party-done")
    assert "组织者确认" in page.locator("#gm-party-signups").inner_text()
    assert page.locator("#gm-party-report tbody tr").count() > 0
    assert "达标" in page.locator("#gm-party-summary").inner_text()
    with page.expect_download(timeout=JOB_MS) as asked:
        page.get_by_role("button", name="导出 Excel").click()
    download = asked.value
    assert download.suggested_filename.startswith("party-")
    path = download.path()
    rows = list(
        openpyxl.load_workbook(io.BytesIO(path.read_bytes())).active.iter_rows(values_only=True)
    )
    assert str(rows[0][0]).endswith("在职党员双报到情况") and rows[2][1] == "姓名"
    assert {r[-1] for r in rows[3:-2]} <= {"达标", "未达标"}
    chief.screenshot(f"party_chief_{viewport['width']}.png")
    assert axe_violations(page) == []
    chief.assert_clean()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_a_unit_reads_its_members_quarter(
    new_watched: Callable[..., Watched], viewport: ViewportSize
) -> None:
    unit = new_watched(viewport)
    unit.login("demo-unit")
    page = unit.page
    page.wait_for_selector("#gm-party-unit[data-state=ready]")
    assert unit.path().endswith("/party/unit")  # a unit's account lands on its report
    assert page.locator("#gm-party-report tbody tr").count() > 0
    assert "季度" in page.locator("#gm-party-summary").inner_text()
    assert axe_violations(page) == []
    unit.assert_clean()
