"""The forced password change on a phone (390 px): the system administrator resets an account
on the account list and reads the one-time password once; its holder, logged in with it, can
reach only the change-password page, which shows the notice of the reset, until they choose a
new password."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ViewportSize
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gridmap.access import accounts
from gridmap.core.settings import Settings
from tests.web.browser import Watched

USER = "web-otp-user"
NEW_PASSWORD = "网格员巡查-2026-新密码"
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
def account(web_engine: Engine) -> str:
    """An auditor of the demo street, made for this test."""
    with Session(web_engine) as session:
        user = accounts.create_user(session, USER, Settings().demo_password)
        accounts.grant_role(session, user.id, "auditor", scope_code="110101")
        session.commit()
    return USER


@pytest.fixture
def phone(browser: Browser, live_url: str) -> Iterator[Watched]:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    yield Watched.attach(context, live_url)
    context.close()


def _reset_on_the_account_list(admin: Watched, username: str) -> str:
    admin.login("demo-system")
    assert admin.path() == "/accounts"
    row = admin.page.locator("#gm-users tr", has_text=username)
    admin.page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="重置密码").click()
    shown = admin.page.locator("#gm-one-time-password")
    shown.wait_for()
    assert username in admin.page.locator("#gm-reset-result").inner_text()
    return shown.inner_text().strip()


def _fits(page: Watched) -> None:
    width = page.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px phone"


def test_a_one_time_password_leads_only_to_the_change(
    account: str, new_watched, phone: Watched
) -> None:
    one_time = _reset_on_the_account_list(new_watched(), account)
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", one_time)

    phone.login(account, one_time)
    assert phone.path() == "/password"
    page = phone.page
    assert "一次性密码" in page.locator("#gm-password-forced").inner_text()
    assert page.locator(".gm-notice").inner_text().endswith("由系统管理员 demo-system 重置")
    assert page.locator(".gm-nav a").count() == 0  # no page to go to yet
    _fits(phone)
    phone.screenshot("password_forced_change_390.png")

    # Any other page sends the holder back here.
    page.goto(phone.url("/requests"))
    assert phone.path() == "/password"
    assert page.locator(".gm-notice").count() == 0  # the notice was read when shown

    # The one-time password cannot be kept.
    page.get_by_label("一次性密码").fill(one_time)
    page.get_by_label("新密码", exact=True).fill(one_time)
    page.get_by_label("再次输入新密码").fill(one_time)
    page.get_by_role("button", name="保存新密码").click()
    error = page.locator("#gm-password-error")
    assert error.inner_text() == "新密码不能与当前密码或一次性密码相同。"
    _fits(phone)

    page.get_by_label("一次性密码").fill(one_time)
    page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="保存新密码").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator(".gm-nav a").count() > 0
    # The browser logs the 400 of the refused form; nothing else may be logged.
    assert all("400" in e for e in phone.console_errors), phone.console_errors
    assert phone.csp_violations == [] and phone.foreign_requests() == []
