"""Photos (照片) as the domain sees them: upload (checked, stored, recorded), attach to what
they belong to (a request's intake or step, a patrol's check-in, a visit), read within the
caller's scope, and prune the uploads never attached.

A photo in a request's or check-in's ``photos`` is an http(s) URL (kept as given) or the id
of a file the caller uploaded (:func:`file_ids`); an id must name the caller's own upload,
of the right purpose, not yet attached to anything else.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Final

from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core import clock
from gridmap.core.errors import NotFound, Unprocessable
from gridmap.files import images
from gridmap.files.stores import ObjectStore
from gridmap.storage import files as store
from gridmap.storage.models import FILE_PURPOSES, StoredFile
from gridmap.storage.models.files import REQUEST_PURPOSES

#: Uploads pruned in one transaction (its row locks are held briefly).
PRUNE_BATCH: Final = 200


def photo_key(file_id: str) -> str:
    return f"photos/{file_id}"


def thumbnail_key(file_id: str) -> str:
    return f"thumbnails/{file_id}"


def upload(
    session: Session,
    objects: ObjectStore,
    user_id: int,
    purpose: str,
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
) -> StoredFile:
    """Check ``data`` (:func:`gridmap.files.images.check_photo`), then record and store it.

    Nothing is written for a refused file. The row is flushed before the objects are put,
    and the objects are removed again when putting one fails, so a row never names missing
    bytes (the caller commits)."""
    if purpose not in FILE_PURPOSES:
        raise Unprocessable(f"purpose must be one of {', '.join(FILE_PURPOSES)}; not {purpose!r}")
    photo = images.check_photo(data, max_bytes=max_bytes, max_pixels=max_pixels)
    file_id = secrets.token_urlsafe(18)
    store.insert_file(
        session,
        {
            "id": file_id,
            "purpose": purpose,
            "uploaded_by": user_id,
            "uploaded_at": clock.now(),
            "media_type": photo.media_type,
            "size_bytes": len(photo.body),
            "thumbnail_bytes": len(photo.thumbnail),
            "original_bytes": photo.original_bytes,
            "width": photo.width,
            "height": photo.height,
            "sha256": photo.sha256,
            "exif": photo.exif,
        },
    )
    session.flush()
    try:
        objects.put(photo_key(file_id), photo.body, photo.media_type)
        objects.put(thumbnail_key(file_id), photo.thumbnail, "image/jpeg")
    except BaseException:
        objects.delete(photo_key(file_id))
        objects.delete(thumbnail_key(file_id))
        raise
    found = store.get_file(session, file_id)
    assert found is not None
    return found


def file_ids(photos: Iterable[str]) -> list[str]:
    """The ids of uploaded files among ``photos`` (the rest are http(s) URLs)."""
    return [p for p in photos if not p.startswith(("http://", "https://"))]


def _own_files(
    session: Session, photos: Iterable[str], user_id: int, purposes: tuple[str, ...]
) -> list[StoredFile]:
    ids = file_ids(photos)
    if not ids:
        return []
    found = store.attachable(session, ids, user_id)
    missing = [i for i in ids if i not in found]
    if missing:
        raise Unprocessable(
            f"photos: {', '.join(missing)} is not a photo you uploaded "
            "(upload it first: POST /api/v1/files)"
        )
    wrong = [f.id for f in found.values() if f.purpose not in purposes]
    if wrong:
        raise Unprocessable(
            f"photos: {', '.join(wrong)} was uploaded for another purpose; "
            f"here: {', '.join(purposes)}"
        )
    return list(found.values())


def own_photos(session: Session, photos: Iterable[str], user_id: int) -> list[StoredFile]:
    """The caller's uploaded photos among ``photos`` (of a request's purposes), checked as
    for a request; to be attached elsewhere (a service project's result, a wish's proof)."""
    return _own_files(session, photos, user_id, REQUEST_PURPOSES)


def attach_to_request(
    session: Session, photos: Iterable[str], user_id: int, request_id: int
) -> None:
    """Attach the caller's uploaded ``photos`` to the request (its intake or a step)."""
    own = _own_files(session, photos, user_id, REQUEST_PURPOSES)
    taken = [
        f.id
        for f in own
        if f.check_in_id is not None
        or f.visit_id is not None
        or f.request_id not in (None, request_id)
    ]
    if taken:
        raise Unprocessable(f"photos: {', '.join(taken)} already belongs to something else")
    store.attach(session, [f.id for f in own], {"request_id": request_id})


def attach_to_check_in(
    session: Session, photos: Iterable[str], user_id: int, check_in_id: int
) -> None:
    """Attach the caller's uploaded photo to its check-in (入户签到)."""
    own = _own_files(session, photos, user_id, ("check_in",))
    if taken := _attached(own):
        raise Unprocessable(f"photo: {', '.join(taken)} already belongs to another check-in")
    store.attach(session, [f.id for f in own], {"check_in_id": check_in_id})


def attach_to_visit(session: Session, photos: Iterable[str], user_id: int, visit_id: int) -> None:
    """Attach the caller's uploaded photos to its visit (民情日志照片)."""
    own = _own_files(session, photos, user_id, ("visit",))
    if taken := _attached(own):
        raise Unprocessable(f"photos: {', '.join(taken)} already belongs to another visit")
    store.attach(session, [f.id for f in own], {"visit_id": visit_id})


def _attached(files: list[StoredFile]) -> list[str]:
    return [
        f.id
        for f in files
        if f.request_id is not None or f.check_in_id is not None or f.visit_id is not None
    ]


def has_after_photo(session: Session, request_id: int) -> bool:
    """Whether an "after" photo (处置后) is attached to the request."""
    return store.after_photos(session, request_id) > 0


def prune_unattached(session: Session, objects: ObjectStore, older_than: dt.timedelta) -> int:
    """Delete the uploads attached to nothing that were uploaded more than ``older_than`` ago,
    their rows and their bytes; returns how many. Commits after each batch: a row is gone
    before its bytes, so a row never names missing bytes (bytes whose removal fails stay as
    harmless orphans)."""
    before = clock.now() - older_than
    removed = 0
    while True:
        ids = store.claim_unattached(session, before, PRUNE_BATCH)
        session.commit()
        for file_id in ids:
            objects.delete(photo_key(file_id))
            objects.delete(thumbnail_key(file_id))
        removed += len(ids)
        if len(ids) < PRUNE_BATCH:
            return removed


def readable(session: Session, file_id: str, user_id: int, scope: Scope) -> StoredFile:
    """The file, if the caller may see it (:func:`gridmap.storage.files.visible`); else 404,
    as for anything out of scope."""
    found = store.visible(session, file_id, user_id, scope)
    if found is None:
        raise NotFound(f"There is no file {file_id}.")
    return found
