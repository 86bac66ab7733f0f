"""Personal data on purpose: the audited reveal of one plain value, and masked exports."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from gridmap.access.auth import EXPORT, REVEAL
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params, serializers
from gridmap.api.common import Strict, csv_response
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


#: The households download's columns, in order.
HOUSEHOLD_COLUMNS = [
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


@bp.get(
    "/households.csv",
    summary="Households in scope as CSV (addresses as your duty shows them), streamed",
)
@requires(EXPORT)
def export_households(query: params.HouseholdExportQuery) -> Response:
    session, who = get_session(), caller()
    bbox = params.parse_bbox(query.bbox)
    audit_write("export", "household", None, {"grid": query.grid, "bbox": query.bbox})
    found = households.export_rows(
        session, bbox=bbox, grid_code=query.grid, limit=_EXPORT_ROWS, scope=who.scope
    )
    cells = (serializers.household_cells(row, who.disclosure) for row in found)
    return csv_response(HOUSEHOLD_COLUMNS, cells, "households.csv")
