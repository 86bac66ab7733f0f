"""吹哨报到 end to end: the street summons a department, which reports (报到), returns it once
with a reason (退单); the street re-routes it to another department, which reports, asks for
more time (延期) that the street approves, and completes with a photo; a verifier confirms on
site (核查) and records the resident's answer (回访). Every step is on the timeline and in
the audit log, and the department's and the micro-grid's 三率 change as
``gridmap.requests.rates`` says: 响应率 from the first 报到 within its deadline, 解决率 from
the 已解决 answers, 满意率 from the satisfaction answers.

``ads.billboard`` starts at the street: 1 working day to respond, 5 to handle, 3 to answer.
2026-11-30 is a Monday.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from gridmap.core.clock import BEIJING
from gridmap.storage.models import AuditEntry
from tests.conftest import COMMUNITY, client_for
from tests.helpers import clock_at
from tests.requests.conftest import IN_01001, act, file

MONDAY = dt.datetime(2026, 11, 30, 9, 0, tzinfo=BEIJING)
PHOTO = "https://photos.example/billboard-removed.jpg"
MICRO = COMMUNITY + "01001"


def _step(client: FlaskClient, r: dict[str, Any], minutes: int, **body: Any) -> dict[str, Any]:
    """One step at ``minutes`` past Monday 09:00, with the request's current ETag."""
    with clock_at(MONDAY + dt.timedelta(minutes=minutes)):
        current = client.get(f"/api/v1/requests/{r['id']}").get_json()
        etag = current["etag"] if "etag" in current else r["etag"]
        response = act(client, r["id"], etag, **body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


def _rates(client: FlaskClient, by: str, code: str, minutes: int) -> dict[str, Any]:
    with clock_at(MONDAY + dt.timedelta(minutes=minutes)):
        body = client.get(f"/api/v1/rates?period=2026-11&by={by}").get_json()
    rows = {row["code"]: row for row in body["rows"]}
    found: dict[str, Any] = rows[code]
    return found


def _figures(row: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("filed", "response_rate", "answered", "resolution_rate", "satisfaction_rate", "score")
    return tuple(row[k] for k in keys)


def test_the_street_summons_and_the_loop_closes_on_the_residents_answer(
    app, make_user, clients, departments, officers, session
):
    street = clients("street_admin")
    cg, zj = officers("cg"), officers("zj")
    verifier = client_for(app, make_user("verifier", COMMUNITY[:9]))
    with clock_at(MONDAY):
        r = file(street, IN_01001, category="ads.billboard", description="楼顶违规广告牌")
    assert (r["level"], r["state"]) == ("street", "reported")

    # 街乡吹哨: the street summons 城管; 城管 reports (报到), then returns it (退单).
    r = _step(street, r, 10, action="escalate", reason="街乡吹哨", department_id=departments["cg"])
    assert (r["level"], r["state"]) == ("department", "reported")
    r = _step(cg, r, 20, action="accept", note="已报到")
    r = _step(cg, r, 30, action="return", reason="广告牌属违法建设，应由住建部门处置")
    assert (r["level"], r["state"]) == ("street", "reported")
    # The street answers the 退单 by re-routing it to 住建.
    r = _step(street, r, 40, action="escalate", reason="改派住建", department_id=departments["zj"])
    assert r["level"] == "department"
    r = _step(zj, r, 50, action="accept", note="已报到")
    r = _step(zj, r, 60, action="start")
    handling_deadline = dt.datetime.fromisoformat(r["stage_deadline"])
    # 延期: two working days more, approved by the street.
    r = _step(
        zj,
        r,
        70,
        action="ask_extension",
        reason="需协调产权单位拆除",
        time_limit={"amount": 2, "unit": "days"},
    )
    assert r["extension"]["reason"] == "需协调产权单位拆除"
    r = _step(street, r, 80, action="approve_extension")
    assert r["extension"] is None
    assert dt.datetime.fromisoformat(r["stage_deadline"]) > handling_deadline
    r = _step(zj, r, 90, action="complete", note="广告牌已拆除", photos=[PHOTO])
    assert r["state"] == "completed"

    # Before the answer: responded on time, nothing answered yet (no 解决率, no 满意率).
    department = f"department:{departments['zj']}"
    assert _figures(_rates(street, "owner", department, 95)) == (1, 1.0, 0, None, None, 100.0)
    assert _figures(_rates(street, "grid", MICRO, 95))[:5] == (1, 1.0, 0, None, None)

    # 核查 on site with a photo, then 回访: the resident says it is resolved and is satisfied.
    r = _step(verifier, r, 100, action="verify", photos=[PHOTO], note="现场已拆除")
    r = _step(
        verifier,
        r,
        110,
        action="callback",
        resolved="resolved",
        rating="satisfied",
        channel="phone",
        note="电话回访，居民满意",
    )
    assert (r["state"], r["rating"]) == ("feedback", "satisfied")
    assert _figures(_rates(street, "owner", department, 120)) == (1, 1.0, 1, 1.0, 1.0, 100.0)
    assert _figures(_rates(street, "grid", MICRO, 120))[:5] == (1, 1.0, 1, 1.0, 1.0)
    # The department reads its own row.
    assert _rates(zj, "owner", department, 120)["name"] == "住建委"

    steps = [e["action"] for e in r["timeline"]]
    assert steps == [
        "report",
        "escalate",
        "accept",
        "return",
        "escalate",
        "accept",
        "start",
        "ask_extension",
        "approve_extension",
        "complete",
        "verify",
        "callback",
    ]
    audited = session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_id == str(r["id"]))
    ).all()
    assert {f"request.{s}" for s in steps[1:]} <= set(audited)


def test_a_department_answers_only_as_its_role_allows(
    clients: Callable[[str], FlaskClient], departments: dict[str, int], officers: Any
) -> None:
    """The summoned department cannot approve its own extension, nor judge its own work."""
    street, cg = clients("street_admin"), officers("cg")
    with clock_at(MONDAY):
        r = file(street, IN_01001, category="ads.billboard")
    r = _step(street, r, 10, action="escalate", reason="街乡吹哨", department_id=departments["cg"])
    r = _step(cg, r, 20, action="accept")
    r = _step(cg, r, 30, action="start")
    r = _step(
        cg,
        r,
        40,
        action="ask_extension",
        reason="材料待补",
        time_limit={"amount": 1, "unit": "days"},
    )
    with clock_at(MONDAY + dt.timedelta(minutes=50)):
        refused = act(cg, r["id"], r["etag"], action="approve_extension")
    assert refused.status_code in (403, 409)
