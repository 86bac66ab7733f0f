"""Transitions through the API: the lifecycle decides, If-Match guards, the scope hides."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import ProgrammingError

from gridmap.requests import deadlines
from gridmap.storage.models import AuditEntry, RequestEvent, ResidentRequest
from tests.helpers import assert_problem
from tests.requests.conftest import IN_01001, act, counts, file


def _step(client, request_id, etag, **body):
    response = act(client, request_id, etag, **body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert response.headers["ETag"] == answer["etag"] != etag
    return answer


def test_the_closed_loop_from_report_to_archive(clients, session):
    worker, leader = clients("grid_worker"), clients("zone_leader")
    r = file(worker)
    rid = r["id"]
    r = _step(worker, rid, r["etag"], action="accept", note="马上去看")
    assert (r["state"], r["stage"]) == ("accepted", "handling")
    r = _step(worker, rid, r["etag"], action="start", photos=["https://img.example/1.jpg"])
    r = _step(worker, rid, r["etag"], action="complete", note="已清运")
    assert (r["state"], r["stage"]) == ("completed", "feedback")
    started = dt.datetime.fromisoformat(r["stage_started_at"])
    assert dt.datetime.fromisoformat(r["stage_deadline"]) == deadlines.add_working_time(
        started, 3, "days"
    )
    # A worker never grades nor files its own work.
    assert r["allowed_actions"] == ["comment"]
    r = _step(leader, rid, r["etag"], action="rate", rating="satisfied")
    assert (r["state"], r["rating"], r["stage_deadline"]) == ("feedback", "satisfied", None)
    r = _step(leader, rid, r["etag"], action="archive")
    assert r["state"] == "archived" and r["revision"] == 5
    assert [e["action"] for e in r["timeline"]] == [
        "report",
        "accept",
        "start",
        "complete",
        "rate",
        "archive",
    ]
    assert r["timeline"][2]["photos"] == ["https://img.example/1.jpg"]
    assert r["timeline"][1]["actor"].endswith("grid-worker")
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == "request").order_by(AuditEntry.id)
    ).all()
    assert actions[-5:] == [
        "request.accept",
        "request.start",
        "request.complete",
        "request.rate",
        "request.archive",
    ]


def test_an_unsatisfied_resident_reopens_it(clients):
    worker, chief = clients("grid_worker"), clients("chief")
    r = file(worker)
    for action in ("accept", "start", "complete"):
        r = _step(worker, r["id"], r["etag"], action=action)
    r = _step(chief, r["id"], r["etag"], action="rate", rating="unsatisfied", note="还是满的")
    assert (r["state"], r["reopen_count"], r["stage"]) == ("handling", 1, "handling")


def test_an_illegal_transition_is_409_and_changes_nothing(clients, session):
    worker = clients("grid_worker")
    r = file(worker)
    before = counts(session)
    body = assert_problem(act(worker, r["id"], r["etag"], action="complete"), 409, "reported")
    assert body["code"] == "illegal-transition"
    assert counts(session) == before
    assert worker.get(f"/api/v1/requests/{r['id']}").get_json()["revision"] == 0


def test_a_worker_may_not_archive(clients):
    worker, leader = clients("grid_worker"), clients("zone_leader")
    r = file(worker)
    for action in ("accept", "start", "complete"):
        r = _step(worker, r["id"], r["etag"], action=action)
    r = _step(leader, r["id"], r["etag"], action="rate", rating="basically_satisfied")
    assert_problem(act(worker, r["id"], r["etag"], action="archive"), 409, "archive")


def test_a_stale_etag_is_412_and_a_missing_one_428(clients, session):
    worker, leader = clients("grid_worker"), clients("zone_leader")
    r = file(worker)
    _step(leader, r["id"], r["etag"], action="comment", note="请尽快")
    before = counts(session)
    assert_problem(act(worker, r["id"], r["etag"], action="accept"), 412, "changed")
    assert_problem(act(worker, r["id"], None, action="accept"), 428, "If-Match")
    assert counts(session) == before


def test_out_of_scope_requests_do_not_exist(clients, session):
    r = file(clients("grid_worker"))
    other = clients("zone_leader_02")
    hidden = other.get(f"/api/v1/requests/{r['id']}")
    ghost = other.get("/api/v1/requests/999999")
    assert_problem(hidden, 404)
    assert hidden.get_json()["detail"].replace(str(r["id"]), "#") == ghost.get_json()[
        "detail"
    ].replace("999999", "#")
    assert_problem(act(other, r["id"], r["etag"], action="comment", note="x"), 404)
    listed = other.get("/api/v1/requests").get_json()
    assert listed["features"] == []


def test_escalation_climbs_to_the_street_which_summons_a_department(clients, session, departments):
    worker, leader, chief = clients("grid_worker"), clients("zone_leader"), clients("chief")
    street = clients("street_admin")
    r = file(worker)
    r = _step(worker, r["id"], r["etag"], action="escalate", reason="需要片区协调")
    assert (r["level"], r["state"], r["owner"]["person_id"]) == ("zone", "reported", 2)
    r = _step(leader, r["id"], r["etag"], action="escalate", reason="涉及物业")
    assert (r["level"], r["owner"]["person_id"]) == ("community", 1)
    r = _step(chief, r["id"], r["etag"], action="escalate", reason="社区无法解决")
    assert r["level"] == "street" and r["owner"]["user_id"] is not None
    r = _step(
        street,
        r["id"],
        r["etag"],
        action="escalate",
        reason="街乡吹哨",
        department_id=departments["cg"],
        time_limit={"amount": 4, "unit": "hours"},
    )
    assert (r["level"], r["owner"]["department"], r["state"]) == (
        "department",
        "城管执法队",
        "reported",
    )
    assert r["owner"]["department_id"] == departments["cg"]
    started = dt.datetime.fromisoformat(r["stage_started_at"])
    deadline = dt.datetime.fromisoformat(r["stage_deadline"])
    assert deadline == deadlines.add_working_time(started, 4, "hours")
    assert r["timeline"][-1]["detail"]["owner"]["department"] == "城管执法队"
    # The street may hand it back down.
    r = _step(street, r["id"], r["etag"], action="return", reason="部门认为属社区")
    assert (r["level"], r["owner"]["department"], r["owner"]["department_id"]) == (
        "street",
        None,
        None,
    )


def test_summoning_needs_a_department(clients):
    street = clients("street_admin")
    r = file(street, category="ads.billboard")
    assert r["level"] == "street"
    assert_problem(
        act(street, r["id"], r["etag"], action="escalate", reason="x"), 400, "department_id"
    )


def test_a_duplicate_points_at_a_request_of_the_same_category(clients):
    worker = clients("grid_worker")
    first, second = file(worker), file(worker)
    noise = file(worker, category="street.vendor")
    assert_problem(
        act(
            worker, second["id"], second["etag"], action="mark_duplicate", duplicate_of=noise["id"]
        ),
        422,
        "sanitation.garbage",
    )
    r = _step(
        worker, second["id"], second["etag"], action="mark_duplicate", duplicate_of=first["id"]
    )
    assert (r["state"], r["duplicate_of"]) == ("duplicate", first["id"])


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"action": "fly"},
        {"action": "rate"},
        {"action": "rate", "rating": "great"},
        {"action": "accept", "rating": "satisfied"},
        {"action": "escalate"},
        {"action": "escalate", "reason": "   "},
        {"action": "comment"},
        {"action": "accept", "extra": 1},
        {"action": "accept", "note": 5},
        {"action": "mark_duplicate", "duplicate_of": "1"},
        {"action": "accept", "photos": ["ftp://x"]},
        {"action": "accept", "person_id": 3},
        {"action": "accept", "time_limit": {"amount": 1, "unit": "weeks"}},
        [],
    ],
)
def test_malformed_transitions_are_400_and_change_nothing(clients, session, body):
    worker = clients("grid_worker")
    r = file(worker)
    before = counts(session)
    response = worker.post(
        f"/api/v1/requests/{r['id']}/transitions", json=body, headers={"If-Match": r["etag"]}
    )
    assert_problem(response, 400)
    assert counts(session) == before
    assert session.get(ResidentRequest, r["id"], populate_existing=True).revision == 0


@pytest.mark.parametrize("role", ["member", "auditor"])
def test_read_only_roles_cannot_act(clients, role):
    r = file(clients("grid_worker"), household_id=1, location=None)
    reader = clients(role)
    assert reader.get(f"/api/v1/requests/{r['id']}").status_code == 200
    assert_problem(act(reader, r["id"], r["etag"], action="comment", note="x"), 403)


def test_the_timeline_is_append_only_for_the_app_role(clients, session):
    file(clients("grid_worker"))
    for statement in ("UPDATE request_event SET note = 'x'", "DELETE FROM request_event"):
        with pytest.raises(ProgrammingError) as raised, session.begin_nested():
            session.execute(text(statement))
        assert isinstance(raised.value.orig, psycopg.Error)
        assert raised.value.orig.sqlstate == "42501"
    assert session.scalar(select(func.count()).select_from(RequestEvent)) == 1


def test_lists_filter_and_page(clients):
    worker, chief = clients("grid_worker"), clients("chief")
    ids = [file(worker)["id"] for _ in range(3)]
    vendor = file(chief, IN_01001, category="street.vendor")["id"]
    page = chief.get("/api/v1/requests?limit=2").get_json()
    assert [f["id"] for f in page["features"]] == [vendor, ids[2]]
    rest = chief.get(f"/api/v1/requests?limit=2&cursor={page['next']}").get_json()
    assert [f["id"] for f in rest["features"]] == [ids[1], ids[0]] and rest["next"] is None
    only = chief.get("/api/v1/requests?category=street.vendor").get_json()["features"]
    assert [f["id"] for f in only] == [vendor]
    assert chief.get("/api/v1/requests?state=accepted").get_json()["features"] == []
    assert chief.get("/api/v1/requests?overdue=true").get_json()["features"] == []
    assert_problem(chief.get("/api/v1/requests?state=lost"), 400, "state")
