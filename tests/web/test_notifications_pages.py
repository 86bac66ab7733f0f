"""Notifications on the pages, in headless Chromium: the header's bell lists the signed-in
account's messages (a request filed to the street is assigned to demo-street), and after the
demo's sender ran, the system administrator's 发送记录 page shows what would have been sent,
the resident's phone masked."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect
from shapely.geometry import shape
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gridmap.core.settings import Settings
from gridmap.notify import sender
from tests.web.browser import Api, Watched
from tests.web.walk import axe_violations

PHONE = "13712345678"


def test_the_bell_and_the_sent_messages_page(
    new_watched: Callable[[], Watched],
    live_url: str,
    login_token: Callable[..., str],
    web_engine: Engine,
) -> None:
    street = Api(live_url, login_token("demo-street"))
    grid = street.get("/grids?level=micro&limit=1")["features"][0]
    inside = shape(grid["geometry"]).representative_point()
    status, filed = street.call(
        "POST",
        "/requests",
        {
            "category": "ads.billboard",
            "description": "临街商铺违规设置户外广告牌",
            "location": {"lon": inside.x, "lat": inside.y},
            "contact": {"name": "陈小姐", "phone": PHONE},
        },
    )
    assert status == 201, filed
    status, accepted = street.call(
        "POST",
        f"/requests/{filed['id']}/transitions",
        {"action": "accept"},
        {"If-Match": filed["etag"]},
    )
    assert status == 200, accepted

    page = new_watched()
    page.login("demo-street")
    bell = page.page.locator(".gm-bell")
    expect(bell).to_have_attribute("data-ready", "true")
    expect(bell.locator(".gm-bell-count")).to_be_visible()
    bell.get_by_role("button", name="通知").click()
    item = bell.locator(".gm-bell-item").filter(has_text=f"诉求 {filed['id']}（")
    expect(item).to_contain_text("派单通知")
    expect(item).to_contain_text("已派给您办理")
    assert axe_violations(page.page) == []
    page.page.keyboard.press("Escape")
    expect(bell.locator(".gm-bell-panel")).to_be_hidden()
    page.assert_clean()

    with Session(web_engine) as session:
        quiet_free = sender.Policy(None, None)
        sender.send_due(session, sender.Outlet.of(Settings()), quiet_free, batch=100_000)

    admin = new_watched()
    admin.login("demo-system")
    admin.page.goto(admin.url("/notifications/sent"))
    rows = admin.page.locator("#gm-sent tbody tr")
    resident = rows.filter(has_text=f"编号 {filed['id']}，").filter(has_text="已受理")
    expect(resident).to_have_count(1)
    expect(resident).to_contain_text("137****5678")
    expect(resident).to_contain_text("仅记录")
    assert PHONE not in admin.page.content()
    assert axe_violations(admin.page) == []
    admin.assert_clean()
