"""Rows to JSON/GeoJSON (lon/lat order, EPSG:4490 coordinates)."""

from __future__ import annotations

import json
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Response, request

from gridmap.core.privacy import Disclosure
from gridmap.grid.masked import grid_properties as grid_properties
from gridmap.grid.masked import household_properties as household_properties
from gridmap.storage.grids import Page
from gridmap.storage.households import HouseholdExportRow, HouseholdRow

RowT = TypeVar("RowT")

GEOJSON = "application/geo+json"


def household_cells(row: HouseholdRow | HouseholdExportRow, disclosure: Disclosure) -> list[Any]:
    """A household as a row of the CSV download: masked as in every answer."""
    p = household_properties(row, disclosure)
    return [
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


def feature(feature_id: Any, geojson: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": feature_id,
        "geometry": json.loads(geojson),
        "properties": properties,
    }


def feature_collection(features: list[dict[str, Any]], page: Page[RowT]) -> Response:
    """A GeoJSON page with ``numberReturned`` and the ``next`` cursor and link."""
    body: dict[str, Any] = {
        "type": "FeatureCollection",
        "numberReturned": len(features),
        "next": page.next_cursor,
        "features": features,
    }
    if page.next_cursor is not None:
        args = request.args.to_dict() | {"cursor": page.next_cursor}
        href = f"{request.path}?{urlencode(args)}"
        body["links"] = [{"rel": "next", "type": GEOJSON, "href": href}]
    return geojson_response(body)


def geojson_response(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), mimetype=GEOJSON)
