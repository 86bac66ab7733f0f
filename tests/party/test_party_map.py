"""党建地图 through the API (``/api/v1/party/map``): in the security suite's two communities,
the chief of A reads A's buildings with their 楼栋长, the 党员中心户 with a line to each
neighbour, the registered member's home with their service posts and every micro-grid's
coverage; nothing of B; names as staff names are read, phones masked, a phone revealable
only where ``/api/v1/reveal`` would give it; a community filter narrows, never widens."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert

from gridmap.core.privacy import mask_phone
from gridmap.storage.models import CentralNeighbour, MemberPost
from tests.party.planted import plant_party
from tests.security.conftest import A_HOUSEHOLDS, A_PEOPLE, A, B


@pytest.fixture
def party_world(session, building_world) -> None:
    """The security world's buildings and 双报到 (``tests.party.planted``), with household 2
    looked after by the 中心户 of household 1 and member 4 holding two service posts."""
    plant_party(session)
    session.execute(insert(CentralNeighbour).values(central_id=901, household_id=2))
    session.execute(
        insert(MemberPost), [{"person_id": 4, "kind": "patrol"}, {"person_id": 4, "kind": "care"}]
    )
    session.commit()


def _layers(client, url: str = "/api/v1/party/map") -> dict[str, dict[str, Any]]:
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/geo+json"
    return {f["id"]: f for f in response.get_json()["features"]}


def test_the_chief_reads_every_layer_of_their_community(login_as, party_world):
    found = _layers(login_as("chief"))
    layers = {f["properties"]["layer"] for f in found.values()}
    assert layers == {"building", "central", "member", "coverage"}
    assert not [i for i in found if i.endswith(("911", "912", "913", ".13")) or B in i]
    building = found["building.901"]["properties"]
    assert building["number"] == "12" and building["households"] == 1
    head = building["posts"][0]
    assert head["role"] == "building_head" and head["person_id"] == 4
    assert (head["name"], head["phone"]) == (A_PEOPLE[4][0], mask_phone(A_PEOPLE[4][1]))
    assert head["revealable"] is True
    central = found["central.901"]
    assert central["geometry"]["coordinates"] == [A_HOUSEHOLDS[1][0], A_HOUSEHOLDS[1][1]]
    assert central["properties"]["neighbours"] == [[A_HOUSEHOLDS[2][0], A_HOUSEHOLDS[2][1]]]
    assert "address" not in central["properties"]
    member = found["member.4"]["properties"]
    assert member["community"]["code"] == A and member["unit"] == "单位801"
    assert member["posts"] == ["care", "patrol"]
    assert found["member.4"]["geometry"]["coordinates"] == [116.405, 39.915]
    coverage = {i: f["properties"] for i, f in found.items() if i.startswith("coverage.")}
    assert set(coverage) == {f"coverage.{A}{z}" for z in ("01001", "01002", "02001", "02002")}
    assert sum(c["households"] for c in coverage.values()) == 2
    assert coverage[f"coverage.{A}01001"]["covered"] == 1
    assert found[f"coverage.{A}01001"]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_a_community_filter_narrows_to_what_both_see(login_as, party_world):
    chief = login_as("chief")
    assert _layers(chief, f"/api/v1/party/map?community={B}") == {}
    assert set(_layers(chief, f"/api/v1/party/map?community={A}")) == set(_layers(chief))
    assert chief.get("/api/v1/party/map?community=1101").status_code == 400


@pytest.mark.parametrize("role", ("member", "auditor"))
def test_roles_without_party_work_are_refused(login_as, party_world, role):
    assert login_as(role).get("/api/v1/party/map").status_code == 403


def test_a_street_admin_reads_names_masked_phones_and_may_reveal(login_as, party_world):
    found = _layers(login_as("street_admin"))
    head = found["building.901"]["properties"]["posts"][0]
    assert head["name"] == A_PEOPLE[4][0]  # staff names are read by staff
    assert head["phone"] == mask_phone(A_PEOPLE[4][1])
    assert all(A_PEOPLE[4][1] not in str(f) for f in found.values())
