"""公众上报: the residents' public channel through its API, without an account: a code by
SMS (read from the outbox), photos of the pending filing, filing, following by tracking
number, rating once (read by 三率 as an answer); and every refusal a 4xx that stores
nothing (wrong, expired and exhausted codes, rate limits, the captcha, a point outside the
district, a huge body, NUL characters)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from gridmap import create_app
from gridmap.api import answers
from gridmap.core import clock, db
from gridmap.core.settings import Settings
from gridmap.files import service as files
from gridmap.files import stores
from gridmap.public import service as public
from gridmap.storage.models import (
    AuditEntry,
    Outbox,
    PublicCaptcha,
    PublicCode,
    RequestEvent,
    ResidentRequest,
    StoredFile,
)
from tests.conftest import COMMUNITY, ClientFor
from tests.requests.conftest import IN_01001, act
from tests.requests.photos import image

PHONE = "13912345678"
OUTSIDE = (121.47, 31.23)  # Shanghai: no micro-grid of the test district


def code_of(session: Session, phone: str = PHONE) -> str:
    """The newest code sent to ``phone``, as the SMS in the outbox says it."""
    text = session.scalars(
        select(Outbox.payload["text"].astext)
        .where(Outbox.kind == "verify_code", Outbox.recipient_phone == phone)
        .order_by(Outbox.id.desc())
    ).first()
    assert text is not None
    found = re.search(r"[0-9]{6}", text)
    assert found is not None
    return found.group(0)


def ask(client: FlaskClient, phone: str = PHONE, purpose: str = "file", **more: Any) -> Any:
    response = client.post("/api/v1/public/codes", json={"phone": phone, "purpose": purpose} | more)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["draft"]


def filing(draft: str, code: str, **changes: Any) -> dict[str, Any]:
    return {
        "draft": draft,
        "code": code,
        "category": "sanitation.garbage",
        "description": "楼下垃圾桶满溢，已经两天没人清运",
        "lon": IN_01001[0],
        "lat": IN_01001[1],
    } | changes


def counts(session: Session) -> dict[str, int]:
    session.expire_all()
    tables = (ResidentRequest, RequestEvent, StoredFile)
    found = {
        t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0 for t in tables
    }
    used = select(func.count()).where(PublicCode.used_at.is_not(None))
    return found | {"codes used": session.scalar(used) or 0}


@pytest.fixture
def resident(app: OpenAPI, staff: None) -> FlaskClient:
    return app.test_client()


def test_a_resident_files_follows_and_rates_once(
    resident: FlaskClient, clients: ClientFor, session: Session
) -> None:
    draft = ask(resident)
    photo = resident.post(
        "/api/v1/public/photos",
        data={"draft": draft, "file": (io.BytesIO(image()), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert photo.status_code == 201, photo.get_data(as_text=True)
    photo_id = photo.get_json()["id"]
    filed = resident.post(
        "/api/v1/public/requests", json=filing(draft, code_of(session), photos=[photo_id])
    )
    assert filed.status_code == 201, filed.get_data(as_text=True)
    number = filed.get_json()["tracking_number"]
    assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{12}", number)
    row = session.scalars(
        select(ResidentRequest).where(ResidentRequest.tracking_number == number)
    ).one()
    assert (row.source, row.contact_phone) == ("public", PHONE)

    # Staff see the channel, the photo and the phone masked.
    worker = clients("grid_worker")
    seen = worker.get(f"/api/v1/requests/{row.id}").get_json()
    assert PHONE not in str(seen)
    assert worker.get(f"/api/v1/files/{photo_id}").status_code == 200
    # The resident sees their photo by the tracking number, nobody else's.
    assert resident.get(f"/api/v1/public/requests/{number}/photos/{photo_id}").status_code == 200
    assert resident.get(f"/api/v1/files/{photo_id}").status_code == 401

    early = resident.post(
        f"/api/v1/public/requests/{number}/rating",
        json={"resolved": "resolved", "rating": "satisfied"},
    )
    assert early.status_code == 409

    etag = worker.get(f"/api/v1/requests/{row.id}").headers["ETag"]
    for action in ("accept", "start", "complete"):
        answer = act(worker, row.id, etag, action=action)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        etag = answer.headers["ETag"]

    # The resident's SMS name the request by its tracking number.
    told = session.scalars(
        select(Outbox.payload["text"].astext).where(
            Outbox.request_id == row.id, Outbox.recipient_phone == PHONE
        )
    ).all()
    assert len(told) == 3 and all(f"编号 {number}，" in t for t in told)

    followed = resident.get(f"/api/v1/public/requests/{number}")
    assert followed.headers["Cache-Control"] == "no-store"
    status = followed.get_json()
    answers.PublicStatus.model_validate(status)
    assert [s["state"] for s in status["timeline"]] == [
        "reported",
        "accepted",
        "handling",
        "completed",
    ]
    assert status["may_rate"] and status["photos"] == [photo_id]
    assert "张员" not in str(status) and "grid_worker" not in str(status)

    body = {"resolved": "resolved", "rating": "basically_satisfied", "comment": "清运及时"}
    rated = resident.post(f"/api/v1/public/requests/{number}/rating", json=body)
    assert rated.status_code == 200, rated.get_data(as_text=True)
    assert rated.get_json()["answer"] == {
        "resolved": "resolved",
        "rating": "basically_satisfied",
        "comment": "清运及时",
    }
    again = resident.post(f"/api/v1/public/requests/{number}/rating", json=body)
    assert again.status_code == 409 and again.get_json()["code"] == "already-rated"
    event = session.scalars(
        select(RequestEvent).where(
            RequestEvent.request_id == row.id, RequestEvent.action == "callback"
        )
    ).one()
    assert event.detail["channel"] == "public" and event.detail["rating"] == "basically_satisfied"

    # 三率 reads the resident's answer like a 回访: answered, resolved, 基本满意 (0.9).
    month = clock.now().astimezone(clock.BEIJING).strftime("%Y-%m")
    board = clients("chief").get(f"/api/v1/rates?period={month}&level=micro").get_json()
    m1 = next(r for r in board["rows"] if r["code"] == COMMUNITY + "01001")
    assert (m1["answered"], m1["answered_resolved"], m1["rated"]) == (1, 1, 1)
    assert (m1["resolution_rate"], m1["satisfaction_rate"]) == (1.0, 0.9)

    # 我的诉求 after verifying the phone again.
    lookup = ask(resident, purpose="lookup")
    mine = resident.post("/api/v1/public/mine", json={"draft": lookup, "code": code_of(session)})
    answers.PublicRequests.model_validate(mine.get_json())
    assert [r["tracking_number"] for r in mine.get_json()["requests"]] == [number]


def _refused(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    if code is not None:
        assert response.get_json()["code"] == code


def test_wrong_expired_and_exhausted_codes_file_nothing(
    resident: FlaskClient, session: Session
) -> None:
    draft = ask(resident)
    right = code_of(session)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    before = counts(session)
    _refused(resident.post("/api/v1/public/requests", json=filing(draft, wrong)), 400, "code-wrong")
    assert counts(session) == before
    for _ in range(4):
        resident.post("/api/v1/public/requests", json=filing(draft, wrong))
    # Five wrong guesses: even the right code no longer works.
    _refused(
        resident.post("/api/v1/public/requests", json=filing(draft, right)), 429, "code-locked"
    )
    assert counts(session) == before

    late = ask(resident, phone="13912345679")
    later = clock.now() + dt.timedelta(minutes=6)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "now", lambda: later)
        answer = resident.post(
            "/api/v1/public/requests", json=filing(late, code_of(session, "13912345679"))
        )
    _refused(answer, 400, "code-expired")
    assert counts(session) == before


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"lon": OUTSIDE[0], "lat": OUTSIDE[1]}, 422, "outside-district"),
        ({"description": "垃圾\x00桶"}, 400, None),
        ({"description": "太短"}, 400, None),
        ({"category": "no.such"}, 422, "category-closed"),
        ({"photos": ["AAAAAAAAAAAAAAAAAAAAAAAA"]}, 422, None),
        ({"extra": 1}, 400, None),
    ],
)
def test_bad_filings_are_refused_and_store_nothing(
    resident: FlaskClient, session: Session, changes: dict[str, Any], status: int, code: str | None
) -> None:
    draft = ask(resident)
    before = counts(session)
    answer = resident.post(
        "/api/v1/public/requests", json=filing(draft, code_of(session), **changes)
    )
    _refused(answer, status, code)
    assert counts(session) == before


def test_a_huge_body_is_refused(resident: FlaskClient, session: Session) -> None:
    before = counts(session)
    answer = resident.post(
        "/api/v1/public/requests", json=filing("x" * 32, "123456", description="长" * 20000)
    )
    _refused(answer, 413)
    assert counts(session) == before


def _app(settings: Settings, factory: sessionmaker[Session], **changes: Any) -> OpenAPI:
    app = create_app(settings.replace(**changes))
    app.config["TESTING"] = True
    db.use_sessions(app, factory)
    return app


def test_codes_are_rate_limited_per_phone_and_per_address(
    settings: Settings, session_factory: sessionmaker[Session], session: Session, staff: None
) -> None:
    app = _app(
        settings,
        session_factory,
        public_phone_rate_limit="2 per hour",
        public_code_rate_limit="3 per hour",
        public_captcha_after=100,
    )
    client = app.test_client()
    ask(client)
    ask(client)
    codes = session.scalar(select(func.count()).select_from(PublicCode)) or 0
    _refused(client.post("/api/v1/public/codes", json={"phone": PHONE, "purpose": "file"}), 429)
    ask(client, phone="13700000000")
    _refused(
        client.post("/api/v1/public/codes", json={"phone": "13600000000", "purpose": "file"}), 429
    )
    assert session.scalar(select(func.count()).select_from(PublicCode)) == codes + 1


def test_a_captcha_is_required_after_repeated_use(
    settings: Settings, session_factory: sessionmaker[Session], session: Session, staff: None
) -> None:
    client = _app(settings, session_factory, public_captcha_after=2).test_client()
    ask(client)
    ask(client, phone="13700000000")
    before = session.scalar(select(func.count()).select_from(PublicCode)) or 0
    _refused(
        client.post("/api/v1/public/codes", json={"phone": PHONE, "purpose": "file"}),
        400,
        "captcha-required",
    )
    shown = client.get("/api/v1/public/captcha").get_json()
    assert shown["image"].startswith("data:image/png;base64,")
    wrong = {"captcha_id": shown["id"], "captcha": "0000"}
    _refused(
        client.post("/api/v1/public/codes", json={"phone": PHONE, "purpose": "file"} | wrong),
        400,
        "captcha-wrong",
    )
    assert session.scalar(select(func.count()).select_from(PublicCode)) == before
    # The answer is known only as a hash: set a known one to answer it.
    shown = client.get("/api/v1/public/captcha").get_json()
    session.execute(
        update(PublicCaptcha)
        .where(PublicCaptcha.id == shown["id"])
        .values(answer_hash=hashlib.sha256(b"AB23").hexdigest())
    )
    session.commit()
    ask(client, captcha_id=shown["id"], captcha="ab23")
    assert session.scalar(select(func.count()).select_from(PublicCode)) == before + 1


def test_filings_never_made_are_forgotten_a_day_after_their_code_expired(
    session: Session, staff: None, tmp_path: Path
) -> None:
    """An abandoned draft's photo (row and objects), its code and old captchas go; a filed
    request keeps its code and photo."""
    objects = stores.DiskStore(tmp_path / "files")
    limits = public.Limits()
    kept, _ = public.ask_code(session, PHONE, "file", "127.0.0.1", limits)
    dropped, _ = public.ask_code(session, "13700000000", "file", "127.0.0.1", limits)
    filed_photo = public.upload_photo(session, objects, kept, image(), limits)
    lost_photo = public.upload_photo(session, objects, dropped, image(), limits)
    public.new_captcha(session, limits)
    filing = public.Filing(
        "sanitation.garbage", "楼下垃圾桶满溢，已经两天没人清运", *IN_01001, (filed_photo.id,)
    )
    public.file_request(session, kept, code_of(session), filing, limits)
    session.commit()
    assert public.forget(session, objects, clock.now()) == {
        "stored_file": 0,
        "public_code": 0,
        "public_captcha": 0,
    }
    later = clock.now() + dt.timedelta(days=1, minutes=11)
    assert public.forget(session, objects, later) == {
        "stored_file": 1,
        "public_code": 1,
        "public_captcha": 1,
    }
    session.commit()
    left = set(session.scalars(select(StoredFile.id)))
    assert filed_photo.id in left and lost_photo.id not in left
    assert objects.get(files.photo_key(filed_photo.id))
    stored = set(objects.keys())
    assert files.photo_key(lost_photo.id) not in stored
    assert files.thumbnail_key(lost_photo.id) not in stored


def test_a_category_closed_to_the_public_is_neither_listed_nor_filed(
    resident: FlaskClient, admin: FlaskClient, session: Session
) -> None:
    closed = admin.put("/api/v1/categories/sanitation.garbage", json={"open_to_public": False})
    assert closed.status_code == 200 and closed.get_json()["open_to_public"] is False
    listed = resident.get("/api/v1/public/categories").get_json()["categories"]
    assert "sanitation.garbage" not in [c["code"] for c in listed] and listed
    draft = ask(resident)
    before = counts(session)
    _refused(
        resident.post("/api/v1/public/requests", json=filing(draft, code_of(session))),
        422,
        "category-closed",
    )
    assert counts(session) == before


def test_a_rating_of_a_number_too_long_is_refused_and_audited(
    resident: FlaskClient, session: Session
) -> None:
    number = "𝕿𝖍𝖊 𝖖𝖚𝖎𝖈𝖐 𝖇𝖗𝖔𝖜𝖓 𝖋𝖔𝖝 𝖏𝖚𝖒𝖕𝖘 𝖔𝖛𝖊𝖗 𝖙𝖍𝖊 𝖑𝖆𝖟𝖞 𝖉𝖔𝖌"
    answer = resident.post(
        f"/api/v1/public/requests/{number}/rating",
        json={"resolved": "resolved", "rating": "satisfied"},
    )
    _refused(answer, 400)
    refused = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "public.rate").order_by(AuditEntry.id)
    ).all()[-1]
    assert refused.outcome == "failed" and refused.object_id == number[:40]
