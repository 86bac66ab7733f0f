"""The OpenAPI document is the contract: every operation says what it answers on success,
every error it can answer as one problem+json schema, and its headers; the answers the
server gives match it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from gridmap.api import answers, contract
from gridmap.demo import loader as demo
from tests.conftest import COMMUNITY
from tests.helpers import PROBLEM, matches_the_document, path_in
from tests.requests.conftest import file

MICRO = COMMUNITY + "01001"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
def spec(anonymous) -> dict[str, Any]:
    answer = anonymous.get("/api/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.get_json()
    return document


def _operations(spec: dict[str, Any]):
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            yield method, path, op


def _error_content(path: str) -> dict[str, Any]:
    """problem+json; under ``/open311/`` GeoReport v2's error list, in JSON or XML."""
    if path.startswith("/open311/"):
        media = ("application/json", "text/xml")
        return {m: {"schema": {"$ref": "#/components/schemas/Open311Errors"}} for m in media}
    return {PROBLEM: {"schema": PROBLEM_REF}}


def test_every_operation_documents_its_success(spec):
    missing = []
    for method, path, op in _operations(spec):
        successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        if not any(r.get("content") for r in successes.values()):
            missing.append(f"{method.upper()} {path}")
    assert missing == [], "no success answer documented (gridmap.api.contract.SUCCESS)"


def test_every_error_is_one_problem_schema(spec):
    schemas = spec["components"]["schemas"]
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "detail", "code"}
    assert schemas["Open311Errors"]["items"] == {"$ref": "#/components/schemas/Open311Error"}
    for method, path, op in _operations(spec):
        errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
        assert {"400", "414"} <= set(errors), (method, path)
        for status, answer in errors.items():
            if int(status) in contract.FRONT_STATUSES:  # the server in front's own page
                assert "content" not in answer, (method, path, status)
                continue
            assert answer["content"] == _error_content(path), (method, path, status)
        if op.get("security"):
            assert {"401", "403", "404"} <= set(errors), (method, path)
            assert "WWW-Authenticate" in errors["401"]["headers"]
        if method in ("post", "put", "patch", "delete"):
            assert {"409", "422", "429"} <= set(errors), (method, path)
            assert "Retry-After" in errors["429"]["headers"]
    assert "ValidationErrorModel" not in json.dumps(spec)


def test_headers_are_documented(spec):
    paths = spec["paths"]
    for method, path in contract.IF_MATCH:
        op = paths[path][method]
        names = {p["name"] for p in op["parameters"] if p["in"] == "header"}
        assert "If-Match" in names and {"412", "428"} <= set(op["responses"]), path
    for method, path in contract.IDEMPOTENT:
        names = {p["name"] for p in paths[path][method]["parameters"] if p["in"] == "header"}
        assert "Idempotency-Key" in names, path
    staff = paths["/api/v1/grids/{code}/staff"]
    assert "ETag" in staff["get"]["responses"]["200"]["headers"]
    assert "ETag" in staff["post"]["responses"]["201"]["headers"]
    filed = paths["/api/v1/requests"]["post"]["responses"]["201"]["headers"]
    assert {"ETag", "Location"} <= set(filed)
    assert "Location" in paths["/api/v1/rates-jobs"]["post"]["responses"]["202"]["headers"]
    assert "Retry-After" in paths["/api/v1/grids"]["get"]["responses"]["503"]["headers"]


def _parameter(spec, path, method, name) -> dict[str, Any]:
    found = [p for p in spec["paths"][path][method]["parameters"] if p["name"] == name]
    assert len(found) == 1, (path, name)
    schema: dict[str, Any] = found[0]["schema"]
    return schema


def test_parameters_are_precise(spec):
    for method, path, op in _operations(spec):
        for parameter in op.get("parameters", []):
            # A query parameter is sent or not: never "null".
            assert "null" not in json.dumps(parameter["schema"]), (method, path, parameter)
    assert _parameter(spec, "/api/v1/grids", "get", "bbox")["pattern"]
    assert _parameter(spec, "/api/v1/grids", "get", "cursor")["pattern"] == "^[0-9]{1,9}$"
    period = _parameter(spec, "/api/v1/review/summary", "get", "period")["pattern"]
    assert "2200" in period and "W" in period
    day = _parameter(spec, "/api/v1/grids", "get", "at")
    assert day["format"] == "date" and "19[0-9]{2}" in day["pattern"]
    intake = spec["components"]["schemas"]["IntakeBody"]
    assert [choice["required"] for choice in intake["oneOf"]] == [["location"], ["household_id"]]
    # A ranking's period: a month (or the default), or from and to; never both.
    assert len(spec["components"]["schemas"]["RateJobBody"]["oneOf"]) == 2
    upload = spec["paths"]["/api/v1/grid-imports"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["required"] == ["file", "crs"]


def test_the_patterns_say_what_the_server_checks(client, staffed):
    for url in (
        "/api/v1/grids?cursor=1234567890",
        "/api/v1/grids?bbox=1e2,39,117,40",
        "/api/v1/review/summary?period=1899-12",
        "/api/v1/grids?at=1899-12-31",
    ):
        answer = client.get(url)
        assert answer.status_code == 400 and answer.mimetype == PROBLEM, url
    assert client.get("/api/v1/grids?cursor=999999999").status_code == 200
    assert client.get("/api/v1/grids?bbox=116.40,39.90,116.42,39.92").status_code == 200


def _conforms(model: type[BaseModel], answer) -> None:
    assert answer.status_code < 300, answer.get_data(as_text=True)
    model.model_validate(answer.get_json(force=True))


def test_answers_match_their_models(client, staffed, anonymous):
    """The serializers' output against the documented models (pydantic validates)."""
    _conforms(answers.FeatureCollection, client.get("/api/v1/grids?limit=2"))
    _conforms(answers.Feature, client.get(f"/api/v1/grids/{MICRO}"))
    _conforms(answers.FeatureCollection, client.get("/api/v1/households"))
    _conforms(answers.Me, client.get("/api/v1/auth/me"))
    _conforms(answers.Staff, client.get(f"/api/v1/grids/{MICRO}/staff"))
    _conforms(answers.GridCoverage, client.get(f"/api/v1/grids/{MICRO}/coverage"))
    _conforms(answers.HouseholdCoverage, client.get("/api/v1/households/1/coverage"))
    _conforms(answers.Located, client.get("/api/v1/locate?lon=116.405&lat=39.915"))
    _conforms(answers.SearchResults, client.get("/api/v1/search?q=测试"))
    _conforms(answers.Report, client.get("/api/v1/reports/uncovered"))
    _conforms(answers.Health, anonymous.get("/api/v1/health"))
    refused = client.get("/api/v1/grids?bbox=x")
    answers.Problem.model_validate(refused.get_json())


OGC = "/api/v1/ogc"
CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"


def test_ogc_and_tilejson_answers_match_the_document(client, staffed, session, spec):
    demo.seed_categories(session)
    session.commit()
    filed = file(client)  # a request, so that its collection has a feature
    for url in (
        OGC,
        f"{OGC}/conformance",
        f"{OGC}/collections",
        f"{OGC}/collections/requests",
        f"{OGC}/collections/grids-micro",
        f"{OGC}/collections/requests/items/{filed['id']}",
        "/api/v1/tiles/grids.json",
        "/api/v1/tiles/requests.json?period=2026-12",
    ):
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.get_data(as_text=True))
        matches_the_document(spec, "get", path_in(spec, url), answer)
    collections = client.get(f"{OGC}/collections").get_json()["collections"]
    assert {c["id"] for c in collections} >= {"grids-micro", "households", "requests"}
    for collection in collections:
        for query in ("", "?limit=1&offset=1", f"?crs={CGCS2000}"):
            url = f"{OGC}/collections/{collection['id']}/items{query}"
            answer = client.get(url)
            assert answer.status_code == 200, answer.get_data(as_text=True)
            matches_the_document(spec, "get", path_in(spec, url), answer)
    page = client.get(f"{OGC}/collections/grids-micro/items?limit=1&offset=1").get_json()
    assert {link["rel"] for link in page["links"]} >= {"self", "next", "prev"}
    assert page["numberMatched"] == 4 and page["numberReturned"] == 1
