"""A Chromium page that records what would make it unclean: console errors, Content-Security-
Policy violations and requests to other hosts; and the login form driven like a person."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from playwright.sync_api import BrowserContext, Page
from werkzeug.serving import make_server

from gridmap.core.settings import Settings

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DEMO_PASSWORD = Settings().demo_password
#: The demo accounts the page tests act as through the API.
WORKER = "demo-worker"
MEMBER = "demo-member"
CHIEF = "demo-chief"


class Api:
    """The JSON API as one demo account with a bearer token (no cookie, so no CSRF token)."""

    def __init__(self, live_url: str, token: str) -> None:
        self.root = f"{live_url}/api/v1"
        self.token = token

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        sent = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.root + path, data=data, headers=sent | (headers or {}), method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, body
        return body


WAIT_MS = 60_000  # generous: the machine may be busy; a ready page answers at once


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app served on a free local port in a thread: its base URL, until the block ends."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


# Reports every CSP violation of every document the context opens to the test (a binding is
# not subject to the page's policy, and survives navigations).
_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__gmCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`
    + ` at ${e.sourceFile || e.documentURI}:${e.lineNumber}`);
});
"""


@dataclass
class Watched:
    """A page with every request, console error and CSP violation it produced recorded."""

    page: Page
    live_url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, context: BrowserContext, live_url: str) -> Watched:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        w = cls(page, live_url)
        context.expose_binding(
            "__gmCspViolation", lambda _source, text: w.csp_violations.append(text)
        )
        context.add_init_script(_CSP_LISTENER)
        page.on("request", lambda r: w.requests.append(r.url))
        page.on("console", lambda m: w.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: w.console_errors.append(f"uncaught: {e}"))
        return w

    def foreign_requests(self) -> list[str]:
        host = urllib.parse.urlsplit(self.live_url).netloc
        return [
            url
            for url in self.requests
            if urllib.parse.urlsplit(url).scheme not in ("data", "blob")
            and urllib.parse.urlsplit(url).netloc != host
        ]

    def url(self, path: str) -> str:
        return f"{self.live_url}{path}"

    def path(self) -> str:
        """The current URL without the server (path and query string)."""
        parts = urllib.parse.urlsplit(self.page.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def open(self, view: tuple[int, float, float] | None = None) -> None:
        """Open the map, at ``(zoom, lat, lon)`` if given, else where the page fits the data."""
        fragment = "" if view is None else "#map={}/{:.6f}/{:.6f}".format(*view)
        if self.path() == "/":
            # From the map itself, a new fragment is only a hash change, not a new page.
            self.page.goto("about:blank")
        self.page.goto(self.url(f"/{fragment}"))

    def login(self, username: str, password: str = DEMO_PASSWORD, next_path: str = "") -> None:
        """Log in through the form, as a person would; waits for the page it lands on."""
        query = "?" + urllib.parse.urlencode({"next": next_path}) if next_path else ""
        self.page.goto(self.url(f"/login{query}"))
        self.submit_login(username, password)
        self.page.wait_for_url(lambda url: "/login" not in url)

    def submit_login(self, username: str, password: str) -> None:
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(password)
        self.page.get_by_role("button", name="登录", exact=True).click()

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name))

    def assert_clean(self) -> None:
        assert self.csp_violations == []
        assert self.console_errors == []
        assert self.foreign_requests() == []


def count(page: Page, selector: str) -> int:
    return int(page.evaluate("(s) => document.querySelectorAll(s).length", selector))


def wait_for(page: Page, selector: str) -> None:
    """Wait until at least one element matches ``selector`` (SVG paths count while hidden)."""
    page.wait_for_function(
        "(s) => document.querySelectorAll(s).length > 0", arg=selector, timeout=WAIT_MS
    )


def wait_until_loaded(page: Page, layer: str) -> None:
    """Wait until the map has drawn ``layer`` for the current view and asks for nothing more."""
    page.wait_for_function(
        """(key) => {
            const g = window.gridmap;
            return g && g.counts[key] !== undefined && g.counts[key] !== null
                && !g.controllers[key];
        }""",
        arg=layer,
    )


def drawn_household_ids(page: Page) -> list[int]:
    ids: list[Any] = page.evaluate(
        "() => window.gridmap.layers.household.getLayers().map((l) => l.feature.properties.id)"
    )
    return [int(i) for i in ids]
