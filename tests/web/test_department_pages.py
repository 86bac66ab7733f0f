"""The department's pages (部门报到) in headless Chromium, at a laptop's and a phone's size.

demo-street files a request at the street level and summons 东城区城管执法局 on the request
page (街乡吹哨); demo-dept-cgzf finds it on its phone in 待报到, accepts (报到), starts and asks
for an extension (延期); demo-street approves it (批准延期) and names a co-handler (协办);
the department completes it. Each page has no serious axe-core violation and logs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, ViewportSize
from shapely.geometry import shape

from tests.web.browser import Api, Watched
from tests.web.test_requests_pages import _timeline_length
from tests.web.walk import axe_violations

STREET = "demo-street"
OFFICER = "demo-dept-cgzf"
LAPTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


def _press(page: Page, label: str) -> None:
    before = _timeline_length(page)
    page.locator("#gm-actions").get_by_role("button", name=label, exact=True).click()
    if page.locator("#gm-action-form").is_visible():
        page.get_by_role("button", name="确认").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#gm-timeline > li').length > n", arg=before
    )
    page.wait_for_selector("#gm-detail[data-state=ready]")


def _clean(watched: Watched) -> None:
    assert axe_violations(watched.page) == []
    watched.assert_clean()


def test_a_department_answers_the_summons_on_its_pages(
    new_watched: Callable[..., Watched],
    live_url: str,
    login_token: Callable[..., str],
) -> None:
    street_api = Api(live_url, login_token(STREET))
    grids = street_api.get("/grids?level=micro&limit=1")["features"]
    point = grids[0]["properties"]
    code = point["code"]
    found = street_api.get(f"/departments?serving={code}")["departments"]
    cgzf = next(d for d in found if d["code"] == "dc.cgzf")
    sw = next(d for d in found if d["code"] == "dc.sw")

    inside = shape(grids[0]["geometry"]).representative_point()
    status, filed = street_api.call(
        "POST",
        "/requests",
        {
            "category": "ads.billboard",
            "description": "临街商铺违规设置户外广告牌",
            "location": {"lon": inside.x, "lat": inside.y},
        },
    )
    assert status == 201, filed
    rid = filed["id"]

    # The street summons the department on the request page (laptop).
    street = new_watched(LAPTOP)
    street.login(STREET, next_path=f"/requests/{rid}")
    page = street.page
    page.wait_for_selector("#gm-detail[data-state=ready]")
    page.locator("#gm-actions").get_by_role("button", name="上报上级", exact=True).click()
    page.locator("#gm-action-form textarea[name=reason]").fill("街乡吹哨：违规广告")
    select = page.locator("#gm-field-department select")
    select.locator(f"option[value='{cgzf['id']}']").wait_for(state="attached")
    select.select_option(str(cgzf["id"]))
    page.get_by_role("button", name="确认").click()
    page.wait_for_function(
        "() => document.querySelector('#gm-detail-fields').innerText.includes('东城区城管执法局')"
    )
    _clean(street)

    # The department on its phone: 待报到, then 报到 (accept), start, ask for 2 more days.
    officer = new_watched(PHONE)
    officer.login(OFFICER)
    assert officer.path().startswith("/requests")
    page = officer.page
    page.wait_for_selector("#gm-inbox[data-state=ready]")
    assert page.locator(".gm-tabs [aria-current=page]").inner_text() == "待报到"
    row = page.locator(f".gm-request-row[data-id='{rid}']")
    assert row.is_visible()
    assert page.locator(".gm-inbox-bar a.gm-button").count() == 0  # files nothing
    _clean(officer)
    row.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/requests/{rid}$"))
    page.wait_for_selector("#gm-detail[data-state=ready]")
    assert page.locator("#gm-actions").get_by_role("button", name="退单").count() == 1
    _press(page, "报到")
    _press(page, "开始处置")
    page.locator("#gm-actions").get_by_role("button", name="申请延期", exact=True).click()
    page.locator("#gm-action-form textarea[name=reason]").fill("需协调产权单位")
    page.locator("#gm-action-form input[name=amount]").fill("2")
    page.locator("#gm-action-form select[name=unit]").select_option("days")
    page.get_by_role("button", name="确认").click()
    page.wait_for_function(
        "() => document.querySelector('#gm-detail-fields').innerText.includes('需协调产权单位')"
    )
    _clean(officer)
    page.goto(officer.url("/requests?tab=extension"))
    page.wait_for_selector("#gm-inbox[data-state=ready]")
    assert page.locator(f".gm-request-row[data-id='{rid}']").is_visible()

    # The street approves (批准延期) and names a co-handler (协办).
    page = street.page
    page.goto(street.url("/requests?tab=extension"))
    page.wait_for_selector("#gm-inbox[data-state=ready]")
    assert page.locator(f".gm-request-row[data-id='{rid}']").is_visible()
    page.goto(street.url(f"/requests/{rid}"))
    page.wait_for_selector("#gm-detail[data-state=ready]")
    for label in ("批准延期", "驳回延期", "协办", "督办"):
        assert page.locator("#gm-actions").get_by_role("button", name=label, exact=True).count()
    _press(page, "批准延期")
    page.locator("#gm-actions").get_by_role("button", name="协办", exact=True).click()
    box = page.locator(f"#gm-cohandler-options input[value='{sw['id']}']")
    box.check()
    page.get_by_role("button", name="确认").click()
    page.wait_for_function(
        "() => document.querySelector('#gm-detail-fields').innerText.includes('东城区水务局')"
    )
    _clean(street)

    # The department completes it.
    page = officer.page
    page.goto(officer.url(f"/requests/{rid}"))
    page.wait_for_selector("#gm-detail[data-state=ready]")
    page.locator("#gm-actions").get_by_role("button", name="办结", exact=True).click()
    page.locator("#gm-action-form textarea[name=note]").fill("已拆除违规广告牌")
    page.get_by_role("button", name="确认").click()
    page.wait_for_selector("#gm-detail-state[data-state=completed]")
    officer.screenshot("department_detail_phone.png")
    record = street_api.get(f"/requests/{rid}")
    assert [e["action"] for e in record["timeline"]] == [
        "report",
        "escalate",
        "accept",
        "start",
        "ask_extension",
        "approve_extension",
        "add_cohandler",
        "complete",
    ]
    _clean(officer)
