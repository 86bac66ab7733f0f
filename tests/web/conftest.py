"""A live gridmap server on its own database holding a small Dongcheng demo, and Chromium.

Pages are tested in real headless Chromium against this server; the data is committed (a
browser cannot share the per-test transaction), so it lives in a database of its own. Debian's
``chromium`` is required: without it the browser tests fail, they never skip. Playwright's own
browser download is never used.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, ViewportSize, sync_playwright
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from gridmap import create_app
from gridmap.access import accounts, auth
from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.demo import loader as demo
from tests.conftest import create_test_database, drop_test_database
from tests.web.browser import CHIEF, MEMBER, WORKER, Api, Watched, serving

DEMO_HOUSEHOLDS = 4000
#: An account of its own for the login-throttling test, so no demo account is held back.
LOCKOUT_USER = "web-lockout"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
# Every browser test logs in through the form from 127.0.0.1: the default limit (10 a minute
# per address) would refuse the suite's own logins.
LIVE_SETTINGS = {"basemap_crs": "none", "login_rate_limit": "1000 per minute"}

#: The screen a fresh browser opens on unless a test names another.
LAPTOP: ViewportSize = {"width": 1280, "height": 800}


def _browser_environment() -> dict[str, str | float | bool]:
    """The browser's environment: this one without libfaketime (``./scripts/test-year-ahead``).

    Under libfaketime Chromium runs about 17 times slower (a login test takes 10 minutes
    instead of 35 s), so it keeps the real date, as a phone whose clock differs from the
    server's would: the pages take "today" from the server, which runs a year ahead.
    """
    return {
        k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")
    }


@pytest.fixture(scope="session")
def web_database_url() -> Iterator[str]:
    name = f"gridmap_test_web_{os.getpid()}"
    _, url = create_test_database(name)
    engine = create_engine(url)
    with Session(engine) as session:
        demo.load(session, households=DEMO_HOUSEHOLDS, seed=7, settings=Settings())
        user = accounts.create_user(session, LOCKOUT_USER, Settings().demo_password)
        accounts.grant_role(session, user.id, "audit_admin", admins_too=True)
        session.commit()
    engine.dispose()
    yield url
    drop_test_database(name)


@pytest.fixture(scope="session")
def web_engine(web_database_url: str) -> Iterator[Engine]:
    """The live server's database, for tests that check what a page wrote."""
    engine = create_engine(web_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def live_app(web_database_url: str) -> Iterator[Flask]:
    app = create_app(Settings(database_url=web_database_url, **LIVE_SETTINGS))
    yield app
    db.dispose(app)


@pytest.fixture(scope="session")
def live_url(live_app: Flask) -> Iterator[str]:
    """Base URL of a server with basemap "none": the page must ask no other host."""
    with serving(live_app) as url:
        yield url


@pytest.fixture(scope="session")
def login_token(web_engine: Engine) -> Callable[..., str]:
    """A session token of a demo account (``kind="bearer"`` for the API, ``"web"`` for a
    cookie), opened directly in the database; the browser tests log in through the form."""

    def login(username: str, kind: str = "bearer") -> str:
        with Session(web_engine) as session:
            _, token = auth.login(
                session,
                username,
                Settings().demo_password,
                kind=kind,
                settings=Settings(),
                origin=auth.Origin("127.0.0.1", "tests"),
            )
        return token

    return login


@pytest.fixture(scope="session")
def api(live_url: str, login_token: Callable[..., str]) -> Callable[..., Any]:
    """``api(username, path, **params)``: the JSON answer of a GET as that demo account."""
    tokens: dict[str, str] = {}

    def get(username: str, path: str, **params: Any) -> Any:
        if username not in tokens:
            tokens[username] = login_token(username)
        url = f"{live_url}/api/v1{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {tokens[username]}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    return get


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (./scripts/test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=_browser_environment()
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def worker_api(live_url: str, login_token: Callable[..., str]) -> Api:
    return Api(live_url, login_token(WORKER))


@pytest.fixture(scope="module")
def member_api(live_url: str, login_token: Callable[..., str]) -> Api:
    return Api(live_url, login_token(MEMBER))


@pytest.fixture(scope="module")
def chief_api(live_url: str, login_token: Callable[..., str]) -> Api:
    return Api(live_url, login_token(CHIEF))


@pytest.fixture
def new_watched(browser: Browser, live_url: str) -> Iterator[Callable[..., Watched]]:
    """Open a fresh browser (its own cookies) with a watched page, as often as a test needs:
    ``new_watched()`` on a 1280×800 screen, or ``new_watched(viewport, **context_options)``."""
    contexts: list[BrowserContext] = []

    def make(viewport: ViewportSize = LAPTOP, **options: Any) -> Watched:
        context = browser.new_context(viewport=viewport, locale="zh-CN", **options)
        contexts.append(context)
        return Watched.attach(context, live_url)

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def watched(new_watched: Callable[[], Watched]) -> Watched:
    """A watched page that has not logged in."""
    return new_watched()


@pytest.fixture
def street(watched: Watched) -> Watched:
    """A watched page logged in through the form as the street administrator (demo-street)."""
    watched.login("demo-street")
    return watched
