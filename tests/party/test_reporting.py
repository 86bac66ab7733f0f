"""双报到 end to end through the API: registration by home and moves, posts, publishing,
sign-ups with a capacity, attendance by the organiser or by a check-in near the place within
the activity's time, hours, and the quarter's table against the rule (≥ 2 services and ≥ 6
hours), per community and per unit, with its Excel download."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from gridmap.access import accounts, auth
from gridmap.access.auth import CLAIM, SIGNED_IN, UNIT_REPORT, Scope
from gridmap.core.errors import InvalidInput
from gridmap.jobs import run_one
from gridmap.party import report_jobs, reporting
from gridmap.storage.models import MemberRegistration
from tests.conftest import COMMUNITY, PASSWORD, client_for
from tests.helpers import assert_problem, clock_at
from tests.party.conftest import HOME_A, HOME_B, B, activity_body, beijing
from tests.patrols.conftest import north_of
from tests.security.test_matrix import _needed, _protected

#: The test quarter (2026Q3) and moments in it.
JULY = beijing(2026, 7, 6)


def register(client, person_id, home=HOME_A, since="2026-07-01", **more):
    body = {
        "person_id": person_id,
        "home": {"lon": home[0], "lat": home[1], "crs": "EPSG:4490"},
        "since": since,
    } | more
    return client.post("/api/v1/party/registrations", json=body)


def publish(chief, start, hours, **more):
    answer = chief.post("/api/v1/party/activities", json=activity_body(start, hours, **more))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()["id"]


def serve(chief, member, start, hours, confirmed_hours=None, **more):
    """An activity of ``hours`` at ``start`` that the member signs up for and attends."""
    activity_id = publish(chief, start, hours, **more)
    with clock_at(start - dt.timedelta(days=1)):
        signed = member.post(f"/api/v1/party/me/activities/{activity_id}/signup")
        assert signed.status_code == 201, signed.get_data(as_text=True)
    with clock_at(start + dt.timedelta(hours=hours)):
        body = {"person_id": member_person(member)}
        if confirmed_hours is not None:
            body["hours"] = confirmed_hours
        confirmed = chief.post(f"/api/v1/party/activities/{activity_id}/attendance", json=body)
        assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    return activity_id


def member_person(member) -> int:
    return member.person_id


@pytest.fixture
def member_of(member_client):
    def client(person_id):
        made = member_client(person_id)
        made.person_id = person_id
        return made

    return client


def rows_by_person(report):
    return {(r["person_id"], r["community_code"]): r for r in report["rows"]}


def test_a_quarter_is_classified_exactly_by_services_and_hours(
    clients, member_of, session, settings
):
    """0, 1 and 2 services; 5, 6 and 7 hours: only ≥ 2 services *and* ≥ 6 hours meet the
    rule, whatever the other figure."""
    chief = clients("chief")
    # person → the hours of each service attended
    served = {
        21: [],
        22: [6.0],
        23: [7.0],
        24: [2.5, 2.5],
        25: [3.0, 3.0],
        26: [3.5, 3.5],
        27: [1.0, 1.0, 3.0],
    }
    for pid in served:
        assert register(chief, pid).status_code == 201
    for pid, hours in served.items():
        for i, h in enumerate(hours):
            # 2-hour activities; the organiser counts the member's own hours
            serve(chief, member_of(pid), JULY + dt.timedelta(days=7 * i), 2.0, confirmed_hours=h)
    report = chief.get("/api/v1/party/report?quarter=2026Q3").get_json()
    assert report["rule"] == {"services": 2, "hours": 6.0}
    found = {pid: r for (pid, _), r in rows_by_person(report).items()}
    assert {pid: (r["quarter_services"], r["quarter_hours"]) for pid, r in found.items()} == {
        21: (0, 0.0),
        22: (1, 6.0),
        23: (1, 7.0),
        24: (2, 5.0),
        25: (2, 6.0),
        26: (2, 7.0),
        27: (3, 5.0),
    }
    assert {pid for pid, r in found.items() if r["met"]} == {25, 26}
    assert report["summary"] == {"members": 7, "met": 2, "not_met": 5}
    assert report["by_community"] == [
        {"code": COMMUNITY, "name": "测试社区", "members": 7, "met": 2, "not_met": 5}
    ]
    # The rule is configurable: at 3 services and 5 hours, only member 27 meets it.
    stricter = settings.model_copy(update={"party_quarter_services": 3, "party_quarter_hours": 5})
    table = reporting.report(session, Scope((COMMUNITY,)), reporting.quarter("2026Q3"), stricter)
    assert {r["person_id"] for r in table.rows if r["met"]} == {27}
    # Another quarter holds none of it.
    other = chief.get("/api/v1/party/report?quarter=2026Q2").get_json()
    assert other["rows"] == []


def test_a_member_who_moved_mid_quarter_counts_in_each_community(clients, member_of):
    chief, chief_b = clients("chief"), clients("worker_b")
    assert register(chief, 28, unit_id=None).status_code == 201
    mover = member_of(28)
    serve(chief, mover, beijing(2026, 7, 20), 3.0)
    # The chief of A cannot register a move into B; B's staff can.
    refused = register(chief, 28, home=HOME_B, since="2026-08-15")
    assert_problem(refused, 404, B)
    moved = register(chief_b, 28, home=HOME_B, since="2026-08-15")
    assert moved.status_code == 201, moved.get_data(as_text=True)
    assert moved.get_json()["community"]["code"] == B
    serve(chief_b, mover, beijing(2026, 9, 1), 3.0, community=B)

    in_a = rows_by_person(chief.get("/api/v1/party/report?quarter=2026Q3").get_json())
    in_b = rows_by_person(chief_b.get("/api/v1/party/report?quarter=2026Q3").get_json())
    a, b = in_a[(28, COMMUNITY)], in_b[(28, B)]
    assert (a["services"], a["hours"], a["since"], a["until"]) == (
        1,
        3.0,
        "2026-07-01",
        "2026-08-15",
    )
    assert (b["services"], b["hours"], b["since"], b["until"]) == (1, 3.0, "2026-08-15", None)
    # The rule holds for the member's quarter, wherever they served.
    assert a["quarter_services"] == b["quarter_services"] == 2 and a["met"] and b["met"]
    assert (28, B) not in in_a and (28, COMMUNITY) not in in_b
    # A move cannot start before the current registration.
    assert_problem(register(chief_b, 28, home=HOME_B, since="2026-08-01"), 409)


def test_check_in_near_the_place_within_the_time_confirms_attendance(clients, member_of, session):
    chief = clients("chief")
    assert register(chief, 21).status_code == 201
    member = member_of(21)
    start = beijing(2026, 7, 10, 14)
    activity_id = publish(chief, start, 2.0, wanted=5)
    path = f"/api/v1/party/me/activities/{activity_id}"
    near, far = north_of(HOME_A, 80), north_of(HOME_A, 600)
    with clock_at(start - dt.timedelta(hours=1)):
        assert member.post(f"{path}/signup").status_code == 201
        assert member.post(f"{path}/signup").status_code == 200  # once only
        early = member.post(f"{path}/check-in", json={"lon": near[0], "lat": near[1]})
        assert_problem(early, 422)
        assert early.get_json()["code"] == "activity-not-now"
    with clock_at(start + dt.timedelta(minutes=20)):
        too_far = member.post(f"{path}/check-in", json={"lon": far[0], "lat": far[1]})
        assert_problem(too_far, 422, "600")
        done = member.post(f"{path}/check-in", json={"lon": near[0], "lat": near[1]})
        assert done.status_code == 200, done.get_data(as_text=True)
        attended = done.get_json()
        assert attended["how"] == "check_in" and attended["hours"] == 2.0
        assert 79 < attended["distance_m"] < 81
        mine = member.get("/api/v1/party/me").get_json()
    assert mine["registration"]["community"]["code"] == COMMUNITY
    detail = chief.get(f"/api/v1/party/activities/{activity_id}").get_json()
    assert detail["attended"] == 1 and detail["signups"][0]["how"] == "check_in"
    with clock_at(start + dt.timedelta(days=1)):
        late = member.post(f"{path}/check-in", json={"lon": near[0], "lat": near[1]})
        assert_problem(late, 422)
    report = chief.get("/api/v1/party/report?quarter=2026Q3").get_json()
    assert rows_by_person(report)[(21, COMMUNITY)]["hours"] == 2.0


def test_places_are_limited_and_members_see_their_own_community_only(clients, member_of):
    chief, chief_b = clients("chief"), clients("worker_b")
    for pid in (21, 22):
        assert register(chief, pid).status_code == 201
    assert register(chief_b, 23, home=HOME_B).status_code == 201
    start = beijing(2026, 7, 20)
    activity_id = publish(chief, start, 2.0, wanted=1)
    with clock_at(beijing(2026, 7, 10)):
        assert (
            member_of(21).post(f"/api/v1/party/me/activities/{activity_id}/signup").status_code
            == 201
        )
        full = member_of(22).post(f"/api/v1/party/me/activities/{activity_id}/signup")
        assert_problem(full, 409)
        assert full.get_json()["code"] == "activity-full"
        # A member of B neither sees nor signs up for A's activity.
        assert member_of(23).get("/api/v1/party/me/activities").get_json()["results"] == []
        other = member_of(23).post(f"/api/v1/party/me/activities/{activity_id}/signup")
        assert_problem(other, 404)
        listed = member_of(22).get("/api/v1/party/me/activities").get_json()["results"]
    assert [(a["id"], a["signed"], a["wanted"]) for a in listed] == [(activity_id, 1, 1)]
    # B's staff cannot read or confirm A's activity.
    assert_problem(chief_b.get(f"/api/v1/party/activities/{activity_id}"), 404)
    assert chief_b.get("/api/v1/party/activities").get_json()["results"] == []


def test_a_member_moves_by_registering_again_and_keeps_their_unit(clients, member_of, session):
    chief = clients("chief")
    unit = chief.post(
        "/api/v1/party/units",
        json={"code": "move-unit", "name": "区财政局", "community": COMMUNITY},
    )
    assert unit.status_code == 201, unit.get_data(as_text=True)
    member = member_of(25)
    home_a = {"lon": HOME_A[0], "lat": HOME_A[1], "crs": "EPSG:4490"}
    home_b = {"lon": HOME_B[0], "lat": HOME_B[1], "crs": "EPSG:4490"}
    with clock_at(beijing(2026, 7, 2)):
        first = member.post(
            "/api/v1/party/me/registration", json={"home": home_a, "unit_id": unit.get_json()["id"]}
        )
        assert first.status_code == 201
        again = member.post("/api/v1/party/me/registration", json={"home": home_b})
        assert_problem(again, 409)  # a move comes on a later day
    with clock_at(beijing(2026, 8, 15)):
        moved = member.post("/api/v1/party/me/registration", json={"home": home_b})
        assert moved.status_code == 201 and moved.get_json()["community"]["code"] == B
        me = member.get("/api/v1/party/me").get_json()["registration"]
    assert me["community"]["code"] == B and me["since"] == "2026-08-15"
    assert me["unit"] == {"id": unit.get_json()["id"], "name": "区财政局"}
    rows = session.scalars(
        select(MemberRegistration)
        .where(MemberRegistration.person_id == 25)
        .order_by(MemberRegistration.valid_from)
    ).all()
    assert [(r.valid_from, r.valid_to) for r in rows] == [
        (dt.date(2026, 7, 2), dt.date(2026, 8, 15)),
        (dt.date(2026, 8, 15), None),
    ]
    assert len({r.unit_id for r in rows}) == 1


def test_a_cancelled_sign_up_frees_its_place(clients, member_of):
    chief = clients("chief")
    for pid in (21, 22):
        assert register(chief, pid).status_code == 201
    start = beijing(2026, 7, 20)
    activity_id = publish(chief, start, 2.0, wanted=1)
    signup = f"/api/v1/party/me/activities/{activity_id}/signup"
    with clock_at(beijing(2026, 7, 10)):
        assert member_of(21).post(signup).status_code == 201
        assert_problem(member_of(22).post(signup), 409)
        cancelled = member_of(21).delete(signup)
        assert cancelled.status_code == 200
        assert cancelled.get_json() == {"activity_id": activity_id, "signed": False}
        assert_problem(member_of(21).delete(signup), 404)  # not signed up any more
        assert member_of(22).post(signup).status_code == 201  # the place was freed
        listed = member_of(22).get("/api/v1/party/me/activities").get_json()["results"]
        assert [(a["signed"], a["mine"]["attended_at"]) for a in listed] == [(1, None)]
        assert_problem(member_of(21).delete(f"/api/v1/party/me/activities/{10**9}/signup"), 404)
    with clock_at(start + dt.timedelta(hours=2)):
        confirmed = chief.post(
            f"/api/v1/party/activities/{activity_id}/attendance", json={"person_id": 22}
        )
        assert confirmed.status_code == 200
        assert_problem(member_of(22).delete(signup), 409)  # attended: the sign-up stays
    other = publish(chief, start, 2.0)
    with clock_at(beijing(2026, 7, 10)):
        assert member_of(21).post(f"/api/v1/party/me/activities/{other}/signup").status_code == 201
    with clock_at(start + dt.timedelta(hours=3)):
        over = member_of(21).delete(f"/api/v1/party/me/activities/{other}/signup")
        assert_problem(over, 422)
    assert_problem(chief.delete(signup), 403)  # staff do not withdraw members


def test_an_unregistered_member_registers_by_home_and_chooses_posts(clients, member_of, session):
    member = member_of(24)
    assert member.get("/api/v1/party/me").get_json()["registration"] is None
    assert member.get("/api/v1/party/me/activities").get_json()["results"] == []
    posts = member.get("/api/v1/party/posts").get_json()["posts"]
    assert len(posts) == 10 and posts[0] == {"code": "policy_talk", "name": "政策宣讲"}
    no_home = member.post("/api/v1/party/me/registration", json={})
    assert_problem(no_home, 400)
    home = {"lon": HOME_A[0], "lat": HOME_A[1], "crs": "EPSG:4490"}
    made = member.post("/api/v1/party/me/registration", json={"home": home})
    assert made.status_code == 201 and made.get_json()["community"]["code"] == COMMUNITY
    chosen = member.put("/api/v1/party/me/posts", json={"kinds": ["mediation", "care"]})
    assert chosen.get_json() == {"posts": ["care", "mediation"]}
    assert_problem(member.put("/api/v1/party/me/posts", json={"kinds": ["nope"]}), 400)
    assert member.get("/api/v1/party/me").get_json()["posts"] == ["care", "mediation"]
    rows = session.scalars(select(MemberRegistration).where(MemberRegistration.person_id == 24))
    assert [r.valid_to for r in rows] == [None]


def test_a_unit_gets_its_members_report_and_the_table_downloads_as_excel(
    clients, member_of, session_factory, settings
):
    chief = clients("chief")
    unit = chief.post(
        "/api/v1/party/units",
        json={"code": "dc-tax", "name": "东城区税务局", "community": COMMUNITY},
    )
    assert unit.status_code == 201, unit.get_data(as_text=True)
    unit_id = unit.get_json()["id"]
    assert_problem(
        chief.post(
            "/api/v1/party/units", json={"code": "dc-tax", "name": "重复", "community": COMMUNITY}
        ),
        409,
    )
    assert register(chief, 25, unit_id=unit_id).status_code == 201
    assert register(chief, 26).status_code == 201
    serve(chief, member_of(25), beijing(2026, 7, 8), 3.0)
    serve(chief, member_of(25), beijing(2026, 8, 8), 3.0)
    answer = chief.get(f"/api/v1/party/units/{unit_id}/report?quarter=2026Q3").get_json()
    assert answer["unit"]["name"] == "东城区税务局"
    assert [(r["person_id"], r["quarter_services"], r["met"]) for r in answer["rows"]] == [
        (25, 2, True)
    ]
    assert_problem(clients("worker_b").get(f"/api/v1/party/units/{unit_id}/report"), 404)

    asked = chief.post("/api/v1/party/report-jobs", json={"quarter": "2026Q3"})
    assert asked.status_code == 202, asked.get_data(as_text=True)
    job_id = asked.get_json()["id"]
    assert run_one(session_factory, report_jobs.handlers(settings), job_id) == "succeeded"
    done = chief.get(f"/api/v1/jobs/{job_id}").get_json()
    assert done["state"] == "succeeded" and done["kind_label"] == "双报到季度报表"
    workbook = chief.get(f"/api/v1/jobs/{job_id}/file")
    assert workbook.status_code == 200
    rows = list(
        openpyxl.load_workbook(io.BytesIO(workbook.data)).active.iter_rows(values_only=True)
    )
    assert rows[0][0] == "2026年第3季度在职党员双报到情况"
    assert rows[2][:2] == ("报到社区", "姓名")
    table = {r[1]: r for r in rows[3:5]}
    assert table["在职党员25"][-1] == "达标" and table["在职党员25"][2] == "东城区税务局"
    assert table["在职党员26"][-1] == "未达标"
    assert rows[-1][0] == "共2人，达标1人，未达标1人"
    book = openpyxl.load_workbook(io.BytesIO(workbook.data))
    assert list(book["按社区"].iter_rows(values_only=True)) == [
        ("社区代码", "社区", "在职党员", "达标", "未达标"),
        (COMMUNITY, "测试社区", 2, 1, 1),
    ]
    assert Decimal(str(table["在职党员25"][8])) == Decimal(6)
    refused = chief.post("/api/v1/party/report-jobs", json={"community": B})
    assert_problem(refused, 404)


def test_a_units_account_reads_its_members_quarter_and_nothing_else(
    app, clients, member_of, session, settings
):
    chief = clients("chief")
    made = chief.post(
        "/api/v1/party/units",
        json={"code": "dc-court", "name": "东城区人民法院", "community": COMMUNITY},
    )
    unit_id = made.get_json()["id"]
    assert register(chief, 27, unit_id=unit_id).status_code == 201
    assert register(chief, 28).status_code == 201
    serve(chief, member_of(27), beijing(2026, 7, 8), 3.0)
    user = accounts.create_user(session, "unit-court", PASSWORD)
    with pytest.raises(InvalidInput):
        accounts.grant_role(session, user.id, "unit")
    accounts.grant_role(session, user.id, "unit", party_unit_id=unit_id)
    session.commit()
    _, token = auth.login(
        session, "unit-court", PASSWORD, kind="bearer", settings=settings, origin=auth.Origin()
    )
    unit = client_for(app, token)
    answer = unit.get("/api/v1/party/my-unit/report?quarter=2026Q3")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["unit"]["name"] == "东城区人民法院"
    assert [(r["name"], r["quarter_services"], r["quarter_hours"]) for r in body["rows"]] == [
        ("在职党员27", 1, 3.0)
    ]
    refused = []
    for endpoint, method, url in _protected(app):
        if _needed(app, endpoint) & {SIGNED_IN, UNIT_REPORT, CLAIM}:  # 双向认领 too
            continue
        if unit.open(url, method=method, json={}).status_code != 403:
            refused.append(endpoint)
    assert refused == []
    assert unit.get("/api/v1/party/report").status_code == 403
    assert chief.get("/api/v1/party/my-unit/report").status_code == 403
