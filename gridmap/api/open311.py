"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) under ``/open311/v2/``.

Categories are services (``service_code`` = the category code); requests are filed as
``application/x-www-form-urlencoded`` bodies, as the spec says, and located, routed and owned
like any other intake. States map to the spec's two statuses: ``open`` while someone still has
to act (reported, accepted, handling), ``closed`` once handled (completed, feedback, archived,
duplicate); ``status_notes`` gives the exact state.

Deviations: every endpoint needs a login (``Authorization: Bearer``) instead of an
``api_key``, as everything in gridmap does; ``jurisdiction_id`` is ignored (one deployment
serves one jurisdiction); ``address_string`` is not geocoded (give ``lat``/``long``, or the
household as ``address_id``). Errors are the spec's list of ``{code, description}`` with the
HTTP status as code, including refusals of the login check.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qsl

from flask import Response, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gridmap.access.auth import HANDLE, READ
from gridmap.access.security import caller, requires
from gridmap.api import params
from gridmap.api.common import CATEGORY_CODE, PHONE, file_once
from gridmap.core import glossary
from gridmap.core.db import get_session
from gridmap.core.errors import PROBLEM_JSON, InvalidInput, NotFound
from gridmap.core.privacy import mask_text
from gridmap.requests import lifecycle
from gridmap.requests import service as domain
from gridmap.storage import requests as store

bp = APIBlueprint(
    "open311",
    __name__,
    url_prefix="/open311/v2",
    abp_tags=[Tag(name="open311")],
    abp_security=params.BEARER,
)

#: The most requests one ``GET requests.json`` returns (the spec suggests a server limit).
MAX_REQUESTS = 1000


class ServicePath(BaseModel):
    service_code: str = Field(pattern=CATEGORY_CODE)


class RequestPath(BaseModel):
    request_id: int = Field(ge=1)


class NewServiceRequest(BaseModel):
    """The spec's POST fields (form-encoded); unknown fields such as ``api_key`` are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    service_code: str = Field(pattern=CATEGORY_CODE)
    lat: float | None = Field(None, allow_inf_nan=False, description="WGS 84")
    long: float | None = Field(None, allow_inf_nan=False, description="WGS 84")
    address_string: str | None = Field(None, max_length=300)
    address_id: int | None = Field(None, ge=1, description="A household id")
    description: str = Field(min_length=1, max_length=2000)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    first_name: str | None = Field(None, min_length=1, max_length=25)
    last_name: str | None = Field(None, min_length=1, max_length=25)
    phone: str | None = Field(None, pattern=PHONE)
    media_url: str | None = Field(None, max_length=500, pattern=r"^https?://[^\s]+$")

    @model_validator(mode="after")
    def _one_place(self) -> NewServiceRequest:
        has_point = self.lat is not None and self.long is not None
        if (self.lat is None) != (self.long is None):
            raise ValueError("lat and long go together")
        if has_point == (self.address_id is not None):
            raise ValueError(
                "give lat and long, or address_id (a household); address_string alone is not "
                "geocoded"
            )
        return self


class ServiceRequestQuery(BaseModel):
    service_request_id: str | None = Field(
        None,
        max_length=4000,
        pattern=r"^[0-9]{1,18}(,[0-9]{1,18})*$",
        description="Comma-separated ids",
    )
    service_code: str | None = Field(None, pattern=CATEGORY_CODE)
    start_date: params.Moment | None = None
    end_date: params.Moment | None = None
    status: str | None = Field(None, pattern=r"^(open|closed)(,(open|closed))?$")


# ----------------------------------------------------------------------------------- answers


def _errors(response: Response) -> Response:
    """Every error of these endpoints in the spec's shape: ``[{code, description}]``."""
    if response.mimetype != PROBLEM_JSON:
        return response
    problem = json.loads(response.get_data(as_text=True))
    errors = [{"code": response.status_code, "description": problem.get("detail", "")}]
    response.set_data(json.dumps(errors, ensure_ascii=False))
    response.mimetype = "application/json"
    return response


bp.after_request(_errors)


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


def _service_request(row: Any) -> dict[str, Any]:
    url = next((p for p in row.photos if str(p).startswith(("http://", "https://"))), None)
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
        "address": None,
        "address_id": str(row.household_id) if row.household_id else None,
        "zipcode": None,
        "lat": row.lat,
        "long": row.lon,
        "media_url": url,
    }


def _new_request(form: NewServiceRequest) -> domain.NewRequest:
    name = "".join(p for p in (form.last_name, form.first_name) if p) or None  # 姓 then 名
    return domain.NewRequest(
        category=form.service_code,
        description=form.description,
        source="open311",
        lon=form.long,
        lat=form.lat,
        crs="EPSG:4326",
        household_id=form.address_id,
        contact_name=name,
        contact_phone=form.phone,
        contact_email=form.email,
        photos=(form.media_url,) if form.media_url else (),
    )


def _filed(request_id: int) -> list[dict[str, Any]]:
    return [{"service_request_id": str(request_id), "service_notice": None, "account_id": None}]


# ------------------------------------------------------------------------------------ routes


@bp.get("/services.json", summary="GeoReport v2: the service list (request categories)")
@requires(READ)
def services() -> Response:
    return jsonify([_service(c) for c in store.current_categories(get_session())])


@bp.get("/services/<service_code>.json", summary="GeoReport v2: a service definition")
@requires(READ)
def service_definition(path: ServicePath) -> Response:
    category = store.current_category(get_session(), path.service_code)
    if category is None:
        raise NotFound(f"There is no service {path.service_code!r}.")
    return jsonify({"service_code": category.code, "attributes": []})


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
        fields = dict(pairs)
    else:
        fields = request.form.to_dict(flat=True)
    try:
        return NewServiceRequest.model_validate(fields)
    except ValidationError as exc:
        where = [
            {"field": ".".join(str(p) for p in e["loc"]) or "form", "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        detail = "; ".join(f"{w['field']}: {w['message']}" for w in where)
        raise InvalidInput(detail, errors=where) from None


@bp.post(
    "/requests.json",
    summary="GeoReport v2: file a request (form-encoded)",
    description="application/x-www-form-urlencoded fields: service_code; lat and long (WGS 84) "
    "or address_id (a household); description; optional email, first_name, last_name, phone, "
    "media_url. Other fields (api_key, jurisdiction_id…) are ignored.",
)
@requires(HANDLE)
def create_request() -> Response:
    form = _parse_form()
    response, _ = file_once(_new_request(form), form.model_dump(mode="json"), _filed)
    return response


@bp.get("/requests.json", summary="GeoReport v2: requests in the caller's scope")
@requires(READ)
def list_requests(query: ServiceRequestQuery) -> Response:
    if query.start_date and query.end_date and query.start_date > query.end_date:
        raise InvalidInput("start_date must not be after end_date")
    ids = (
        tuple(int(i) for i in query.service_request_id.split(","))
        if query.service_request_id
        else ()
    )
    wanted = store.RequestFilter(states=_states(query.status), category=query.service_code)
    rows, _ = store.list_requests(
        get_session(),
        wanted,
        scope=caller().scope,
        limit=MAX_REQUESTS,
        since=_aware(query.start_date),
        until=_aware(query.end_date),
        ids=ids,
    )
    return jsonify([_service_request(r) for r in rows])


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
    return moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


@bp.get("/requests/<int:request_id>.json", summary="GeoReport v2: one request")
@requires(READ)
def get_request(path: RequestPath) -> Response:
    row = store.get_request(get_session(), path.request_id, caller().scope)
    if row is None:
        raise NotFound(f"There is no request {path.request_id}.")
    return jsonify([_service_request(row)])
