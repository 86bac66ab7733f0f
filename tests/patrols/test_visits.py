"""民情日志: a member's visits to the households they cover, the request filed from a visit,
the visits in the work lists and the household's panel, refusals and scope."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from gridmap.demo.loader import seed_categories
from gridmap.storage.models import AuditEntry, HouseholdVisit, ResidentRequest
from tests.helpers import assert_problem
from tests.patrols.conftest import now


@pytest.fixture
def catalogue(session, patrol_world):
    seed_categories(session)
    session.commit()


def visit(client, key: str | None = None, **body):
    headers = {"Idempotency-Key": key} if key else {}
    fields = {"household_id": 1, "channel": "in_person"} | body
    return client.post("/api/v1/visits", json=fields, headers=headers)


def visits_in(session) -> int:
    return int(session.scalar(select(func.count()).select_from(HouseholdVisit)) or 0)


def test_a_member_records_a_visit_and_files_a_request_from_it(clients, session, catalogue):
    member = clients("member")
    answer = visit(
        member,
        "v-1",
        topics=["elderly_care", "health"],
        note="老人腿脚不便，楼道灯坏了，电话13912345678",
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    made = answer.get_json()
    assert answer.headers["Location"] == f"/api/v1/visits/{made['id']}"
    assert made["household_id"] == 1 and made["channel"] == "in_person"
    assert made["topics"] == ["elderly_care", "health"] and made["request_id"] is None
    assert "13912345678" not in made["note"]  # numbers in notes are masked
    # The phone's queue sends it again: the same answer, stored once.
    again = visit(
        member,
        "v-1",
        topics=["elderly_care", "health"],
        note="老人腿脚不便，楼道灯坏了，电话13912345678",
    )
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == made
    assert visits_in(session) == 1

    filed = member.post(
        f"/api/v1/visits/{made['id']}/request",
        json={"category": "property.repair", "description": "3号楼楼道灯坏了"},
        headers={"Idempotency-Key": "r-1"},
    )
    assert filed.status_code == 201, filed.get_data(as_text=True)
    request = filed.get_json()
    assert request["household_id"] == 1
    assert request["timeline"][0]["detail"]["visit_id"] == made["id"]
    assert member.get(f"/api/v1/visits/{made['id']}").get_json()["request_id"] == request["id"]
    # One request per visit.
    twice = member.post(
        f"/api/v1/visits/{made['id']}/request",
        json={"category": "property.repair", "description": "再报一次"},
    )
    assert_problem(twice, 409, str(request["id"]))

    # The grid worker of the household's micro-grid and the chief see both.
    for reader in ("worker", "chief"):
        seen = clients(reader).get(f"/api/v1/requests/{request['id']}")
        assert seen.status_code == 200
        logs = clients(reader).get("/api/v1/households/1/visits").get_json()["logs"]
        assert [log["id"] for log in logs] == [made["id"]]
        assert logs[0]["request_id"] == request["id"]
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "visit.record" in actions and "request.create" in actions


def test_an_in_person_visit_counts_in_the_lists_a_call_does_not(clients, session, catalogue):
    """The weekly visit to household 1 (elderly, alone) is done by the member's door visit,
    for the grid worker's list and the chief's overdue counts alike."""

    def weekly_due(reader: str) -> int:
        lists = reader_lists(reader)
        return next(x["due"] for x in lists if x["code"] == "weekly_visit")

    def reader_lists(reader: str):
        if reader == "worker":
            return clients("worker").get("/api/v1/worklists").get_json()["lists"]
        return clients("chief").get("/api/v1/patrols/overdue").get_json()["lists"]

    before = {r: weekly_due(r) for r in ("worker", "chief")}
    assert visit(clients("member"), channel="phone").status_code == 201
    assert {r: weekly_due(r) for r in ("worker", "chief")} == before
    assert visit(clients("member")).status_code == 201
    assert {r: weekly_due(r) for r in ("worker", "chief")} == {r: n - 1 for r, n in before.items()}
    items = next(x for x in reader_lists("worker") if x["code"] == "weekly_visit")["items"]
    assert next(i for i in items if i.get("id") == 1)["done"] is True


def test_members_file_for_their_households_only(clients, session, catalogue):
    member = clients("member")
    # Household 2 is not theirs: 404, as if it did not exist.
    assert_problem(visit(member, household_id=2), 404)
    outside = member.post(
        "/api/v1/requests",
        json={"category": "property.repair", "description": "路灯", "household_id": 2},
    )
    assert_problem(outside, 404)
    # Their own household: filed.
    own = member.post(
        "/api/v1/requests",
        json={"category": "property.repair", "description": "路灯", "household_id": 1},
    )
    assert own.status_code == 201, own.get_data(as_text=True)
    # A point, not a household: members file for households.
    point = member.post(
        "/api/v1/requests",
        json={
            "category": "property.repair",
            "description": "路灯",
            "location": {"lon": 116.405, "lat": 39.915},
        },
    )
    assert_problem(point, 403)
    # Acting on requests stays with the staff.
    acted = member.post(
        f"/api/v1/requests/{own.get_json()['id']}/transitions",
        json={"action": "accept"},
        headers={"If-Match": own.headers["ETag"]},
    )
    assert_problem(acted, 403)
    # A visit in another member's or worker's household is no one else's to file from.
    other = visit(clients("worker_b"), household_id=11)
    assert other.status_code == 201, other.get_data(as_text=True)
    assert_problem(
        member.post(
            f"/api/v1/visits/{other.get_json()['id']}/request",
            json={"category": "property.repair", "description": "路灯"},
        ),
        404,
    )
    assert_problem(member.get(f"/api/v1/visits/{other.get_json()['id']}"), 404)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"channel": "fax"}, "channel"),
        ({"topics": ["gossip"]}, "topics"),
        ({"household_id": 0}, "household_id"),
        ({"note": "x" * 2001}, "note"),
        ({"at": "2026-12-03T10:00:00"}, "at"),  # no offset
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_visits_are_400_problems_naming_the_field(clients, session, body, where):
    problem = assert_problem(visit(clients("member"), **body), 400)
    assert where in str(problem)
    assert visits_in(session) == 0


def test_visit_times_and_patrols_are_checked(clients, session, catalogue):
    member = clients("member")
    old = (now() - dt.timedelta(days=31)).isoformat()
    assert_problem(visit(member, at=old), 400, "30 days")
    ahead = (now() + dt.timedelta(hours=1)).isoformat()
    assert_problem(visit(member, at=ahead), 400)
    # Someone else's patrol.
    started = clients("worker").post("/api/v1/patrols", json={"work_list": "weekly_visit"})
    patrol_id = started.get_json()["id"]
    assert_problem(visit(member, patrol_id=patrol_id), 404)
    on_patrol = visit(clients("worker"), patrol_id=patrol_id)
    assert on_patrol.status_code == 201 and on_patrol.get_json()["patrol_id"] == patrol_id
    assert visits_in(session) == 1


def test_accounts_without_the_visit_capability_are_refused(clients, session, catalogue):
    assert_problem(visit(clients("chief")), 403)
    mine = clients("member").get("/api/v1/visits")
    assert mine.status_code == 200 and mine.get_json() == {"visits": []}
    assert session.scalar(select(func.count()).select_from(ResidentRequest)) == 0
