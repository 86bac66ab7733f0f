"""500 malformed bodies for every write endpoint of the API: no server error, nothing stored.

The write endpoints are read from the app's URL map (POST, PUT, PATCH, DELETE under ``/api/``
and ``/open311/``), so a new endpoint is fuzzed as soon as it exists. Each gets hypothesis-made
bodies: JSON of the wrong shape (not an object, a field of the wrong type, a required field
missing or null, NaN/Infinity, numbers beyond any column, huge strings), truncated JSON, deep
nesting, invalid UTF-8, the right body under the wrong content type, form bodies, and for
Open311 malformed form fields. The caller has the endpoint's capability and the right If-Match,
so the body is what decides.

Expected: no answer ≥ 500; every body refused with a 4xx (an endpoint that reads no body may
answer 2xx to an empty body: logout, unlock, a password reset); the row count of every table
unchanged except ``audit_log``, which records refused writes on purpose
(``gridmap.access.security._audit_refusal``), ``login_throttle``, which counts refused logins
(``gridmap.access.auth.login``), and the notice a reset with an empty body leaves.

In-process (Flask test client) for speed, on the live deployment's database: the same app
code and the same PostgreSQL as the gunicorn tests, with commits. Each body comes from a client
address of its own: ``gridmap.access.security.limiter`` is one module-level ``Limiter`` whose
default limit is set by the first app created in the process (Flask-Limiter keeps the first
``RATELIMIT_DEFAULT``), so the raised limit of this app would be ignored and 429s would answer
instead of the app.
"""

from __future__ import annotations

import json
import re
import typing
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from sqlalchemy import create_engine, text

from gridmap import create_app
from gridmap.access import auth
from gridmap.api.common import CATEGORY_CODE, PHONE
from gridmap.core import db
from gridmap.core.settings import Settings
from tests.conftest import COMMUNITY
from tests.requests.conftest import IN_01001, intake_body
from tests.resilience.conftest import LIVE_ENV, Deployment, table_counts

EXAMPLES = 500
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: Refused writes are audited on purpose, and refused logins counted per name and address
#: (login throttling): the tables a refusal may add rows to.
WRITTEN_ON_REFUSAL = {"audit_log", "login_throttle"}
#: Tables that an endpoint reading no body writes when it accepts the empty one: a reset
#: leaves its notice to the user, a refresh of the service map queues its job.
WRITTEN_WITHOUT_BODY = {
    "admin.reset_password": {"user_notice"},
    "service_map.refresh_service_map": {"job", "procrastinate_jobs", "procrastinate_events"},
}
#: Endpoints whose data comes as a form (Open311 GeoReport v2), not as JSON.
FORM_ENDPOINTS = {"open311.create_request"}
MAX_BODY = Settings().max_body_bytes


def write_endpoints(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every write under /api/ and /open311/."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/open311/")):
            found += [
                (rule.endpoint, m, rule.rule) for m in sorted((rule.methods or set()) & UNSAFE)
            ]
    return sorted(found)


ENDPOINTS = write_endpoints(create_app(Settings(basemap_crs="none")))


# ----------------------------------------------------------------------- valid bodies


def _templates(ids: dict[str, int]) -> dict[str, dict[str, Any]]:
    """A valid body per endpoint: the malformed ones are made from it."""
    return {
        "auth.token": {"username": "r-target", "password": "wrong-password"},
        "personal.reveal": {"object": "person", "id": 3, "field": "name"},
        "assignment.add_staff": {"person_id": 5, "role": "grid_worker"},
        "assignment.end_staff": {"end_date": "2099-12-31"},
        "assignment.change_coverage": {"op": "assign", "person_id": 4, "household_ids": [1]},
        "assignment.propose_division": {"member_ids": [4], "min_load": 0, "max_load": 30},
        "assignment.accept_division": {"assignments": [{"household_id": 1, "person_id": 4}]},
        "requests.create_request": intake_body(),
        "requests.transition": {"action": "comment", "note": "已联系居民"},
        "admin.create_user": {"username": "r-fuzz-new", "password": "password-123"},
        "auth.change_password": {
            "current_password": "not-the-current-password",
            "new_password": "a-new-password-789",
        },
        "admin.grant_role": {"role": "member", "person_id": 4},
        "open311.create_request": {
            "service_code": "sanitation.garbage",
            "lat": str(IN_01001[1]),
            "long": str(IN_01001[0]),
            "description": "垃圾桶满了",
            "phone": "13912345678",
            "email": "resident@example.cn",
        },
    }


@dataclass
class Target:
    """Where and as whom one endpoint is fuzzed."""

    endpoint: str
    method: str
    path: str
    token: str | None
    if_match: str | None
    template: dict[str, Any]
    model: type[BaseModel] | None
    form: bool


def _token_for(view: Any, tokens: dict[str, str]) -> str | None:
    if getattr(view, "public", False):
        return None
    needed: frozenset[str] = getattr(view, "capabilities", frozenset())
    if needed <= {auth.SIGNED_IN}:
        return tokens["leaver"]  # logout: its own token, logged out by the first body
    for name, role in (("street", "street_admin"), ("sysadmin", "system_admin")):
        if needed & auth.CAPABILITIES[role]:
            return tokens[name]
    return tokens["secadmin"]


def _path(rule: str, values: dict[str, Any]) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(values.get(m.group(1), 1)), rule)


def _etag(client: FlaskClient, token: str | None, url: str | None) -> str | None:
    if url is None:
        return None
    got = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200, got.get_data(as_text=True)
    return got.headers["ETag"]


# ------------------------------------------------------------------------ strategies

SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**70),
    st.floats(),
    st.text(max_size=30),
)
JUNK = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
NOT_A_LIST = st.one_of(
    st.dictionaries(st.text(max_size=8), JUNK, min_size=1, max_size=3),
    st.text(max_size=20),
    st.integers(),
    st.floats(),
    st.booleans(),
)
NOT_AN_OBJECT = st.one_of(st.lists(JUNK, max_size=4), st.text(max_size=20), st.integers())
NOT_A_SCALAR = st.one_of(
    st.lists(JUNK, max_size=4), st.dictionaries(st.text(max_size=8), JUNK, max_size=3)
)
HUGE_TEXT = st.sampled_from(["界" * 100_000, "a" * 1_000_000, "\x00" * 5000, "\ud800" * 10])
OUT_OF_RANGE = st.one_of(st.integers(min_value=2**31, max_value=2**80), st.integers(max_value=0))


def _wrong_for(value: Any) -> st.SearchStrategy[Any]:
    """Values that cannot stand where ``value`` is valid."""
    if isinstance(value, list):
        return NOT_A_LIST
    if isinstance(value, dict):
        return NOT_AN_OBJECT
    if isinstance(value, bool):
        return NOT_A_SCALAR
    if isinstance(value, int):
        return NOT_A_SCALAR | OUT_OF_RANGE | st.sampled_from([1.5, "1 2", "一"])
    if isinstance(value, float):
        return NOT_A_SCALAR | st.sampled_from([float("nan"), float("inf"), -float("inf")])
    return NOT_A_SCALAR | HUGE_TEXT


@dataclass(frozen=True)
class Sent:
    """One malformed request: what kind, its bytes and content type."""

    kind: str
    data: bytes
    content_type: str | None = "application/json"


def _json(kind: str, value: Any) -> Sent:
    return Sent(kind, json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))


@st.composite
def _field_mutation(draw: st.DrawFn, template: dict[str, Any], model: Any) -> Sent:
    """The valid body with one field wrong: its type, missing, null or out of range."""
    body = json.loads(json.dumps(template))
    required = [n for n, f in (model.model_fields.items() if model else []) if f.is_required()]
    how = draw(st.sampled_from(["wrong"] * 3 + (["missing", "null"] if required else [])))
    if how == "wrong":
        name = draw(st.sampled_from(sorted(body)))
        body[name] = draw(_wrong_for(body[name]))
        return _json(f"field {name}: wrong value", body)
    name = draw(st.sampled_from(required))
    if how == "missing":
        body.pop(name, None)
    else:
        body[name] = None
    return _json(f"field {name}: {how}", body)


@st.composite
def _raw(draw: st.DrawFn, template: dict[str, Any]) -> Sent:
    """Bytes that are no JSON object at all, or the valid body sent wrongly."""
    text_ = json.dumps(template, ensure_ascii=False)
    raw = text_.encode()
    how = draw(
        st.sampled_from(["truncated", "utf8", "nesting", "content-type", "form", "not-object"])
    )
    if how == "truncated":
        return Sent(how, raw[: draw(st.integers(0, len(raw) - 1))])
    if how == "utf8":
        at = draw(st.integers(0, len(raw)))
        # Not an encoded surrogate (ED A0 80): json.loads decodes bytes with surrogatepass.
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xf8\x88\x80\x80", b"\x80"]))
        return Sent(how, raw[:at] + bad + raw[at:])
    if how == "nesting":
        depth = draw(st.integers(1_000, 30_000))
        key = draw(st.sampled_from([None, *sorted(template)]))
        if key is None:  # an object of unknown keys could be valid: nest lists here
            return Sent(f"nesting {depth}", ("[" * depth + "1" + "]" * depth).encode())
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        inner = opener * depth + "1" + closer * depth
        nested = json.dumps(template | {key: "<nested>"}, ensure_ascii=False)
        return Sent(f"nesting {depth} in {key}", nested.replace('"<nested>"', inner).encode())
    if how == "content-type":
        kind = draw(
            st.sampled_from(
                [None, "text/plain", "application/xml", "multipart/form-data; boundary=x"]
            )
        )
        return Sent(f"content-type {kind}", raw, kind)
    if how == "form":
        fields = draw(st.dictionaries(st.text(max_size=10), st.text(max_size=20), min_size=1))
        form = "&".join(f"{k}={v}" for k, v in fields.items())
        return Sent(how, form.encode(), "application/x-www-form-urlencoded")
    value = draw(NOT_AN_OBJECT.filter(lambda v: not str(v).lstrip().startswith("{")))
    return _json("not an object", value)


FIXED = [
    Sent("empty", b""),
    Sent("null", b"null"),
    Sent("NaN", b"NaN"),
    Sent("whitespace", b" \n\t"),
    Sent("oversized", b'{"a": "' + b"x" * MAX_BODY + b'"}'),
]


# --------------------------------------------------------------------------- Open311 form

_POINT_TEXT = ["abc", "NaN", "nan", "inf", "-Infinity", "1e400", "", " ", "1,5", "0x10", "95"]
_FORM_INVALID: dict[str, st.SearchStrategy[str]] = {
    "service_code": st.text(max_size=50).filter(
        lambda s: not re.fullmatch(CATEGORY_CODE, s.strip())
    )
    | st.just("no.such-service"),
    "lat": st.sampled_from(_POINT_TEXT) | st.floats(min_value=45, max_value=1e300).map(str),
    "long": st.sampled_from(_POINT_TEXT) | st.floats(min_value=140, max_value=1e300).map(str),
    "description": st.sampled_from(["", "   ", "x" * 2001, "界" * 100_000]),
    "email": st.text(max_size=30).filter(lambda s: "@" not in s and s.strip()),
    "phone": st.text(max_size=30).filter(lambda s: not re.fullmatch(PHONE, s.strip())),
    "media_url": st.text(max_size=30).filter(lambda s: not s.strip().startswith("http")),
    "address_id": st.sampled_from(["0", "-1", "abc", "1.5", "9" * 30, "1"]),
}


def _encode_form(fields: dict[str, str]) -> bytes:
    from urllib.parse import quote

    return "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in fields.items()).encode()


@st.composite
def _form_mutation(draw: st.DrawFn, template: dict[str, str]) -> Sent:
    """The Open311 form with one field malformed, missing, or with invalid UTF-8."""
    fields = dict(template)
    name = draw(st.sampled_from(sorted(_FORM_INVALID)))
    how = draw(st.sampled_from(["invalid", "invalid", "missing", "utf8"]))
    if how == "missing" and name in ("service_code", "description", "lat", "long"):
        fields.pop(name)
    elif how == "utf8" and name in template:
        data = _encode_form(fields).replace(f"{name}=".encode(), f"{name}=%FF%FE".encode(), 1)
        return Sent(f"form {name}: invalid UTF-8", data, "application/x-www-form-urlencoded")
    else:
        fields[name] = draw(_FORM_INVALID[name])
    form = _encode_form(fields)
    return Sent(f"form {name}: {how}", form, "application/x-www-form-urlencoded")


def bodies(target: Target) -> st.SearchStrategy[Sent]:
    """The malformed bodies of one endpoint."""
    mixed: list[st.SearchStrategy[Sent]] = [st.sampled_from(FIXED), _raw(target.template)]
    if target.form:
        mixed += [_form_mutation(target.template)] * 3
    elif target.template:
        mixed += [_field_mutation(target.template, target.model)] * 3
    return st.one_of(mixed)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def fuzz_app(deployment: Deployment) -> Iterator[Flask]:
    """The app in-process on the live deployment's database (commits are real)."""
    limits = {"write_rate_limit": LIVE_ENV["GRIDMAP_WRITE_RATE_LIMIT"]}
    limits["login_rate_limit"] = LIVE_ENV["GRIDMAP_LOGIN_RATE_LIMIT"]
    app = create_app(Settings(database_url=deployment.app_url, basemap_crs="none", **limits))
    yield app
    db.dispose(app)


@pytest.fixture(scope="module")
def fuzz_ids(deployment: Deployment, fuzz_app: Flask) -> dict[str, int]:
    """A request to act on and the post to end, made for these tests."""
    client = fuzz_app.test_client()
    filed = client.post(
        "/api/v1/requests",
        json=intake_body(),
        headers={"Authorization": f"Bearer {deployment.tokens['street']}"},
    )
    assert filed.status_code == 201, filed.get_data(as_text=True)
    engine = create_engine(deployment.owner_url)
    with engine.connect() as conn:
        post = conn.scalar(
            text(
                "SELECT a.id FROM assignment a JOIN grid g ON g.id = a.grid_id "
                "WHERE g.code = :code AND a.person_id = 5"
            ),
            {"code": COMMUNITY + "02002"},
        )
    engine.dispose()
    return {"request_id": filed.get_json()["id"], "assignment_id": post}


def _target(
    app: Flask, live: Deployment, ids: dict[str, int], endpoint: str, method: str, rule: str
) -> Target:
    view = app.view_functions[endpoint]
    hints = typing.get_type_hints(view)
    token = _token_for(view, live.tokens)
    values = {
        "request_id": ids["request_id"],
        "assignment_id": ids["assignment_id"],
        "user_id": live.user_ids["target"],
        "code": COMMUNITY + "01001",
    }
    if endpoint.startswith("assignment.") and endpoint != "assignment.change_coverage":
        values["code"] = COMMUNITY + "02002"
    etag_of = {
        "requests.transition": f"/api/v1/requests/{ids['request_id']}",
        "assignment.add_staff": f"/api/v1/grids/{values['code']}/staff",
        "assignment.end_staff": f"/api/v1/grids/{COMMUNITY}02002/staff",
        "assignment.change_coverage": f"/api/v1/grids/{values['code']}/coverage",
        "assignment.accept_division": f"/api/v1/grids/{values['code']}/coverage",
    }
    return Target(
        endpoint=endpoint,
        method=method,
        path=_path(rule, values),
        token=token,
        if_match=_etag(app.test_client(), token, etag_of.get(endpoint)),
        template=_templates(live.user_ids).get(endpoint, {}),
        model=hints.get("body"),
        form=endpoint in FORM_ENDPOINTS,
    )


def _counts(live: Deployment) -> dict[str, int]:
    return {t: n for t, n in table_counts(live.owner_url).items() if t not in WRITTEN_ON_REFUSAL}


# --------------------------------------------------------------------------------- test


def test_every_write_endpoint_is_fuzzed() -> None:
    names = {e for e, _, _ in ENDPOINTS}
    assert "requests.create_request" in names and "open311.create_request" in names
    assert len(ENDPOINTS) >= 15, ENDPOINTS


@pytest.mark.parametrize(("endpoint", "method", "rule"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_malformed_bodies_are_refused_and_store_nothing(
    deployment: Deployment,
    fuzz_app: Flask,
    fuzz_ids: dict[str, int],
    endpoint: str,
    method: str,
    rule: str,
) -> None:
    target = _target(fuzz_app, deployment, fuzz_ids, endpoint, method, rule)
    reads_body = target.form or target.model is not None
    client = fuzz_app.test_client()
    headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
    if target.if_match:
        headers["If-Match"] = target.if_match
    before = _counts(deployment)
    statuses: Counter[int] = Counter()
    wrong: list[str] = []

    def send(sent: Sent) -> None:
        # A new client address each time: the limiter's default limit is the first app's in
        # this process (see the module docstring), and 429s would hide what the body does.
        n = sum(statuses.values())
        response = client.open(
            target.path,
            method=method,
            data=sent.data,
            headers=headers,
            content_type=sent.content_type,
            environ_base={"REMOTE_ADDR": f"10.{len(endpoint)}.{n // 250}.{n % 250 + 1}"},
        )
        statuses[response.status_code] += 1
        accepted = response.status_code < 400 and reads_body
        if response.status_code >= 500 or accepted:
            excerpt = sent.data[:120]
            wrong.append(f"{response.status_code} {sent.kind}: {excerpt!r}")

    for sent in FIXED:
        send(sent)

    @settings(
        max_examples=EXAMPLES - len(FIXED),
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(bodies(target))
    def fuzz(sent: Sent) -> None:
        send(sent)

    fuzz()
    after = _counts(deployment)
    print(f"\n{endpoint}: {sum(statuses.values())} bodies → {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) >= EXAMPLES
    kinds = Counter(w.split(":")[0] for w in wrong)
    assert not wrong, f"{len(wrong)} wrong answers {dict(kinds)}; first: {wrong[:5]}"
    changed = {t: (before[t], after[t]) for t in before if before[t] != after.get(t)}
    if not reads_body:
        changed = {
            t: n for t, n in changed.items() if t not in WRITTEN_WITHOUT_BODY.get(endpoint, ())
        }
    assert not changed, changed
