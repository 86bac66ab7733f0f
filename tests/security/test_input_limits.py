"""Input that used to crash the server (the fuzzing findings of issue 13) is a 4xx: dates and
periods outside the supported years, text PostgreSQL cannot store (NUL, lone surrogates)
anywhere in a JSON body, and full-width digits. The property-based test draws extreme dates
for every date and period query parameter the OpenAPI description lists, so a parameter added
later is covered without a new test."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmap.core import clock
from tests.security.conftest import A

#: The formats the API's date and period types declare in the OpenAPI description.
DATE_FORMATS = ("date", "moment", "month", "period")
#: Query parameters that name a day, a moment or a period (each must have a format above).
DATE_LIKE = re.compile(r"^(at|date|since|until|from|to|period|month|start_date|end_date)$")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _problem(response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()


# ------------------------------------------------------------------- the seven fuzz findings


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("street_admin", "/api/v1/rates?period=0000-01"),
        ("street_admin", "/api/v1/rates.xlsx?period=0000-01"),
        ("street_admin", "/api/v1/rates?from=0001-01-01&to=0001-01-31"),
        ("street_admin", "/api/v1/patrols?date=9999-12-31"),
        ("street_admin", "/api/v1/worklists?date=9999-12-31"),
        ("street_admin", "/api/v1/review/summary?period=9999-W52"),
        ("street_admin", "/api/v1/review/summary?period=９９９９-W52"),
        ("street_admin", "/api/v1/review/summary?period=2025-W53"),  # 2025 has 52 weeks
        ("street_admin", "/api/v1/review/heat?from=2026-01&to=9999-W52"),
        ("street_admin", "/api/v1/tiles/requests/14/13492/6208.mvt?period=9999-W52"),
        ("street_admin", "/api/v1/review/report.xlsx?month=0000-12"),
        ("street_admin", "/api/v1/grids?at=9999-12-31"),
        ("street_admin", "/api/v1/grids?at=0"),  # a UNIX time is not a date
        ("audit_admin", "/api/v1/audit?until=0001-01-01"),
        ("audit_admin", "/api/v1/audit.csv?since=9999-12-31T23:59:59-12:00"),
    ],
)
def test_extreme_dates_and_periods_are_a_400(login_as, role, url):
    body = _problem(login_as(role).get(url))
    assert body["code"] == "invalid-input"


def test_the_audit_page_refuses_year_one(login_as):
    response = login_as("audit_admin").get(
        "/audit?until=0001-01-01", headers={"Accept": "text/html"}
    )
    assert response.status_code == 400
    assert "结束时间应在 1900–2200 年之间" in response.get_data(as_text=True)


def test_the_ranking_page_refuses_year_zero(login_as):
    response = login_as("street_admin").get(
        "/requests/ranking?period=0000-01", headers={"Accept": "text/html"}
    )
    assert response.status_code == 400


def _send(client: FlaskClient, method: str, url: str, body: Any):
    # json.dumps escapes NUL and surrogates as \u0000 / \ud800, as a fuzzer's JSON would.
    return client.open(url, method=method, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    "body",
    [
        {"role": "chief", "scope_code": "\ud800"},
        {"role": "chief", "scope_code": A + "\x00"},
        {"role": "chief\x00", "scope_code": A},
        {"role": "chief", "scope_code": A, "\x00": 1},
        {"role": "chief", "scope_code": A, "\udfff": 1},
    ],
)
def test_unstorable_text_in_a_grant_is_a_400_and_nothing_changes(
    login_as, make_user, session, body
):
    make_user("grid_worker", A)
    from gridmap.storage.models import User

    victim = session.query(User).order_by(User.id.desc()).first()
    answer = _problem(
        _send(login_as("security_admin"), "PUT", f"/api/v1/admin/users/{victim.id}/role", body)
    )
    assert "NUL" in answer["detail"]
    assert not re.search("[\x00\ud800-\udfff]", json.dumps(answer, ensure_ascii=False))


def _json_bodied(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Every operation that takes a JSON body: (method, path with sample path values)."""
    out = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                url = re.sub(r"\{[a-z_]*code\}", A, path)
                out.append((method.upper(), re.sub(r"\{[a-z_]+\}", "1", url)))
    return out


#: Roles that together may call every operation with a JSON body.
BODY_ROLES = ("system_admin", "security_admin", "chief", "grid_worker", "member")
NUL_BODIES = [
    {"\x00": "x"},
    {"\ud800": "x"},
    {"note": "a\x00b"},
    {"note": "\ud83d"},
    {"time_limits": {"response": {"unit\x00": "hours"}}},
    {"points": [{"seq": 0, "t": "2026-01-01T00:00:00Z", "x": ["ok", "\x00"]}]},
]


@pytest.mark.parametrize("body", NUL_BODIES)
def test_no_json_body_anywhere_accepts_nul_or_a_lone_surrogate(login_as, body):
    """The whole NUL-in-JSONB family: every JSON body of the API, the text anywhere in it."""
    # The guard answers 401/403 before the body is read: each operation goes to a role that
    # may call it.
    clients = [login_as(role) for role in BODY_ROLES]
    spec = clients[0].get("/api/openapi.json").get_json()
    operations = _json_bodied(spec)
    assert len(operations) >= 15
    refused = {}
    for method, url in operations:
        for client in clients:
            response = _send(client, method, url, body)
            if response.status_code not in (401, 403):
                break
        refused[f"{method} {url}"] = (response.status_code, response.get_data(as_text=True))
    assert {k: v for k, v in refused.items() if v[0] != 400 or "NUL" not in v[1]} == {}


def test_a_nul_in_a_login_is_a_400(anonymous, session):
    response = _send(
        anonymous, "POST", "/api/v1/auth/token", {"username": "a\x00", "password": "x"}
    )
    assert "NUL" in _problem(response)["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/audit.csv?username=%00",
        "/api/v1/audit?action=%ED%A0%80",
        "/api/v1/audit?object_id=%F0%9F",
    ],
)
def test_query_text_that_cannot_be_stored_is_never_a_5xx(login_as, url):
    assert login_as("audit_admin").get(url).status_code < 500


# ------------------------------------------------------------ every date and period parameter


def _date_parameters(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(path, query parameter, format) of every GET date or period parameter."""
    found = []
    for path, operations in spec["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["in"] != "query":
                continue
            schema = parameter.get("schema", {})
            formats = {s.get("format") for s in [schema, *schema.get("anyOf", [])]}
            fmt = next((f for f in DATE_FORMATS if f in formats), None)
            if DATE_LIKE.match(parameter["name"]):
                assert fmt is not None, f"{path} {parameter['name']}: not a params date type"
            if fmt is not None:
                found.append((path, parameter["name"], fmt))
    return found


def _text(fmt: str, year: int, week: int, digits_wide: bool) -> str:
    sign = "-" if year < 0 else ""
    text = {
        "date": f"{sign}{abs(year):04d}-12-31",
        "moment": f"{sign}{abs(year):04d}-01-01T00:00:00+14:00",
        "month": f"{sign}{abs(year):04d}-01",
        "period": f"{sign}{abs(year):04d}-W{week:02d}",
    }[fmt]
    return text.translate(FULL_WIDTH) if digits_wide else text


YEARS = st.one_of(
    st.sampled_from([0, 1, 99, 1899, 1900, 2200, 2201, 9999, 10000, -1, -2026]),
    st.integers(-99_999, 99_999),
)


@pytest.fixture
def spec_and_clients(login_as) -> tuple[list[tuple[str, str, str]], dict[str, FlaskClient]]:
    clients = {role: login_as(role) for role in ("street_admin", "audit_admin")}
    spec = clients["street_admin"].get("/api/openapi.json").get_json()
    parameters = _date_parameters(spec)
    assert len(parameters) >= 20, parameters
    return parameters, clients


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_date_or_period_parameter_answers_a_5xx(spec_and_clients, data):
    parameters, clients = spec_and_clients
    path, name, fmt = data.draw(st.sampled_from(parameters), label="parameter")
    year = data.draw(YEARS, label="year")
    wide = data.draw(st.booleans(), label="full-width digits")
    text = _text(fmt, year, data.draw(st.integers(1, 53), label="week"), wide)
    url = re.sub(r"\{[a-z_]*code\}", A, path)
    url = re.sub(r"\{z\}/\{x\}/\{y\}", "14/13492/6208", url)
    # Open311 answers JSON or XML; the reports' downloads CSV.
    fmt_value = "json" if path.startswith("/open311/") else "csv"
    url = re.sub(r"\{[a-z_]+\}", "1", re.sub(r"\{fmt\}", fmt_value, url))
    client = clients["audit_admin" if "/audit" in path else "street_admin"]
    response = client.get(url, query_string={name: text})
    assert response.status_code < 500, (url, name, text, response.get_data(as_text=True))
    if wide or not clock.supported_year(year):
        assert response.status_code == 400, (url, name, text)
        # GeoReport v2 answers errors in its own shape ([{code, description}]).
        assert response.mimetype == "application/problem+json" or "/open311/" in url
