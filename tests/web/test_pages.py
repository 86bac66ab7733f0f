"""Pages without a browser: the HTML error pages, the audit page's filters and paging."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.access.security import SESSION_COOKIE
from gridmap.web.params import AUDIT_PAGE_SIZE

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def client_as(live_app: Flask, login_token: Callable[..., str]) -> Callable[[str], FlaskClient]:
    """A client with the session cookie of a demo account."""

    def make(username: str) -> FlaskClient:
        client = live_app.test_client()
        client.set_cookie(SESSION_COOKIE, login_token(username, kind="web"))
        return client

    return make


def test_page_errors_are_html_without_detail(live_app: Flask) -> None:
    client = live_app.test_client()
    # No CSRF token: the login form is refused, in a page, without Flask-WTF's English detail.
    response = client.post(
        "/login",
        data={"username": "demo-street", "password": "x"},
        headers={"Accept": BROWSER_ACCEPT},
    )
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "请求有误" in html and "CSRF" not in html and "Traceback" not in html


def test_api_errors_stay_problem_json_for_a_browser(live_app: Flask) -> None:
    response = live_app.test_client().get("/api/v1/grids", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "unauthorized"


def test_script_errors_stay_problem_json_outside_the_api(live_app: Flask) -> None:
    response = live_app.test_client().get("/no-such-page", headers={"Accept": "*/*"})
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_forbidden_page_is_html(client_as: Callable[[str], FlaskClient]) -> None:
    response = client_as("demo-member").get("/audit", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 403
    assert "无权访问" in response.get_data(as_text=True)


def test_audit_page_refuses_a_bad_time_in_the_page(client_as: Callable[[str], FlaskClient]) -> None:
    response = client_as("demo-audit").get("/audit?since=yesterday&username=demo-street")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "开始时间格式不正确" in html
    assert 'value="demo-street"' in html  # the form keeps what was typed


def test_audit_page_pages_back_in_time(
    client_as: Callable[[str], FlaskClient], web_engine: Engine
) -> None:
    with Session(web_engine) as session:
        for _ in range(AUDIT_PAGE_SIZE + 5):
            audit.record(session, "login", username="paging-test")
        session.commit()
    client = client_as("demo-audit")
    first = client.get("/audit?username=paging-test").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'<tr data-id="(\d+)"', first)]
    assert len(ids) == AUDIT_PAGE_SIZE and ids == sorted(ids, reverse=True)
    more = re.search(r'id="gm-audit-more" href="([^"]+)"', first)
    assert more is not None and f"before_id={ids[-1]}" in more.group(1)
    second = client.get(more.group(1).replace("&amp;", "&")).get_data(as_text=True)
    older = [int(i) for i in re.findall(r'<tr data-id="(\d+)"', second)]
    assert len(older) == 5 and max(older) < ids[-1]
    assert 'id="gm-audit-more"' not in second
