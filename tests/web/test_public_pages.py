"""公众上报 in headless Chromium on a 390×844 phone, without an account: a resident files a
request with a photo and a verified phone (the code read from what the demo's sender
recorded of the outbox), gets a tracking number; staff drive the request to completion
through the API and see it on the detail page as 公众上报 with the photo and the phone masked;
the resident follows it and rates it once. No serious axe-core violation, no request to
another host, nothing logged."""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from playwright.sync_api import Browser, FilePayload, expect
from shapely.geometry import shape
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gridmap.core import clock, glossary
from gridmap.core.settings import Settings
from gridmap.files import stores
from gridmap.notify import sender
from gridmap.storage.models import (
    NotificationDelivery,
    Outbox,
    PublicCaptcha,
    PublicCode,
    ResidentRequest,
)
from tests.web.browser import WORKER, Api, Watched
from tests.web.test_requests_pages import PHONE as SCREEN
from tests.web.walk import axe_violations, problems

RESIDENT_PHONE = "13698765432"
CATEGORY = "sanitation.garbage"


@pytest.fixture(scope="module")
def worker_point(worker_api: Api) -> tuple[float, float]:
    """A point (lon, lat) inside demo-worker's micro-grid: the district, and its grid worker."""
    grid = shape(worker_api.get("/grids?level=micro")["features"][0]["geometry"])
    point = grid.representative_point()
    return point.x, point.y


@pytest.fixture
def resident(
    browser: Browser, live_url: str, worker_point: tuple[float, float]
) -> Iterator[Watched]:
    """A resident's phone that knows where it is: inside demo-worker's micro-grid."""
    context = browser.new_context(
        viewport=SCREEN,
        locale="zh-CN",
        geolocation={"longitude": worker_point[0], "latitude": worker_point[1]},
        permissions=["geolocation"],
    )
    yield Watched.attach(context, live_url)
    context.close()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 140, 90)).save(out, "JPEG")
    return out.getvalue()


def _sent_code(engine: Engine, phone: str = RESIDENT_PHONE) -> str:
    """Run the demo's sender, then read the code from what it recorded for the phone."""
    with Session(engine) as session:
        sender.send_due(session, sender.Outlet.of(Settings()), sender.Policy(None, None))
        text = session.scalars(
            select(NotificationDelivery.text)
            .join(Outbox, Outbox.id == NotificationDelivery.outbox_id)
            .where(Outbox.kind == "verify_code", Outbox.recipient_phone == phone)
            .order_by(NotificationDelivery.id.desc())
        ).first()
    assert text is not None
    found = re.search(r"[0-9]{6}", text)
    assert found is not None
    return found.group(0)


def test_a_resident_files_follows_and_rates_on_a_phone(
    resident: Watched,
    new_watched: Callable[[], Watched],
    worker_api: Api,
    live_app: Flask,
    web_engine: Engine,
    tmp_path: Path,
) -> None:
    live_app.extensions["gridmap.files"] = stores.DiskStore(tmp_path / "files")
    page = resident.page
    page.goto(resident.url("/public"))
    page.wait_for_function("() => window.gridmapPublic && window.gridmapPublic.map")
    assert problems(page, phone=True) == []  # Chinese only, axe, touch targets
    page.get_by_label(glossary.PUBLIC["category"]).select_option(CATEGORY)
    page.get_by_role("button", name=glossary.PUBLIC["locate"]).click()
    expect(page.locator("#gm-public-place")).to_contain_text(glossary.PUBLIC["placeChosen"])
    page.get_by_label(glossary.PUBLIC["description"]).fill("小区门口垃圾桶满溢，已经两天没人清运")
    page.locator("#gm-public-photo-input").set_input_files(
        files=[FilePayload(name="site.jpg", mimeType="image/jpeg", buffer=_jpeg())]
    )
    expect(page.locator("#gm-public-photos li")).to_have_count(1)
    page.get_by_label(glossary.PUBLIC["phone"]).fill(RESIDENT_PHONE)
    page.get_by_role("button", name=glossary.PUBLIC["getCode"]).click()
    expect(page.locator("#gm-public-code-sent")).to_be_visible()
    code = _sent_code(web_engine)
    # A wrong code: refused in Chinese, nothing filed, and the form can be sent again.
    page.get_by_label(glossary.PUBLIC["code"]).fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name=glossary.PUBLIC["submit"], exact=True).click()
    error = page.locator("#gm-public-error")
    expect(error).to_contain_text(glossary.PROBLEMS["code-wrong"].rstrip("。"))
    page.get_by_label(glossary.PUBLIC["code"]).fill(code)
    resident.screenshot("public_file_phone.png")
    page.get_by_role("button", name=glossary.PUBLIC["submit"], exact=True).click()
    done = page.locator("#gm-public-done")
    expect(done).to_be_visible()
    number = page.locator("#gm-public-number").inner_text().strip()
    assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{12}", number)
    with Session(web_engine) as session:
        filed = session.scalars(
            select(ResidentRequest.tracking_number).where(
                ResidentRequest.contact_phone == RESIDENT_PHONE
            )
        ).all()
    assert filed == [number]  # the refused try filed nothing
    assert axe_violations(page) == []

    with Session(web_engine) as session:
        row = session.scalars(
            select(ResidentRequest).where(ResidentRequest.tracking_number == number)
        ).one()
        request_id, source = row.id, row.source
    assert source == "public"
    record = worker_api.get(f"/requests/{request_id}")
    assert len(record["photos"]) == 1 and RESIDENT_PHONE not in str(record)
    etag = record["etag"]
    for action in ("accept", "start", "complete"):
        status, answer = worker_api.call(
            "POST", f"/requests/{request_id}/transitions", {"action": action}, {"If-Match": etag}
        )
        assert status == 200, answer
        etag = answer["etag"]

    # Staff: the channel, the photo, the phone masked.
    staff = new_watched()
    staff.page.set_viewport_size(SCREEN)
    staff.login(WORKER, next_path=f"/requests/{request_id}")
    staff.page.wait_for_selector("#gm-detail[data-state=ready]")
    expect(staff.page.locator("#gm-detail")).to_contain_text(glossary.SOURCES["public"])
    staff.page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#gm-timeline img'))"
        ".some((i) => i.complete && i.naturalWidth > 0)"
    )
    assert "136****5432" in staff.page.content()
    assert RESIDENT_PHONE not in staff.page.content()
    staff.assert_clean()

    # The resident follows it and rates it, once.
    page.locator("#gm-public-follow").click()
    page.wait_for_url(re.compile(f"/public/r/{number}$"))
    expect(page.locator("#gm-public-state")).to_have_text(glossary.STATE_NOTES["completed"])
    expect(page.locator("#gm-public-timeline li")).to_have_count(4)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#gm-public-photo-row img'))"
        ".some((i) => i.complete && i.naturalWidth > 0)"
    )
    assert "张" not in page.locator("#gm-public-timeline").inner_text()  # no staff names
    page.get_by_label(glossary.RESOLVED_ANSWERS["resolved"]).check()
    page.get_by_label(glossary.RATINGS["satisfied"], exact=True).check()
    page.get_by_label(glossary.PUBLIC["comment"]).fill("清运很及时")
    assert problems(page, phone=True) == []
    resident.screenshot("public_rate_phone.png")
    page.get_by_role("button", name=glossary.PUBLIC["sendRating"]).click()
    expect(page.locator("#gm-public-answer")).to_be_visible()
    expect(page.locator("#gm-public-answer-text")).to_contain_text(glossary.RATINGS["satisfied"])
    expect(page.locator("#gm-public-rate")).to_be_hidden()
    expect(page.locator("#gm-public-state")).to_have_text(glossary.STATE_NOTES["feedback"])
    record = worker_api.get(f"/requests/{request_id}")
    assert record["state"] == "feedback"
    assert axe_violations(page) == []
    page.goto(resident.url("/public/track"))
    assert problems(page, phone=True) == []
    # The wrong code's 400 is the only error the browser logged.
    assert [e for e in resident.console_errors if "400" not in e] == []
    assert len(resident.console_errors) == 1
    assert resident.csp_violations == []
    assert resident.foreign_requests() == []


def _post(live_url: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{live_url}/api/v1/public{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_my_requests_after_a_captcha_and_a_new_code(
    resident: Watched, live_url: str, web_engine: Engine, worker_point: tuple[float, float]
) -> None:
    """我的诉求: a phone that asked for several codes must answer the captcha (shown in
    Chinese on the page) before a new code comes; with it, the phone's requests are listed
    and link to their progress."""
    phone = "13512340000"
    draft = _post(live_url, "/codes", {"phone": phone, "purpose": "file"})["draft"]
    filing = {
        "draft": draft,
        "code": _sent_code(web_engine, phone),
        "category": CATEGORY,
        "description": "路灯不亮，晚上出行不便",
        "lon": worker_point[0],
        "lat": worker_point[1],
    }
    number = _post(live_url, "/requests", filing)["tracking_number"]
    with Session(web_engine) as session:  # two more codes lately: the next needs a captcha
        for _ in range(2):
            session.add(
                PublicCode(
                    phone=phone,
                    purpose="lookup",
                    draft_hash=secrets.token_hex(32),
                    code_hash="0" * 64,
                    client="192.0.2.1",
                    created_at=clock.now(),
                    expires_at=clock.now(),
                )
            )
        session.commit()

    page = resident.page
    page.goto(resident.url("/public/track"))
    page.get_by_label(glossary.PUBLIC["phone"]).fill(phone)
    page.get_by_role("button", name=glossary.PUBLIC["getCode"]).click()
    expect(page.locator("#gm-public-error")).to_contain_text(
        glossary.PROBLEMS["captcha-required"].rstrip("。")
    )
    image = page.locator("#gm-public-captcha-image")
    expect(image).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.getElementById('gm-public-captcha-image');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    assert problems(page, phone=True) == []
    with Session(web_engine) as session:  # the answer is kept only as a hash: set one
        newest = session.scalars(
            select(PublicCaptcha).order_by(PublicCaptcha.created_at.desc())
        ).first()
        assert newest is not None
        newest.answer_hash = hashlib.sha256(b"AB23").hexdigest()
        session.commit()
    page.get_by_label(glossary.PUBLIC["captcha"], exact=True).fill("ab23")
    page.get_by_role("button", name=glossary.PUBLIC["getCode"]).click()
    expect(page.locator("#gm-public-code-sent")).to_be_visible()
    expect(page.locator("#gm-public-captcha")).to_be_hidden()
    page.get_by_label(glossary.PUBLIC["code"]).fill(_sent_code(web_engine, phone))
    page.get_by_role("button", name=glossary.PUBLIC["mine"], exact=True).click()
    listed = page.locator("#gm-public-list li a")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text(glossary.STATE_NOTES["reported"])
    resident.screenshot("public_mine_phone.png")
    listed.click()
    page.wait_for_url(re.compile(f"/public/r/{number}$"))
    expect(page.locator("#gm-public-state")).to_have_text(glossary.STATE_NOTES["reported"])
    # The captcha refusal's 400 is the only error the browser logged.
    assert [e for e in resident.console_errors if "400" not in e] == []
    assert resident.csp_violations == [] and resident.foreign_requests() == []
