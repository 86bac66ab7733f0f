"""三张清单 with 双向认领: needs (需求清单), resources (资源清单) and service projects
(服务清单), their map layer, and what a member or unit may claim near them.

Staff (*party*) record needs and pair them with resources in the communities they manage,
confirm, decline and complete projects (If-Match on each step); a member or a unit (*claim*)
offers resources and claims open needs of its own community; a visitor (*visit*) turns one of
their visits into a need in one click. Nothing here names a resident or their door.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from flask import Response, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import CLAIM, PARTY, VISIT
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.common import Strict
from gridmap.api.party import COMMUNITY, Point
from gridmap.core.db import get_session
from gridmap.party import lists as domain
from gridmap.storage import lists as store
from gridmap.storage.models import NEED_KINDS, NEED_STATES, RESOURCE_KINDS

bp = APIBlueprint(
    "lists",
    __name__,
    url_prefix="/api/v1/party",
    abp_tags=[Tag(name="party lists")],
    abp_security=params.BEARER,
)

NeedKind = Literal[NEED_KINDS]  # type: ignore[valid-type]
NeedState = Literal[NEED_STATES]  # type: ignore[valid-type]
ResourceKind = Literal[RESOURCE_KINDS]  # type: ignore[valid-type]
TITLE = Field(min_length=1, max_length=60, description="Published: no name, phone or door")
DETAIL = Field("", max_length=500, description="Published: no name, phone or door")


class NeedBody(Strict):
    community: str = Field(pattern=COMMUNITY)
    kind: NeedKind
    title: str = TITLE
    detail: str = DETAIL
    household_id: int | None = Field(
        None, ge=1, le=2**63 - 1, description="The household (kept, never published)"
    )
    place: Point | None = Field(None, description="Default: the household's, else the middle")


class FromBody(Strict):
    kind: NeedKind
    title: str = TITLE
    detail: str = DETAIL


class NeedPath(BaseModel):
    need_id: int = Field(ge=1, le=2**63 - 1)


class VisitPath(BaseModel):
    visit_id: int = Field(ge=1, le=2**63 - 1)


class RequestPath(BaseModel):
    request_id: int = Field(ge=1, le=2**63 - 1)


class MatchPath(BaseModel):
    match_id: int = Field(ge=1, le=2**63 - 1)


class NeedsQuery(BaseModel):
    state: NeedState | None = None
    limit: int = Field(200, ge=1, le=1000)


class ListQuery(BaseModel):
    limit: int = Field(200, ge=1, le=1000)


class ProposeBody(Strict):
    resource_id: int = Field(ge=1, le=2**63 - 1, description="A resource of the community")


class ClaimBody(Strict):
    resource_id: int | None = Field(None, ge=1, le=2**63 - 1, description="One of yours")


class ResourceBody(Strict):
    kind: ResourceKind
    title: str = TITLE
    detail: str = DETAIL
    place: Point | None = Field(None, description="Where it is (a room, a vehicle), if anywhere")


class CompleteBody(Strict):
    result: str = Field(min_length=1, max_length=1000, description="What was done")
    photos: list[str] = Field(
        default_factory=list, max_length=9, description="Ids of photos you uploaded"
    )


class NearQuery(BaseModel):
    lon: float | None = Field(None, ge=73, le=136, description="Where you are (EPSG:4490)")
    lat: float | None = Field(None, ge=3, le=54, description="Where you are (EPSG:4490)")
    limit: int = Field(50, ge=1, le=200)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment else None


def _point(row: Any) -> dict[str, float] | None:
    if row.lon is None:
        return None
    return {"lon": round(float(row.lon), 3), "lat": round(float(row.lat), 3)}


def need_view(row: Any) -> dict[str, Any]:
    """A published need: kind, text, a rounded point, its project's state; no household."""
    found = {
        "id": row.id,
        "kind": row.kind,
        "title": row.title,
        "detail": row.detail,
        "source": row.source,
        "state": row.state,
        "created_at": _iso(row.created_at),
        "place": _point(row),
        "community": {"code": row.community_code, "name": row.community_name},
        "match": row.match_id and {"id": row.match_id, "state": row.match_state},
        "claimant": row.claimant,
    }
    if "distance_m" in row._fields:
        found["distance_m"] = row.distance_m and float(row.distance_m)
    return found


def wish_view(row: Any) -> dict[str, Any]:
    """A published wish: its text, a rounded point, its state and claimant; no resident."""
    found = {
        "id": row.id,
        "title": row.title,
        "detail": row.detail,
        "state": row.state,
        "created_at": _iso(row.created_at),
        "claimed_at": _iso(row.claimed_at),
        "fulfilled_at": _iso(row.fulfilled_at),
        "fulfilment": row.fulfilment,
        "confirmed_at": _iso(row.confirmed_at),
        "confirmed_how": row.confirmed_how,
        "place": {"lon": round(float(row.lon), 3), "lat": round(float(row.lat), 3)},
        "community": {"code": row.community_code, "name": row.community_name},
        "claimant": row.claimant
        and {"kind": "unit" if row.unit_id else "member", "name": row.claimant},
        "photos": list(row.photos),
        "revision": row.revision,
    }
    if "distance_m" in row._fields:
        found["distance_m"] = row.distance_m and float(row.distance_m)
    return found


def _resource(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "title": row.title,
        "detail": row.detail,
        "available": row.available,
        "created_at": _iso(row.created_at),
        "place": _point(row),
        "provider": {"kind": "unit" if row.unit_id else "member", "name": row.provider},
        "community": {"code": row.community_code, "name": row.community_name},
    }


def match_view(row: Any) -> dict[str, Any]:
    """A service project: its need, provider, state, result and photos."""
    return {
        "id": row.id,
        "state": row.state,
        "proposed_by": row.proposed_by,
        "proposed_at": _iso(row.proposed_at),
        "confirmed_at": _iso(row.confirmed_at),
        "completed_at": _iso(row.completed_at),
        "result": row.result,
        "need": {"id": row.need_id, "title": row.need_title, "kind": row.need_kind},
        "resource": row.resource_id and {"id": row.resource_id, "title": row.resource_title},
        "provider": {"kind": "unit" if row.unit_id else "member", "name": row.provider},
        "community": {"code": row.community_code, "name": row.community_name},
        "photos": list(row.photos),
        "revision": row.revision,
    }


def _tagged(body: dict[str, Any], etag: str, status: int = 200) -> Response:
    response = jsonify(body)
    response.headers["ETag"] = etag
    response.status_code = status
    return response


def _need_answer(need_id: int, status: int = 200) -> Response:
    row = domain.need(get_session(), need_id, domain.managed(caller().scope))
    return _tagged(need_view(row), domain.need_etag(row.id, row.revision), status)


def _match_answer(match_id: int, status: int = 200) -> Response:
    row = domain.match(get_session(), match_id, domain.managed(caller().scope))
    return _tagged(match_view(row), domain.match_etag(row.id, row.revision), status)


def _created(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = 201
    return response


# ---------------------------------------------------------------------------------- needs


@bp.get("/needs", summary="需求清单: residents' needs in your communities, newest first")
@requires(PARTY)
def needs(query: NeedsQuery) -> dict[str, Any]:
    states = (query.state,) if query.state else ()
    rows = store.needs(get_session(), domain.managed(caller().scope), states, query.limit)
    return {"results": [need_view(r) for r in rows]}


@bp.post("/needs", summary="Record a resident's need (需求) in one of your communities (ETag)")
@requires(PARTY)
def record_need(body: NeedBody) -> Response:
    place = body.place
    new = domain.NewNeed(
        community=body.community,
        kind=body.kind,
        title=body.title,
        detail=body.detail,
        household_id=body.household_id,
        lon=place.lon if place else None,
        lat=place.lat if place else None,
        crs=place.crs if place else "EPSG:4490",
    )
    need_id = domain.record_need(get_session(), caller(), new)
    audit_write("party.need", "party_need", need_id, {"community": body.community})
    return _need_answer(need_id, 201)


@bp.get("/needs/<int:need_id>", summary="One need and its project's state (ETag)")
@requires(PARTY)
def need(path: NeedPath) -> Response:
    return _need_answer(path.need_id)


@bp.post(
    "/needs/from-visit/<int:visit_id>",
    summary="一键转需求: a need for the household of one of your visits; 409 when recorded",
)
@requires(VISIT)
def need_from_visit(path: VisitPath, body: FromBody) -> Response:
    session, who = get_session(), caller()
    what = (body.kind, body.title, body.detail)
    need_id = domain.need_from_visit(session, who, path.visit_id, what)
    audit_write("party.need", "party_need", need_id, {"visit": path.visit_id})
    return _created(need_view(domain.recorded(session, need_id)))


@bp.post(
    "/needs/from-request/<int:request_id>",
    summary="一键转需求: a need from a resident's request in your scope; 409 when recorded",
)
@requires(PARTY)
def need_from_request(path: RequestPath, body: FromBody) -> Response:
    what = (body.kind, body.title, body.detail)
    need_id = domain.need_from_request(get_session(), caller(), path.request_id, what)
    audit_write("party.need", "party_need", need_id, {"request": path.request_id})
    return _need_answer(need_id, 201)


@bp.post(
    "/needs/<int:need_id>/matches",
    summary="The community pairs an open need with a resource: a confirmed project (ETag)",
)
@requires(PARTY)
def propose(path: NeedPath, body: ProposeBody) -> Response:
    match_id = domain.propose(get_session(), caller(), path.need_id, body.resource_id)
    audit_write("party.match", "party_match", match_id, {"need": path.need_id})
    return _match_answer(match_id, 201)


@bp.post(
    "/needs/<int:need_id>/claims",
    summary="认领: propose to meet an open need of your community; 409 when taken",
)
@requires(CLAIM)
def claim_need(path: NeedPath, body: ClaimBody) -> Response:
    session, who = get_session(), caller()
    claimant = domain.claimant_of(session, who)
    match_id = domain.claim_need(session, claimant, path.need_id, body.resource_id)
    audit_write("party.claim", "party_need", path.need_id, {"match": match_id})
    return _created({"need_id": path.need_id, "match_id": match_id, "state": "proposed"})


# ------------------------------------------------------------------------------ resources


@bp.get("/resources", summary="资源清单: what units and members offer in your communities")
@requires(PARTY)
def resources(query: ListQuery) -> dict[str, Any]:
    rows = store.resources(get_session(), domain.managed(caller().scope), query.limit)
    return {"results": [_resource(r) for r in rows]}


@bp.post("/resources", summary="Offer a resource to your community (a room, a skill, time…)")
@requires(CLAIM)
def offer(body: ResourceBody) -> Response:
    session, who = get_session(), caller()
    claimant = domain.claimant_of(session, who)
    place = body.place
    new = domain.NewResource(
        kind=body.kind,
        title=body.title,
        detail=body.detail,
        lon=place.lon if place else None,
        lat=place.lat if place else None,
        crs=place.crs if place else "EPSG:4490",
    )
    resource_id = domain.offer(session, claimant, new)
    audit_write("party.offer", "party_resource", resource_id, {"kind": body.kind})
    row = store.resources(session, domain.of_community(claimant.community_id), 1, resource_id)
    return _created(_resource(row[0]))


# -------------------------------------------------------------------------------- matches


@bp.get("/matches", summary="服务清单: service projects in your communities")
@requires(PARTY)
def matches(query: ListQuery) -> dict[str, Any]:
    rows = store.matches(get_session(), domain.managed(caller().scope), query.limit)
    return {"results": [match_view(r) for r in rows]}


@bp.get("/matches/<int:match_id>", summary="One service project (ETag)")
@requires(PARTY)
def match(path: MatchPath) -> Response:
    return _match_answer(path.match_id)


@bp.post("/matches/<int:match_id>/confirm", summary="Confirm a proposed project (If-Match)")
@requires(PARTY)
def confirm(path: MatchPath) -> Response:
    domain.confirm(get_session(), caller(), path.match_id, request.headers.get("If-Match"))
    audit_write("party.match_confirm", "party_match", path.match_id, {})
    return _match_answer(path.match_id)


@bp.post(
    "/matches/<int:match_id>/decline",
    summary="Decline a project not done yet: the need is open again (If-Match)",
)
@requires(PARTY)
def decline(path: MatchPath) -> Response:
    domain.decline(get_session(), caller(), path.match_id, request.headers.get("If-Match"))
    audit_write("party.match_decline", "party_match", path.match_id, {})
    return _match_answer(path.match_id)


@bp.post(
    "/matches/<int:match_id>/complete",
    summary="A confirmed project is done: its result and photos (If-Match)",
)
@requires(PARTY)
def complete(path: MatchPath, body: CompleteBody) -> Response:
    session, who = get_session(), caller()
    result = (body.result, body.photos)
    domain.complete(session, who, path.match_id, request.headers.get("If-Match"), result)
    audit_write("party.match_done", "party_match", path.match_id, {"photos": len(body.photos)})
    return _match_answer(path.match_id)


# ------------------------------------------------------------------------ near me, the map


@bp.get(
    "/claimable",
    summary="Open needs and 微心愿 of your community (type need or wish), nearest first (a "
    "member's home or the point given)",
)
@requires(CLAIM)
def claimable(query: NearQuery) -> dict[str, Any]:
    session, who = get_session(), caller()
    claimant = domain.claimant_of(session, who)
    here = (query.lon, query.lat) if query.lon is not None and query.lat is not None else None
    found_needs, found_wishes = store.claimable(
        session, claimant.community_id, here or claimant.home, query.limit
    )
    results = [{"type": "need"} | need_view(r) for r in found_needs]
    results += [{"type": "wish"} | wish_view(r) for r in found_wishes]
    return {"results": results}


@bp.get(
    "/lists/map",
    summary="Open needs and available resources as GeoJSON points (rounded), each need with "
    "the nearest resource within 1 km",
)
@requires(PARTY)
def lists_map(query: ListQuery) -> Response:
    rows = store.map_layer(get_session(), domain.managed(caller().scope), query.limit)
    features = [
        {
            "type": "Feature",
            "id": f"{r.layer}-{r.id}",
            "geometry": {"type": "Point", "coordinates": [round(r.lon, 3), round(r.lat, 3)]},
            "properties": {
                "layer": r.layer,
                "id": r.id,
                "kind": r.kind,
                "title": r.title,
                "near_resource_id": r.near_resource_id,
                "community": r.community_code,
            },
        }
        for r in rows
    ]
    body = {
        "type": "FeatureCollection",
        "numberReturned": len(features),
        "next": None,
        "features": features,
    }
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    return response
