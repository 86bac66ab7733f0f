"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) under ``/open311/v2/``, in
JSON and XML (``….json`` / ``….xml``), with the discovery document at
``/open311/discovery.(json|xml)``.

Categories are services (``service_code`` = the category code); requests are filed as
``application/x-www-form-urlencoded`` bodies, as the spec says, and located, routed and owned
like any other intake. States map to the spec's two statuses: ``open`` while someone still has
to act (reported, accepted, handling), ``closed`` once handled (completed, feedback, archived,
duplicate); ``status_notes`` gives the exact state.

Who may call: an ``api_key`` (query or form field) issued by the system administrator to a
client application acts in the key's role and scope; a login (bearer token or session) in
its own. With ``GRIDMAP_OPEN311_PUBLIC_READ`` on, the reads also answer anyone without
credentials, over the whole deployment. Personal data is masked as everywhere: the
description's phone and ID numbers, the address after the community or road; no contact
details are ever shown. ``address_string`` alone is matched against the households' and
buildings' addresses in the caller's scope (:mod:`gridmap.grid.addresses`).

Deviations: ``jurisdiction_id`` is ignored (one deployment serves one jurisdiction);
requests are filed at once, so a POST answers the ``service_request_id`` and a token is the
request's id (``GET tokens/{id}`` answers it back); services have no attributes
(``metadata`` false). Errors are the spec's list of ``{code, description}`` with the HTTP
status as code, everywhere under ``/open311/`` (:func:`gridmap.api.georeport.as_error_list`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl

from flask import Response, g, request, url_for
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gridmap.access.auth import HANDLE, READ, Scope
from gridmap.access.security import caller, public, public_when, requires
from gridmap.api import params
from gridmap.api.common import CATEGORY_CODE, HTTP_URL, PHONE, file_once
from gridmap.api.georeport import Format, answer, as_error_list
from gridmap.core import clock, glossary
from gridmap.core.db import get_session
from gridmap.core.errors import InvalidInput, NotFound
from gridmap.core.privacy import mask_address, mask_text
from gridmap.grid import addresses
from gridmap.requests import lifecycle
from gridmap.requests import service as domain
from gridmap.storage import requests as store

bp = APIBlueprint(
    "open311",
    __name__,
    url_prefix="/open311",
    abp_tags=[Tag(name="open311")],
    abp_security=[*params.BEARER, {"api_key": []}],  # a login, or a client application's key
)
bp.after_app_request(as_error_list)

#: The most requests one ``GET requests`` returns (the spec suggests a server limit).
MAX_REQUESTS = 1000
#: The spec's default and widest window of ``GET requests``.
WINDOW = dt.timedelta(days=90)
#: The scope of a reader without credentials (public reads): every grid.
PUBLIC_SCOPE = Scope(prefixes=("",))
#: When this server's GeoReport v2 endpoint last changed (the discovery's changeset).
CHANGESET = "2026-12-05T00:00:00+08:00"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
PUBLIC_READ = "open311_public_read"

_FMT = "<any(json, xml):fmt>"
_CODES = CATEGORY_CODE.strip("^$")


class FormatPath(BaseModel):
    fmt: Format = Field(description="json or xml")


class ServicePath(FormatPath):
    service_code: str = Field(pattern=CATEGORY_CODE)


class RequestPath(FormatPath):
    request_id: int = Field(ge=1)


class TokenPath(FormatPath):
    token: int = Field(ge=1, description="A token: the request's id (requests are filed at once)")


class NewServiceRequest(BaseModel):
    """The spec's POST fields (form-encoded); others (``api_key``, ``jurisdiction_id``,
    ``device_id``, ``account_id``, ``attribute[…]``) are ignored here."""

    model_config = ConfigDict(
        extra="ignore",
        str_strip_whitespace=True,
        # The place rule of _one_place, for the document.
        json_schema_extra={
            "anyOf": [{"required": [name]} for name in ("lat", "address_id", "address_string")],
            "dependentRequired": {"lat": ["long"], "long": ["lat"]},
            "not": {"required": ["lat", "address_id"]},
        },
    )

    service_code: str = Field(pattern=CATEGORY_CODE)
    lat: float | None = Field(None, allow_inf_nan=False, description="WGS 84")
    long: float | None = Field(None, allow_inf_nan=False, description="WGS 84")
    address_string: str | None = Field(None, min_length=1, max_length=300)
    address_id: int | None = Field(None, ge=1, description="A household id")
    description: str | None = Field(None, max_length=2000)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    first_name: str | None = Field(None, min_length=1, max_length=25)
    last_name: str | None = Field(None, min_length=1, max_length=25)
    phone: str | None = Field(None, pattern=PHONE)
    media_url: str | None = Field(None, max_length=500, pattern=f"^{HTTP_URL}$")

    @model_validator(mode="after")
    def _one_place(self) -> NewServiceRequest:
        if (self.lat is None) != (self.long is None):
            raise ValueError("lat and long go together")
        if self.lat is not None and self.address_id is not None:
            raise ValueError("give lat and long, or address_id (a household), not both")
        if self.lat is None and self.address_id is None and not self.address_string:
            raise ValueError("give lat and long, address_string, or address_id (a household)")
        return self


class ServiceRequestQuery(params.Query):
    service_request_id: str | None = Field(
        None,
        max_length=4000,
        pattern=r"^[0-9]{1,18}(,[0-9]{1,18})*$",
        description="Comma-separated ids; overrides every other parameter",
    )
    service_code: str | None = Field(
        None, max_length=4000, pattern=f"^{_CODES}(,{_CODES})*$", description="Comma-separated"
    )
    start_date: params.Moment | None = Field(None, description="Default: end_date − 90 days")
    end_date: params.Moment | None = Field(
        None, description="Default: start_date + 90 days, or now"
    )
    status: str | None = Field(None, pattern=r"^(open|closed)(,(open|closed))?$")
    api_key: str | None = Field(None, max_length=200, description="An issued API key")
    jurisdiction_id: str | None = Field(None, max_length=200, description="Ignored")


class KeyQuery(params.Query):
    api_key: str | None = Field(None, max_length=200, description="An issued API key")
    jurisdiction_id: str | None = Field(None, max_length=200, description="Ignored")


# ----------------------------------------------------------------------------------- answers


def _scope() -> Scope:
    """The caller's scope; a reader without credentials (public reads) sees every grid."""
    who = getattr(g, "caller", None)
    return who.scope if who is not None else PUBLIC_SCOPE


def _service(category: Any) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description or category.name,
        "metadata": False,
        "type": "realtime",
        "keywords": "",
        "group": category.event_class,
    }


def _time(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment else None


def _service_request(row: Any, address: str | None) -> dict[str, Any]:
    return {
        "service_request_id": str(row.id),
        "status": "closed" if row.state in lifecycle.CLOSED else "open",
        "status_notes": glossary.STATE_NOTES.get(row.state, row.state),
        "service_name": row.category_name,
        "service_code": row.category_code,
        "description": mask_text(row.description),
        "agency_responsible": f"{row.level} {row.micro_grid_code}",
        "service_notice": None,
        "requested_datetime": _time(row.created_at),
        "updated_datetime": _time(row.updated_at),
        "expected_datetime": _time(row.stage_deadline),
        "address": mask_address(address),
        "address_id": str(row.household_id) if row.household_id else None,
        "zipcode": None,
        "lat": row.lat,
        "long": row.lon,
        "media_url": _media_url(row.photos),
    }


def _media_url(photos: list[Any]) -> str | None:
    """The request's first photo: a URL as given, an uploaded photo where this server serves
    it (to callers who may see the request)."""
    if not photos:
        return None
    first = str(photos[0])
    if first.startswith(("http://", "https://")):
        return first
    return url_for("files.read_file", file_id=first, _external=True)


def _service_requests(rows: list[Any]) -> list[dict[str, Any]]:
    found = store.addresses_of(get_session(), [r.id for r in rows], _scope())
    return [_service_request(r, found.get(r.id)) for r in rows]


def _new_request(form: NewServiceRequest) -> domain.NewRequest:
    name = "".join(p for p in (form.last_name, form.first_name) if p) or None  # 姓 then 名
    lon, lat, household, crs = form.long, form.lat, form.address_id, "EPSG:4326"
    if lat is None and household is None and form.address_string:
        found = addresses.geocode(get_session(), form.address_string, caller().scope)
        # A building's centre is in the stored CRS.
        lon, lat, household, crs = found.lon, found.lat, found.household_id, "EPSG:4490"
    return domain.NewRequest(
        category=form.service_code,
        description=form.description or glossary.NO_DESCRIPTION,
        source="open311",
        lon=lon,
        lat=lat,
        crs=crs,
        household_id=household,
        contact_name=name,
        contact_phone=form.phone,
        contact_email=form.email,
        photos=(form.media_url,) if form.media_url else (),
    )


def _filed(request_id: int) -> list[dict[str, Any]]:
    return [{"service_request_id": str(request_id), "service_notice": None, "account_id": None}]


def _parse_form() -> NewServiceRequest:
    """The form as sent: flask-openapi3 would JSON-decode each value first, turning a phone
    ``13712345678`` into a number and a description ``null`` into nothing."""
    if request.mimetype == "application/x-www-form-urlencoded":
        # Decoded strictly: werkzeug would keep undecodable %-escapes as literal text.
        raw = request.get_data(cache=True)
        try:
            pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise InvalidInput("the form is not valid UTF-8 text") from None
        fields = {k: v for k, v in pairs if v != ""}  # an empty field is a field not sent
    else:
        fields = {k: v for k, v in request.form.to_dict(flat=True).items() if v != ""}
    try:
        return NewServiceRequest.model_validate(fields)
    except ValidationError as exc:
        where = [
            {"field": ".".join(str(p) for p in e["loc"]) or "form", "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        detail = "; ".join(f"{w['field']}: {w['message']}" for w in where)
        raise InvalidInput(detail, errors=where) from None


def _window(query: ServiceRequestQuery) -> tuple[dt.datetime, dt.datetime]:
    """The spec's date window: the last 90 days by default, 90 days from ``start_date`` or
    up to ``end_date`` when one is given, and never wider than 90 days."""
    start, end = _aware(query.start_date), _aware(query.end_date)
    end = end or (start + WINDOW if start else clock.now())
    start = start or end - WINDOW
    if start > end:
        raise InvalidInput("start_date must not be after end_date")
    if end - start > WINDOW:
        raise InvalidInput("start_date and end_date may not span more than 90 days")
    return start, end


def _states(status: str | None) -> tuple[str, ...]:
    if not status or set(status.split(",")) == {"open", "closed"}:
        return ()
    if status == "closed":
        return lifecycle.CLOSED
    return lifecycle.OPEN


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """The spec's dates are W3C datetimes; one without an offset is taken as Beijing time."""
    if moment is None or moment.utcoffset() is not None:
        return moment
    return moment.replace(tzinfo=clock.BEIJING)


def _matching(query: ServiceRequestQuery) -> list[Any]:
    """The requests ``GET requests`` answers: by ids alone, or by the filters in the window."""
    session, scope = get_session(), _scope()
    if query.service_request_id:
        ids = tuple(int(i) for i in query.service_request_id.split(","))
        found = store.list_requests(
            session, store.RequestFilter(), scope=scope, limit=MAX_REQUESTS, ids=ids
        )
        return found[0]
    since, until = _window(query)
    codes = tuple(query.service_code.split(",")) if query.service_code else ()
    wanted = store.RequestFilter(states=_states(query.status), categories=codes)
    rows, _ = store.list_requests(
        session, wanted, scope=scope, limit=MAX_REQUESTS, since=since, until=until
    )
    return rows


def _discovery() -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": "The system administrator of this deployment issues API keys.",
        "key_service": "API keys are issued per client application by the system "
        "administrator (POST /api/v1/admin/open311-keys).",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": request.host_url + "open311/v2",
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


# ------------------------------------------------------------------------------------ routes


@bp.get(f"/discovery.{_FMT}", summary="Open311 service discovery", security=[])
@public
def discovery(path: FormatPath) -> Response:
    return answer(_discovery(), path.fmt, "discovery")


@bp.get(f"/v2/services.{_FMT}", summary="GeoReport v2: the service list (request categories)")
@public_when(PUBLIC_READ)
@requires(READ)
def services(path: FormatPath, query: KeyQuery) -> Response:
    found = store.current_categories(get_session())
    return answer([_service(c) for c in found], path.fmt, "services")


@bp.get(f"/v2/services/<service_code>.{_FMT}", summary="GeoReport v2: a service definition")
@public_when(PUBLIC_READ)
@requires(READ)
def service_definition(path: ServicePath, query: KeyQuery) -> Response:
    category = store.current_category(get_session(), path.service_code)
    if category is None:
        raise NotFound(f"There is no service {path.service_code!r}.")
    body = {"service_code": category.code, "attributes": []}
    return answer(body, path.fmt, "service_definition")


@bp.post(
    f"/v2/requests.{_FMT}",
    summary="GeoReport v2: file a request (form-encoded)",
    description="application/x-www-form-urlencoded fields: api_key (or a login); "
    "service_code; lat and long (WGS 84), address_string (a household's or building's "
    "address) or address_id (a household); optional description, email, first_name, "
    "last_name, phone, media_url. Other fields (jurisdiction_id, device_id…) are ignored.",
)
@requires(HANDLE)
def create_request(path: FormatPath) -> Response:
    form = _parse_form()
    first, body = file_once(_new_request(form), form.model_dump(mode="json"), _filed)
    response = answer(body, path.fmt, "service_requests", first.status_code)
    if "Idempotent-Replayed" in first.headers:
        response.headers["Idempotent-Replayed"] = first.headers["Idempotent-Replayed"]
    return response


@bp.get(f"/v2/requests.{_FMT}", summary="GeoReport v2: requests in the caller's scope")
@public_when(PUBLIC_READ)
@requires(READ)
def list_requests(path: FormatPath, query: ServiceRequestQuery) -> Response:
    rows = _matching(query)
    return answer(_service_requests(rows), path.fmt, "service_requests")


@bp.get(f"/v2/requests/<int:request_id>.{_FMT}", summary="GeoReport v2: one request")
@public_when(PUBLIC_READ)
@requires(READ)
def get_request(path: RequestPath, query: KeyQuery) -> Response:
    row = store.get_request(get_session(), path.request_id, _scope())
    if row is None:
        raise NotFound(f"There is no request {path.request_id}.")
    return answer(_service_requests([row]), path.fmt, "service_requests")


@bp.get(f"/v2/tokens/<int:token>.{_FMT}", summary="GeoReport v2: the request of a token")
@public_when(PUBLIC_READ)
@requires(READ)
def token(path: TokenPath, query: KeyQuery) -> Response:
    found = store.is_visible(get_session(), path.token, _scope())
    if found is None:
        raise NotFound(f"There is no request for token {path.token}.")
    body = [{"service_request_id": str(found.id), "token": str(path.token)}]
    return answer(body, path.fmt, "service_requests")
