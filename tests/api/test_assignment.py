"""Staffing and coverage edits: scope, ETag / If-Match conflicts, bad input, audit."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select

from gridmap.grid import ingest
from gridmap.storage.models import Assignment, AuditEntry, Coverage
from tests.conftest import COMMUNITY, client_for
from tests.helpers import assert_problem, row_counts

ZONE1, ZONE2 = COMMUNITY + "01", COMMUNITY + "02"
MICRO = ZONE1 + "001"


def _etag(client, code: str, what: str = "coverage") -> str:
    response = client.get(f"/api/v1/grids/{code}/{what}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.headers["ETag"]


def test_staff_a_micro_grid_and_end_the_post(client, staffed, session):
    etag = _etag(client, MICRO, "staff")
    made = client.post(
        f"/api/v1/grids/{MICRO}/staff",
        json={"person_id": 4, "role": "building_leader"},
        headers={"If-Match": etag},
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.headers["ETag"] != etag
    posts = client.get(f"/api/v1/grids/{MICRO}/staff").get_json()["assignments"]
    assert {(p["person_id"], p["role"]) for p in posts} == {
        (3, "grid_worker"),
        (4, "building_leader"),
    }
    assert all("*" in p["phone"] for p in posts)
    ended = client.post(
        f"/api/v1/assignments/{made.get_json()['id']}/end",
        json={},
        headers={"If-Match": made.headers["ETag"]},
    )
    assert ended.status_code == 200, ended.get_data(as_text=True)
    current = client.get(f"/api/v1/grids/{MICRO}/staff").get_json()["assignments"]
    history = client.get(f"/api/v1/grids/{MICRO}/staff?history=true").get_json()["assignments"]
    assert len(history) == len(current) + 1 == 2
    actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["staff.assign", "staff.end"]


def test_bad_staffing_is_refused_and_changes_nothing(client, staffed, session):
    etag = _etag(client, MICRO, "staff")
    before = row_counts(session)
    cases = [
        ({"person_id": 4, "role": "chief"}, {"If-Match": etag}, 400, "does not staff"),
        ({"person_id": 999, "role": "grid_worker"}, {"If-Match": etag}, 404, "999"),
        ({"person_id": 4, "role": "grid_worker"}, {}, 428, "If-Match"),
        ({"person_id": 4, "role": "grid_worker"}, {"If-Match": '"x.0"'}, 412, "reload"),
        ({"person_id": 4, "role": "mayor"}, {"If-Match": etag}, 400, "role"),
    ]
    for body, headers, status, word in cases:
        response = client.post(f"/api/v1/grids/{MICRO}/staff", json=body, headers=headers)
        assert_problem(response, status, word)
    assert row_counts(session)["assignment"] == before["assignment"]


def test_give_move_and_release_households(client, staffed, session):
    etag = _etag(client, ZONE1)
    state = client.get(f"/api/v1/grids/{ZONE1}/coverage").get_json()
    assert {h["id"]: h["current"] for h in state["households"]} == {1: 4}
    assert {m["id"] for m in state["members"]} >= {1, 4}
    moved = client.post(
        f"/api/v1/grids/{ZONE1}/coverage",
        json={"op": "assign", "person_id": 1, "household_ids": [1]},
        headers={"If-Match": etag},
    )
    assert moved.get_json()["changed"] == 1
    covering = session.scalars(select(Coverage.person_id).where(Coverage.household_id == 1))
    assert list(covering) == [1]
    released = client.post(
        f"/api/v1/grids/{ZONE1}/coverage",
        json={"op": "release", "household_ids": [1]},
        headers={"If-Match": moved.headers["ETag"]},
    )
    assert released.get_json()["changed"] == 1
    assert session.scalar(select(func.count()).select_from(Coverage)) == 0


def test_second_chief_with_a_stale_etag_gets_a_conflict(app, client, staffed, make_user, session):
    other = client_for(app, make_user("chief", COMMUNITY))
    etag = _etag(client, ZONE1)
    assert _etag(other, ZONE1) == etag
    first = client.post(
        f"/api/v1/grids/{ZONE1}/coverage",
        json={"op": "assign", "person_id": 1, "household_ids": [1]},
        headers={"If-Match": etag},
    )
    assert first.status_code == 200
    second = other.post(
        f"/api/v1/grids/{ZONE1}/coverage",
        json={"op": "release", "household_ids": [1]},
        headers={"If-Match": etag},
    )
    assert_problem(second, 412, "changed since you loaded it")
    assert list(session.scalars(select(Coverage.person_id).where(Coverage.household_id == 1))) == [
        1
    ]
    # A change inside a micro-grid also moves the zone's and the community's ETags.
    assert _etag(client, COMMUNITY) != etag


def test_coverage_bad_input(client, staffed, session):
    etag = _etag(client, ZONE1)
    before = row_counts(session)
    cases = [
        ({"op": "assign", "person_id": 1, "household_ids": [2]}, 404, "not in grid"),
        ({"op": "assign", "person_id": 1, "household_ids": [1, 77]}, 404, "77"),
        ({"op": "assign", "person_id": 555, "household_ids": [1]}, 404, "555"),
        ({"op": "assign", "household_ids": [1]}, 400, "person_id"),
        ({"op": "release", "person_id": 1, "household_ids": [1]}, 400, "person_id"),
        ({"op": "assign", "person_id": 1, "household_ids": []}, 400, "household_ids"),
        ({"op": "steal", "household_ids": [1]}, 400, "op"),
    ]
    for body, status, word in cases:
        response = client.post(
            f"/api/v1/grids/{ZONE1}/coverage", json=body, headers={"If-Match": etag}
        )
        assert_problem(response, status, word)
    assert row_counts(session) == before


def test_zone_leader_cannot_edit_outside_the_zone(app, staffed, make_user, session):
    leader = client_for(app, make_user("zone_leader", ZONE1))
    assert_problem(leader.get(f"/api/v1/grids/{ZONE2}/coverage"), 404)
    etag = _etag(leader, ZONE1)
    response = leader.post(
        f"/api/v1/grids/{ZONE1}/coverage",
        json={"op": "assign", "person_id": 1, "household_ids": [2]},
        headers={"If-Match": etag},
    )
    assert_problem(response, 404)
    staff = leader.post(
        f"/api/v1/grids/{ZONE2}001/staff",
        json={"person_id": 4, "role": "grid_worker"},
        headers={"If-Match": etag},
    )
    assert_problem(staff, 404)
    worker = client_for(app, make_user("grid_worker", MICRO, person_id=3))
    refused = worker.post(
        f"/api/v1/grids/{MICRO}/coverage",
        json={"op": "release", "household_ids": [1]},
        headers={"If-Match": _etag(worker, MICRO)},
    )
    assert_problem(refused, 403)
    assert session.scalar(select(func.count()).select_from(Assignment)) == 3


def _offered_are_actable(client, code: str) -> set[int]:
    """Give a household of ``code`` to every member the coverage page offers; each must work
    (never a 404 for someone the page offered). Returns the offered ids."""
    state = client.get(f"/api/v1/grids/{code}/coverage").get_json()
    offered = {m["id"] for m in state["members"]}
    household = state["households"][0]["id"]
    etag = state["etag"]
    for person_id in sorted(offered):
        answer = client.post(
            f"/api/v1/grids/{code}/coverage",
            json={"op": "assign", "person_id": person_id, "household_ids": [household]},
            headers={"If-Match": etag},
        )
        assert answer.status_code == 200, (person_id, answer.get_data(as_text=True))
        etag = answer.headers["ETag"]
    return offered


def test_a_zone_leader_is_offered_only_members_it_may_act_on(app, staffed, make_user, session):
    """Members living in the community (1, the chief; 4, covering in zone 1) are not a zone
    leader's to move unless they serve in its zone: the page must not offer them to zone 2's
    leader. Member 5 covers a household of zone 2, so zone 2's leader may act on them."""
    ingest.import_people(
        session,
        pd.DataFrame(
            [["5", "钱党", "13800000005", "party_member", COMMUNITY]],
            columns=["id", "name", "phone", "kind", "home_community_code"],
        ),
    )
    ingest.import_coverage(
        session, pd.DataFrame([["5", "2"]], columns=["person_id", "household_id"])
    )
    session.commit()
    zone2 = client_for(app, make_user("zone_leader", ZONE2))
    assert _offered_are_actable(zone2, ZONE2) == {5}
    zone1 = client_for(app, make_user("zone_leader", ZONE1))
    assert _offered_are_actable(zone1, ZONE1) == {4}
    # The chief's community holds every member living in it: all are offered, all actable.
    chief = client_for(app, make_user("chief", COMMUNITY))
    assert _offered_are_actable(chief, ZONE1) == {1, 4, 5}


def test_the_etag_of_a_compressed_answer_matches_too(client, staffed):
    """A client echoing the ETag header of a gzip answer (``"…:gzip"``) is not refused."""
    big = client.get("/api/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert big.headers["Content-Encoding"] == "gzip"
    etag = _etag(client, MICRO, "staff")
    made = client.post(
        f"/api/v1/grids/{MICRO}/staff",
        json={"person_id": 4, "role": "building_leader"},
        headers={"If-Match": etag[:-1] + ':gzip"'},
    )
    assert made.status_code == 201, made.get_data(as_text=True)


def _end(client, post_id: int, **body):
    return client.post(
        f"/api/v1/assignments/{post_id}/end",
        json=body,
        headers={"If-Match": _etag(client, MICRO, "staff")},
    )


def _new_post(client) -> int:
    made = client.post(
        f"/api/v1/grids/{MICRO}/staff",
        json={"person_id": 4, "role": "building_leader"},
        headers={"If-Match": _etag(client, MICRO, "staff")},
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    return int(made.get_json()["id"])


def test_an_ended_post_stays_ended(client, staffed, session):
    from gridmap.core import clock

    post_id = _new_post(client)
    assert _end(client, post_id).status_code == 200
    ended_on = session.get(Assignment, post_id, populate_existing=True).end_date
    assert ended_on == clock.today()
    for body in ({}, {"end_date": "2199-12-31"}):
        assert_problem(_end(client, post_id, **body), 409, "already ended")
    assert session.get(Assignment, post_id, populate_existing=True).end_date == ended_on
    current = client.get(f"/api/v1/grids/{MICRO}/staff").get_json()["assignments"]
    assert post_id not in {p["id"] for p in current}
    refused = session.scalars(
        select(AuditEntry).where(AuditEntry.outcome == "failed").order_by(AuditEntry.id)
    ).all()
    assert [r.detail["status"] for r in refused][-2:] == [409, 409]


def test_a_post_due_to_end_may_end_sooner_but_not_later(client, staffed, session):
    post_id = _new_post(client)
    assert _end(client, post_id, end_date="2199-06-30").status_code == 200
    assert_problem(_end(client, post_id, end_date="2199-12-31"), 409, "cannot move")
    assert _end(client, post_id, end_date="2199-01-31").status_code == 200
    assert str(session.get(Assignment, post_id, populate_existing=True).end_date) == "2199-01-31"
