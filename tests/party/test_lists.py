"""三张清单 and 微心愿 end to end through the API: needs recorded, or one click from a visit or a
request; resources offered by members and units; two-way claiming (a member claims a need, the
community pairs one with a resource), confirmation, completion with a result and photos (If-Match
on every step); wishes recorded with consent, claimed, fulfilled with proof, confirmed and
counted; nothing published names the resident or their door."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gridmap.access import accounts, auth
from gridmap.files import service as files
from gridmap.files import stores
from gridmap.party import reporting
from tests.conftest import COMMUNITY, PASSWORD, client_for
from tests.helpers import assert_problem
from tests.party.conftest import HOME_A, HOME_B, B
from tests.patrols.conftest import PEOPLE
from tests.requests.conftest import catalogue, intake_body  # noqa: F401  (fixture)
from tests.requests.photos import image, uploaded

#: What the patrol world's household 1 is: its address must never be published.
DOOR = "测试社区1号楼101"


@pytest.fixture
def objects(app: Any, tmp_path: Any) -> stores.ObjectStore:
    store = stores.DiskStore(tmp_path / "files")
    app.extensions["gridmap.files"] = store
    return store


@pytest.fixture
def unit_account(app, session, settings):
    """A bearer-token client of unit ``unit_id``'s own account."""

    def client(unit_id: int):
        user = accounts.create_user(session, f"unit-{unit_id}", PASSWORD)
        accounts.grant_role(session, user.id, "unit", party_unit_id=unit_id)
        session.commit()
        origin = auth.Origin()
        _, token = auth.login(
            session, f"unit-{unit_id}", PASSWORD, kind="bearer", settings=settings, origin=origin
        )
        return client_for(app, token)

    return client


@pytest.fixture
def member_of(member_client, clients):
    """A registered in-service member's own client (home in A, or in B)."""
    chief, chief_b = clients("chief"), clients("worker_b")

    def client(person_id, home=HOME_A):
        staff = chief if home == HOME_A else chief_b
        body = {"person_id": person_id, "home": {"lon": home[0], "lat": home[1]}}
        body["home"]["crs"] = "EPSG:4490"
        answer = staff.post("/api/v1/party/registrations", json=body)
        assert answer.status_code in (201, 409), answer.get_data(as_text=True)
        return member_client(person_id)

    return client


def need_body(**more: Any) -> dict[str, Any]:
    return {
        "community": COMMUNITY,
        "kind": "repair",
        "title": "楼道灯坏了需要维修",
        "detail": "独居老人家门口的灯",
        "household_id": 1,
    } | more


def record_need(chief, **more):
    answer = chief.post("/api/v1/party/needs", json=need_body(**more))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer


def offer(client, **more):
    body = {"kind": "skill", "title": "水电维修", "detail": "周末可上门"} | more
    answer = client.post("/api/v1/party/resources", json=body)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def test_a_need_is_claimed_confirmed_and_completed_with_photos(clients, member_of, objects):
    chief = clients("chief")
    created = record_need(chief)
    need = created.get_json()
    assert created.headers["ETag"] == f'"need.{need["id"]}.1"'
    assert need["state"] == "open" and need["source"] == "resident"
    assert DOOR not in created.get_data(as_text=True)
    assert "household" not in need
    member = member_of(21)
    mine = offer(member)
    assert mine["provider"] == {"kind": "member", "name": "在职党员"}
    near = member.get("/api/v1/party/claimable").get_json()["results"]
    assert [(n["type"], n["id"]) for n in near] == [("need", need["id"])]
    assert near[0]["distance_m"] is not None
    claimed = member.post(
        f"/api/v1/party/needs/{need['id']}/claims", json={"resource_id": mine["id"]}
    )
    assert claimed.status_code == 201, claimed.get_data(as_text=True)
    match_id = claimed.get_json()["match_id"]
    # A second claimant is told it is taken; the need no longer shows as claimable.
    assert_problem(member_of(22).post(f"/api/v1/party/needs/{need['id']}/claims", json={}), 409)
    assert member.get("/api/v1/party/claimable").get_json()["results"] == []
    project = chief.get(f"/api/v1/party/matches/{match_id}")
    assert project.get_json()["state"] == "proposed"
    url = f"/api/v1/party/matches/{match_id}"
    assert_problem(chief.post(f"{url}/confirm"), 428)
    assert_problem(chief.post(f"{url}/confirm", headers={"If-Match": '"match.1.99"'}), 412)
    confirmed = chief.post(f"{url}/confirm", headers={"If-Match": project.headers["ETag"]})
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    assert confirmed.get_json()["state"] == "confirmed"
    photo = uploaded(chief, image(), purpose="after")
    done = chief.post(
        f"{url}/complete",
        json={"result": "已更换灯泡", "photos": [photo["id"]]},
        headers={"If-Match": confirmed.headers["ETag"]},
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["photos"] == [photo["id"]]
    assert chief.get(f"/api/v1/party/needs/{need['id']}").get_json()["state"] == "done"
    # Done is done: neither confirmed again nor declined.
    assert_problem(chief.post(f"{url}/decline", headers={"If-Match": "*"}), 409)


def test_the_community_pairs_a_need_with_a_units_resource(clients, member_of, unit_account):
    chief = clients("chief")
    unit = chief.post(
        "/api/v1/party/units",
        json={"code": "u-lists", "name": "区供电公司", "community": COMMUNITY},
    ).get_json()
    unit_client = unit_account(unit["id"])
    place = {"lon": HOME_A[0] + 0.001, "lat": HOME_A[1], "crs": "EPSG:4490"}
    room = offer(unit_client, kind="room", title="会议室", detail="周六上午", place=place)
    assert room["provider"] == {"kind": "unit", "name": "区供电公司"}
    need = record_need(chief, kind="learning", title="老年人智能手机课堂").get_json()
    paired = chief.post(
        f"/api/v1/party/needs/{need['id']}/matches", json={"resource_id": room["id"]}
    )
    assert paired.status_code == 201, paired.get_data(as_text=True)
    assert paired.get_json()["state"] == "confirmed"
    assert paired.get_json()["proposed_by"] == "community"
    # Declined, the need is open again and a member may claim it.
    declined = chief.post(
        f"/api/v1/party/matches/{paired.get_json()['id']}/decline",
        headers={"If-Match": paired.headers["ETag"]},
    )
    assert declined.get_json()["state"] == "declined"
    assert chief.get(f"/api/v1/party/needs/{need['id']}").get_json()["state"] == "open"
    assert (
        member_of(23).post(f"/api/v1/party/needs/{need['id']}/claims", json={}).status_code == 201
    )
    # B's staff see none of it; the map layer shows the need and the room near each other.
    assert_problem(clients("worker_b").get(f"/api/v1/party/needs/{need['id']}"), 404)
    other = record_need(chief, kind="learning", title="想学习使用手机支付").get_json()
    layer = chief.get("/api/v1/party/lists/map").get_json()
    found = {f["id"]: f["properties"] for f in layer["features"]}
    assert set(found) == {f"need-{other['id']}", f"resource-{room['id']}"}
    assert found[f"need-{other['id']}"]["near_resource_id"] == room["id"]
    assert clients("worker_b").get("/api/v1/party/lists/map").get_json()["features"] == []


def test_needs_one_click_from_a_visit_and_from_a_request(clients, catalogue):  # noqa: F811
    member, chief = clients("member"), clients("chief")
    visit = member.post(
        "/api/v1/visits",
        json={"household_id": 1, "channel": "in_person", "topics": [], "note": "腿脚不便"},
    )
    assert visit.status_code == 201, visit.get_data(as_text=True)
    visit_id = visit.get_json()["id"]
    body = {"kind": "care", "title": "需要助餐服务"}
    made = member.post(f"/api/v1/party/needs/from-visit/{visit_id}", json=body)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["source"] == "visit"
    assert_problem(member.post(f"/api/v1/party/needs/from-visit/{visit_id}", json=body), 409)
    assert_problem(
        clients("worker_b").post(f"/api/v1/party/needs/from-visit/{visit_id}", json=body), 404
    )
    filed = chief.post("/api/v1/requests", json=intake_body())
    assert filed.status_code == 201, filed.get_data(as_text=True)
    request_id = filed.get_json()["id"]
    from_request = chief.post(f"/api/v1/party/needs/from-request/{request_id}", json=body)
    assert from_request.status_code == 201, from_request.get_data(as_text=True)
    assert from_request.get_json()["source"] == "request"
    assert_problem(chief.post(f"/api/v1/party/needs/from-request/{request_id}", json=body), 409)


def test_published_text_refuses_phone_numbers(clients):
    chief = clients("chief")
    answer = chief.post("/api/v1/party/needs", json=need_body(detail="联系13912345678"))
    assert_problem(answer, 400, "phone")
    wish = {"title": "想要一台收音机", "detail": "电话 13912345678", "community": COMMUNITY}
    assert_problem(chief.post("/api/v1/party/wishes", json=wish | {"consent": True}), 400)
    # Without the resident's consent nothing is recorded.
    assert chief.post("/api/v1/party/wishes", json=wish | {"consent": False}).status_code in (
        400,
        422,
    )


def test_a_wish_is_claimed_fulfilled_with_proof_confirmed_and_counted(
    clients, member_of, objects, session
):
    chief = clients("chief")
    recorded = chief.post(
        "/api/v1/party/wishes",
        json={
            "title": "想要一台收音机",
            "detail": "独居老人想听戏",
            "community": COMMUNITY,
            "household_id": 1,
            "consent": True,
        },
    )
    assert recorded.status_code == 201, recorded.get_data(as_text=True)
    wish = recorded.get_json()
    text = recorded.get_data(as_text=True)
    assert DOOR not in text and PEOPLE[1][0] not in text
    member, other = member_of(24), member_of(25)
    near = member.get("/api/v1/party/claimable").get_json()["results"]
    assert [(w["type"], w["id"]) for w in near] == [("wish", wish["id"])]
    url = f"/api/v1/party/wishes/{wish['id']}"
    # Out of the community: as if there were no such wish.
    assert_problem(member_of(26, HOME_B).post(f"{url}/claims"), 404)
    claimed = member.post(f"{url}/claims")
    assert claimed.status_code == 201, claimed.get_data(as_text=True)
    assert claimed.get_json()["claimant"] == {"kind": "member", "name": "在职党员"}
    assert_problem(other.post(f"{url}/claims"), 409, "claimed already")
    # Proof is a photo the claimant uploaded; another's claim cannot be fulfilled.
    assert_problem(member.post(f"{url}/fulfilment", json={"note": "送到了", "photos": []}), 400)
    photo = uploaded(member, image(), purpose="after")
    assert_problem(other.post(f"{url}/fulfilment", json={"photos": [photo["id"]]}), 404)
    done = member.post(f"{url}/fulfilment", json={"note": "已送到", "photos": [photo["id"]]})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["state"] == "fulfilled"
    loaded = chief.get(url)
    confirmed = chief.post(
        f"{url}/confirmation",
        json={"how": "resident"},
        headers={"If-Match": loaded.headers["ETag"]},
    )
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    assert confirmed.get_json()["confirmed_how"] == "resident"
    # The proof is seen by the community's staff (and its uploader), not by B's.
    assert chief.get(photo["url"]).status_code == 200
    assert member.get(photo["url"]).status_code == 200
    assert_problem(clients("worker_b").get(photo["url"]), 404)
    # The proof is attached: the pruning of uploads attached to nothing leaves it.
    assert files.prune_unattached(session, objects, dt.timedelta(0)) == 0
    assert chief.get(photo["url"]).status_code == 200
    counts = chief.get("/api/v1/party/wish-counts").get_json()["results"]
    assert counts == [
        {
            "type": "member",
            "id": 24,
            "name": "在职党员24",
            "community": COMMUNITY,
            "claimed": 1,
            "fulfilled": 1,
            "confirmed": 1,
        }
    ]
    assert clients("worker_b").get("/api/v1/party/wish-counts").get_json()["results"] == []
    # Per quarter (双报告): this quarter's claims count, another quarter's hold none.
    this_quarter = reporting.quarter(None).label
    quarter = chief.get(f"/api/v1/party/wish-counts?quarter={this_quarter}").get_json()
    assert quarter["results"] == counts
    assert chief.get("/api/v1/party/wish-counts?quarter=2025Q1").get_json()["results"] == []


def test_a_member_records_a_wish_in_their_own_community(member_of, clients):
    member = member_of(27)
    body = {"title": "想学用智能手机", "consent": True}
    recorded = member.post("/api/v1/party/me/wishes", json=body)
    assert recorded.status_code == 201, recorded.get_data(as_text=True)
    assert recorded.get_json()["community"]["code"] == COMMUNITY
    assert_problem(member.post("/api/v1/party/me/wishes", json=body | {"household_id": 1}), 400)
    assert_problem(member.post("/api/v1/party/wishes", json=body | {"community": COMMUNITY}), 403)
    listed = clients("chief").get("/api/v1/party/wishes").get_json()["results"]
    assert [w["title"] for w in listed] == ["想学用智能手机"]


def test_a_unit_without_its_own_community_claims_nothing_elsewhere(unit_account, clients):
    chief_b = clients("worker_b")
    unit = chief_b.post(
        "/api/v1/party/units", json={"code": "u-b", "name": "乙单位", "community": B}
    ).get_json()
    unit_client = unit_account(unit["id"])
    need = record_need(clients("chief")).get_json()
    assert_problem(unit_client.post(f"/api/v1/party/needs/{need['id']}/claims", json={}), 404)
    assert unit_client.get("/api/v1/party/claimable").get_json()["results"] == []
