"""Logging in and out in Chromium: redirects, messages, each role's first page, the header."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from sqlalchemy import Engine, func, update

from gridmap.storage.models import LoginThrottle
from tests.web.browser import Watched, wait_for
from tests.web.conftest import LOCKOUT_USER


def test_unauthenticated_map_redirects_to_login(watched: Watched) -> None:
    watched.page.goto(watched.url("/"))
    assert watched.path() == "/login?next=/"
    assert watched.page.get_by_role("heading", name="用户登录").is_visible()
    # Nobody is signed in: no header user, no logout button.
    assert watched.page.locator(".gm-user").count() == 0
    watched.screenshot("login_page.png")
    watched.assert_clean()


def test_login_goes_on_to_next_and_shows_the_header(watched: Watched) -> None:
    watched.page.goto(watched.url("/"))
    watched.submit_login("demo-zone", "gridmap-demo")
    watched.page.wait_for_url(re.compile(r"/$"))
    header = watched.page.locator(".gm-header")
    assert "demo-zone" in header.inner_text()
    assert "网格长" in header.locator(".gm-role").inner_text()
    assert header.get_by_role("button", name="退出登录").is_visible()
    # A zone leader's scope holds no community: the map opens on the zone instead.
    wait_for(watched.page, "path.gm-grid-zone")
    assert watched.page.locator("#gm-map-hint").inner_text() != "暂无网格数据"
    watched.assert_clean()


def test_wrong_password_shows_the_message(watched: Watched) -> None:
    watched.page.goto(watched.url("/login?next=/"))
    with watched.page.expect_response(lambda r: r.request.method == "POST") as answer:
        watched.submit_login("demo-street", "not-the-password")
    assert answer.value.status == 401
    assert watched.page.locator("#gm-login-error").inner_text() == "用户名或密码错误。"
    assert watched.page.get_by_label("用户名").input_value() == "demo-street"
    assert "next=" in watched.page.url  # the form still goes on to the map afterwards
    watched.screenshot("login_wrong_password.png")
    # The browser logs the 401 of the page itself; nothing else may be logged.
    assert all("401" in e for e in watched.console_errors)
    assert watched.csp_violations == []


def test_throttling_shows_the_message(watched: Watched, web_engine: Engine) -> None:
    watched.page.goto(watched.url("/login"))
    for _ in range(6):
        with watched.page.expect_response(lambda r: r.request.method == "POST") as answer:
            watched.submit_login(LOCKOUT_USER, "not-the-password")
        assert answer.value.status == 401
    # The sixth failure made this name and address wait (1 s at first, doubling). A busy
    # machine may take longer than that to type the next try, so the wait is lengthened here:
    # what is tested is what the page says while it lasts.
    with web_engine.begin() as db:
        waiting = db.execute(
            update(LoginThrottle)
            .where(LoginThrottle.username == LOCKOUT_USER, LoginThrottle.blocked_until.is_not(None))
            .values(blocked_until=func.now() + dt.timedelta(minutes=10))
        ).rowcount
    assert waiting == 1
    # This browser's address must wait now: even the right password is refused, and the page
    # says for how long.
    with watched.page.expect_response(lambda r: r.request.method == "POST") as answer:
        watched.submit_login(LOCKOUT_USER, "gridmap-demo")
    assert answer.value.status == 429
    assert "登录失败次数过多" in watched.page.locator("#gm-login-error").inner_text()
    assert watched.path().startswith("/login")


def test_logout_then_back_and_reload_show_the_login_page(street: Watched) -> None:
    page = street.page
    wait_for(page, "path.gm-grid-community")
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.go_back()
    page.wait_for_url(re.compile(r"/login\?next="))
    assert page.get_by_role("heading", name="用户登录").is_visible()
    page.reload()
    assert street.path().startswith("/login")
    assert page.locator(".gm-user").count() == 0
    street.assert_clean()


def test_audit_admin_lands_on_the_audit_page(watched: Watched) -> None:
    watched.login("demo-audit")
    assert watched.path() == "/audit"
    assert "审计管理员" in watched.page.locator(".gm-role").inner_text()
    # A map link the role cannot open is not offered, and opening it says so in a page.
    assert watched.page.locator(".gm-nav").get_by_text("网格地图").count() == 0
    watched.page.goto(watched.url("/"))
    assert watched.page.get_by_role("heading", name="无权访问").is_visible()
    watched.screenshot("forbidden_page.png")
    assert all("403" in e for e in watched.console_errors)
    assert watched.csp_violations == []


def test_audit_admin_is_not_sent_on_to_a_page_it_may_not_open(watched: Watched) -> None:
    watched.login("demo-audit", next_path="/")
    assert watched.path() == "/audit"


def test_system_admin_lands_on_the_account_list(watched: Watched) -> None:
    watched.login("demo-system")
    assert watched.path() == "/accounts"
    users = watched.page.locator("#gm-users")
    assert "demo-member" in users.inner_text() and "党员" in users.inner_text()
    assert "系统管理员" in watched.page.locator(".gm-role").inner_text()
    watched.screenshot("accounts_page.png")
    watched.assert_clean()


def test_security_admin_lands_on_the_account_list(watched: Watched) -> None:
    watched.login("demo-security")
    assert watched.path() == "/accounts"
    assert "安全管理员" in watched.page.locator(".gm-role").inner_text()
    watched.assert_clean()


def test_csp_violations_are_caught(street: Watched) -> None:
    """The listener the other tests rely on does see a blocked inline script."""
    wait_for(street.page, "path.gm-grid-community")
    street.page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.injected = 1'; document.body.append(s); }"""
    )
    street.page.wait_for_timeout(200)
    assert street.page.evaluate("() => window.injected") is None
    assert any("script-src" in v for v in street.csp_violations)


def test_page_errors_are_html_and_api_errors_problem_json(
    live_url: str, new_watched: Callable[[], Watched]
) -> None:
    w = new_watched()
    response = w.page.goto(w.url("/no-such-page"))
    assert response is not None and response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    assert w.page.get_by_role("heading", name="页面不存在").is_visible()
    api = w.page.goto(w.url("/api/v1/no-such-thing"))
    assert api is not None and api.status == 404
    assert api.headers["content-type"] == "application/problem+json"
