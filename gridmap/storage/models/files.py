"""Uploaded files (照片): the record of every photo kept in the object store.

The bytes live in the configured object store (the local disk under ``var/`` or an
S3-compatible bucket, :mod:`gridmap.files.stores`), under keys made from the record's id;
the row says who uploaded it, what it belongs to (a request, one of its steps, a patrol's
check-in, a visit), what it is (type, size, pixels, content hash) and what its EXIF said (the place
and time the camera wrote, kept as data although the stored image no longer carries them).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import Base, in_list

#: What a photo is for: filed with a request (intake), a step's 处置前/处置后 (before, after)
#: a patrol's check-in (入户签到) or a visit (民情日志).
FILE_PURPOSES = ("intake", "before", "after", "check_in", "visit")
#: The purposes a request's photos may have.
REQUEST_PURPOSES = ("intake", "before", "after")
#: A photo attached to nothing yet: its uploader's alone, pruned after a while.
UNATTACHED = "request_id IS NULL AND check_in_id IS NULL AND visit_id IS NULL"
#: The image types stored (decoded by content, re-encoded without metadata).
FILE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp")


class StoredFile(Base):
    """An uploaded photo. Unattached (no ``request_id``, ``check_in_id`` or ``visit_id``) it
    is its uploader's alone, and pruned after ``GRIDMAP_FILES_UNATTACHED_HOURS``; attached,
    whoever sees the request, the check-in or the visit sees it."""

    __tablename__ = "stored_file"
    __table_args__ = (
        CheckConstraint("id ~ '^[A-Za-z0-9_-]{16,40}$'", name="id_shape"),
        CheckConstraint(in_list("purpose", FILE_PURPOSES), name="purpose_known"),
        CheckConstraint(in_list("media_type", FILE_MEDIA_TYPES), name="media_type_known"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_shape"),
        CheckConstraint(
            "size_bytes > 0 AND thumbnail_bytes > 0 AND original_bytes > 0", name="sizes_positive"
        ),
        CheckConstraint("width > 0 AND height > 0", name="pixels_positive"),
        CheckConstraint("jsonb_typeof(exif) = 'object'", name="exif_object"),
        CheckConstraint(
            "num_nonnulls(request_id, check_in_id, visit_id) <= 1", name="belongs_to_one_thing"
        ),
        CheckConstraint("check_in_id IS NULL OR purpose = 'check_in'", name="check_in_photo"),
        CheckConstraint(
            f"request_id IS NULL OR {in_list('purpose', REQUEST_PURPOSES)}", name="request_photo"
        ),
        CheckConstraint("visit_id IS NULL OR purpose = 'visit'", name="visit_photo"),
        Index(
            "ix_stored_file_unattached_uploaded_at",
            "uploaded_at",
            postgresql_where=text(UNATTACHED),
        ),
    )

    #: The public name (random, unguessable): what ``photos`` lists and URLs carry.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(10))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("resident_request.id"), index=True)
    check_in_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_check_in.id"), index=True)
    #: A resident's photo of a pending public filing (公众上报): the code it was sent with.
    public_code_id: Mapped[int | None] = mapped_column(ForeignKey("public_code.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("household_visit.id"), index=True)
    media_type: Mapped[str] = mapped_column(String(20))
    #: The stored image's bytes (re-encoded without metadata), its thumbnail's and the upload's.
    size_bytes: Mapped[int] = mapped_column(Integer)
    thumbnail_bytes: Mapped[int] = mapped_column(Integer)
    original_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    #: SHA-256 of the bytes as uploaded (the evidence as the camera gave it).
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: From the EXIF: ``taken_at`` (ISO time), ``gps`` ({lon, lat}, WGS 84) when present and
    #: sane, ``notes`` (why a value was left out, e.g. GPS outside the world).
    exif: Mapped[dict[str, object]] = mapped_column(JSONB, server_default="{}")
