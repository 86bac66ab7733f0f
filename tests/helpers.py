"""Small helpers shared by the storage and API tests."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema_rs
import pandas as pd
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from gridmap.core import clock
from gridmap.storage.models import Assignment, Coverage, Grid, Household, Person

TABLES = (Grid, Household, Person, Assignment, Coverage)


def row_counts(session: Session) -> dict[str, int]:
    """Rows in every table, to prove that a rejected input changed nothing."""
    return {
        m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0 for m in TABLES
    }


def households_csv(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A household table as read from a CSV: every value text."""
    return pd.DataFrame(rows).astype(str)


PROBLEM = "application/problem+json"


def assert_problem(response, status, *words):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["detail"]
    for word in words:
        assert word in body["detail"]
    return body


#: Differences between the request tallies (migration 0008) and a GROUP BY over the requests:
#: ``(per-category rows that differ, per-grid rows that differ, requests counted by month)``.
TALLY_CHECK = """
WITH grouped AS (
  SELECT k.kind, k.start, r.micro_grid_id, c.code, r.state, count(*) AS n
    FROM resident_request r JOIN category c ON c.id = r.category_id
   CROSS JOIN LATERAL (VALUES
     ('W', date_trunc('week', r.created_at AT TIME ZONE 'Asia/Shanghai')::date),
     ('M', date_trunc('month', r.created_at AT TIME ZONE 'Asia/Shanghai')::date)) AS k(kind, start)
   GROUP BY 1, 2, 3, 4, 5),
tallied AS (
  SELECT period_kind, period_start, micro_grid_id, category_code, s.state, s.n
    FROM request_tally
   CROSS JOIN LATERAL (VALUES ('reported', reported), ('accepted', accepted),
     ('handling', handling), ('completed', completed), ('feedback', feedback),
     ('archived', archived), ('duplicate', duplicate)) AS s(state, n)
   WHERE s.n <> 0),
per_grid AS (
  SELECT period_kind, period_start, micro_grid_id,
         reported + accepted + handling + completed + feedback + archived + duplicate AS n
    FROM request_tally_grid)
SELECT (SELECT count(*) FROM grouped g FULL JOIN tallied t
          ON (g.kind, g.start, g.micro_grid_id, g.code, g.state, g.n)
           = (t.period_kind, t.period_start, t.micro_grid_id, t.category_code, t.state, t.n)
         WHERE g.n IS NULL OR t.n IS NULL) AS category_mismatches,
       (SELECT count(*) FROM (SELECT kind, start, micro_grid_id, sum(n) AS n
                                FROM grouped GROUP BY 1, 2, 3) g
          FULL JOIN (SELECT * FROM per_grid WHERE n <> 0) t
          ON (g.kind, g.start, g.micro_grid_id, g.n)
           = (t.period_kind, t.period_start, t.micro_grid_id, t.n)
         WHERE g.n IS NULL OR t.n IS NULL) AS grid_mismatches,
       (SELECT sum(n) FROM grouped WHERE kind = 'M') AS requests
"""


@contextmanager
def clock_at(moment: dt.datetime) -> Iterator[None]:
    """Within the block, :mod:`gridmap.core.clock` says it is ``moment`` (for every caller)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "now", lambda: moment.astimezone(dt.UTC))
        yield


def matches_the_document(spec: dict[str, Any], method: str, path: str, answer: Any) -> None:
    """``answer`` is what the document says ``method path`` answers with its status and media
    type: a JSON body validates against the schema (with Schemathesis's validator, formats
    checked), an XML one has the elements the schema's ``xml`` names say, and every
    documented header is sent."""
    documented = spec["paths"][path][method]["responses"][str(answer.status_code)]
    schema = documented["content"][answer.mimetype]["schema"]
    if answer.mimetype == "text/xml":
        _xml_shape(spec, schema, ET.fromstring(answer.get_data()), "")
    else:
        validator = jsonschema_rs.validator_for(
            schema | {"components": spec["components"]}, validate_formats=True
        )
        body = answer.get_json(force=True)
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
        assert errors == [], (method, path, errors[:5])
    missing = [name for name in documented.get("headers", {}) if name not in answer.headers]
    assert missing == [], (method, path)


def path_in(spec: dict[str, Any], url: str) -> str:
    """The document's path (``/a/{id}.{fmt}``) that ``url`` is a request of."""
    path = url.split("?")[0]
    if path in spec["paths"]:
        return path
    found = [
        template
        for template in spec["paths"]
        if re.fullmatch(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)), path)
    ]
    assert len(found) == 1, (url, found)
    return found[0]


def _resolved(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$ref`` followed (members beside the ``$ref`` win)."""
    if "$ref" not in schema:
        return schema
    name = schema["$ref"].rsplit("/", 1)[1]
    found = _resolved(spec, spec["components"]["schemas"][name])
    return found | {k: v for k, v in schema.items() if k != "$ref"}


def _xml_shape(spec: dict[str, Any], schema: dict[str, Any], element: Any, name: str) -> None:
    """``element`` is named as ``schema`` says (OpenAPI's XML object), and so are its
    children: a list's items, an object's members (every required one present)."""
    schema = _resolved(spec, schema)
    assert element.tag == schema.get("xml", {}).get("name", name), (element.tag, schema)
    if schema.get("type") == "array":
        for child in element:
            _xml_shape(spec, schema["items"], child, element.tag)
    elif "properties" in schema:
        members = schema["properties"]
        for child in element:
            assert child.tag in members or schema.get("additionalProperties"), child.tag
            if child.tag in members:
                _xml_shape(spec, members[child.tag], child, child.tag)
        assert set(schema.get("required", [])) <= {child.tag for child in element}


def ogrinfo(path: Path, *options: str) -> str:
    """GDAL's summary of every layer of a file (``ogrinfo -ro -so -al``)."""
    done = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", *options, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def statements_during(session: Session, calls: Callable[[], object]) -> list[str]:
    """The SQL statements run on the test's connection (the session's and every app's bound
    to it) while ``calls()`` runs, savepoint handling left out."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    connection = session.get_bind()
    event.listen(connection, "before_cursor_execute", note)
    try:
        calls()
    finally:
        event.remove(connection, "before_cursor_execute", note)
    return [s for s in seen if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]
