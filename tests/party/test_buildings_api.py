"""Buildings (楼栋), their posts (楼栋长, 单元长) and 党员中心户 through the API: recorded in
the staff's subtree, changed only with a current ETag, posts with their history, neighbours
within the building and under the limit, and the household panel naming them."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from gridmap.core.privacy import mask_phone
from gridmap.grid import ingest
from gridmap.storage.models import Household
from tests.conftest import client_for
from tests.security.conftest import A_PEOPLE, A

FOOTPRINT = {
    "type": "Polygon",
    "coordinates": [
        [
            [116.4048, 39.9148],
            [116.4052, 39.9148],
            [116.4052, 39.9152],
            [116.4048, 39.9152],
            [116.4048, 39.9148],
        ]
    ],
}


def _record(client, **extra):
    body = {"geometry": FOOTPRINT, "number": "12", "name": "12号楼", "floors": 6}
    body["units"] = [{"number": "2", "floors": 6}]
    return client.post("/api/v1/buildings", json=body | extra)


def test_a_recorded_building_links_the_households_its_address_names(login_as, session):
    response = _record(login_as("grid_worker"))
    assert response.status_code == 201, response.get_json()
    feature = response.get_json()
    assert feature["geometry"]["type"] == "Polygon"
    props = feature["properties"]
    assert (props["micro_grid_code"], props["households"], props["units"]) == (A + "01001", 1, 1)
    assert props["unit_list"][0] == {
        "id": props["unit_list"][0]["id"],
        "number": "2",
        "floors": 6,
        "households": 1,
    }
    assert response.headers["ETag"] == props["etag"]
    linked = session.execute(
        select(Household.building_id, Household.unit_id).where(Household.id == 1)
    ).one()
    assert linked == (feature["id"], props["unit_list"][0]["id"])
    listed = login_as("chief").get("/api/v1/buildings?bbox=116.40,39.91,116.41,39.92").get_json()
    assert [f["id"] for f in listed["features"]] == [feature["id"]]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (
            {"geometry": {"type": "LineString", "coordinates": [[116.4, 39.9], [116.41, 39.91]]}},
            400,
        ),
        ({"geometry": {"type": "Point", "coordinates": [39.915, 116.405]}}, 400),  # swapped
        ({"geometry": {"type": "Point", "coordinates": [116.445, 39.915]}}, 404),  # B's
        ({"floors": 0}, 400),
        ({"micro_grid": A + "02001"}, 422),
    ],
)
def test_bad_or_foreign_buildings_are_refused_and_nothing_is_written(
    login_as, session, body, status
):
    response = _record(login_as("chief"), **body)
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert session.scalar(select(Household.building_id).where(Household.id == 1)) is None


def test_members_read_but_cannot_record(login_as):
    assert _record(login_as("member")).status_code == 403


def test_a_change_needs_the_current_etag(login_as):
    chief = login_as("chief")
    created = _record(chief)
    url = f"/api/v1/buildings/{created.get_json()['id']}"
    assert chief.patch(url, json={"floors": 7}).status_code == 428
    assert (
        chief.patch(url, json={"floors": 7}, headers={"If-Match": '"building.1.99"'}).status_code
        == 412
    )
    changed = chief.patch(url, json={"floors": 7}, headers={"If-Match": created.headers["ETag"]})
    assert changed.status_code == 200
    assert changed.get_json()["properties"]["floors"] == 7
    assert changed.headers["ETag"] != created.headers["ETag"]
    stale = chief.patch(url, json={"floors": 8}, headers={"If-Match": created.headers["ETag"]})
    assert stale.status_code == 412


def test_posts_have_one_current_holder_and_keep_their_history(login_as):
    chief = login_as("chief")
    created = _record(chief)
    url = f"/api/v1/buildings/{created.get_json()['id']}"
    first = chief.put(
        f"{url}/head", json={"person_id": 4, "start_date": "2026-01-01"}, headers={"If-Match": "*"}
    )
    assert first.status_code == 200, first.get_json()
    second = chief.put(
        f"{url}/head",
        json={"person_id": 1, "start_date": "2026-06-01"},
        headers={"If-Match": first.headers["ETag"]},
    )
    assert second.status_code == 200, second.get_json()
    unit = chief.put(f"{url}/units/2/head", json={"person_id": 4}, headers={"If-Match": "*"})
    assert unit.status_code == 200
    current = chief.get(url).get_json()["properties"]["posts"]
    assert [(p["role"], p["person_id"], p["unit"]) for p in current] == [
        ("building_head", 1, None),
        ("unit_head", 4, "2"),
    ]
    history = chief.get(f"{url}?history=true").get_json()["properties"]["posts"]
    heads = [
        (p["person_id"], p["start_date"], p["end_date"])
        for p in history
        if p["role"] == "building_head"
    ]
    assert heads == [(1, "2026-06-01", None), (4, "2026-01-01", "2026-06-01")]
    # A grid worker is not a resident volunteer or member: no building post for them.
    refused = chief.put(f"{url}/units/2/head", json={"person_id": 3}, headers={"If-Match": "*"})
    assert refused.status_code == 422
    ended = chief.post(f"{url}/units/2/head/end", json={}, headers={"If-Match": "*"})
    assert ended.status_code == 200
    assert (
        chief.post(f"{url}/units/2/head/end", json={}, headers={"If-Match": "*"}).status_code == 409
    )
    assert (
        chief.put(
            f"{url}/units/9/head", json={"person_id": 4}, headers={"If-Match": "*"}
        ).status_code
        == 404
    )


def _more_households(session, n: int) -> list[int]:
    """``n`` more households of building 12, unit 2 in A's first micro-grid."""
    rows = [
        {
            "id": 100 + i,
            "lon": 116.4050,
            "lat": 39.9150,
            "address": f"东城区测试社区12号楼2单元{i + 1}01",
            "building": "12",
            "unit": "2",
            "room": f"{i + 1}01",
        }
        for i in range(n)
    ]
    ingest.import_households(session, pd.DataFrame(rows).astype(str), "EPSG:4490")
    session.commit()
    return [100 + i for i in range(n)]


def test_a_central_household_looks_after_neighbours_of_its_building_up_to_the_limit(
    app, login_as, session
):
    neighbours = _more_households(session, 3)
    chief = login_as("chief")
    assert _record(chief).status_code == 201
    far = chief.post(
        "/api/v1/central-households", json={"household_id": 1, "person_id": 4, "neighbour_ids": [2]}
    )
    assert far.status_code == 422  # household 2 is in another building
    app.extensions["gridmap.settings"] = app.extensions["gridmap.settings"].replace(
        central_household_neighbours=2
    )
    many = chief.post(
        "/api/v1/central-households",
        json={"household_id": 1, "person_id": 4, "neighbour_ids": neighbours},
    )
    assert many.status_code == 422 and "at most 2" in many.get_json()["detail"]
    made = chief.post(
        "/api/v1/central-households",
        json={"household_id": 1, "person_id": 4, "neighbour_ids": neighbours[:2]},
    )
    assert made.status_code == 201, made.get_json()
    central = made.get_json()
    assert [n["id"] for n in central["neighbours"]] == neighbours[:2]
    assert central["person"]["phone"] == mask_phone(A_PEOPLE[4][1])
    again = chief.post(
        "/api/v1/central-households",
        json={"household_id": neighbours[2], "person_id": 1, "neighbour_ids": [neighbours[0]]},
    )
    assert again.status_code == 409  # already looked after by household 1's
    # A worker (not a member) cannot be one.
    assert (
        chief.post(
            "/api/v1/central-households", json={"household_id": neighbours[2], "person_id": 3}
        ).status_code
        == 422
    )
    panel = chief.get(f"/api/v1/households/{neighbours[0]}/coverage").get_json()["building"]
    assert (panel["number"], panel["unit"]) == ("12", "2")
    assert (
        panel["central"]["household_id"] == 1
        and panel["central"]["person"]["name"] == A_PEOPLE[4][0]
    )
    url = f"/api/v1/central-households/{central['id']}"
    moved = chief.put(
        f"{url}/neighbours",
        json={"household_ids": [neighbours[2]]},
        headers={"If-Match": made.headers["ETag"]},
    )
    assert moved.status_code == 200 and [n["id"] for n in moved.get_json()["neighbours"]] == [
        neighbours[2]
    ]
    assert (
        chief.post(f"{url}/end", json={}, headers={"If-Match": made.headers["ETag"]}).status_code
        == 412
    )
    ended = chief.post(f"{url}/end", json={}, headers={"If-Match": moved.headers["ETag"]})
    assert ended.status_code == 200 and ended.get_json()["end_date"] is not None
    assert (
        chief.get(f"/api/v1/households/{neighbours[2]}/coverage").get_json()["building"]["central"]
        is None
    )


def test_the_panel_names_the_posts_as_the_reader_reads_staff(
    login_as, building_world, make_user, app
):
    chief = login_as("chief").get("/api/v1/households/1/coverage").get_json()["building"]
    assert (chief["number"], chief["unit"]) == ("12", "2")
    head = chief["posts"][0]
    assert (head["role"], head["name"], head["phone"]) == (
        "building_head",
        A_PEOPLE[4][0],
        mask_phone(A_PEOPLE[4][1]),
    )
    assert chief["central"]["is_this_household"] is True
    # A street administrator oversees from afar: the doors masked, phones too.
    street = client_for(app, make_user("street_admin", A[:9])).get("/api/v1/households/1/coverage")
    far = street.get_json()["building"]
    assert (far["number"], far["unit"]) == ("**", "*")
    assert far["posts"][0]["phone"] == mask_phone(A_PEOPLE[4][1])
