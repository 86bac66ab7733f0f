"""公众上报: the residents' public channel, open to anyone (no account).

Codes by SMS (``POST public/codes``), a captcha after repeated use (``GET public/captcha``),
photos of the pending filing (``POST public/photos``), filing (``POST public/requests``),
following and rating by tracking number, and 我的诉求 (``POST public/mine``). Each write is
rate limited per client address and, for codes, per phone (``GRIDMAP_PUBLIC_*``); bodies are
small (:data:`MAX_JSON_BYTES`). See :mod:`gridmap.public.service`.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from flask import Response, current_app, jsonify, request
from flask_limiter.util import get_remote_address
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access import audit
from gridmap.access.security import limiter, origin, public
from gridmap.api.common import CATEGORY_CODE, Strict
from gridmap.api.files import object_store
from gridmap.core.db import get_session
from gridmap.core.errors import InvalidInput
from gridmap.core.settings import Settings
from gridmap.files import service as files
from gridmap.public import service as domain
from gridmap.requests.masked import iso
from gridmap.storage.models import TRACKING_ALPHABET

#: The largest JSON body the channel reads.
MAX_JSON_BYTES = 16 * 1024
_FORM_OVERHEAD = 16 * 1024
MOBILE = r"^1[3-9][0-9]{9}$"
TRACKING = rf"^[{TRACKING_ALPHABET}]{{12}}$"
DRAFT = r"^[A-Za-z0-9_-]{32}$"

bp = APIBlueprint("public", __name__, url_prefix="/api/v1/public", abp_tags=[Tag(name="public")])


def _settings() -> Settings:
    settings: Settings = current_app.extensions["gridmap.settings"]
    return settings


def limits() -> domain.Limits:
    s = _settings()
    return domain.Limits(
        code_minutes=s.public_code_minutes,
        max_attempts=s.public_code_max_attempts,
        captcha_after=s.public_captcha_after,
        captcha_window_minutes=s.public_captcha_window_minutes,
        max_photos=s.public_max_photos,
        max_photo_bytes=s.public_max_photo_bytes,
        max_photo_pixels=s.max_photo_pixels,
    )


@bp.url_value_preprocessor
def _body_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Small bodies here; a photo may be as large as ``GRIDMAP_PUBLIC_MAX_PHOTO_BYTES``."""
    if endpoint == "public.upload_photo":
        request.max_content_length = _settings().public_max_photo_bytes + _FORM_OVERHEAD
    else:
        request.max_content_length = MAX_JSON_BYTES


@bp.after_request
def _not_stored(response: Response) -> Response:
    """A tracking number is all it takes to read a request: no cache keeps the answers."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _code_limit() -> str:
    return _settings().public_code_rate_limit


def _phone_limit() -> str:
    return _settings().public_phone_rate_limit


def _write_limit() -> str:
    return _settings().public_write_rate_limit


def _read_limit() -> str:
    return _settings().public_read_rate_limit


def _phone_key() -> str:
    body = request.get_json(silent=True)
    phone = body.get("phone") if isinstance(body, dict) else None
    return f"phone:{phone}" if isinstance(phone, str) else f"phone-of:{get_remote_address()}"


def _audit(action: str, object_type: str, object_id: object, detail: dict[str, Any]) -> None:
    session = get_session()
    audit.record(
        session,
        action,
        username="public",
        object_type=object_type,
        object_id=object_id,
        origin=origin(),
        detail=detail,
    )
    session.commit()


class CodeBody(Strict):
    phone: str = Field(pattern=MOBILE, description="A mainland mobile number (11 digits)")
    purpose: Literal["file", "lookup"] = Field(description="file: to file; lookup: 我的诉求")
    captcha_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{16,40}$")
    captcha: str | None = Field(None, min_length=1, max_length=8)


class FilingBody(Strict):
    draft: str = Field(pattern=DRAFT, description="The draft token of POST public/codes")
    code: str = Field(pattern=r"^[0-9]{6}$", description="The code sent by SMS")
    category: str = Field(pattern=CATEGORY_CODE)
    description: str = Field(min_length=5, max_length=500)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="WGS 84")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="WGS 84")
    photos: list[str] = Field(default_factory=list, max_length=9)


class VerifyBody(Strict):
    draft: str = Field(pattern=DRAFT)
    code: str = Field(pattern=r"^[0-9]{6}$")


class RatingBody(Strict):
    resolved: Literal["resolved", "unresolved"]
    rating: Literal["satisfied", "basically_satisfied", "unsatisfied"]
    comment: str | None = Field(None, max_length=300)


class TrackingPath(BaseModel):
    number: str = Field(pattern=TRACKING)


class PhotoPath(TrackingPath):
    file_id: str = Field(pattern=r"^[A-Za-z0-9_-]{16,40}$")


@bp.get("/categories", summary="The categories a resident may choose")
@limiter.limit(_read_limit)
@public
def categories() -> Response:
    rows = domain.categories(get_session())
    return jsonify({"categories": [{"code": c.code, "name": c.name} for c in rows]})


@bp.get("/captcha", summary="A new image captcha (PNG as a data URL)")
@limiter.limit(_read_limit)
@public
def captcha() -> Response:
    captcha_id, image = domain.new_captcha(get_session(), limits())
    get_session().commit()
    data = "data:image/png;base64," + base64.b64encode(image).decode()
    return jsonify({"id": captcha_id, "image": data})


@bp.post(
    "/codes",
    summary="Send a one-time code to a phone by SMS; answers the draft token",
    responses={429: {"description": "Too many codes from this address or for this phone"}},
)
@limiter.limit(_code_limit)
@limiter.limit(_phone_limit, key_func=_phone_key)
@public
def ask_code(body: CodeBody) -> Response:
    draft, expires = domain.ask_code(
        get_session(),
        body.phone,
        body.purpose,
        get_remote_address() or "",
        limits(),
        (body.captcha_id, body.captcha),
    )
    _audit("public.code", "phone", None, {"purpose": body.purpose})
    response = jsonify({"draft": draft, "expires_at": iso(expires)})
    response.status_code = 201
    return response


@bp.post("/photos", summary="A photo of the pending filing (multipart: draft, file)")
@limiter.limit(_write_limit)
@public
def upload_photo() -> Response:
    file = request.files.get("file")
    draft = (request.form.get("draft") or "").strip()
    if file is None or not draft:
        raise InvalidInput("multipart fields 'draft' and 'file' are required")
    settings = _settings()
    row = domain.upload_photo(
        get_session(),
        object_store(),
        draft,
        file.read(settings.public_max_photo_bytes + 1),
        limits(),
    )
    _audit("public.photo", "file", row.id, {"sha256": row.sha256})
    response = jsonify({"id": row.id, "media_type": row.media_type, "size_bytes": row.size_bytes})
    response.status_code = 201
    return response


@bp.post("/requests", summary="File a request (公众上报); answers its tracking number")
@limiter.limit(_write_limit)
@public
def file_request(body: FilingBody) -> Response:
    filing = domain.Filing(
        body.category, body.description, body.lon, body.lat, tuple(dict.fromkeys(body.photos))
    )
    request_id, number = domain.file_request(get_session(), body.draft, body.code, filing, limits())
    _audit("public.file", "request", request_id, {"source": "public"})
    response = jsonify({"tracking_number": number})
    response.status_code = 201
    return response


def _status(number: str) -> dict[str, Any]:
    found = domain.status(get_session(), number)
    steps = [{"at": iso(s["at"]), "state": s["state"]} for s in found["timeline"]]
    return found | {"created_at": iso(found["created_at"]), "timeline": steps}


@bp.get("/requests/<number>", summary="A request's progress by its tracking number")
@limiter.limit(_read_limit)
@public
def request_status(path: TrackingPath) -> dict[str, Any]:
    return _status(path.number)


@bp.get("/requests/<number>/photos/<file_id>", summary="One of the resident's photos")
@limiter.limit(_read_limit)
@public
def request_photo(path: PhotoPath) -> Response:
    row = domain.photo(get_session(), path.number, path.file_id)
    response = Response(object_store().get(files.photo_key(row.id)), mimetype=row.media_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/requests/<number>/rating", summary="The resident's answer (回访), once")
@limiter.limit(_write_limit)
@public
def rate(path: TrackingPath, body: RatingBody) -> dict[str, Any]:
    answer = domain.Answer(body.resolved, body.rating, body.comment or None)
    domain.rate(get_session(), path.number, answer)
    _audit("public.rate", "request", path.number, {"rating": body.rating})
    return _status(path.number)


@bp.post("/mine", summary="我的诉求: the requests of a phone verified by its code")
@limiter.limit(_write_limit)
@public
def mine(body: VerifyBody) -> Response:
    rows = domain.mine(get_session(), body.draft, body.code, limits())
    _audit("public.mine", "phone", None, {"found": len(rows)})
    return jsonify(
        {
            "requests": [
                {
                    "tracking_number": r.tracking_number,
                    "category": r.category,
                    "state": r.state,
                    "created_at": iso(r.created_at),
                }
                for r in rows
            ]
        }
    )
