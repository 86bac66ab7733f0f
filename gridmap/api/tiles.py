"""Mapbox vector tiles (MVT) of the grids and of residents' requests, for city-scale layers.

``GET /api/v1/tiles/{layer}/{z}/{x}/{y}.mvt`` in the XYZ scheme of WebMercatorQuad. Each tile
holds only what the caller's scope may see; a tile with nothing in it answers 204. The
queries are in :mod:`gridmap.storage.tiles`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import READ, REVIEW
from gridmap.access.security import caller, requires
from gridmap.api import params
from gridmap.api.review import ReviewQuery, to_filter
from gridmap.core import etags
from gridmap.core.db import get_read_session, read_only
from gridmap.core.errors import InvalidInput
from gridmap.grid.tile_cache import GridTiles
from gridmap.storage import tiles

bp = APIBlueprint(
    "tiles",
    __name__,
    url_prefix="/api/v1/tiles",
    abp_tags=[Tag(name="tiles")],
    abp_security=params.BEARER,
)

MVT = "application/vnd.mapbox-vector-tile"
#: A browser may keep a tile for a minute, never a shared cache; ``Vary`` keeps one login's
#: tiles from being shown to the next login of the same browser.
CACHING = {"Cache-Control": "private, max-age=60", "Vary": "Authorization, Cookie"}
RESPONSES: dict[Any, Any] = {
    200: {
        "description": "The tile",
        "content": {MVT: {"schema": {"type": "string", "format": "binary"}}},
    },
    204: {"description": "Nothing in this tile that the caller may see"},
    304: {"description": "The grid tile named by If-None-Match is still current"},
}
#: Where the app keeps its grid tiles (gridmap.grid.tile_cache).
GRID_TILES = "gridmap.grid_tiles"


def init_app(app: Flask) -> None:
    """Give the app (each process) its own kept grid tiles."""
    app.extensions[GRID_TILES] = GridTiles()


class TilePath(BaseModel):
    z: int = Field(ge=0, le=tiles.MAX_ZOOM, description="Zoom level")
    x: int = Field(ge=0, description="Column, from the west (0 ≤ x < 2^z)")
    y: int = Field(ge=0, description="Row, from the north (0 ≤ y < 2^z)")


class GridTileQuery(params.Query):
    level: params.GridLevel | None = Field(
        None,
        description="Grids of this level (default: community below z13, zone z13–14, "
        "micro from z15)",
    )


def _tile(path: TilePath) -> tiles.Tile:
    try:
        return tiles.Tile(path.z, path.x, path.y)
    except ValueError:
        side = 2**path.z
        raise InvalidInput(
            f"at zoom {path.z} x and y must lie in 0..{side - 1}, not {path.x}/{path.y}"
        ) from None


def _answer(data: bytes, etag: str | None = None) -> Response:
    headers = CACHING | ({"ETag": etag} if etag else {})
    if etag and etags.none_match(request.headers.get("If-None-Match", ""), etag):
        return Response(status=304, headers=headers)
    if not data:
        return Response(status=204, headers=headers)
    return Response(data, mimetype=MVT, headers=headers)


@bp.get(
    "/grids/<int:z>/<int:x>/<int:y>.mvt",
    summary="Today's grids (ETag: If-None-Match answers 304 while they are unchanged)",
    responses=RESPONSES,
)
@requires(READ)
@read_only
def grid_tile(path: TilePath, query: GridTileQuery) -> Response:
    tile = _tile(path)
    level = query.level or tiles.grid_level(tile.z)
    kept: GridTiles = current_app.extensions[GRID_TILES]
    found = kept.get(get_read_session(), tile, caller().scope, level)
    return _answer(found.data, found.etag)


@bp.get(
    "/requests/<int:z>/<int:x>/<int:y>.mvt",
    summary="Requests of the review's filter: points from z16, counts per grid below",
    responses=RESPONSES,
)
@requires(REVIEW)
@read_only
def request_tile(path: TilePath, query: ReviewQuery) -> Response:
    tile = _tile(path)
    return _answer(tiles.request_tile(get_read_session(), tile, to_filter(query)))
