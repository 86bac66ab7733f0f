"""Queries of the public channel (公众上报): codes, captchas, photos of a pending filing, and
the requests a resident follows by tracking number or phone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from gridmap.storage.models import (
    Category,
    PublicCaptcha,
    PublicCode,
    RequestEvent,
    ResidentRequest,
    StoredFile,
    User,
)

#: The account public filings and photos are recorded by (migration 0023).
PUBLIC_USERNAME = "public"


def public_user_id(session: Session) -> int:
    found = session.scalar(select(User.id).where(User.username == PUBLIC_USERNAME))
    if found is None:
        raise LookupError(f"no account {PUBLIC_USERNAME!r}: apply the migrations (0023)")
    return int(found)


def add_code(session: Session, values: dict[str, Any]) -> int:
    return int(
        session.execute(insert(PublicCode).values(**values).returning(PublicCode.id)).one()[0]
    )


def code_by_draft(session: Session, draft_hash: str, *, lock: bool = False) -> PublicCode | None:
    stmt = select(PublicCode).where(PublicCode.draft_hash == draft_hash)
    return session.scalars(stmt.with_for_update() if lock else stmt).first()


def count_attempt(session: Session, code_id: int) -> None:
    session.execute(
        update(PublicCode).where(PublicCode.id == code_id).values(attempts=PublicCode.attempts + 1)
    )


def use_code(session: Session, code_id: int, now: dt.datetime, request_id: int | None) -> None:
    session.execute(
        update(PublicCode)
        .where(PublicCode.id == code_id)
        .values(used_at=now, request_id=request_id)
    )


def recent_codes(session: Session, phone: str, client: str, since: dt.datetime) -> int:
    """Codes asked for by this phone or from this address since ``since``."""
    stmt = select(func.count()).where(
        PublicCode.created_at >= since, or_(PublicCode.phone == phone, PublicCode.client == client)
    )
    return int(session.scalar(stmt) or 0)


def add_captcha(session: Session, values: dict[str, Any]) -> None:
    session.execute(insert(PublicCaptcha).values(**values))


def take_captcha(session: Session, captcha_id: str, now: dt.datetime) -> PublicCaptcha | None:
    """The captcha if it is unused and unexpired, marked used (one guess per image)."""
    stmt = (
        update(PublicCaptcha)
        .where(
            PublicCaptcha.id == captcha_id,
            PublicCaptcha.used_at.is_(None),
            PublicCaptcha.expires_at > now,
        )
        .values(used_at=now)
        .returning(PublicCaptcha)
    )
    return session.scalars(stmt).first()


def draft_photos(session: Session, code_id: int) -> list[StoredFile]:
    stmt = (
        select(StoredFile)
        .where(StoredFile.public_code_id == code_id)
        .order_by(StoredFile.uploaded_at)
    )
    return list(session.scalars(stmt))


def tie_photo(session: Session, file_id: str, code_id: int) -> None:
    session.execute(
        update(StoredFile).where(StoredFile.id == file_id).values(public_code_id=code_id)
    )


def set_tracking_number(session: Session, request_id: int, tracking_number: str) -> None:
    session.execute(
        update(ResidentRequest)
        .where(ResidentRequest.id == request_id)
        .values(tracking_number=tracking_number)
    )


def by_tracking_number(
    session: Session, tracking_number: str, *, lock: bool = False
) -> ResidentRequest | None:
    stmt = select(ResidentRequest).where(ResidentRequest.tracking_number == tracking_number)
    return session.scalars(stmt.with_for_update() if lock else stmt).first()


def category_name(session: Session, category_id: int) -> str:
    return str(session.scalar(select(Category.name).where(Category.id == category_id)))


def resident_photos(session: Session, request_id: int) -> list[StoredFile]:
    """The photos the resident filed with the request (through the public channel)."""
    stmt = (
        select(StoredFile)
        .where(StoredFile.request_id == request_id, StoredFile.public_code_id.is_not(None))
        .order_by(StoredFile.uploaded_at)
    )
    return list(session.scalars(stmt))


def answered_by(session: Session, request_id: int, user_id: int) -> bool:
    """Whether the account has recorded an answer (回访) on the request."""
    stmt = select(RequestEvent.id).where(
        RequestEvent.request_id == request_id,
        RequestEvent.actor_user_id == user_id,
        RequestEvent.action == "callback",
    )
    return session.scalar(stmt.limit(1)) is not None


def requests_of_phone(session: Session, phone: str) -> list[Any]:
    """The requests filed through the public channel with this phone, newest first."""
    stmt = (
        select(
            ResidentRequest.tracking_number,
            ResidentRequest.state,
            ResidentRequest.created_at,
            Category.name.label("category"),
        )
        .join(Category, Category.id == ResidentRequest.category_id)
        .where(
            ResidentRequest.contact_phone == phone,
            ResidentRequest.source == "public",
            ResidentRequest.tracking_number.is_not(None),
        )
        .order_by(ResidentRequest.created_at.desc())
        .limit(100)
    )
    return list(session.execute(stmt))


def _abandoned(before: dt.datetime) -> Any:
    """Codes never used to file, expired before ``before``."""
    return select(PublicCode.id).where(
        PublicCode.request_id.is_(None), PublicCode.expires_at < before
    )


def abandoned_photos(session: Session, before: dt.datetime) -> list[str]:
    """Photos of filings never made whose code expired before ``before``."""
    stmt = select(StoredFile.id).where(
        StoredFile.public_code_id.in_(_abandoned(before)), StoredFile.request_id.is_(None)
    )
    return list(session.scalars(stmt))


def forget(session: Session, photo_ids: list[str], before: dt.datetime) -> dict[str, int]:
    """Delete the abandoned photos' rows, the unused codes and the captchas expired before
    ``before``; returns the rows removed per table."""
    photos = session.scalars(
        delete(StoredFile).where(StoredFile.id.in_(photo_ids)).returning(StoredFile.id)
    ).all()
    codes = session.scalars(
        delete(PublicCode).where(PublicCode.id.in_(_abandoned(before))).returning(PublicCode.id)
    ).all()
    captchas = session.scalars(
        delete(PublicCaptcha).where(PublicCaptcha.expires_at < before).returning(PublicCaptcha.id)
    ).all()
    return {"stored_file": len(photos), "public_code": len(codes), "public_captcha": len(captchas)}
