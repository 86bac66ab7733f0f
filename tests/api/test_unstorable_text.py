"""Text PostgreSQL cannot store is a 400 in every field: walked from the OpenAPI document.

For every operation of ``/api/openapi.json``, every string query and path parameter and every
string member of its JSON body (nested objects and arrays included) gets a value holding NUL
(U+0000), one field at a time; the rest of the request is a plausible one. The answer must be
a 400 problem+json naming the field (a 403 where only an administrator may use the
operation; one's own work, such as a visit or a claim, is walked as a role that does it),
never a 500. A new operation or field is covered as soon as it is
documented. Form fields (Open311's ``media_url``, an upload's ``crs``) and JSON's lone
surrogates are checked beside it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from gridmap.storage.models import AuditEntry
from tests.conftest import COMMUNITY, client_for
from tests.helpers import PROBLEM

NUL = "a\x00b"
MICRO = COMMUNITY + "01001"
#: Operations a street administrator may not use at all: refused (403) before any input.
ADMIN_ONLY = re.compile(
    r"^[A-Z]+ /api/v1/(admin/|audit|notifications/opt-outs)|^PUT /api/v1/categories"
)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    if "properties" in schema:  # an object (its oneOf only says which members go together)
        return schema
    for key in ("anyOf", "oneOf"):
        if key in schema:  # the first choice that is not null
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _resolve(spec, options[0]) if options else {"type": "null"}
    if "allOf" in schema:
        return _resolve(spec, schema["allOf"][0])
    return schema


def _plausible_string(schema: dict[str, Any]) -> str:
    pattern = schema.get("pattern", "")
    if "0-9]{12}" in pattern:
        return MICRO
    if schema.get("format") in ("date", "day"):
        return "2026-11-02"
    return "x"


def _instance(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value of ``schema`` with every property present (strings plausible, not valid)."""
    schema = _resolve(spec, schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            name: _instance(spec, member) for name, member in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [_instance(spec, schema.get("items", {}))]
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 116.405 if "lon" in str(schema.get("title", "")).lower() else 39.915
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _plausible_string(schema)


def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, member in value.items():
            yield from _string_paths(member, (*path, key))
    elif isinstance(value, list):
        for i, member in enumerate(value):
            yield from _string_paths(member, (*path, i))


def _with(value: Any, path: tuple[Any, ...], text: str) -> Any:
    if not path:
        return text
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _with(value[path[0]], path[1:], text)
    return copy


def _is_string(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    resolved = _resolve(spec, schema)
    return resolved.get("type", "string") == "string" and "enum" not in resolved


def _url(template: str, values: dict[str, Any]) -> str:
    """The path with its parameters filled in, the other values as the query string."""
    path = template
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    query = "&".join(
        f"{quote(n)}={quote(str(v), safe='')}"
        for n, v in values.items()
        if "{" + n + "}" not in template
    )
    return f"{path}?{query}" if query else path


def _cases(spec: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any] | None]]:
    """``(method, url, field, json body)`` of every NUL case of the document."""
    for template, operations in spec["paths"].items():
        for method, op in operations.items():
            params = op.get("parameters", [])
            values = {
                p["name"]: _instance(spec, p.get("schema", {}))
                for p in params
                if p["in"] in ("path", "query") and (p.get("required") or p["in"] == "path")
            }
            body_schema = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            body = None if body_schema is None else _instance(spec, body_schema)

            for p in params:
                if p["in"] in ("path", "query") and _is_string(spec, p.get("schema", {})):
                    yield (
                        method,
                        _url(template, values | {p["name"]: NUL}),
                        f"{p['in']} {p['name']}",
                        body,
                    )
            for where in _string_paths(body):
                dotted = ".".join(str(part) for part in where)
                yield method, _url(template, values), f"body {dotted}", _with(body, where, NUL)


@pytest.fixture
def spec(anonymous: FlaskClient) -> dict[str, Any]:
    answer = anonymous.get("/api/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.get_json()
    return document


def _check(answer: Any, method: str, url: str, field: str) -> int:
    shown = f"{method.upper()} {url} ({field}): {answer.get_data(as_text=True)[:300]}"
    if url.startswith("/open311/"):  # GeoReport v2 answers its own error list
        assert answer.status_code == 400, shown
        assert answer.get_json()[0]["code"] == 400, shown
        return 400
    assert answer.mimetype == PROBLEM, shown
    if answer.status_code == 403 and ADMIN_ONLY.search(f"{method.upper()} {url}"):
        return 403
    assert answer.status_code == 400, shown
    return 400


def test_nul_in_any_documented_field_is_a_400(spec, client, app, make_user, staffed, session):
    unit = client.post(
        "/api/v1/party/units", json={"code": "nul-unit", "name": "测试单位", "community": COMMUNITY}
    )
    # The street administrator first; operations of one's own work (a visit, 双报到, a claim,
    # a unit's quarter) by the first role that may call them.
    callers = [
        client,
        client_for(app, make_user("grid_worker", MICRO)),
        client_for(app, make_user("member", person_id=4)),
        client_for(app, make_user("unit", party_unit_id=unit.get_json()["id"])),
    ]
    seen: dict[int, int] = {}
    fields: set[tuple[str, str, str]] = set()
    for method, url, field, body in _cases(spec):
        headers = {"If-Match": "*", "Idempotency-Key": f"nul-{len(fields)}"}
        for caller in callers:
            answer = caller.open(url, method=method.upper(), json=body, headers=headers)
            if answer.status_code != 403:
                break
        status = _check(answer, method, url, field)
        seen[status] = seen.get(status, 0) + 1
        fields.add((method, url.split("?")[0], field))
    # Each refusal of a write is audited, its path scrubbed of the NUL it was refused for.
    refused = session.scalars(
        select(AuditEntry.object_id).where(AuditEntry.outcome == "failed")
    ).all()
    assert "a\ufffdb" in refused
    # The document has these: a walk that found none would prove nothing.
    assert seen.get(400, 0) >= 120, seen
    assert any(f[2] == "query grid" and "households.csv" in f[1] for f in fields)
    assert any(f[2].startswith("body photos") and f[1] == "/api/v1/requests" for f in fields)
    assert any(f[2].startswith("body photos") and "transitions" in f[1] for f in fields)


def test_nul_in_the_named_cases_is_a_400(client, staffed):
    """The four places a NUL once reached PostgreSQL (and answered 500)."""
    answer = client.get("/api/v1/households.csv?grid=%00")
    assert answer.status_code == 400 and answer.mimetype == PROBLEM
    assert "query parameter 'grid'" in answer.get_json()["detail"]
    for url in ("/api/v1/requests", "/api/v1/requests/1/transitions"):
        answer = client.post(
            url,
            json={"action": "start", "photos": ["https://img.example/\x00.jpg"]},
            headers={"If-Match": "*"},
        )
        assert answer.status_code == 400 and answer.mimetype == PROBLEM, url
        assert "photos.0" in answer.get_json()["detail"]


def test_nul_in_form_fields_is_a_400(client, staffed):
    form = {
        "service_code": "litter",
        "lat": "39.915",
        "long": "116.405",
        "description": "垃圾",
        "media_url": "https://img.example/\x00.jpg",
    }
    answer = client.post("/open311/v2/requests.json", data=form)
    assert answer.status_code == 400
    assert "media_url" in answer.get_data(as_text=True)
    upload = client.post(
        "/api/v1/grid-imports",
        data={"crs": "EPSG:4490\x00", "file": (io.BytesIO(b"code,name\n"), "grids.csv")},
        content_type="multipart/form-data",
    )
    assert upload.status_code in (400, 403) and upload.mimetype == PROBLEM


def test_surrogates_and_nul_names_are_400_too(client, app, make_user):
    raw = b'{"category": "litter", "description": "\\ud800"}'
    answer = client.post("/api/v1/requests", data=raw, content_type="application/json")
    assert answer.status_code == 400 and "description" in answer.get_json()["detail"]
    answer = client.get("/api/v1/grids?%00=1")
    assert answer.status_code == 400 and answer.mimetype == PROBLEM
    # Another role meets the same rule.
    worker = client_for(app, make_user("grid_worker", COMMUNITY))
    assert worker.get("/api/v1/search?q=%00").status_code == 400
