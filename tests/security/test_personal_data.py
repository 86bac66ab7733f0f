"""Personal data stays masked for every data role as the one rule says
(:func:`gridmap.core.privacy.disclosure_for`): no plain phone number, ID number or resident's
name in any answer; doors plain only to the staff with a duty to the household; staff names
plain to staff. A reveal is plain and audited once."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select, text, update

from gridmap.access.auth import CAPABILITIES, EXPORT, REVEAL
from gridmap.api.params import XLSX
from gridmap.core.privacy import mask_address, mask_name, mask_phone
from gridmap.jobs import run_one
from gridmap.party import report_jobs
from gridmap.storage.models import AuditEntry, PartyUnit
from tests.conftest import ClientFor, client_for
from tests.security.conftest import (
    A_HOUSEHOLDS,
    A_PEOPLE,
    B_HOUSEHOLDS,
    B_PEOPLE,
    DATA_ROLES,
    ID_NUMBER,
    ID_NUMBERS,
    PHONE,
    RESIDENT_NAME,
    A,
)
from tests.security.test_matrix import PROBES, send
from tests.security.test_matrix import reveal_request as reveal

#: Everything a data role reads from the API besides the reveal: the matrix's in-scope
#: requests, the out-of-scope ones and who-am-I. (The map page is not scanned: it holds no
#: data, and folium's random element ids are hex strings that can contain 11 digits.)
EXTRA = (("GET", "/api/v1/auth/me", None),)
#: The roles with a duty to the households of their scope: they read their doors.
DUTY = ("chief", "zone_leader", "grid_worker", "member")


@pytest.fixture
def login_as(
    login_as: ClientFor, request_world: None, patrol_world: None, building_world: None
) -> ClientFor:
    """The security suite's ``login_as``, in a world that also holds residents' requests
    (filed by a resident with a full name and a phone), patrols and buildings (楼栋长,
    党员中心户)."""
    return login_as


def _responses(client, role: str) -> dict[str, str]:
    """The text of every successful non-reveal answer ``role`` gets, keyed by request."""
    out = {}
    requests = [r for p in PROBES if p.capability != REVEAL for r in (p.inside, p.outside)]
    for request in [*requests, *EXTRA]:
        response = send(client, request)
        if response.status_code in (200, 201):
            # A workbook is zipped XML: its text is read cell by cell. Tiles are bytes whose
            # strings are UTF-8 inside them.
            data = response.get_data()
            xlsx = response.mimetype == XLSX
            out[f"{request[0]} {request[1]}"] = (
                _workbook_text(data) if xlsx else data.decode(errors="replace")
            )
    return out


@pytest.mark.parametrize("role", DATA_ROLES)
def test_no_phone_id_number_or_residents_name_in_any_response_or_export(login_as, role):
    """The PII scan. Staff names are not in it on purpose: staff read each other's names
    (亮明身份，挂牌服务); the matrix checks that B's never reach A."""
    responses = _responses(login_as(role), role)
    hits = {
        where: found
        for where, body in responses.items()
        if (found := [*PHONE.findall(body), *ID_NUMBER.findall(body)])
        or (found := [RESIDENT_NAME] if RESIDENT_NAME in body else [])
    }
    assert hits == {}
    # The answers were rich: staff phones, the resident's name and the address are there,
    # masked (the address plain to the roles with a duty to the household).
    everything = "\n".join(responses.values())
    assert mask_phone(A_PEOPLE[1][1]) in everything
    address = A_HOUSEHOLDS[1][2]
    assert (address if role in DUTY else mask_address(address)) in everything
    if role not in DUTY:
        assert address not in everything
    if role in ("grid_worker", "member"):  # their own requests' detail names the resident
        assert mask_name(RESIDENT_NAME) in everything
    if "export" in CAPABILITIES[role]:
        assert any(where.startswith("GET /api/v1/households.csv") for where in responses)


def test_the_scan_would_catch_a_plain_value(login_as):
    """The patterns match the planted data: a reveal (the one plain path) is a hit."""
    chief = login_as("chief")
    answer = send(
        chief, ("POST", "/api/v1/reveal", {"object": "person", "id": 3, "field": "phone"})
    )
    assert PHONE.findall(answer.get_data(as_text=True)) == [A_PEOPLE[3][1]]
    assert all(ID_NUMBER.fullmatch(n) for n in ID_NUMBERS.values())


@pytest.mark.parametrize("role", ("street_admin", "auditor"))
def test_building_unit_and_room_numbers_are_masked_like_the_address(login_as, role):
    """For a role without a duty to the household, the address is masked after the community
    (``**号楼*单元***``); the household's building, unit and room must not give the hidden
    part back in clear, in the GeoJSON or in the export."""
    client = login_as(role)
    _, _, address, building, unit, room = A_HOUSEHOLDS[1]
    page = client.get(f"/api/v1/households?grid={A}01001").get_json()
    props = next(f["properties"] for f in page["features"] if f["id"] == 1)
    assert props["address"] == mask_address(address)
    assert (props["building"], props["unit"], props["room"]) != (building, unit, room)
    assert room not in props.values()
    if EXPORT in CAPABILITIES[role]:
        rows = client.get(f"/api/v1/households.csv?grid={A}01001").get_data(as_text=True)
        assert f",{room}," not in rows


@pytest.mark.parametrize("role", DUTY)
def test_the_staff_with_a_duty_read_the_doors_of_their_households(login_as, role):
    """Its chief, zone leader, grid worker and the member who covers household 1 read its
    building, unit and room, in the list, the panel and the export; phones stay masked."""
    client = login_as(role)
    _, _, address, building, unit, room = A_HOUSEHOLDS[1]
    page = client.get(f"/api/v1/households?grid={A}01001").get_json()
    props = next(f["properties"] for f in page["features"] if f["id"] == 1)
    assert (props["address"], props["building"], props["unit"], props["room"]) == (
        address,
        building,
        unit,
        room,
    )
    panel = client.get("/api/v1/households/1/coverage").get_json()
    assert panel["household"]["room"] == room
    member = panel["members"][0]
    assert (member["name"], member["phone"]) == (A_PEOPLE[4][0], mask_phone(A_PEOPLE[4][1]))
    if EXPORT in CAPABILITIES[role]:
        rows = client.get(f"/api/v1/households.csv?grid={A}01001").get_data(as_text=True)
        assert f",{room}," in rows and address in rows


#: The published lists and wishes (三张清单, 微心愿) with what a member claims from.
PUBLISHED = (
    "/api/v1/party/needs",
    "/api/v1/party/needs/801",
    "/api/v1/party/resources",
    "/api/v1/party/matches",
    "/api/v1/party/lists/map",
    "/api/v1/party/wishes",
    "/api/v1/party/wishes/801",
    "/api/v1/party/wish-counts",
    "/api/v1/party/claimable",
)


@pytest.mark.parametrize("role", DATA_ROLES)
def test_published_needs_and_wishes_name_no_resident_and_no_door(login_as, role):
    """Needs and wishes are planted for household 1 of A: no role, not even those with a duty
    to the household, reads its address, building, unit or room (plain or masked), a phone,
    an ID number or a resident's name in the lists; their points are rounded off the door."""
    client = login_as(role)
    bodies = {}
    for url in PUBLISHED:
        response = client.get(url)
        if response.status_code == 200:
            bodies[url] = response.get_data(as_text=True)
    expected = {"member": {"/api/v1/party/claimable"}}.get(
        role, set(PUBLISHED) - {"/api/v1/party/claimable"}
    )
    if role == "auditor":
        expected = set()
    assert set(bodies) == expected
    lon, lat, address, building, unit, _ = A_HOUSEHOLDS[1]
    forbidden = [address, mask_address(address), f"{building}号楼", f"{unit}单元", RESIDENT_NAME]
    for url, body in bodies.items():
        found = [f for f in forbidden if f in body]
        found += PHONE.findall(body) + ID_NUMBER.findall(body)
        assert found == [], url
        assert f"{lon}" not in body or f"{lat}" not in body, url


def _audit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def _audit_text(session) -> str:
    return "\n".join(session.scalars(text("SELECT a::text FROM audit_log a")))


@pytest.mark.parametrize(
    ("obj", "oid", "field", "plain"),
    [
        ("person", 1, "name", A_PEOPLE[1][0]),
        ("person", 3, "phone", A_PEOPLE[3][1]),
        ("person", 4, "phone", A_PEOPLE[4][1]),
        ("household", 2, "address", A_HOUSEHOLDS[2][2]),
    ],
)
def test_each_reveal_is_plain_and_writes_exactly_one_audit_row(
    login_as, session, obj, oid, field, plain
):
    chief = login_as("chief")
    me = chief.get("/api/v1/auth/me").get_json()["username"]
    for n in (1, 2):
        before = _audit_count(session)
        response = send(
            chief, ("POST", "/api/v1/reveal", {"object": obj, "id": oid, "field": field})
        )
        assert response.status_code == 200
        assert response.get_json()["value"] == plain
        assert _audit_count(session) == before + 1, f"reveal {n}"
        row = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (row.action, row.username, row.object_type, row.object_id, row.outcome) == (
            "reveal",
            me,
            obj,
            str(oid),
            "ok",
        )
        assert row.detail == {"field": field} and row.ip == "127.0.0.1"
    assert plain not in _audit_text(session)


@pytest.mark.parametrize(
    ("role", "obj", "oid", "field", "plain"),
    [
        ("chief", "person", 11, "phone", B_PEOPLE[11][1]),
        ("street_admin", "person", 13, "name", B_PEOPLE[13][0]),
        ("zone_leader", "household", 11, "address", B_HOUSEHOLDS[11][2]),
        ("grid_worker", "person", 12, "phone", B_PEOPLE[12][1]),
        ("member", "person", 4, "phone", A_PEOPLE[4][1]),
        ("auditor", "household", 1, "address", A_HOUSEHOLDS[1][2]),
    ],
)
def test_a_denied_reveal_gives_and_records_no_plain_value(
    login_as, session, role, obj, oid, field, plain
):
    client = login_as(role)
    last = session.scalar(select(func.max(AuditEntry.id))) or 0
    response = send(client, reveal(obj, oid, field))
    assert response.status_code == (404 if REVEAL in CAPABILITIES[role] else 403)
    assert plain not in response.get_data(as_text=True)
    assert plain not in _audit_text(session)
    new = session.scalars(select(AuditEntry).where(AuditEntry.id > last))
    assert [r for r in new if r.action == "reveal" and r.outcome == "ok"] == []


#: Every read and export of issue 18 (buildings, 双报到, the lists and 微心愿, the party map):
#: URLs, and the 双报到 table's workbook (built by its job, read cell by cell below).
PARTY_READS = (
    *PUBLISHED,
    "/api/v1/buildings/901",
    "/api/v1/buildings/901?history=true",
    "/api/v1/central-households/901",
    "/api/v1/households/1/coverage",
    "/api/v1/party/units",
    "/api/v1/party/units/801/report",
    "/api/v1/party/report",
    "/api/v1/party/activities",
    "/api/v1/party/activities/801",
    "/api/v1/party/map",
    "/api/v1/party/me",
    "/api/v1/party/me/activities",
    "/api/v1/party/my-unit/report",
)
#: The endpoints whose answers hold no door at all, for any role (the rest follow the rule
#: of doors: plain to the roles with a duty to the household, masked for the others).
DOORLESS = (
    *PUBLISHED,
    "/api/v1/buildings/901",
    "/api/v1/buildings/901?history=true",
    "/api/v1/party/units/801/report",
    "/api/v1/party/report",
    "/api/v1/party/map",
    "/api/v1/party/my-unit/report",
    "party.xlsx",
)


def _workbook_text(data: bytes) -> str:
    """Every cell of every sheet: a workbook is zipped XML, its bytes show no text."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    return "\n".join(
        str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row if v
    )


def _party_answers(client, session_factory, settings) -> dict[str, str]:
    """The text of every successful issue-18 answer ``client`` gets, and of the 双报到
    workbook when it may ask for one (its job run here, as the worker would)."""
    out = {}
    for url in PARTY_READS:
        response = client.get(url)
        if response.status_code == 200:
            out[url] = response.get_data(as_text=True)
    asked = client.post("/api/v1/party/report-jobs", json={})
    if asked.status_code == 202:
        job_id = asked.get_json()["id"]
        assert run_one(session_factory, report_jobs.handlers(settings), job_id) == "succeeded"
        out["party.xlsx"] = _workbook_text(client.get(f"/api/v1/jobs/{job_id}/file").data)
    return out


def _personal_data(where: str, body: str) -> list[str]:
    """A phone, an ID number, the resident's name, or (where no door belongs) a door."""
    found = [*PHONE.findall(body), *ID_NUMBER.findall(body)]
    found += [RESIDENT_NAME] if RESIDENT_NAME in body else []
    if where in DOORLESS:
        for _, _, address, building, unit, room in A_HOUSEHOLDS.values():
            doors = (address, mask_address(address), f"{building}号楼{unit}单元{room}")
            found += [d for d in doors if d in body]
    return found


@pytest.fixture
def unit_client(app, make_user) -> ClientFor:
    """Unit 801's account (its party organisation reads its members' 双报告)."""

    def login(_: str) -> Any:
        return client_for(app, make_user("unit", party_unit_id=801))

    return login


@pytest.mark.parametrize("role", (*DATA_ROLES, "unit"))
def test_no_personal_data_in_any_answer_or_export_of_party_building(
    login_as, unit_client, session_factory, settings, role
):
    """The PII scan over issue 18: the lists and wishes, the building panel, 双报到's tables
    (JSON and the workbook), the unit's report and the party map: no phone, ID number or
    resident's name for any role without *reveal*, and no door where none belongs."""
    client = unit_client(role) if role == "unit" else login_as(role)
    answers = _party_answers(client, session_factory, settings)
    hits = {
        where: found for where, body in answers.items() if (found := _personal_data(where, body))
    }
    assert hits == {}
    expected = {
        "unit": {"/api/v1/party/my-unit/report"},
        "member": {"/api/v1/party/claimable", "/api/v1/party/me", "/api/v1/party/me/activities"},
        "auditor": set(),
    }
    if role in expected:
        assert expected[role] <= set(answers)
    else:  # the staff read them all, the workbook too
        assert {"/api/v1/party/map", "/api/v1/party/units/801/report", "party.xlsx"} <= set(answers)
        assert mask_phone(A_PEOPLE[4][1]) in answers["/api/v1/party/map"]


def test_the_party_scan_finds_personal_data_planted_where_it_is_shown(
    login_as, unit_client, session, session_factory, settings
):
    """The scan can fail: a unit named with the resident's name, a phone and a door (free
    text shown as it is) is caught in the unit's report, the 双报到 workbook and the lists."""
    planted = f"{RESIDENT_NAME}{A_PEOPLE[1][1]}{A_HOUSEHOLDS[1][2]}"
    session.execute(update(PartyUnit).where(PartyUnit.id == 801).values(name=planted))
    session.commit()
    for role in ("chief", "unit"):
        client = unit_client(role) if role == "unit" else login_as(role)
        answers = _party_answers(client, session_factory, settings)
        caught = {w for w, body in answers.items() if _personal_data(w, body)}
        wanted = (
            {"/api/v1/party/my-unit/report"}
            if role == "unit"
            else {
                "/api/v1/party/units/801/report",
                "/api/v1/party/report",
                "/api/v1/party/map",
                "party.xlsx",
            }
        )
        assert wanted <= caught, role
        assert set(_personal_data("party.xlsx", answers.get("party.xlsx", planted))) >= {
            RESIDENT_NAME,
            A_PEOPLE[1][1],
            A_HOUSEHOLDS[1][2],
        }
