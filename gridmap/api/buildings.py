"""Buildings (楼栋) with their units, posts (楼栋长, 单元长) and 党员中心户:
``/api/v1/buildings`` (GeoJSON) and ``/api/v1/central-households``.

Whoever sees a building reads it (names as their role reads staff names, phones masked);
the staff change the buildings of their subtree, each change naming the ETag it was based
on (If-Match).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import BUILDINGS, READ
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params, serializers
from gridmap.api.common import Strict
from gridmap.core.db import get_session
from gridmap.core.privacy import Disclosure
from gridmap.party import buildings as domain
from gridmap.storage import buildings as store

bp = APIBlueprint(
    "buildings",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="buildings")],
    abp_security=params.BEARER,
)

#: A building's or unit's number: 1–20 letters, digits or CJK characters (``12``, ``3A``).
UNIT_NUMBER = r"^[0-9A-Za-z\u4e00-\u9fff-]{1,20}$"
_ID = Field(ge=1, le=2**31 - 1)


class BuildingListQuery(params.PageQuery, params.BBoxQuery):
    grid: str | None = Field(
        None, pattern=params.GRID_CODE, description="Code of a grid: buildings in its subtree"
    )


class BuildingPath(BaseModel):
    building_id: int = _ID


class UnitPath(BaseModel):
    building_id: int = _ID
    unit: str = Field(pattern=UNIT_NUMBER, description="The unit's number (单元号)")


class DetailQuery(BaseModel):
    history: bool = Field(False, description="Include posts that have ended")


class EndBody(Strict):
    end_date: params.Day | None = Field(None, description="Default: today")


class UnitBody(Strict):
    number: str = Field(pattern=UNIT_NUMBER)
    floors: int | None = Field(None, ge=1, le=200)


class Geometry(Strict):
    type: str = Field(pattern="^(Point|Polygon|MultiPolygon)$")
    coordinates: list[Any] = Field(min_length=1, max_length=1000)


class BuildingBody(Strict):
    geometry: Geometry = Field(description="A footprint (Polygon, MultiPolygon) or a Point")
    crs: str = Field("EPSG:4490", max_length=40, description="The geometry's CRS")
    number: str = Field(min_length=1, max_length=40, description="楼号, e.g. 12")
    name: str | None = Field(None, min_length=1, max_length=100)
    floors: int | None = Field(None, ge=1, le=200)
    micro_grid: str | None = Field(
        None, pattern=r"^[0-9]{17}$", description="The micro-grid it must lie in (checked)"
    )
    units: list[UnitBody] = Field(default_factory=list, max_length=50)


class BuildingChange(Strict):
    geometry: Geometry | None = None
    crs: str = Field("EPSG:4490", max_length=40)
    number: str | None = Field(None, min_length=1, max_length=40)
    name: str | None = Field(None, min_length=1, max_length=100)
    floors: int | None = Field(None, ge=1, le=200)
    units: list[UnitBody] | None = Field(None, max_length=50, description="Replaces the list")


class HolderBody(Strict):
    person_id: int = _ID
    start_date: params.Day | None = Field(None, description="Default: today")


class CentralBody(Strict):
    household_id: int = Field(ge=1, le=2**63 - 1, description="The member's household")
    person_id: int = Field(ge=1, le=2**31 - 1, description="The party member living there")
    neighbour_ids: list[int] = Field(default_factory=list, max_length=50)
    start_date: params.Day | None = Field(None, description="Default: today")


class NeighboursBody(Strict):
    household_ids: list[int] = Field(max_length=50)


class CentralPath(BaseModel):
    central_id: int = _ID


def _limit() -> int:
    return int(current_app.extensions["gridmap.settings"].central_household_neighbours)


def _input(body: BuildingBody | BuildingChange) -> domain.BuildingInput:
    given = body.model_fields_set
    return domain.BuildingInput(
        geometry=body.geometry.model_dump() if body.geometry else None,
        crs=body.crs,
        number=body.number,
        name=body.name,
        floors=body.floors,
        units=None
        if body.units is None
        else tuple(domain.Unit(u.number, u.floors) for u in body.units),
        micro_grid=getattr(body, "micro_grid", None),
        given=frozenset(given),
    )


def _properties(row: store.BuildingRow) -> dict[str, Any]:
    return {
        "number": row.number,
        "name": row.name,
        "floors": row.floors,
        "micro_grid_code": row.micro_grid_code,
        "units": row.units,
        "households": row.households,
    }


def _detail(building_id: int, status: int = 200, *, history: bool = False) -> Response:
    who = caller()
    found = domain.detail(get_session(), who.scope, building_id, history=history)
    row, disclosure = found["row"], who.disclosure
    properties = _properties(row) | {
        "unit_list": found["units"],
        "posts": [disclosure.staff_contact(p) for p in found["posts"]],
        "centrals": [_central_entry(c, disclosure) for c in found["centrals"]],
        "etag": found["etag"],
    }
    response = serializers.geojson_response(serializers.feature(row.id, row.geojson, properties))
    response.status_code = status
    response.headers["ETag"] = found["etag"]
    if status == 201:
        response.headers["Location"] = f"/api/v1/buildings/{row.id}"
    return response


def _central_entry(entry: dict[str, Any], disclosure: Disclosure) -> dict[str, Any]:
    return entry | {"person": disclosure.staff_contact(entry["person"])}


def _etag_answer(body: dict[str, Any], etag: str, status: int = 200) -> Response:
    response = jsonify(body | {"etag": etag})
    response.status_code = status
    response.headers["ETag"] = etag
    return response


@bp.get("/buildings", summary="Buildings (楼栋) in a bbox and/or grid (GeoJSON, paginated)")
@requires(READ)
def list_buildings(query: BuildingListQuery) -> Response:
    limit, after = params.parse_page(query)
    page = store.list_buildings(
        get_session(),
        bbox=params.parse_bbox(query.bbox),
        grid_code=query.grid,
        limit=limit,
        after_id=after,
        scope=caller().scope,
    )
    features = [serializers.feature(r.id, r.geojson, _properties(r)) for r in page.rows]
    return serializers.feature_collection(features, page)


@bp.get(
    "/buildings/<int:building_id>",
    summary="A building with its units, 楼栋长 and 单元长 and 党员中心户 (ETag)",
)
@requires(READ)
def get_building(path: BuildingPath, query: DetailQuery) -> Response:
    return _detail(path.building_id, history=query.history)


@bp.post("/buildings", summary="Record a building (楼栋) and its units in your micro-grid")
@requires(BUILDINGS)
def create_building(body: BuildingBody) -> Response:
    building_id, _ = domain.create(get_session(), caller().scope, _input(body))
    audit_write("building.create", "building", building_id, {"number": body.number})
    return _detail(building_id, 201)


@bp.patch("/buildings/<int:building_id>", summary="Change a building (needs If-Match)")
@requires(BUILDINGS)
def update_building(path: BuildingPath, body: BuildingChange) -> Response:
    domain.update(
        get_session(),
        caller().scope,
        path.building_id,
        _input(body),
        request.headers.get("If-Match"),
    )
    audit_write(
        "building.update", "building", path.building_id, {"fields": sorted(body.model_fields_set)}
    )
    return _detail(path.building_id)


def _set_post(building_id: int, unit: str | None, body: HolderBody) -> Response:
    post_id, etag = domain.set_post(
        get_session(),
        caller().scope,
        building_id,
        unit,
        body.person_id,
        body.start_date,
        request.headers.get("If-Match"),
    )
    detail = {"post": post_id, "unit": unit, "person_id": body.person_id}
    audit_write("building.post", "building", building_id, detail)
    return _etag_answer({"id": post_id}, etag)


def _end_post(building_id: int, unit: str | None, body: EndBody) -> Response:
    etag = domain.end_post(
        get_session(),
        caller().scope,
        building_id,
        unit,
        body.end_date,
        request.headers.get("If-Match"),
    )
    audit_write("building.post_end", "building", building_id, {"unit": unit})
    return _etag_answer({"id": building_id}, etag)


@bp.put("/buildings/<int:building_id>/head", summary="Give 楼栋长 to a person (needs If-Match)")
@requires(BUILDINGS)
def set_building_head(path: BuildingPath, body: HolderBody) -> Response:
    return _set_post(path.building_id, None, body)


@bp.post("/buildings/<int:building_id>/head/end", summary="End the 楼栋长's post (If-Match)")
@requires(BUILDINGS)
def end_building_head(path: BuildingPath, body: EndBody) -> Response:
    return _end_post(path.building_id, None, body)


@bp.put(
    "/buildings/<int:building_id>/units/<unit>/head",
    summary="Give a unit's 单元长 to a person (needs If-Match)",
)
@requires(BUILDINGS)
def set_unit_head(path: UnitPath, body: HolderBody) -> Response:
    return _set_post(path.building_id, path.unit, body)


@bp.post(
    "/buildings/<int:building_id>/units/<unit>/head/end", summary="End a 单元长's post (If-Match)"
)
@requires(BUILDINGS)
def end_unit_head(path: UnitPath, body: EndBody) -> Response:
    return _end_post(path.building_id, path.unit, body)


def _central(central_id: int, status: int = 200) -> Response:
    who = caller()
    found = domain.central(get_session(), who.scope, central_id)
    row = found["row"]
    body = {
        "id": row.id,
        "household_id": row.household_id,
        "address": who.disclosure.address(row.address),
        "building_id": row.building_id,
        "person": who.disclosure.staff_contact(
            {"id": row[2], "name": row.name, "phone": row.phone, "kind": row.kind}
        ),
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "neighbours": [
            {"id": hid, "address": who.disclosure.address(address)}
            for hid, address in found["neighbours"]
        ],
    }
    response = _etag_answer(body, found["etag"], status)
    if status == 201:
        response.headers["Location"] = f"/api/v1/central-households/{row.id}"
    return response


@bp.post(
    "/central-households",
    summary="Make a party member's household a 党员中心户 looking after its neighbours",
)
@requires(BUILDINGS)
def designate_central(body: CentralBody) -> Response:
    central_id, _ = domain.designate(
        get_session(),
        caller().scope,
        body.household_id,
        body.person_id,
        body.neighbour_ids,
        start=body.start_date,
        limit=_limit(),
    )
    detail = {"household_id": body.household_id, "neighbours": len(body.neighbour_ids)}
    audit_write("central.designate", "central_household", central_id, detail)
    return _central(central_id, 201)


@bp.get(
    "/central-households/<int:central_id>",
    summary="A 党员中心户 and the neighbours it looks after (ETag)",
)
@requires(READ)
def get_central(path: CentralPath) -> Response:
    return _central(path.central_id)


@bp.put(
    "/central-households/<int:central_id>/neighbours",
    summary="Replace the neighbours a 党员中心户 looks after (needs If-Match)",
)
@requires(BUILDINGS)
def set_neighbours(path: CentralPath, body: NeighboursBody) -> Response:
    domain.set_neighbours(
        get_session(),
        caller().scope,
        path.central_id,
        body.household_ids,
        request.headers.get("If-Match"),
        limit=_limit(),
    )
    detail = {"neighbours": len(body.household_ids)}
    audit_write("central.neighbours", "central_household", path.central_id, detail)
    return _central(path.central_id)


@bp.post(
    "/central-households/<int:central_id>/end",
    summary="End a 党员中心户, kept as history (needs If-Match)",
)
@requires(BUILDINGS)
def end_central(path: CentralPath, body: EndBody) -> Response:
    domain.end_central(
        get_session(),
        caller().scope,
        path.central_id,
        body.end_date,
        request.headers.get("If-Match"),
    )
    audit_write("central.end", "central_household", path.central_id, {})
    return _central(path.central_id)
