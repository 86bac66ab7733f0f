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
from sqlalchemy import make_url

from gridmap.access import rate_limits
from gridmap.access.auth import READ, REVIEW
from gridmap.access.security import caller, change_counts, requires, unlimited
from gridmap.api import params
from gridmap.api.review import ReviewQuery, to_filter
from gridmap.core import etags
from gridmap.core.db import get_read_session, one_statement, read_only
from gridmap.core.errors import InvalidInput
from gridmap.grid.tile_cache import GridTile, GridTiles, SharedTiles
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
    """Give the app its kept grid tiles: in each process, and shared by every worker and
    host in the rate limits' Redis when the deployment names one."""
    settings = app.extensions["gridmap.settings"]
    uri = settings.ratelimit_storage_uri
    shared = SharedTiles(uri) if rate_limits.is_shared(uri) else None
    database = make_url(settings.database_url)
    where = f"{database.host}:{database.port}/{database.database}"
    app.extensions[GRID_TILES] = GridTiles(where, shared)


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


def _answer_gzipped(found: GridTile) -> Response:
    """A kept tile as it is kept (gzipped) to a client that takes gzip, inflated to one that
    does not; its ETag names the representation as flask-compress's do (``"…:gzip"``)."""
    if not request.accept_encodings["gzip"] or not found.gzipped:
        return _answer(found.data, found.etag)
    etag = found.etag[:-1] + ':gzip"'
    headers = CACHING | {"ETag": etag, "Vary": CACHING["Vary"] + ", Accept-Encoding"}
    if etags.none_match(request.headers.get("If-None-Match", ""), found.etag):
        return Response(status=304, headers=headers)
    headers["Content-Encoding"] = "gzip"
    return Response(found.gzipped, mimetype=MVT, headers=headers)


@bp.get(
    "/grids/<int:z>/<int:x>/<int:y>.mvt",
    summary="Today's grids (ETag: If-None-Match answers 304 while they are unchanged)",
    responses=RESPONSES,
)
@requires(READ)
@unlimited
@read_only
@one_statement
def grid_tile(path: TilePath, query: GridTileQuery) -> Response:
    tile = _tile(path)
    level = query.level or tiles.grid_level(tile.z)
    scope = caller().scope
    kept: GridTiles = current_app.extensions[GRID_TILES]
    revision = change_counts().grid  # read with the login check, before the tile is made
    found = kept.get(
        revision,
        tile,
        scope,
        level,
        lambda: tiles.grid_tile(get_read_session(), tile, scope, level),
    )
    return _answer_gzipped(found)


@bp.get(
    "/requests/<int:z>/<int:x>/<int:y>.mvt",
    summary="Requests of the review's filter: points from z16, counts per grid below",
    responses=RESPONSES,
)
@requires(REVIEW)
@unlimited
@read_only
def request_tile(path: TilePath, query: ReviewQuery) -> Response:
    tile = _tile(path)
    return _answer(tiles.request_tile(get_read_session(), tile, to_filter(query)))
