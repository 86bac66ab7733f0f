"""Photos (照片): upload one (multipart), read it and its thumbnail within the scope.

An uploaded photo's id goes into a request's ``photos`` (intake, a step's before/after), a
check-in's ``photo`` or a visit's ``photos``; until then only its uploader sees it, and it is
pruned when it stays attached to nothing. An upload with an ``Idempotency-Key`` is stored
once: a phone sending its queued photo again gets the first answer back.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, json, request, url_for
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import CLAIM, HANDLE, READ, VERIFY, VISIT, Caller
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.common import idempotency_key
from gridmap.core.db import get_session
from gridmap.core.errors import InvalidInput, Unprocessable
from gridmap.core.settings import Settings
from gridmap.files import service as domain
from gridmap.files import stores
from gridmap.requests import service as requests_domain
from gridmap.requests.masked import iso
from gridmap.storage.models import FILE_PURPOSES, StoredFile

#: Room for the multipart framing and the purpose field beside the photo.
_FORM_OVERHEAD = 64 * 1024
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}

bp = APIBlueprint(
    "files",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="files")],
    abp_security=params.BEARER,
)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["gridmap.settings"]
    return settings


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A photo may be larger than other bodies (``GRIDMAP_MAX_PHOTO_BYTES``); set before any
    hook reads the form (the CSRF check)."""
    if endpoint == "files.upload_file":
        request.max_content_length = _settings().max_photo_bytes + _FORM_OVERHEAD


def object_store() -> stores.ObjectStore:
    """The app's object store, built from its settings on first use."""
    found: stores.ObjectStore | None = current_app.extensions.get("gridmap.files")
    if found is None:
        found = stores.from_settings(_settings())
        current_app.extensions["gridmap.files"] = found
    return found


class FilePath(BaseModel):
    file_id: str = Field(pattern=r"^[A-Za-z0-9_-]{16,40}$")


def describe(row: StoredFile) -> dict[str, Any]:
    """A file as the API shows it: what it is, where to read it, its EXIF facts."""
    return {
        "id": row.id,
        "purpose": row.purpose,
        "media_type": row.media_type,
        "size_bytes": row.size_bytes,
        "width": row.width,
        "height": row.height,
        "sha256": row.sha256,
        "uploaded_at": iso(row.uploaded_at),
        "exif": row.exif,
        "url": url_for("files.read_file", file_id=row.id),
        "thumbnail_url": url_for("files.read_thumbnail", file_id=row.id),
    }


@bp.post(
    "/files",
    summary="Upload a photo (multipart: file, purpose intake | before | after | check_in | "
    "visit): checked by content, stored without EXIF; once per Idempotency-Key",
    responses={
        413: {"description": "Larger than GRIDMAP_MAX_PHOTO_BYTES"},
        415: {"description": "Not a JPEG, PNG or WebP image by its content"},
        422: {"description": "Too many pixels, truncated, damaged or with something hidden"},
    },
)
@requires(HANDLE, VERIFY, VISIT, CLAIM)
def upload_file() -> Response:
    file, purpose = _photo_form()
    settings, who = _settings(), caller()
    _may_upload(who, purpose)
    text, replayed = _upload_once(who, purpose, file.read(settings.max_photo_bytes + 1))
    response = Response(text, status=201, mimetype="application/json")
    response.headers["Location"] = url_for("files.read_file", file_id=json.loads(text)["id"])
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _upload_once(who: Caller, purpose: str, data: bytes) -> tuple[str, bool]:
    """Upload ``data`` once per Idempotency-Key (the same purpose and bytes replay the first
    answer), audit and commit; returns the answer's text and whether it is a replay."""
    settings, session = _settings(), get_session()
    stored: list[StoredFile] = []

    def write() -> tuple[int, str]:
        row = domain.upload(
            session,
            object_store(),
            who.user_id,
            purpose,
            data,
            max_bytes=settings.max_photo_bytes,
            max_pixels=settings.max_photo_pixels,
        )
        stored.append(row)
        return 201, json.dumps(describe(row))

    same = {"purpose": purpose, "sha256": hashlib.sha256(data).hexdigest()}
    _, text, replayed = requests_domain.once(
        session,
        who.user_id,
        idempotency_key(),
        requests_domain.fingerprint(request.path, same),
        write,
    )
    if stored:
        audit_write("file.upload", "file", stored[0].id, same)
    else:
        session.commit()
    return text, replayed


def _may_upload(who: Caller, purpose: str) -> None:
    """Staff upload any photo; a party member a visit's, and whoever claims needs and wishes
    (members, units) their proof (``after``)."""
    if who.capabilities & {HANDLE, VERIFY} or purpose not in FILE_PURPOSES:
        return
    allowed = {p for p, may in (("visit", VISIT), ("after", CLAIM)) if may in who.capabilities}
    if purpose not in allowed:
        raise Unprocessable(
            f"purpose {purpose!r}: your role uploads {' or '.join(sorted(allowed))} photos only"
        )


def _photo_form() -> tuple[Any, str]:
    file = request.files.get("file")
    if file is None:
        raise InvalidInput("multipart field 'file' is missing: choose a photo")
    purpose = (request.form.get("purpose") or "").strip()
    if not purpose:
        raise InvalidInput("field 'purpose' is required: intake, before, after, check_in or visit")
    return file, purpose


def _served(row: StoredFile, body: bytes, media_type: str, name: str) -> Response:
    response = Response(body, mimetype=media_type)
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["ETag"] = f'"{row.sha256}"'
    return response


@bp.get("/files/<file_id>", summary="A photo (to those who may see what it belongs to)")
@requires(READ, HANDLE, VERIFY)
def read_file(path: FilePath) -> Response:
    who = caller()
    row = domain.readable(get_session(), path.file_id, who.user_id, who.scope)
    body = object_store().get(domain.photo_key(row.id))
    return _served(row, body, row.media_type, f"{row.id}.{_EXTENSIONS[row.media_type]}")


@bp.get("/files/<file_id>/thumbnail", summary="A photo's thumbnail (JPEG, 320 px at most)")
@requires(READ, HANDLE, VERIFY)
def read_thumbnail(path: FilePath) -> Response:
    who = caller()
    row = domain.readable(get_session(), path.file_id, who.user_id, who.scope)
    body = object_store().get(domain.thumbnail_key(row.id))
    return _served(row, body, "image/jpeg", f"{row.id}-thumbnail.jpg")


@bp.get("/files/<file_id>/info", summary="What a photo is: type, size, hash, EXIF facts")
@requires(READ, HANDLE, VERIFY)
def file_info(path: FilePath) -> dict[str, Any]:
    who = caller()
    return describe(domain.readable(get_session(), path.file_id, who.user_id, who.scope))
