"""TileJSON 3.0.0 of the vector tile layers (``/api/v1/tiles/{layer}.json``): what QGIS's
vector tile connection, MapLibre and GDAL's MVT driver read to find the tiles, their zooms,
the area and the fields of each layer.

The ``tiles`` template repeats the document's own query (a grid ``level``, the review's filter
of the request tiles) and its ``access_token`` when the caller sent one as a parameter, so a
client that was given only this URL gets the same tiles. ``bounds`` is the caller's area.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, json, request
from flask_openapi3 import APIBlueprint, Tag

from gridmap.access.auth import READ, REVIEW
from gridmap.access.security import caller, requires
from gridmap.api import params
from gridmap.api.review import ReviewQuery, to_filter
from gridmap.api.tiles import GridTileQuery
from gridmap.core.db import get_session
from gridmap.storage import features

bp = APIBlueprint(
    "tilejson",
    __name__,
    url_prefix="/api/v1/tiles",
    abp_tags=[Tag(name="tiles")],
    abp_security=params.BEARER,
)

#: Zooms the layers are drawn at: beyond the last, clients over-zoom its tiles.
MIN_ZOOM, MAX_ZOOM = 0, 18
#: China's envelope, when the caller's area holds no grid.
_CHINA = (73.0, 3.0, 136.0, 54.0)
LAYERS: dict[str, dict[str, Any]] = {
    "grids": {
        "description": "Today's grids in your scope: communities below z13, zones z13-14, "
        "micro-grids from z15 (or the level asked for)",
        "fields": {"code": "String", "name": "String", "level": "String"},
    },
    "requests": {
        "description": "Residents' requests of the review's filter: from z16 one point per "
        "request (id, category, state, day filed), below it one point per micro-grid or zone "
        "with the count n",
        "fields": {
            "id": "Number",
            "category": "String",
            "state": "String",
            "day": "String",
            "code": "String",
            "n": "Number",
        },
    },
}


def _bounds() -> tuple[float, float, float, float]:
    found = features.extent(get_session(), "grids-micro", caller().scope).bbox
    if found is None:
        found = features.extent(get_session(), "grids-community", caller().scope).bbox
    return found or _CHINA


def _document(layer: str) -> Response:
    query = request.args.to_dict()
    template = f"{request.host_url}api/v1/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"
    if query:
        template += "?" + urlencode(query)
    west, south, east, north = _bounds()
    centre = [round((west + east) / 2, 6), round((south + north) / 2, 6), 13]
    body = {
        "tilejson": "3.0.0",
        "name": f"gridmap {layer}",
        "description": LAYERS[layer]["description"],
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "bounds": [west, south, east, north],
        "center": centre,
        "attribution": "gridmap",
        "vector_layers": [
            {
                "id": layer,
                "description": LAYERS[layer]["description"],
                "minzoom": MIN_ZOOM,
                "maxzoom": MAX_ZOOM,
                "fields": LAYERS[layer]["fields"],
            }
        ],
    }
    return Response(
        json.dumps(body), mimetype="application/json", headers={"Vary": "Authorization, Cookie"}
    )


@bp.get("/grids.json", summary="TileJSON of the grid tiles")
@requires(READ)
def grids(query: GridTileQuery) -> Response:
    return _document("grids")


@bp.get("/requests.json", summary="TileJSON of the request tiles")
@requires(REVIEW)
def requests(query: ReviewQuery) -> Response:
    to_filter(query)  # the tiles' own check: a bad period or an area outside the scope
    return _document("requests")
