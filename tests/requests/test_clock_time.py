"""Time that fits the category: emergencies counted in clock time, urgency shortening every
limit, and bad limits or urgencies refused without a change."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from gridmap.storage.models import Category, ResidentRequest
from tests.conftest import client_for
from tests.helpers import assert_problem, clock_at, row_counts
from tests.requests.conftest import act, counts, file, intake_body

BEIJING = dt.timezone(dt.timedelta(hours=8))
#: A Saturday before the tests' tokens were issued (a later clock would see them expire).
SATURDAY_NIGHT = dt.datetime(2026, 11, 28, 20, 0, tzinfo=BEIJING)


def at_beijing(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(BEIJING)


def test_a_flooding_report_on_saturday_night_is_due_that_night(clients):
    worker = clients("grid_worker")
    with clock_at(SATURDAY_NIGHT):
        flooding = file(worker, category="emergency.flooding")
        garbage = file(worker)
    assert at_beijing(flooding["stage_deadline"]) == dt.datetime(
        2026, 11, 28, 21, 0, tzinfo=BEIJING
    )
    assert flooding["stage_basis"] == "clock" and flooding["urgency"] == "normal"
    # A working-time category is unchanged: 2 working hours from Monday 09:00.
    assert at_beijing(garbage["stage_deadline"]) == dt.datetime(2026, 11, 30, 11, 0, tzinfo=BEIJING)
    assert garbage["stage_basis"] == "working"


def test_urgency_shortens_every_limit(clients):
    worker = clients("grid_worker")
    with clock_at(SATURDAY_NIGHT):
        urgent = file(worker, category="emergency.flooding", urgency="urgent")
        critical = file(worker, urgency="critical")
    assert urgent["urgency"] == "urgent"
    assert at_beijing(urgent["stage_deadline"]) == dt.datetime(2026, 11, 28, 20, 30, tzinfo=BEIJING)
    # 2 working hours x 0.25 = 30 working minutes from Monday 09:00.
    assert at_beijing(critical["stage_deadline"]) == dt.datetime(
        2026, 11, 30, 9, 30, tzinfo=BEIJING
    )
    report = critical["timeline"][0]
    assert report["detail"]["urgency"] == "critical"
    assert at_beijing(report["detail"]["deadline"]) == at_beijing(critical["stage_deadline"])


def test_the_catalogue_says_how_each_stage_is_counted(app, make_user, catalogue):
    admin = client_for(app, make_user("system_admin"))
    listed = {c["code"]: c for c in admin.get("/api/v1/categories").get_json()["categories"]}
    flooding = listed["emergency.flooding"]["time_limits"]
    assert flooding["response"] == {"amount": 1, "unit": "hours", "basis": "clock"}
    assert flooding["feedback"]["basis"] == "working"
    heating = listed["utility.heating"]["time_limits"]
    assert heating["handling"] == {"amount": 2, "unit": "days", "basis": "clock"}
    assert listed["sanitation.garbage"]["time_limits"]["response"]["basis"] == "working"
    limits = {"response": {"amount": 30, "unit": "hours", "basis": "clock"}}
    revised = admin.put("/api/v1/categories/sanitation.graffiti", json={"time_limits": limits})
    assert revised.status_code == 200, revised.get_data(as_text=True)
    assert revised.get_json()["time_limits"] == limits
    # An old row without a basis counts working time, and says so.
    old = admin.put(
        "/api/v1/categories/ads.flyer",
        json={"time_limits": {"response": {"amount": 4, "unit": "hours"}}},
    )
    assert old.get_json()["time_limits"]["response"]["basis"] == "working"


def test_bad_limits_and_urgencies_are_refused_without_change(app, clients, make_user, session):
    admin = client_for(app, make_user("system_admin"))
    worker = clients("grid_worker")
    code = "emergency.flooding"

    def version() -> int | None:
        return session.scalar(
            select(Category.version).where(Category.code == code, Category.valid_to.is_(None))
        )

    before, rows, requests = version(), row_counts(session), counts(session)
    bad = [
        ({"response": {"amount": 1, "unit": "hours", "basis": "wall"}}, "response.basis"),
        ({"handling": {"amount": 1, "unit": "hours", "basis": None}}, "handling.basis"),
        ({"response": {"amount": 1, "unit": "hours", "basis": "clock", "x": 1}}, "response"),
        ({"response": {"amount": 1.5, "unit": "hours", "basis": "clock"}}, "response.amount"),
        ({"feedback": {"amount": 1, "unit": "weeks", "basis": "clock"}}, "feedback.unit"),
        ({"response": {"basis": "clock"}}, "time_limits.response"),
    ]
    for limits, where in bad:
        answer = admin.put(f"/api/v1/categories/{code}", json={"time_limits": limits})
        assert_problem(answer, 400, where)
    for urgency in ("very", "紧急", None):
        body = intake_body(category=code, urgency=urgency)
        assert_problem(worker.post("/api/v1/requests", json=body), 400, "urgency")
    assert version() == before and row_counts(session) == rows and counts(session) == requests


MONDAY = dt.datetime(2026, 11, 30, 9, 0, tzinfo=BEIJING)


def _urgency(client, answer, urgency, **body):
    return act(client, answer["id"], answer["etag"], action="set_urgency", urgency=urgency, **body)


def test_the_owner_or_a_supervisor_changes_the_urgency_and_the_deadline_follows(clients, session):
    worker, leader = clients("grid_worker"), clients("zone_leader")
    with clock_at(MONDAY):
        r = file(worker)  # 2 working hours: 11:00
        assert at_beijing(r["stage_deadline"]) == MONDAY + dt.timedelta(hours=2)
    with clock_at(MONDAY + dt.timedelta(minutes=20)):
        answer = _urgency(worker, r, "urgent", note="居民反映有异味")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    r = answer.get_json()
    # Recounted from the stage's start: 1 working hour.
    assert r["urgency"] == "urgent" and r["state"] == "reported"
    assert at_beijing(r["stage_deadline"]) == MONDAY + dt.timedelta(hours=1)
    event = r["timeline"][-1]
    assert event["action"] == "set_urgency" and event["note"] == "居民反映有异味"
    assert event["detail"]["urgency"] == "urgent"
    assert at_beijing(event["detail"]["deadline"]) == MONDAY + dt.timedelta(hours=1)
    due = session.scalar(select(ResidentRequest.due_at).where(ResidentRequest.id == r["id"]))
    assert due == MONDAY + dt.timedelta(hours=1)
    # After accepting: the handling stage (1 working day) halved is the end of that day.
    with clock_at(MONDAY + dt.timedelta(minutes=30)):
        r = act(worker, r["id"], r["etag"], action="accept").get_json()
        assert at_beijing(r["stage_deadline"]) == dt.datetime(2026, 11, 30, 17, 30, tzinfo=BEIJING)
        r = _urgency(leader, r, "normal").get_json()
    assert r["urgency"] == "normal"
    # Back to 1 working day: the end of the next working day.
    assert at_beijing(r["stage_deadline"]) == dt.datetime(2026, 12, 1, 17, 30, tzinfo=BEIJING)
    due = session.scalar(select(ResidentRequest.due_at).where(ResidentRequest.id == r["id"]))
    assert due == dt.datetime(2026, 12, 1, 17, 30, tzinfo=BEIJING)


def test_bad_urgency_changes_are_refused_without_change(clients, session):
    worker, auditor = clients("grid_worker"), clients("auditor")
    with clock_at(MONDAY):
        r = file(worker)
    before = counts(session)
    assert_problem(_urgency(worker, r, "very"), 400, "urgency")
    assert_problem(act(worker, r["id"], r["etag"], action="set_urgency"), 400, "urgency")
    assert_problem(act(worker, r["id"], r["etag"], action="accept", urgency="urgent"), 400)
    assert_problem(_urgency(worker, r, "urgent", time_limit={"amount": 1, "unit": "hours"}), 400)
    assert _urgency(auditor, r, "urgent").status_code in (403, 409)
    assert counts(session) == before
    # The owner may make it more urgent, never less: that would lengthen its own deadline.
    r = _urgency(worker, r, "critical").get_json()
    before = counts(session)
    assert (
        assert_problem(_urgency(worker, r, "urgent"), 403, "never less")["code"] == "own-deadline"
    )
    assert counts(session) == before
    row = session.get(ResidentRequest, r["id"])
    assert row is not None and row.urgency == "critical"
