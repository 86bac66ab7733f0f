"""What several API resources share: strict bodies and their common parts (a place, a photo,
a note), the ``Idempotency-Key`` header, filing a request once per key, CSV downloads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from flask import Response, current_app, json, request
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gridmap.access.security import audit_write, caller
from gridmap.core.cells import csv_lines
from gridmap.core.db import get_session, streamed
from gridmap.core.errors import InvalidInput
from gridmap.core.storable import MESSAGE, unstorable_text
from gridmap.requests import service as domain

CATEGORY_CODE = r"^[a-z0-9][a-z0-9._-]{1,39}$"
PHONE = r"^[0-9+\-]{5,20}$"
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
#: An http(s) URL a client can open: a host name or IPv4 address (no user, no IPv6 literal),
#: an optional port, then a path, query or fragment without spaces.
HTTP_URL = r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][^\s]*)?"
#: A photo: an http(s) URL or the id of an uploaded file.
Photo = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=500, pattern=rf"^({HTTP_URL}|[A-Za-z0-9._-]{{1,100}})$"
    ),
]
#: A note typed on a phone: no control characters (PostgreSQL text cannot hold NUL).
Note = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=2000,
        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
    ),
]


def _true_only(value: object) -> object:
    if value is not True:
        raise ValueError("must be true")
    return value


#: A yes given as JSON ``true`` and nothing else (pydantic's ``Literal[True]`` also takes 1).
Agreed = Annotated[Literal[True], BeforeValidator(_true_only)]
#: A password as typed: never stripped (spaces may be part of it).
Password = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=200)]


class Strict(BaseModel):
    """A request body: unknown members, coercion and blank padding are refused or removed, and
    so is text that cannot be stored (NUL or a lone surrogate anywhere, member names too)."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        where = unstorable_text(data)
        if where is not None:
            raise PydanticCustomError(
                "unstorable_text",
                "{where}: " + MESSAGE,
                {"where": where},
            )
        return data


class Location(Strict):
    lon: float = Field(allow_inf_nan=False, description="Longitude (x) in the declared CRS")
    lat: float = Field(allow_inf_nan=False, description="Latitude (y) in the declared CRS")
    crs: str = Field(
        "EPSG:4326",
        max_length=40,
        description="EPSG:4326, EPSG:4490, EPSG:4491–4554, GCJ02 (AMap/Tencent) or BD09 (Baidu)",
    )


def idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header, checked (visible ASCII, at most 200 characters)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _KEY.match(key):
        raise InvalidInput("Idempotency-Key must be 1 to 200 visible ASCII characters")
    return key


def no_body(why: str) -> None:
    """Refuse a request that carries a body to an endpoint that reads none: a body there is a
    mistake of the caller's (an old client, a wrong URL), never something to ignore."""
    if request.get_data(cache=True):
        raise InvalidInput(f"此操作不带请求体（this request takes no body: {why}）")


def urgency_factors() -> dict[str, float]:
    """The configured share of every stage limit for each urgency (``GRIDMAP_URGENCY_FACTORS``)."""
    factors: dict[str, float] = current_app.extensions["gridmap.settings"].factors
    return factors


def file_once(
    new: domain.NewRequest, fingerprint_body: dict[str, Any], answer: Any
) -> tuple[Response, Any]:
    """File ``new`` once per Idempotency-Key; ``answer(id)`` builds the response body.

    Returns the response (on a replay the first one's status and body text again, marked
    ``Idempotent-Replayed``) and its body. Audits and commits.
    """
    session, who = get_session(), caller()
    key = idempotency_key()
    created: list[int] = []

    def write() -> tuple[int, str]:
        created.append(domain.intake(session, new, who, urgency_factors()))
        return 201, json.dumps(answer(created[0]))

    status, text, replayed = domain.once(
        session, who.user_id, key, domain.fingerprint(request.path, fingerprint_body), write
    )
    if created:
        audit_write("request.create", "request", created[0], {"source": new.source})
    response = Response(text, status=status, mimetype="application/json")
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response, json.loads(text)


def csv_response(header: list[str], rows: Iterator[list[Any]], filename: str) -> Response:
    """A CSV download streamed a line at a time from ``rows`` (:func:`gridmap.core.cells.
    csv_lines`: formula cells neutralised), read from the request's session until the last
    line is sent (:func:`gridmap.core.db.streamed`)."""
    return Response(
        streamed(csv_lines(header, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )
