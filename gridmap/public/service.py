"""公众上报: a resident files a request without an account, follows it and rates it.

A phone number is proven by a one-time code (验证码) sent by SMS through the outbox (so the
demo's recorder and ``/notifications/sent`` show it). Asking for a code gives the client a
draft token: photos of the pending filing are uploaded with it, and filing needs it with the
code. Only hashes are stored; a code expires (``Limits.code_minutes``) and takes a few wrong
guesses at most (``Limits.max_attempts``, each counted even though its call fails). After
repeated use from one phone or address (``Limits.captcha_after`` codes within the window) a
new code needs an image captcha (the ``captcha`` library), one guess per image.

A filing is an ordinary intake (:func:`gridmap.requests.service.intake`) by the ``public``
account acting as the ``resident`` role, with source ``public`` and the verified phone as
contact; it gets a tracking number (查询码, :data:`TRACKING_LENGTH` characters of an
alphabet without look-alikes). By it the resident reads the timeline in plain words (states
and times: no staff, no notes) and their own photos, and answers the 回访 once (``callback``
on channel ``public``: resolved?, satisfied?, a comment), which 三率 reads like any answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from typing import Any, Final

from captcha.image import ImageCaptcha
from sqlalchemy.orm import Session

from gridmap.access.auth import Caller, Scope
from gridmap.core import clock, glossary
from gridmap.core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from gridmap.files import service as files
from gridmap.files.stores import ObjectStore
from gridmap.grid.lookup import to_storage_point
from gridmap.requests import service as requests
from gridmap.storage import notifications as outbox
from gridmap.storage import public as store
from gridmap.storage import requests as request_store
from gridmap.storage.models import TRACKING_ALPHABET, ResidentRequest, StoredFile

TRACKING_LENGTH: Final = 12
#: The whole district: a resident may file anywhere a micro-grid covers.
DISTRICT: Final = Scope(prefixes=("",))
_CAPTCHA_CHARS: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CAPTCHA_LENGTH: Final = 4


@dataclass(frozen=True)
class Limits:
    """The channel's limits (``GRIDMAP_PUBLIC_*``)."""

    code_minutes: int = 5
    max_attempts: int = 5
    captcha_after: int = 3
    captcha_window_minutes: int = 60
    captcha_minutes: int = 10
    max_photos: int = 4
    max_photo_bytes: int = 5 * 1024 * 1024
    max_photo_pixels: int = 40_000_000


class CodeWrong(InvalidInput):
    code = "code-wrong"
    title = "Wrong code"


class CodeExpired(InvalidInput):
    code = "code-expired"
    title = "Code expired or used"


class CodeLocked(InvalidInput):
    status = 429
    code = "code-locked"
    title = "Too many wrong codes"


class CaptchaRequired(InvalidInput):
    code = "captcha-required"
    title = "Captcha required"


class CaptchaWrong(InvalidInput):
    code = "captcha-wrong"
    title = "Wrong captcha"


class OutsideDistrict(Unprocessable):
    code = "outside-district"
    title = "Outside the district"


class ClosedCategory(Unprocessable):
    code = "category-closed"
    title = "Not a category residents may choose"


class TooManyPhotos(Unprocessable):
    code = "too-many-photos"
    title = "Too many photos"


class AlreadyRated(Conflict):
    code = "already-rated"
    title = "Already rated"


class NotRateable(Conflict):
    code = "not-rateable"
    title = "Not completed"


@dataclass(frozen=True)
class Filing:
    """What a resident files: where (WGS 84 from the phone or the map), what, which photos."""

    category: str
    description: str
    lon: float
    lat: float
    photos: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """The resident's 回访 answer: resolved?, satisfied?, and a comment."""

    resolved: str
    rating: str
    comment: str | None = None


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def resident(session: Session) -> Caller:
    """The public channel's caller: the ``public`` account in the ``resident`` role."""
    return Caller(
        store.public_user_id(session), store.PUBLIC_USERNAME, "resident", DISTRICT, 0, "public"
    )


# ---------------------------------------------------------------------------------- captcha


def new_captcha(session: Session, limits: Limits) -> tuple[str, bytes]:
    """A captcha: its id and its PNG image (not committed)."""
    answer = "".join(secrets.choice(_CAPTCHA_CHARS) for _ in range(_CAPTCHA_LENGTH))
    captcha_id = secrets.token_urlsafe(18)
    now = clock.now()
    store.add_captcha(
        session,
        {
            "id": captcha_id,
            "answer_hash": _sha(answer),
            "created_at": now,
            "expires_at": now + dt.timedelta(minutes=limits.captcha_minutes),
        },
    )
    image: io.BytesIO = ImageCaptcha(width=160, height=60).generate(answer, format="png")
    return captcha_id, image.getvalue()


def _check_captcha(session: Session, captcha_id: str | None, answer: str | None) -> None:
    if not captcha_id or not answer:
        raise CaptchaRequired("Several codes were asked for lately: answer the captcha first.")
    found = store.take_captcha(session, captcha_id, clock.now())
    if found is None or not hmac.compare_digest(found.answer_hash, _sha(answer.strip().upper())):
        session.commit()  # the image is spent either way: one guess each
        raise CaptchaWrong("The captcha answer is wrong or the image expired: ask for a new one.")


# ------------------------------------------------------------------------------------ codes


def ask_code(
    session: Session,
    phone: str,
    purpose: str,
    client: str,
    limits: Limits,
    captcha: tuple[str | None, str | None] = (None, None),
) -> tuple[str, dt.datetime]:
    """Send a one-time code to ``phone`` (through the outbox); returns the draft token and
    when the code expires (not committed)."""
    now = clock.now()
    since = now - dt.timedelta(minutes=limits.captcha_window_minutes)
    if store.recent_codes(session, phone, client, since) >= limits.captcha_after:
        _check_captcha(session, *captcha)
    code = f"{secrets.randbelow(10**6):06d}"
    draft = secrets.token_urlsafe(24)
    expires = now + dt.timedelta(minutes=limits.code_minutes)
    store.add_code(
        session,
        {
            "phone": phone,
            "purpose": purpose,
            "draft_hash": _sha(draft),
            "code_hash": _sha(f"{draft}:{code}"),
            "client": client[:64],
            "created_at": now,
            "expires_at": expires,
        },
    )
    text = glossary.CODE_MESSAGE.format(code=code, minutes=limits.code_minutes)
    outbox.add_message(
        session,
        {
            "kind": "verify_code",
            "recipient_phone": phone,
            "urgent": True,  # a code is of no use after quiet hours
            "created_at": now,
            "next_attempt_at": now,
            "payload": {"text": text},
        },
    )
    return draft, expires


def _pending(session: Session, draft: str, purpose: str, *, lock: bool = False) -> Any:
    found = store.code_by_draft(session, _sha(draft), lock=lock)
    if found is None or found.purpose != purpose or found.used_at is not None:
        raise CodeExpired("This code was used or never sent: ask for a new one.")
    if clock.now() >= found.expires_at:
        raise CodeExpired("This code has expired: ask for a new one.")
    return found


def _verified(session: Session, draft: str, code: str, purpose: str, limits: Limits) -> Any:
    """The code row, locked, once ``code`` is right; a wrong guess is counted (committed)."""
    found = _pending(session, draft, purpose, lock=True)
    if found.attempts >= limits.max_attempts:
        raise CodeLocked("Too many wrong codes: ask for a new one.")
    if not hmac.compare_digest(found.code_hash, _sha(f"{draft}:{code}")):
        store.count_attempt(session, found.id)
        session.commit()  # the guess counts although the call fails
        raise CodeWrong("The code is wrong.")
    return found


# ----------------------------------------------------------------------------------- filing


def upload_photo(
    session: Session, objects: ObjectStore, draft: str, data: bytes, limits: Limits
) -> StoredFile:
    """A photo of the pending filing of ``draft`` (checked like every photo; not committed)."""
    pending = _pending(session, draft, "file", lock=True)
    if len(store.draft_photos(session, pending.id)) >= limits.max_photos:
        raise TooManyPhotos(f"At most {limits.max_photos} photos go with one filing.")
    row = files.upload(
        session,
        objects,
        store.public_user_id(session),
        "intake",
        data,
        max_bytes=limits.max_photo_bytes,
        max_pixels=limits.max_photo_pixels,
    )
    store.tie_photo(session, row.id, pending.id)
    return row


def tracking_number() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def file_request(
    session: Session, draft: str, code: str, filing: Filing, limits: Limits
) -> tuple[int, str]:
    """上报 by a resident: the request's id and tracking number (not committed)."""
    lon, lat = to_storage_point(filing.lon, filing.lat, "EPSG:4326")
    if request_store.micro_grid_at(session, lon, lat, DISTRICT) is None:
        raise OutsideDistrict(
            f"The point ({filing.lon:.6f}, {filing.lat:.6f}) is outside the district: "
            "choose a place inside it."
        )
    category = request_store.current_category(session, filing.category)
    if category is None or not category.open_to_public:
        raise ClosedCategory(
            f"category {filing.category!r} is not one residents may choose: "
            "GET /api/v1/public/categories lists those"
        )
    pending = _verified(session, draft, code, "file", limits)
    mine = {f.id for f in store.draft_photos(session, pending.id)}
    strangers = [p for p in filing.photos if p not in mine]
    if strangers:
        raise Unprocessable(f"photos: {', '.join(strangers)} was not uploaded with this filing")
    new = requests.NewRequest(
        category=filing.category,
        description=filing.description,
        source="public",
        lon=filing.lon,
        lat=filing.lat,
        contact_phone=pending.phone,
        photos=filing.photos,
    )
    request_id = requests.intake(session, new, resident(session))
    number = tracking_number()
    store.set_tracking_number(session, request_id, number)
    store.use_code(session, pending.id, clock.now(), request_id)
    return request_id, number


# ------------------------------------------------------------------------------- following


def followed(session: Session, number: str, *, lock: bool = False) -> ResidentRequest:
    found = store.by_tracking_number(session, number.strip().upper(), lock=lock)
    if found is None:
        raise NotFound("There is no request with this tracking number.")
    return found


def status(session: Session, number: str) -> dict[str, Any]:
    """What the resident reads: category, state, the timeline in plain words (state changes
    and times), their photos, whether they may rate and their answer."""
    row = followed(session, number)
    steps = []
    answer = None
    for event in request_store.timeline(session, row.id):
        if event.action == "callback" and event.actor == store.PUBLIC_USERNAME:
            answer = {k: event.detail.get(k) for k in ("resolved", "rating")} | {
                "comment": event.note
            }
        if event.from_state != event.to_state:
            steps.append({"at": event.at, "state": event.to_state})
    answered = answer is not None
    return {
        "tracking_number": row.tracking_number,
        "category": store.category_name(session, row.category_id),
        "state": row.state,
        "created_at": row.created_at,
        "timeline": steps,
        "photos": [p.id for p in store.resident_photos(session, row.id)],
        "may_rate": row.state == "completed" and not answered,
        "answer": answer,
    }


def photo(session: Session, number: str, file_id: str) -> StoredFile:
    """One of the resident's own photos of the request (else 404)."""
    row = followed(session, number)
    found = next((p for p in store.resident_photos(session, row.id) if p.id == file_id), None)
    if found is None:
        raise NotFound(f"There is no file {file_id}.")
    return found


def rate(session: Session, number: str, answer: Answer) -> None:
    """The resident's 回访 answer, once per request (not committed)."""
    row = followed(session, number, lock=True)
    who = resident(session)
    if store.answered_by(session, row.id, who.user_id):
        raise AlreadyRated("This request has been rated already: one answer per request.")
    if row.state != "completed":
        raise NotRateable("A request is rated once it is completed.")
    change = requests.Change(
        action="callback",
        resolved=answer.resolved,
        rating=answer.rating,
        channel="public",
        note=answer.comment or None,
    )
    requests.apply(session, row, change, who)


def mine(session: Session, draft: str, code: str, limits: Limits) -> list[Any]:
    """我的诉求: the requests filed with the verified phone (the code is used up)."""
    pending = _verified(session, draft, code, "lookup", limits)
    store.use_code(session, pending.id, clock.now(), None)
    return store.requests_of_phone(session, pending.phone)


#: An unused code, its abandoned photos and a captcha stay this long after they expired.
FORGET_AFTER: Final = dt.timedelta(days=1)


def forget(session: Session, objects: ObjectStore, now: dt.datetime) -> dict[str, int]:
    """Forget filings never made: the photos of drafts whose code expired more than
    :data:`FORGET_AFTER` ago (objects and rows), those codes, and old captchas; returns the
    rows removed per table (not committed). The objects go first: a failed commit leaves rows
    that nothing can attach or read any more, never an object without its row to find it."""
    before = now - FORGET_AFTER
    photo_ids = store.abandoned_photos(session, before)
    for file_id in photo_ids:
        objects.delete(files.photo_key(file_id))
        objects.delete(files.thumbnail_key(file_id))
    return store.forget(session, photo_ids, before)


def categories(session: Session) -> list[Any]:
    """The current categories residents may choose (公众上报)."""
    return [c for c in request_store.current_categories(session) if c.open_to_public]
