"""Personal data on purpose: the audited reveal of one plain value, and masked exports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from flask import Response
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from gridmap.access.auth import EXPORT, REVEAL
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params, serializers
from gridmap.api.common import Strict, csv_lines
from gridmap.core.db import get_session
from gridmap.core.errors import InvalidInput, NotFound
from gridmap.storage import households, people

bp = APIBlueprint(
    "personal",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="personal data")],
    abp_security=params.BEARER,
)

_FIELDS = {"person": ("name", "phone"), "household": ("address",)}
_EXPORT_ROWS = 200_000


class RevealBody(Strict):
    object: Literal["person", "household"]
    id: int = Field(ge=1)
    field: Literal["name", "phone", "address"]


@bp.post("/reveal", summary="The plain value of one masked field (audited)")
@requires(REVEAL)
def reveal(body: RevealBody) -> dict[str, Any]:
    if body.field not in _FIELDS[body.object]:
        raise InvalidInput(f"a {body.object} has no field {body.field!r}")
    session, who = get_session(), caller()
    row: people.PersonRow | households.HouseholdDetailRow | None
    if body.object == "person":
        row = people.get_person(session, body.id, who.scope)
    else:
        row = households.get_household(session, body.id, who.scope)
    if row is None:
        raise NotFound(f"There is no {body.object} {body.id}.")
    audit_write("reveal", body.object, body.id, {"field": body.field})
    return {
        "object": body.object,
        "id": body.id,
        "field": body.field,
        "value": getattr(row, body.field),
    }


@bp.get("/households.csv", summary="Households in scope as CSV (addresses masked)")
@requires(EXPORT)
def export_households(query: params.HouseholdExportQuery) -> Response:
    session, who = get_session(), caller()
    bbox = params.parse_bbox(query.bbox)
    audit_write("export", "household", None, {"grid": query.grid, "bbox": query.bbox})

    def rows() -> Iterator[list[Any]]:
        after, sent = None, 0
        while sent < _EXPORT_ROWS:
            page = households.list_households(
                session,
                bbox=bbox,
                grid_code=query.grid,
                limit=5000,
                after_id=after,
                scope=who.scope,
            )
            for r in page.rows:
                p = serializers.household_properties(r)
                yield [
                    p["id"],
                    p["address"],
                    p["building"],
                    p["unit"],
                    p["room"],
                    p["residents"],
                    ";".join(p["care_tags"]),
                    p["micro_grid_code"],
                    "yes" if p["covered"] else "no",
                ]
            sent += len(page.rows)
            if page.next_cursor is None:
                return
            after = int(page.next_cursor)

    header = [
        "id",
        "address",
        "building",
        "unit",
        "room",
        "residents",
        "care_tags",
        "micro_grid_code",
        "covered",
    ]
    return Response(
        "".join(csv_lines(header, rows())),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=households.csv"},
    )
