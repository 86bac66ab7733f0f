"""Ids and booleans are parsed strictly: full-width digits in a path id and ``true`` (or
``"5"``, ``1.0``) for an id or ``"yes"`` for a boolean in a JSON body are a 400, never read
as another id. Every route with an id converter and every id field of every JSON body is
tried, from the URL map and the OpenAPI description."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.security.conftest import A
from tests.security.test_input_limits import BODY_ROLES

WIDE = "２１５２"


def _url(rule: Any) -> str:
    url = re.sub(r"<int:[a-z_]+>", WIDE, rule.rule)
    url = re.sub(r"<(?:string:)?[a-z_]*code>", A, url)
    # Open311 answers JSON or XML (its errors in its own list); the reports' downloads CSV.
    return re.sub(r"<(?:string:|any\([^)]*\):)?fmt>", _format(rule.rule), url)


def _format(rule: str) -> str:
    return "json" if rule.startswith("/open311/") else "csv"


def _error_type(rule: str) -> str:
    return "application/json" if rule.startswith("/open311/") else "application/problem+json"


def test_every_int_path_converter_refuses_full_width_digits(app, login_as):
    client = login_as("street_admin")
    rules = [r for r in app.url_map.iter_rules() if "<int:" in r.rule]
    assert len(rules) >= 15
    answers = {}
    for rule in rules:
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        response = client.open(_url(rule), method=method, json={})
        expected = (400, _error_type(rule.rule))
        answers[f"{method} {rule.rule}"] = (response.status_code, response.mimetype) == expected
    assert all(answers.values()), answers


def test_a_full_width_request_id_is_not_request_2152(login_as):
    response = login_as("street_admin").get(f"/api/v1/requests/{WIDE}")
    assert response.status_code == 400
    assert "ASCII digits" in response.get_json()["detail"]


def _schema(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _types(spec: dict[str, Any], node: dict[str, Any]) -> set[str]:
    node = _schema(spec, node)
    return {_schema(spec, n).get("type", "") for n in node.get("anyOf", [node])}


def _id_and_flag_fields(spec: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(method, path, field, wrong value) for every integer id, list of ids and boolean of
    every JSON body."""
    out: list[tuple[str, str, str, Any]] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            body = _schema(spec, content["application/json"]["schema"])
            for name, prop in body.get("properties", {}).items():
                types = _types(spec, prop)
                if "integer" in types and (name == "id" or name.endswith("_id")):
                    out += [(method, path, name, w) for w in (True, "5", 1.0)]
                elif "array" in types and name.endswith("_ids"):
                    out.append((method, path, name, [True]))
                elif "boolean" in types:
                    out += [(method, path, name, w) for w in ("yes", 1)]
    return out


def test_no_json_body_reads_true_as_an_id_or_yes_as_a_boolean(login_as):
    clients = [login_as(role) for role in BODY_ROLES]
    spec = clients[0].get("/api/openapi.json").get_json()
    fields = _id_and_flag_fields(spec)
    assert {f[2] for f in fields} >= {"id", "person_id", "household_id", "household_ids", "fresh"}
    accepted = []
    for method, path, name, wrong in fields:
        url = re.sub(r"\{[a-z_]+\}", "1", re.sub(r"\{[a-z_]*code\}", A, path))
        for client in clients:
            response = client.open(
                url,
                method=method.upper(),
                data=json.dumps({name: wrong}),
                content_type="application/json",
            )
            if response.status_code not in (401, 403):
                break
        errors = response.get_json().get("errors", []) if response.status_code == 400 else []
        if not any(e["field"].split(".")[0] == name for e in errors):
            accepted.append((method, path, name, wrong, response.status_code))
    assert accepted == []


@pytest.mark.parametrize("wrong", [True, "1", 1.0])
def test_a_reveal_of_id_true_is_refused_not_person_1(login_as, wrong):
    response = login_as("chief").post(
        "/api/v1/reveal", json={"object": "person", "id": wrong, "field": "phone"}
    )
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "id"


def test_a_scope_in_full_width_digits_is_refused(login_as, make_user, session):
    from gridmap.storage.models import User

    make_user("grid_worker", A)
    victim = session.query(User).order_by(User.id.desc()).first()
    response = login_as("security_admin").put(
        f"/api/v1/admin/users/{victim.id}/role",
        json={"role": "chief", "scope_code": "１１０１０１"},
    )
    assert response.status_code == 400, response.get_data(as_text=True)
