"""Security headers on pages and API answers; the OpenAPI description stays public."""

from __future__ import annotations

import pytest

from gridmap import create_app
from gridmap.core import db
from tests.conftest import client_for
from tests.security.conftest import A

ALLOWED_SOURCES = {"'self'", "'none'", "'unsafe-inline'", "data:"}


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = [d.split() for d in policy.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def _check_headers(response) -> dict[str, list[str]]:
    csp = _csp(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    return csp


@pytest.mark.parametrize(
    ("url", "signed_in"),
    [
        ("/login", False),
        ("/", True),
        (f"/api/v1/grids/{A}", True),
        ("/api/v1/households", True),
        ("/api/v1/grids", False),
        ("/api/v1/health", False),
    ],
)
def test_security_headers_and_no_other_host_without_basemap(
    app, anonymous, login_as, url, signed_in
):
    client = login_as("chief") if signed_in else anonymous
    response = client.get(url)
    assert response.status_code in (200, 401)
    csp = _check_headers(response)
    sources = {s for values in csp.values() for s in values}
    others = {s for s in sources if s not in ALLOWED_SOURCES and not s.startswith("'nonce-")}
    assert others == set()
    assert "Strict-Transport-Security" not in response.headers
    if signed_in:
        assert "no-store" in response.headers["Cache-Control"]


def test_https_answers_carry_hsts(login_as):
    response = login_as("chief").get(f"/api/v1/grids/{A}", base_url="https://gridmap.example")
    assert response.status_code == 200
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_each_page_gets_its_own_script_nonce(login_as):
    chief = login_as("chief")
    first, second = (_csp(chief.get("/"))["script-src"] for _ in range(2))
    assert "'unsafe-inline'" not in first
    assert [s for s in first if s.startswith("'nonce-")] != [
        s for s in second if s.startswith("'nonce-")
    ]


def test_a_configured_basemap_adds_only_its_own_host(settings, session_factory):
    app = create_app(settings.replace(basemap_crs="wgs84"))
    app.config["TESTING"] = True
    db.use_sessions(app, session_factory)
    response = app.test_client().get("/login")
    csp = _check_headers(response)
    assert csp["img-src"] == ["'self'", "data:", "https://tile.openstreetmap.org"]
    assert csp["connect-src"] == ["'self'"] and csp["script-src"][0] == "'self'"


def test_openapi_description_and_docs_are_public(anonymous):
    spec = anonymous.get("/api/openapi.json")
    assert spec.status_code == 200
    paths = spec.get_json()["paths"]
    assert {"/api/v1/reveal", "/api/v1/auth/token", "/api/v1/grids/{code}"} <= set(paths)
    assert anonymous.get("/api/swagger").status_code == 200
    _check_headers(spec)


def test_errors_carry_no_stack_trace(app, anonymous, world):
    client = client_for(app, "not-a-token")
    for response in (client.get("/api/v1/grids"), anonymous.get("/api/v1/nothing-here")):
        text = response.get_data(as_text=True)
        assert response.status_code in (401, 404)
        assert "Traceback" not in text and 'File "' not in text
