"""Locate a point and search by code, name or address."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag

from gridmap.access.auth import READ
from gridmap.access.security import caller, one_statement, requires
from gridmap.api import params
from gridmap.core.db import get_session
from gridmap.grid import lookup
from gridmap.storage import grids, households

bp = APIBlueprint(
    "locate",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="locate")],
    abp_security=params.BEARER,
)


@bp.get("/locate", summary="The micro-grid, zone and community at a point, with their staff")
@requires(READ)
@one_statement
def locate(query: params.LocateQuery) -> dict[str, Any]:
    who = caller()
    return lookup.locate(get_session(), query.lon, query.lat, query.crs, who.scope, who.disclosure)


@bp.get("/search", summary="Grids by code or name, households by address")
@requires(READ)
def search(query: params.SearchQuery) -> dict[str, Any]:
    session, who = get_session(), caller()
    scope = who.scope
    results: list[dict[str, Any]] = [
        {
            "type": "grid",
            "id": code,
            "label": f"{name} ({code})",
            "level": level,
            "bbox": bbox,
        }
        for code, name, level, *bbox in grids.search(session, query.q, limit=10, scope=scope)
    ]
    results += [
        {
            "type": "household",
            "id": hid,
            "label": who.disclosure.address(address),
            "bbox": [lon, lat, lon, lat],
        }
        for hid, address, lon, lat in households.search(session, query.q, limit=10, scope=scope)
    ]
    return {"results": results}
