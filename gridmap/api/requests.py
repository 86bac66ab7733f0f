"""Residents' requests (群众诉求): intake, the caller's requests, one request with its timeline,
and transitions with ETag / If-Match.

Contact details, owners' names and phone numbers written into free text are masked in every
answer; the answer to an intake is stored with its ``Idempotency-Key`` and replayed as is.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Response, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gridmap.access.auth import HANDLE, READ, VERIFY, VISIT
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params, serializers
from gridmap.api.common import (
    CATEGORY_CODE,
    PHONE,
    Location,
    Photo,
    Strict,
    file_once,
    urgency_factors,
)
from gridmap.core import clock
from gridmap.core.db import get_session
from gridmap.core.errors import InvalidInput, NotFound
from gridmap.core.privacy import Disclosure, mask_email, mask_name, mask_phone, mask_text
from gridmap.requests import deadlines, lifecycle, rates
from gridmap.requests import service as domain
from gridmap.requests.masked import iso as _iso
from gridmap.requests.masked import properties as properties
from gridmap.requests.masked import warning as warning
from gridmap.storage import requests as store
from gridmap.storage.grids import Page

bp = APIBlueprint(
    "requests",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="requests")],
    abp_security=params.BEARER,
)


#: What a handler writes on a step (free text; a NUL is refused by the database mapping).
#: 一般, 紧急, 特急 (``gridmap.requests.service.DEFAULT_FACTORS``).
Urgency = Literal["normal", "urgent", "critical"]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Contact(Strict):
    name: str | None = Field(None, min_length=1, max_length=50)
    phone: str | None = Field(None, pattern=PHONE)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


_KIND = {"location": "object", "household_id": "integer"}


def _only(present: str, absent: str) -> dict[str, Any]:
    """A oneOf choice: ``present`` given, ``absent`` left out or null. (No ``properties`` of
    its own: client generators would make each choice a model of its own.)"""
    return {
        "required": [present],
        "not": {"required": [absent], "properties": {absent: {"type": _KIND[absent]}}},
    }


class IntakeBody(Strict):
    """A resident's request: where is exactly one of ``location`` and ``household_id``."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                _only("location", "household_id"),
                _only("household_id", "location"),
            ]
        }
    )

    category: str = Field(pattern=CATEGORY_CODE, description="A category code (service_code)")
    description: str = Field(min_length=1, max_length=2000)
    location: Location | None = Field(None, description="Where, or give household_id")
    household_id: int | None = Field(None, ge=1, description="The household concerned")
    contact: Contact | None = Field(None, description="Personal data: masked in every answer")
    photos: list[Photo] = Field(default_factory=list, max_length=9)
    urgency: Urgency = Field(
        "normal",
        description="一般 normal, 紧急 urgent, 特急 critical: an urgent request's stage limits "
        "are shortened by the configured factor (GRIDMAP_URGENCY_FACTORS)",
    )

    @model_validator(mode="after")
    def _one_place(self) -> IntakeBody:
        if (self.location is None) == (self.household_id is None):
            raise ValueError("give exactly one of location {lon, lat, crs} and household_id")
        return self


class TimeLimit(Strict):
    amount: int = Field(ge=0, le=deadlines.MAX_AMOUNT)
    unit: Literal["hours", "days"]
    basis: deadlines.Basis | None = Field(
        None,
        description="clock (elapsed time) or working (working time); default: as the "
        "category's response limit",
    )


class TransitionBody(Strict):
    action: lifecycle.Action
    note: Note | None = None
    rating: lifecycle.Rating | None = Field(None, description="rate: the resident's answer")
    reason: Note | None = Field(
        None,
        description="escalate, return (退单), reassign, ask_extension, refuse_extension, "
        "supervise: why",
    )
    duplicate_of: int | None = Field(None, ge=1, description="mark_duplicate: the original")
    department_id: int | None = Field(
        None, ge=1, description="escalate to / reassign at department: one serving the place"
    )
    cohandler_ids: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list, max_length=10, description="add_cohandler: the departments (协办)"
    )
    helper_ids: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list,
        max_length=20,
        description="call_helpers: grid workers or in-service members of the community (社区吹哨)",
    )
    person_id: int | None = Field(None, ge=1, description="hand it to this staff member")
    urgency: Urgency | None = Field(
        None, description="set_urgency: 一般 normal, 紧急 urgent or 特急 critical"
    )
    time_limit: TimeLimit | None = Field(
        None,
        description="the response limit the street gives a summoned department; the extra "
        "time asked (ask_extension, 延期); the new limit of a supervision (supervise, 督办)",
    )
    photos: list[Photo] = Field(default_factory=list, max_length=9)
    resolved: lifecycle.Resolved | None = Field(
        None, description="callback (回访): resolved (已解决) or unresolved (未解决)"
    )
    channel: lifecycle.Channel | None = Field(
        None, description="callback: how it was asked (phone, on_site, public)"
    )


class RequestPath(BaseModel):
    request_id: int = Field(ge=1)


class DuplicateQuery(params.Query):
    radius_m: float = Field(200, gt=0, le=5000, description="How far, in metres")
    days: int = Field(7, ge=1, le=90, description="How many days before or after")


class RequestListQuery(params.PageQuery, params.BBoxQuery):
    state: str | None = Field(None, description="State(s), comma-separated")
    category: str | None = Field(None, pattern=CATEGORY_CODE)
    grid: str | None = Field(None, pattern=r"^[0-9]{6,17}$", description="Requests in this subtree")
    overdue: bool = Field(False, description="Only those past their stage deadline")
    warning: Literal["yellow", "red"] | None = Field(
        None, description="红黄牌: yellow (due soon) or red (overdue) only"
    )
    mine: bool = Field(False, description="Only those the caller (its department) owns: the inbox")
    cohandling: bool = Field(False, description="Only those the caller's department co-handles")
    extension_pending: bool = Field(False, description="Only those with an extension (延期) asked")
    filed: bool = Field(False, description="Only those the caller filed (我上报的)")


# ---------------------------------------------------------------------------------- answers


def _event(event: Any) -> dict[str, Any]:
    return {
        "at": _iso(event.at),
        "actor": event.actor,
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "level": event.level,
        "owner_person_id": event.owner_person_id,
        "note": mask_text(event.note),
        "photos": event.photos,
        "detail": event.detail,
    }


def detail(request_id: int, *, just_written: bool = False) -> dict[str, Any]:
    """One request with its timeline, contact masked, its ETag and what the caller may do
    (``just_written``: the answer to the caller's write, even if it left their scope)."""
    who, session = caller(), get_session()
    row, events = domain.get(session, request_id, who, just_written=just_written)
    cohandlers, pending = domain.departments_of(session, row.id)
    return properties(row, who.disclosure) | {
        "location": {"lon": row.lon, "lat": row.lat},
        "contact": {
            "name": mask_name(row.contact_name),
            "phone": mask_phone(row.contact_phone),
            "email": mask_email(row.contact_email),
        },
        "photos": row.photos,
        "revision": row.revision,
        "etag": domain.etag(row.id, row.revision),
        "allowed_actions": domain.allowed(session, row, who),
        "cohandlers": [{"id": d.id, "name": d.name} for d in cohandlers],
        "extension": pending,
        "timeline": [_event(e) for e in events],
    }


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["ETag"] = body["etag"]
    return response


def channel_of(kind: str) -> str:
    """The channel (来源) of a request filed with a credential of ``kind``: the signed-in
    page's session (a cookie only the login form gives, its writes CSRF-checked) files from
    the page (页面上报); a bearer token or an API key, from another system (系统上报). Told
    by the server from the credential, so no client can claim another channel."""
    return "page" if kind == "web" else "api"


def new_request(body: IntakeBody) -> domain.NewRequest:
    contact = body.contact or Contact()
    place = body.location
    return domain.NewRequest(
        category=body.category,
        description=body.description,
        source=channel_of(caller().kind),
        lon=place.lon if place else None,
        lat=place.lat if place else None,
        crs=place.crs if place else "EPSG:4326",
        household_id=body.household_id,
        contact_name=contact.name,
        contact_phone=contact.phone,
        contact_email=contact.email,
        photos=tuple(body.photos),
        urgency=body.urgency,
    )


# ----------------------------------------------------------------------------------- routes


@bp.post(
    "/requests",
    summary="File a request (located, routed, owned at once; Idempotency-Key); a party member "
    "files for a household they cover",
)
@requires(HANDLE, VISIT)
def create_request(body: IntakeBody) -> Response:
    response, answer = file_once(new_request(body), body.model_dump(mode="json"), detail)
    response.headers["ETag"] = answer["etag"]
    response.headers["Location"] = f"/api/v1/requests/{answer['id']}"
    return response


@bp.get("/requests", summary="Requests in the caller's scope (GeoJSON, newest first, paginated)")
@requires(READ)
def list_requests(query: RequestListQuery) -> Response:
    limit, before = params.parse_page(query)
    session, who, now = get_session(), caller(), clock.now()
    person, user = domain.inbox_owner(session, who) if query.mine else (None, None)
    wanted = store.RequestFilter(
        states=parse_states(query.state),
        category=query.category,
        grid_code=query.grid,
        overdue=query.overdue,
        mine=query.mine,
        owner_person_id=person,
        owner_user_id=user,
        owner_department_id=who.scope.department_id if query.mine else None,
        cohandled_by=_cohandling(who, query.cohandling),
        extension_pending=query.extension_pending,
        filed_by=who.user_id if query.filed else None,
        warning=query.warning,
        now=now,
        bbox=params.parse_bbox(query.bbox),
    )
    rows, after = rates.warning_page(
        session, wanted, scope=who.scope, limit=limit, before_id=before, now=now
    )
    features = [_feature(r, who.disclosure) for r in rows]
    return serializers.feature_collection(
        features, Page(rows, None if after is None else str(after))
    )


def _cohandling(who: Any, wanted: bool) -> int | None:
    """协办 tab: the caller's department (-1 matches nothing for an account without one)."""
    if not wanted:
        return None
    return who.scope.department_id if who.scope.department_id is not None else -1


def _feature(row: Any, disclosure: Disclosure) -> dict[str, Any]:
    point = {"type": "Point", "coordinates": [row.lon, row.lat]}
    return {
        "type": "Feature",
        "id": row.id,
        "geometry": point,
        "properties": properties(row, disclosure),
    }


def parse_states(text: str | None) -> tuple[str, ...]:
    """``"reported,accepted"`` → the states, or a 400 naming the allowed ones."""
    if not text:
        return ()
    states = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in states if s not in lifecycle.STATES]
    if unknown:
        raise InvalidInput(f"state must be among {', '.join(lifecycle.STATES)}; not {unknown}")
    return states


@bp.get("/requests/<int:request_id>", summary="One request with its timeline (ETag)")
@requires(READ)
def get_request(path: RequestPath) -> Response:
    return _answer(detail(path.request_id))


@bp.post(
    "/requests/<int:request_id>/transitions",
    summary="Act on a request: accept, start, complete, rate, archive, escalate, callback, "
    "verify… (If-Match)",
)
@requires(HANDLE, VERIFY)
def transition(path: RequestPath, body: TransitionBody) -> Response:
    change = domain.Change(
        **body.model_dump(exclude={"photos", "time_limit", "cohandler_ids", "helper_ids"}),
        time_limit=body.time_limit.model_dump() if body.time_limit else None,
        cohandler_ids=tuple(body.cohandler_ids),
        helper_ids=tuple(body.helper_ids),
        photos=tuple(body.photos),
    )
    domain.act(
        get_session(),
        path.request_id,
        change,
        caller(),
        request.headers.get("If-Match"),
        urgency_factors(),
    )
    audit_write(
        f"request.{body.action}",
        "request",
        path.request_id,
        body.model_dump(
            mode="json",
            include={"action", "rating", "duplicate_of", "department_id", "cohandler_ids"}
            | {"time_limit", "helper_ids", "resolved", "channel", "urgency"},
        ),
    )
    return _answer(detail(path.request_id, just_written=True))


@bp.get(
    "/requests/<int:request_id>/duplicates",
    summary="Candidates to mark this one a duplicate of: same category, near in place and time",
)
@requires(READ)
def duplicate_candidates(path: RequestPath, query: DuplicateQuery) -> dict[str, Any]:
    who = caller()
    rows = store.duplicate_candidates(
        get_session(),
        path.request_id,
        who.scope,
        radius_m=query.radius_m,
        days=query.days,
        limit=20,
    )
    if rows is None:
        raise NotFound(f"There is no request {path.request_id}.")
    return {
        "candidates": [
            properties(r, who.disclosure) | {"distance_m": round(r.distance_m, 1)} for r in rows
        ]
    }
