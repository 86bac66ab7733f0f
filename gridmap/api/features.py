"""OGC API Features, Part 1 (Core, GeoJSON, OpenAPI 3.0) and Part 2 (CRS by reference), under
``/api/v1/ogc``: the layers QGIS, GDAL and OWSLib read.

Collections: today's grids per level (``grids-community``, ``grids-zone``, ``grids-micro``;
``datetime`` gives the versions valid then), households as masked points, residents'
requests (masked as in ``/api/v1/requests``) and patrol tracks. Every row is filtered by the
caller's scope (:mod:`gridmap.storage.features`), and every personal value is masked as in the
rest of the API. Coordinates are CRS84 (lon/lat) unless ``crs`` asks for EPSG:4490
(CGCS2000, the stored CRS), whose axis order is latitude first.

Why written here rather than with pygeoapi or tipg: neither passes the request's caller to
its data provider (pygeoapi builds its providers from a global configuration and calls
``query()`` with the protocol's parameters only; tipg is a separate FastAPI application over
asyncpg), so the scope filters, the masking, the bearer-token logins and the problem+json
errors of this application would have to be smuggled through globals or a second server.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, request, url_for
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field

from gridmap.access.auth import READ
from gridmap.access.security import caller, public, requires
from gridmap.api import params
from gridmap.api.requests import properties as request_properties
from gridmap.api.serializers import grid_properties, household_properties
from gridmap.core import clock, glossary
from gridmap.core.db import get_session
from gridmap.core.errors import InvalidInput, NotFound
from gridmap.core.privacy import Disclosure
from gridmap.storage import features as store
from gridmap.storage.grids import BBox

bp = APIBlueprint(
    "features",
    __name__,
    url_prefix="/api/v1/ogc",
    abp_tags=[Tag(name="OGC API Features")],
    abp_security=params.BEARER,
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"
SUPPORTED_CRS = (CRS84, CGCS2000)
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
GEOJSON = "application/geo+json"
JSON = "application/json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
DEFAULT_LIMIT = 100


#: Query parameters every items request may carry besides the collection's properties.
_ITEM_PARAMETERS = {"limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "f", "access_token"}
_FEATURE_PARAMETERS = {"crs", "f", "access_token"}


class CollectionPath(BaseModel):
    collection_id: str = Field(description="A collection of GET /api/v1/ogc/collections")


class FeaturePath(CollectionPath):
    feature_id: int = Field(ge=1, description="The feature's id")


class FormatQuery(params.Query):
    f: str | None = Field(None, description="Answer format: only `json` (GeoJSON)")
    access_token: str | None = Field(
        None, description="A bearer token, for clients that cannot send a header"
    )


class FeatureQuery(FormatQuery):
    model_config = ConfigDict(populate_by_name=True)

    crs: str | None = Field(None, description=f"CRS of the answer: {CRS84} (default) or {CGCS2000}")


class ItemsQuery(FeatureQuery):
    limit: int | None = Field(
        None,
        ge=1,
        description=f"Features per page (default {DEFAULT_LIMIT}, at most the server's "
        "GRIDMAP_MAX_PAGE_SIZE)",
    )
    offset: int | None = Field(
        None, ge=0, le=10**12, description="Features to skip (the `next` link sets it)"
    )
    bbox: str | None = Field(
        None, description="minx,miny,maxx,maxy in `bbox-crs` (CRS84: lon/lat; EPSG:4490: lat/lon)"
    )
    bbox_crs: str | None = Field(None, alias="bbox-crs", description="CRS of `bbox`")
    datetime: str | None = Field(
        None,
        description="RFC 3339 instant or interval (`start/end`, `../end`, `start/..`); a date "
        "means the whole day in Beijing time",
    )


# ---------------------------------------------------------------------------------- parsing


def _bad(parameter: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"{parameter}: {message}", errors=[{"field": parameter, "message": message}]
    )


def _collection(collection_id: str) -> store.Collection:
    found = store.COLLECTIONS.get(collection_id)
    if found is None:
        raise NotFound(
            f"There is no collection {collection_id!r}; see GET /api/v1/ogc/collections."
        )
    return found


def _check_names(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise _bad(
            unknown[0], f"unknown parameter; this request takes {', '.join(sorted(allowed))}"
        )
    if request.args.get("f") not in (None, "json", "geojson"):
        raise _bad("f", "only json (GeoJSON) is served")


def _crs(parameter: str) -> str:
    value = request.args.get(parameter)
    if value is None:
        return CRS84
    if value.strip("<>[]") not in SUPPORTED_CRS:
        raise _bad(parameter, f"must be {CRS84} or {CGCS2000}, not {value!r}")
    return value.strip("<>[]")


def _bbox(text: str | None, crs: str) -> BBox | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (4, 6) or not all(math.isfinite(v) for v in values):
        raise _bad("bbox", f"must be 4 (or 6) numbers separated by commas, not {text!r}")
    if len(values) == 6:  # the heights are not used: every feature is on the ground
        values = values[0:2] + values[3:5]
    if crs == CGCS2000:  # EPSG:4490 names latitude first
        values = [values[1], values[0], values[3], values[2]]
    try:
        return params.parse_bbox(",".join(repr(v) for v in values))
    except InvalidInput as exc:
        raise _bad("bbox", exc.detail.removeprefix("bbox ")) from None


def _moment(text: str, end: bool) -> dt.datetime | None:
    if text in ("", ".."):
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime.combine(day, dt.time(), clock.BEIJING)
            return start + dt.timedelta(days=1, microseconds=-1) if end else start
        moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise _bad("datetime", f"{text!r} is not an RFC 3339 date or date-time") from None
    if moment.tzinfo is None:
        raise _bad("datetime", f"{text!r} needs a time zone (Z or ±hh:mm), as RFC 3339 says")
    if not clock.supported_year(moment.year):
        raise _bad("datetime", f"the year must be {clock.FIRST_YEAR} to {clock.LAST_YEAR}")
    return moment


def _interval(text: str | None, collection: store.Collection) -> store.Interval | None:
    if text is None:
        return None
    if not collection.temporal:
        raise _bad("datetime", f"collection {collection.id!r} has no time")
    parts = text.split("/")
    if len(parts) > 2 or parts == ["..", ".."] or (len(parts) == 1 and parts[0] in ("", "..")):
        raise _bad("datetime", f"must be an instant or an interval start/end, not {text!r}")
    if len(parts) == 1:
        return _moment(parts[0], False), _moment(parts[0], True)
    low, high = _moment(parts[0], False), _moment(parts[1], True)
    if low is not None and high is not None and low > high:
        raise _bad("datetime", f"the interval's start is after its end: {text!r}")
    return low, high


def _equals(collection: store.Collection) -> dict[str, Any]:
    """The property filters ``name=value`` of this collection, typed."""
    found: dict[str, Any] = {}
    for name, kind in collection.queryables.items():
        value = request.args.get(name)
        if value is None:
            continue
        if kind == "integer":
            if not (value.isascii() and value.isdigit()) or len(value) > 18:
                raise _bad(name, f"must be a whole number, not {value!r}")
            found[name] = int(value)
        elif kind == "boolean":
            if value not in ("true", "false"):
                raise _bad(name, f"must be true or false, not {value!r}")
            found[name] = value == "true"
        else:
            if "\x00" in value or len(value) > 200:
                raise _bad(name, "must be at most 200 characters, without NUL")
            found[name] = value
    return found


def _limit(query: ItemsQuery) -> int:
    maximum = current_app.extensions["gridmap.settings"].max_page_size
    limit = min(DEFAULT_LIMIT, maximum) if query.limit is None else query.limit
    if limit > maximum:
        raise _bad("limit", f"must be at most {maximum}, not {limit}")
    return limit


# -------------------------------------------------------------------------------- answers


def _url(endpoint: str, **values: Any) -> str:
    """An absolute link, carrying the caller's ``access_token`` when it came as a parameter."""
    token = request.args.get("access_token")
    extra = {"access_token": token} if token else {}
    return url_for(f"features.{endpoint}", _external=True, **values, **extra)


def _json(body: dict[str, Any], mimetype: str = JSON, crs: str | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), mimetype=mimetype)
    if crs is not None:
        response.headers["Content-Crs"] = f"<{crs}>"
    return response


def _title(collection_id: str) -> str:
    if collection_id.startswith("grids-"):
        return glossary.LEVELS[collection_id.removeprefix("grids-")]
    return glossary.FEATURE_COLLECTIONS[collection_id]


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return f"{value.isoformat()}T00:00:00+08:00"


def _describe(collection: store.Collection) -> dict[str, Any]:
    extent = store.extent(get_session(), collection.id, caller().scope)
    body: dict[str, Any] = {
        "id": collection.id,
        "title": _title(collection.id),
        "description": f"{_title(collection.id)}: {collection.geometry} features in your scope",
        "itemType": "feature",
        "links": [
            {"rel": "self", "type": JSON, "href": _url("collection", collection_id=collection.id)},
            {
                "rel": "items",
                "type": GEOJSON,
                "title": "Features",
                "href": _url("items", collection_id=collection.id),
            },
        ],
        "extent": {
            "spatial": {"bbox": [list(extent.bbox or (73.0, 3.0, 136.0, 54.0))], "crs": CRS84}
        },
        "crs": list(SUPPORTED_CRS),
        "storageCrs": CGCS2000,
    }
    if collection.temporal:
        interval = [_iso(extent.first), _iso(extent.last)]
        body["extent"]["temporal"] = {"interval": [interval], "trs": TRS}
    return body


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested members as ``outer_inner`` columns: GIS tables have no nested values."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{name}_")
        else:
            out[f"{prefix}{name}"] = value
    return out


def _properties(collection_id: str, row: Any, disclosure: Disclosure) -> dict[str, Any]:
    if collection_id.startswith("grids-"):
        return grid_properties(row)
    if collection_id == "households":
        return household_properties(row, disclosure)
    if collection_id == "requests":
        return _flat(request_properties(row, disclosure))
    return {
        "id": row.id,
        "person_id": row.person_id,
        "person_name": disclosure.staff_name(row.person_name),
        "work_list": row.list_code,
        "work_list_name": row.list_name,
        "work_list_kind": row.list_kind,
        "grid_code": row.grid_code,
        "grid_name": row.grid_name,
        "source": row.source,
        "state": "running" if row.ended_at is None else "ended",
        "started_at": _iso(row.started_at),
        "ended_at": _iso(row.ended_at),
        "length_m": round(float(row.length_m), 1),
    }


def _feature(collection_id: str, row: Any, disclosure: Disclosure) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": row.id,
        "geometry": json.loads(row.geojson) if row.geojson else None,
        "properties": _properties(collection_id, row, disclosure),
    }


def _page_link(rel: str, offset: int) -> dict[str, Any]:
    args = request.args.to_dict() | {"offset": str(offset)}
    href = f"{request.base_url}?{urlencode(args)}"
    return {"rel": rel, "type": GEOJSON, "title": f"{rel} page", "href": href}


# ----------------------------------------------------------------------------------- routes


@bp.get("", summary="Landing page of the OGC API Features service")
@public
def landing() -> Response:
    return _landing()


def _landing() -> Response:
    _check_names({"f", "access_token"})
    return _json(
        {
            "title": "gridmap OGC API Features",
            "description": "网格、住户（脱敏）、群众诉求与巡查轨迹 in the caller's scope",
            "links": [
                {"rel": "self", "type": JSON, "href": _url("landing")},
                {
                    "rel": "service-desc",
                    "type": "application/vnd.oai.openapi+json;version=3.0",
                    "href": f"{request.host_url}api/openapi.json",
                },
                {"rel": "conformance", "type": JSON, "href": _url("conformance")},
                {"rel": "data", "type": JSON, "href": _url("collections")},
            ],
        }
    )


@bp.get("/", doc_ui=False)
@public
def landing_slash() -> Response:
    """The landing page under the URL with a slash, which clients that join relative paths
    (OWSLib) need as their base."""
    return _landing()


@bp.get("/conformance", summary="The conformance classes this service implements")
@public
def conformance() -> Response:
    _check_names({"f", "access_token"})
    return _json({"conformsTo": CONFORMANCE})


@bp.get("/collections", summary="The feature collections, with their extent in your scope")
@requires(READ)
def collections(query: FormatQuery) -> Response:
    _check_names({"f", "access_token"})
    described = [_describe(c) for c in store.COLLECTIONS.values()]
    links = [{"rel": "self", "type": JSON, "href": _url("collections")}]
    return _json({"links": links, "collections": described, "crs": list(SUPPORTED_CRS)})


@bp.get("/collections/<collection_id>", summary="One feature collection")
@requires(READ)
def collection(path: CollectionPath, query: FormatQuery) -> Response:
    found = _collection(path.collection_id)
    _check_names({"f", "access_token"})
    return _json(_describe(found))


@bp.get(
    "/collections/<collection_id>/items",
    summary="Features of a collection in your scope (GeoJSON, paged by `next` links)",
)
@requires(READ)
def items(path: CollectionPath, query: ItemsQuery) -> Response:
    found = _collection(path.collection_id)
    _check_names(_ITEM_PARAMETERS | set(found.queryables))
    crs = _crs("crs")
    wanted = store.ItemQuery(
        limit=_limit(query),
        offset=query.offset or 0,
        bbox=_bbox(request.args.get("bbox"), _crs("bbox-crs")),
        when=_interval(request.args.get("datetime"), found),
        equals=_equals(found),
        lat_lon=crs == CGCS2000,
    )
    who = caller()
    page = store.items(get_session(), found.id, who.scope, wanted)
    links = [
        {"rel": "self", "type": GEOJSON, "href": request.url},
        {"rel": "collection", "type": JSON, "href": _url("collection", collection_id=found.id)},
    ]
    if wanted.offset + len(page.rows) < page.matched:
        links.append(_page_link("next", wanted.offset + len(page.rows)))
    if wanted.offset > 0:
        links.append(_page_link("prev", max(wanted.offset - wanted.limit, 0)))
    body = {
        "type": "FeatureCollection",
        "timeStamp": _iso(clock.now()),
        "numberMatched": page.matched,
        "numberReturned": len(page.rows),
        "links": links,
        "features": [_feature(found.id, row, who.disclosure) for row in page.rows],
    }
    return _json(body, GEOJSON, crs)


@bp.get(
    "/collections/<collection_id>/items/<int:feature_id>",
    summary="One feature of a collection (404 outside your scope)",
)
@requires(READ)
def feature(path: FeaturePath, query: FeatureQuery) -> Response:
    found = _collection(path.collection_id)
    _check_names(_FEATURE_PARAMETERS)
    crs = _crs("crs")
    who = caller()
    row = store.item(get_session(), found.id, who.scope, path.feature_id, lat_lon=crs == CGCS2000)
    if row is None:
        raise NotFound(f"There is no feature {path.feature_id} in {found.id!r}.")
    body = _feature(found.id, row, who.disclosure) | {
        "links": [
            {"rel": "self", "type": GEOJSON, "href": request.url},
            {"rel": "collection", "type": JSON, "href": _url("collection", collection_id=found.id)},
        ]
    }
    return _json(body, GEOJSON, crs)
