"""Intake: located with PostGIS, routed (首接负责), validated before anything is stored."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from gridmap.requests import deadlines
from gridmap.storage.models import AuditEntry, ResidentRequest, User
from tests.conftest import COMMUNITY, PASSWORD, client_for
from tests.helpers import assert_problem
from tests.requests.conftest import (
    IN_01001,
    IN_01002,
    IN_02001,
    counts,
    file,
    intake_body,
)
from tests.security.test_sessions import csrf_token, web_login


def test_a_request_is_located_owned_and_timed_at_once(clients, session):
    before = dt.datetime.now(dt.UTC)
    response = clients("grid_worker").post("/api/v1/requests", json=intake_body())
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/requests/{body['id']}"
    assert response.headers["ETag"] == body["etag"] == f'"request-{body["id"]}.0"'
    assert body["state"] == "reported" and body["level"] == "micro"
    assert body["micro_grid_code"] == COMMUNITY + "01001"
    # Staff read each other's names (they serve publicly): the owner's is plain.
    assert body["owner"]["person_id"] == 3 and body["owner"]["name"] == "张员"
    assert body["category"] == {
        "code": "sanitation.garbage",
        "name": "暴露垃圾、垃圾满溢",
        "class": "市容环境",
        "version": 1,
    }
    assert body["stage"] == "response" and body["warning"] in ("green", "yellow")
    # The response limit of the category: 2 working hours from filing.
    deadline = dt.datetime.fromisoformat(body["stage_deadline"])
    started = dt.datetime.fromisoformat(body["stage_started_at"])
    assert before <= started and deadline == deadlines.add_working_time(started, 2, "hours")
    assert body["location"]["lon"] == pytest.approx(IN_01001[0])
    [event] = body["timeline"]
    assert event["action"] == "report" and event["to_state"] == "reported"
    assert event["detail"]["owner"]["person_id"] == 3
    assert "grid_worker on duty" in event["detail"]["owner"]["why"]
    assert body["allowed_actions"] == [
        "accept",
        "escalate",
        "reassign",
        "mark_duplicate",
        "comment",
        "set_urgency",
    ]
    row = session.get(ResidentRequest, body["id"])
    assert row.source == "api" and row.contact_phone == "13912345678"
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "request.create")).all()
    assert [a.object_id for a in audit] == [str(body["id"])]


@pytest.mark.parametrize(
    ("point", "level", "owner", "why"),
    [
        (IN_01001, "micro", 3, "grid_worker on duty in 微网格"),
        (IN_01002, "zone", 2, "nobody on duty as grid_worker"),
        (IN_02001, "community", 1, "nobody on duty as grid_worker, zone_leader"),
    ],
)
def test_routing_climbs_from_worker_to_zone_leader_to_chief(clients, point, level, owner, why):
    body = file(clients("chief"), point)
    assert (body["level"], body["owner"]["person_id"]) == (level, owner)
    assert why in body["timeline"][0]["detail"]["owner"]["why"]


def test_with_nobody_on_duty_the_street_owns_it(app, make_user, session, small_grid, catalogue):
    street = client_for(app, make_user("street_admin", COMMUNITY[:9]))
    body = file(street, IN_02001)
    assert body["level"] == "street" and body["owner"]["person_id"] is None
    me = street.get("/api/v1/auth/me").get_json()["username"]
    assert body["owner"]["user_id"] == session.scalar(select(User.id).where(User.username == me))
    assert (
        "nobody on duty as grid_worker, zone_leader, chief"
        in (body["timeline"][0]["detail"]["owner"]["why"])
    )


def test_a_category_handled_higher_starts_there(clients):
    body = file(clients("chief"), IN_01001, category="construction.noise")
    assert (body["level"], body["owner"]["person_id"]) == ("community", 1)


def test_a_household_gives_the_place(clients):
    body = file(clients("zone_leader"), IN_01001, location=None, household_id=1)
    assert body["household_id"] == 1 and body["micro_grid_code"] == COMMUNITY + "01001"


def test_gcj02_input_is_converted_before_locating(clients):
    # 116.405,39.915 in GCJ-02 is ~ 116.399,39.914 in WGS 84: the west zone's north micro-grid
    # either way here, but the stored point must be the converted one.
    body = file(
        clients("chief"),
        location={"lon": 116.4110, "lat": 39.9164, "crs": "GCJ02"},
    )
    assert body["location"]["lon"] == pytest.approx(116.4048, abs=2e-4)
    assert body["micro_grid_code"] == COMMUNITY + "01001"


_BAD = {
    "outside China": (intake_body(location={"lon": 2.35, "lat": 48.85}), 400, "China"),
    "swapped": (intake_body(location={"lon": 39.915, "lat": 116.405}), 400, "swap"),
    "outside every grid": (intake_body(location={"lon": 116.5, "lat": 39.95}), 422, "outside"),
    "unknown category": (intake_body(category="no.such"), 422, "no.such"),
    "bad category code": (intake_body(category="垃圾"), 400, "category"),
    "no description": ({k: v for k, v in intake_body().items() if k != "description"}, 400, ""),
    "blank description": (intake_body(description="   "), 400, "description"),
    "huge description": (intake_body(description="字" * 2001), 400, "description"),
    "no place": (intake_body(location=None), 400, "exactly one"),
    "two places": (intake_body(household_id=1), 400, "exactly one"),
    "lon as text": (intake_body(location={"lon": "116.4", "lat": 39.9}), 400, "lon"),
    "lat as list": (intake_body(location={"lon": 116.4, "lat": [39.9]}), 400, "lat"),
    "NaN": (intake_body(location={"lon": float("nan"), "lat": 39.9}), 400, "lon"),
    "unknown crs": (intake_body(location={"lon": 116.4, "lat": 39.9, "crs": "EPSG:3857"}), 400, ""),
    "description as number": (intake_body(description=5), 400, "description"),
    "photos not a list": (intake_body(photos="x.jpg"), 400, "photos"),
    "photo not a URL": (intake_body(photos=["javascript:alert(1)"]), 400, "photos"),
    # A URL no client can open (an unclosed IPv6 bracket: urlsplit raises on it).
    "photo a broken URL": (intake_body(photos=["http://[x/a.jpg"]), 400, "photos"),
    "bad phone": (intake_body(contact={"phone": "call me"}), 400, "phone"),
    "unknown field": (intake_body(priority="high"), 400, "priority"),
    "household as text": (intake_body(location=None, household_id="1"), 400, "household_id"),
    "unknown household": (intake_body(location=None, household_id=999_999), 404, "household"),
    "body a list": ([intake_body()], 400, ""),
}


@pytest.mark.parametrize("case", list(_BAD))
def test_bad_input_is_refused_clearly_and_stores_nothing(clients, session, case):
    body, status, word = _BAD[case]
    before = counts(session)
    response = clients("chief").post(
        "/api/v1/requests",
        data=json.dumps(body, allow_nan=True),
        content_type="application/json",
    )
    assert_problem(response, status, word)
    assert counts(session) == before


@pytest.mark.parametrize("data", ["not json", "", "{", '"a string"', "null", "1e999"])
def test_bodies_that_are_not_objects_are_400(clients, session, data):
    before = counts(session)
    response = clients("chief").post("/api/v1/requests", data=data, content_type="application/json")
    assert_problem(response, 400)
    assert counts(session) == before


def test_a_place_outside_the_callers_grids_is_refused(clients, session):
    """The worker of 01001 cannot file in 02001; the answer is the same as for no grid."""
    before = counts(session)
    response = clients("grid_worker").post("/api/v1/requests", json=intake_body(IN_02001))
    assert_problem(response, 422, "outside every micro-grid you serve")
    assert counts(session) == before


@pytest.mark.parametrize("role", ["member", "auditor"])
def test_read_only_roles_cannot_file(clients, session, role):
    before = counts(session)
    assert_problem(clients(role).post("/api/v1/requests", json=intake_body()), 403)
    assert counts(session) == before


def test_a_nul_character_is_refused_not_a_server_error(clients, session):
    before = session.scalar(select(func.count()).select_from(ResidentRequest))
    body: dict[str, object] = {"category": "sanitation.garbage", "description": "垃圾\x00满溢"}
    body["location"] = {"lon": IN_01001[0], "lat": IN_01001[1]}
    response = clients("grid_worker").post("/api/v1/requests", json=body)
    assert response.status_code == 400 and "NUL" in response.get_json()["detail"]
    assert session.scalar(select(func.count()).select_from(ResidentRequest)) == before


def _ids(client, query: str) -> set[int]:
    response = client.get(f"/api/v1/requests?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return {f["id"] for f in response.get_json()["features"]}


def test_a_request_filed_from_the_page_says_so_and_its_filer_finds_it(app, clients, session):
    """The channel comes from the credential: the page's signed-in session files 页面上报,
    a bearer token 系统上报. The chief owns neither request (the worker of the micro-grid
    does, 首接负责), yet finds both under 我上报的 (``filed``)."""
    chief = clients("chief")
    username = chief.get("/api/v1/auth/me").get_json()["username"]
    page = app.test_client()
    assert web_login(page, username, PASSWORD, csrf_token(page)).status_code == 302
    headers = {"X-CSRFToken": csrf_token(page, "/requests/new")}
    answer = page.post("/api/v1/requests", json=intake_body(), headers=headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    from_page = answer.get_json()
    from_api = file(chief, IN_01002)
    assert (from_page["source"], from_api["source"]) == ("page", "api")
    rows = {r.id: r.source for r in session.scalars(select(ResidentRequest))}
    assert rows == {from_page["id"]: "page", from_api["id"]: "api"}
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "request.create"))
    assert sorted(a.detail["source"] for a in audit) == ["api", "page"]

    filed = {from_page["id"], from_api["id"]}
    assert from_page["owner"]["person_id"] != 1 and from_api["owner"]["person_id"] != 1
    assert _ids(chief, "filed=true") == filed
    assert _ids(chief, "mine=true") == set()
    assert _ids(chief, "") == filed
    worker = clients("grid_worker")
    assert _ids(worker, "filed=true") == set()
    assert from_page["id"] in _ids(worker, "mine=true")
    assert _ids(page, "filed=true") == filed  # the page's own list asks the same
