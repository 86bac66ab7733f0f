"""Households: ``/api/v1/households`` (GeoJSON) and ``/api/v1/households/{id}/coverage``."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_openapi3 import APIBlueprint, Tag

from gridmap.access.auth import READ
from gridmap.access.security import caller, one_statement, requires
from gridmap.api import params, serializers
from gridmap.core.db import get_session
from gridmap.grid import lookup
from gridmap.storage import households

bp = APIBlueprint(
    "households",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="households")],
    abp_security=params.BEARER,
)


@bp.get("/households", summary="Households in a bbox and/or grid (GeoJSON, paginated)")
@requires(READ)
def list_households(query: params.HouseholdListQuery) -> Response:
    limit, after = params.parse_page(query)
    who = caller()
    page = households.list_households(
        get_session(),
        bbox=params.parse_bbox(query.bbox),
        grid_code=query.grid,
        limit=limit,
        after_id=after,
        scope=who.scope,
    )
    features = [
        serializers.feature(r.id, r.geojson, serializers.household_properties(r, who.disclosure))
        for r in page.rows
    ]
    return serializers.feature_collection(features, page)


@bp.get(
    "/households/<int:household_id>/coverage",
    summary="A household's grid chain, the staff at each level and the members who cover it",
)
@requires(READ)
@one_statement
def household_coverage(path: params.HouseholdPath) -> dict[str, Any]:
    who = caller()
    answer = lookup.household_coverage(get_session(), path.household_id, who.scope, who.disclosure)
    answer["household"] = serializers.household_properties(answer["household"], who.disclosure)
    return answer
