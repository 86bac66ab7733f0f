"""The big CSV downloads stream: ``households.csv`` and ``audit.csv`` are generator responses
read from a server-side cursor, a line at a time, with the content the buffered downloads had
(masked, every formula cell neutralised) and one audit row per export."""

from __future__ import annotations

import csv
import io

from flask import Response
from sqlalchemy import select, update

from gridmap.core.cells import safe_row
from gridmap.storage.models import AuditEntry, Household
from tests.security.conftest import A

FORMULA = "+cmd|' /C calc'!A0"


def _served(app, client, path: str) -> tuple[Response, str]:
    """The app's own response to ``path`` as ``client`` (the test client's wraps every body in
    an iterator, so only the app's response tells whether it streams), and its text."""
    with app.test_request_context(path, environ_base=dict(client.environ_base)):
        response = app.full_dispatch_request()
        text = b"".join(response.iter_encoded()).decode()
    return response, text


def _rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff"), "the byte-order mark spreadsheets need"
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def _expected(features: list[dict]) -> list[list[str]]:
    """The download as the buffered export built it: the API's masked properties, in id
    order, through the formula rule, as CSV text."""
    lines = []
    for f in sorted(features, key=lambda f: f["properties"]["id"]):
        p = f["properties"]
        cells = [p["id"], p["address"], p["building"], p["unit"], p["room"], p["residents"]]
        cells += [";".join(p["care_tags"]), p["micro_grid_code"], "yes" if p["covered"] else "no"]
        lines.append(["" if c is None else str(c) for c in safe_row(cells)])
    return lines


def test_households_csv_streams_the_masked_rows_with_formulas_neutralised(
    app, login_as, session, world
):
    session.execute(update(Household).where(Household.id == 1).values(address=FORMULA))
    session.commit()
    chief = login_as("chief")
    grid = A
    response, text = _served(app, chief, f"/api/v1/households.csv?grid={grid}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    header, *rows = _rows(text)
    assert header[:3] == ["id", "address", "building"]
    answer = chief.get(f"/api/v1/households?grid={grid}&limit=500")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    listed = answer.get_json()["features"]
    assert rows == _expected(listed) and len(rows) >= 2
    poisoned = [r for r in rows if r[0] == "1"]
    assert poisoned and poisoned[0][1].startswith("'+"), poisoned
    assert not [c for r in rows for c in r if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # Doors follow duty (gridmap.core.privacy): the chief reads its community's addresses
    # plain, the street administrator, who has no door to knock on, reads the same masked.
    assert not any("*" in r[1] for r in rows), "the chief's own community: doors plain"
    exports = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "export", AuditEntry.object_type == "household"
        )
    ).all()
    assert [(e.detail["grid"], e.outcome) for e in exports] == [(grid, "ok")]
    _, street_text = _served(app, login_as("street_admin"), f"/api/v1/households.csv?grid={grid}")
    _, *street_rows = _rows(street_text)
    assert {r[0] for r in street_rows} == {r[0] for r in rows}
    assert all("*" in r[1] for r in street_rows), "addresses are masked"


def test_audit_csv_streams_the_matching_rows_but_not_its_own_audit_row(app, login_as, session):
    auditor = login_as("audit_admin")
    before = auditor.get("/api/v1/audit?limit=500").get_json()["entries"]
    response, text = _served(app, auditor, "/api/v1/audit.csv")
    assert response.status_code == 200 and response.is_streamed
    header, *rows = _rows(text)
    assert header[:4] == ["id", "at", "username", "action"]
    assert [int(r[0]) for r in rows] == [e["id"] for e in before]
    exports = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "export", AuditEntry.object_type == "audit")
    ).all()
    assert [e.detail for e in exports] == [{"rows": len(rows)}]
    assert exports[0].id > int(rows[0][0])
    limited = _rows(auditor.get("/api/v1/audit.csv?limit=2").get_data(as_text=True))
    assert len(limited) == 3
