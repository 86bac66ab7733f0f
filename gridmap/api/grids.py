"""Grids: ``/api/v1/grids`` (GeoJSON, paginated) and ``/api/v1/grids/{code}``."""

from __future__ import annotations

from flask import Response
from flask_openapi3 import APIBlueprint, Tag

from gridmap.access.auth import READ
from gridmap.access.security import caller, requires
from gridmap.api import params, serializers
from gridmap.core.db import get_session
from gridmap.core.errors import NotFound
from gridmap.storage import grids

bp = APIBlueprint(
    "grids",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="grids")],
    abp_security=params.BEARER,
)


@bp.get("/grids", summary="Grids by level, parent and bbox (GeoJSON, paginated)")
@requires(READ)
def list_grids(query: params.GridListQuery) -> Response:
    limit, after = params.parse_page(query)
    page = grids.list_grids(
        get_session(),
        level=query.level,
        parent_code=query.parent,
        at=query.at,
        bbox=params.parse_bbox(query.bbox),
        limit=limit,
        after_id=after,
        scope=caller().scope,
    )
    features = [
        serializers.feature(r.code, r.geojson, serializers.grid_properties(r)) for r in page.rows
    ]
    return serializers.feature_collection(features, page)


@bp.get("/grids/<code>", summary="One grid with its children and assigned people")
@requires(READ)
def get_grid(path: params.GridPath, query: params.GridGetQuery) -> Response:
    session, who = get_session(), caller()
    scope = who.scope
    row = grids.get_grid(session, path.code, query.at, scope)
    if row is None:
        raise NotFound(f"There is no grid with code {path.code}.")
    props = serializers.grid_properties(row)
    children = grids.children(session, row.code, query.at, scope)
    props["children"] = [dict(c._mapping) for c in children]
    staff = grids.staff_on(session, row.code, query.at)
    props["staff"] = [who.disclosure.staff_contact(s) for s in staff]
    return serializers.geojson_response(serializers.feature(row.code, row.geojson, props))
