"""A world of two communities in two streets, and the helpers the security tests share.

Community A is the small grid of ``tests.conftest`` (street 110101001); community B lies in
another street (110101002) a little further east. Both have households (with building, unit
and room numbers), staff with real-looking mobile numbers, members who cover households and
a person with an ID number (stored only as its keyed hash and masked form). Codes are chosen
so that no grid code contains ``1[3-9]`` followed by nine digits, so a hit of the phone
pattern in a response is always a phone number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import TypedDict

import geopandas as gpd
import pandas as pd
import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from gridmap.core.privacy import id_number_digest, mask_id_number
from gridmap.core.settings import Settings
from gridmap.demo import loader as demo
from gridmap.grid import ingest
from gridmap.party import buildings as party_buildings
from gridmap.storage import requests as store
from gridmap.storage.models import (
    AuthSession,
    Building,
    BuildingPost,
    BuildingUnit,
    CentralHousehold,
    Grid,
    Person,
)
from tests.conftest import COMMUNITY, ClientFor, MakeUser, client_for, square_grid_frame
from tests.helpers import households_csv
from tests.party.planted import plant_party
from tests.party.planted_lists import plant_lists
from tests.patrols.planted import plant_patrols

PHONE = re.compile(r"1[3-9]\d{9}")
ID_NUMBER = re.compile(r"\d{17}[\dXx]")

A = COMMUNITY
B = "110101002003"
B_W, B_E, B_S, B_N = 116.44, 116.46, 39.90, 39.92
#: A grid code, a household id and a person id that exist nowhere: the "ghost" twin of an
#: out-of-scope object, whose answer must be indistinguishable from the real one's.
GHOST = "110101009009"
GHOST_ID = 999_999

DATA_ROLES = ("street_admin", "chief", "zone_leader", "grid_worker", "member", "auditor")
ADMIN_ROLES = ("system_admin", "security_admin", "audit_admin")

#: Plain personal data of community B: none of it may reach a caller scoped to A.
B_PEOPLE = {
    11: ("钱德明", "13712340011"),
    12: ("孙晓燕", "15812340012"),
    13: ("周建国", "17712340013"),
}
A_PEOPLE = {
    1: ("王总", "13812340001"),
    2: ("李长", "13912340002"),
    3: ("张员", "15012340003"),
    4: ("赵党", "18612340004"),
}
A_HOUSEHOLDS = {
    1: (116.405, 39.915, "东城区测试社区12号楼2单元301", "12", "2", "301"),
    2: (116.415, 39.905, "东城区测试社区8号楼1单元202", "8", "1", "202"),
}
B_HOUSEHOLDS = {
    11: (116.445, 39.915, "东城区乙社区7号楼3单元702", "7", "3", "702"),
    12: (116.455, 39.905, "东城区乙社区9号楼4单元904", "9", "4", "904"),
}
#: 身份证号 of the member of A (person 4) and of B (person 13); only digests are stored.
ID_NUMBERS = {4: "110101199003071234", 13: "11010119850612345X"}
B_NAMES = ("乙社区", "乙1片区", "乙2片区", "乙1-001", "乙1-002", "乙2-001", "乙2-002")


def b_grid_frame() -> gpd.GeoDataFrame:
    return square_grid_frame(B, (B_W, B_S, B_E, B_N), B_NAMES)


def _households(rows: dict[int, tuple[float, float, str, str, str, str]]) -> pd.DataFrame:
    return households_csv(
        [
            {
                "id": hid,
                "lon": lon,
                "lat": lat,
                "address": address,
                "building": building,
                "unit": unit,
                "room": room,
                "care_tags": "elderly_alone" if hid % 2 else "",
            }
            for hid, (lon, lat, address, building, unit, room) in rows.items()
        ]
    )


def _people() -> pd.DataFrame:
    kinds = {1: "party_member", 2: "grid_worker", 3: "grid_worker", 4: "party_member"}
    kinds |= {11: "party_member", 12: "grid_worker", 13: "party_member"}
    rows = [
        [str(pid), name, phone, kinds[pid], A if pid < 10 else B]
        for pid, (name, phone) in (A_PEOPLE | B_PEOPLE).items()
    ]
    return pd.DataFrame(rows, columns=["id", "name", "phone", "kind", "home_community_code"])


@dataclass(frozen=True)
class World:
    """Ids of the people a role's scope is tied to."""

    worker_a: int = 3
    member_a: int = 4


@pytest.fixture
def world(session: Session, settings: Settings, small_grid: gpd.GeoDataFrame) -> World:
    """Both communities with households, staff, coverage and ID numbers (committed to the
    test's savepoint, rolled back after the test)."""
    ingest.import_grids(session, b_grid_frame(), "EPSG:4490", settings)
    ingest.import_households(session, _households(A_HOUSEHOLDS | B_HOUSEHOLDS), "EPSG:4490")
    ingest.import_people(session, _people())
    ingest.import_assignments(
        session,
        pd.DataFrame(
            [
                ["1", A, "chief"],
                ["2", A + "01", "zone_leader"],
                ["3", A + "01001", "grid_worker"],
                ["11", B, "chief"],
                ["12", B + "01001", "grid_worker"],
            ],
            columns=["person_id", "grid_code", "role"],
        ),
    )
    ingest.import_coverage(
        session,
        pd.DataFrame([["4", "1"], ["13", "11"]], columns=["person_id", "household_id"]),
    )
    for pid, number in ID_NUMBERS.items():
        session.execute(
            update(Person)
            .where(Person.id == pid)
            .values(
                id_number_digest=id_number_digest(number, settings.secret_key),
                id_number_masked=mask_id_number(number),
            )
        )
    session.commit()
    return World()


class ScopeArgs(TypedDict, total=False):
    """``make_user``'s scope arguments."""

    scope_code: str
    person_id: int


def scope_args(role: str, world: World) -> ScopeArgs:
    """A data role's scope in community A (a street admin gets A's whole street)."""
    if role == "street_admin":
        return {"scope_code": A[:9]}
    if role == "member":
        return {"person_id": world.member_a}
    if role == "grid_worker":
        return {"scope_code": A, "person_id": world.worker_a}
    return {"scope_code": A}


#: Residents' requests planted by ``request_world``: two in A, two in B (ids fixed here so
#: that they never collide with B's household ids, which the "list" probes look for).
A_REQUESTS: dict[int, tuple[str, int, int | None]] = {
    501: (A + "01001", 1, 3),
    502: (A + "02002", 2, 1),
}
B_REQUESTS: dict[int, tuple[str, int, int | None]] = {
    511: (B + "01001", 11, 12),
    512: (B + "02002", 12, None),
}

#: The full name of the resident who filed them: a resident's name reaches no one plain.
RESIDENT_NAME = "陈晓梅"
#: When the planted requests' response clock started (their deadline is long past).
OVERDUE_SINCE = dt.datetime(2024, 1, 2, 1, 0, tzinfo=dt.UTC)


def _plant_requests(session, planted: dict[int, tuple[str, int, int | None]], where: str) -> None:
    category = store.current_category(session, "sanitation.garbage")
    assert category is not None
    for rid, (micro, household, owner) in planted.items():
        micro_id = session.scalar(select(Grid.id).where(Grid.code == micro))
        store.insert_request(
            session,
            {
                "id": rid,
                "category_id": category.id,
                "description": f"{where}楼道堆物，联系人电话在联系方式里",
                "household_id": household,
                "micro_grid_id": micro_id,
                "level": "micro",
                "owner_person_id": owner,
                "state": "reported",
                "contact_name": RESIDENT_NAME,
                "contact_phone": f"1361234{rid:04d}",
                "source": "api",
                # Long overdue, so that the overdue list (红黄牌) has something to show.
                "stage_started_at": OVERDUE_SINCE,
                "stage_deadline": OVERDUE_SINCE + dt.timedelta(hours=2),
            },
            116.41,
            39.91,
        )
        store.append_event(
            session,
            {"request_id": rid, "action": "report", "to_state": "reported", "level": "micro"},
        )


@pytest.fixture
def request_world(session: Session, world: World) -> None:
    """Requests in A and B, filed under the seeded catalogue."""
    demo.seed_categories(session)
    _plant_requests(session, A_REQUESTS, "测试社区")
    _plant_requests(session, B_REQUESTS, "乙社区")
    session.commit()


@pytest.fixture
def patrol_world(session: Session, world: World) -> None:
    """Patrols in A and B (``tests.patrols.planted``), and 双报到's units, members and
    activities (``tests.party.planted``), needs, resources, projects and wishes
    (``tests.party.planted_lists``)."""
    plant_patrols(session)
    plant_party(session)
    plant_lists(session)
    session.commit()


#: Buildings planted by ``building_world`` (ids far from what the sequences hand out, which
#: tests do not roll back): id → (micro-grid, number, unit, west, south, the 楼栋长).
A_BUILDINGS = {
    901: (A + "01001", "12", "2", 116.4048, 39.9148, 4),
    902: (A + "02002", "8", "1", 116.4148, 39.9048, 2),
}
B_BUILDINGS = {
    911: (B + "01001", "7", "3", 116.4448, 39.9148, 13),
    912: (B + "02002", "9", "4", 116.4548, 39.9048, 12),
}
#: 党员中心户 planted: id → (household, member).
A_CENTRALS = {901: (1, 4)}
B_CENTRALS = {911: (11, 13)}


def _plant_buildings(
    session: Session, planted: dict[int, tuple[str, str, str, float, float, int]]
) -> None:
    for bid, (micro, number, unit, w, s, head) in planted.items():
        micro_id = session.scalar(
            select(Grid.id).where(Grid.code == micro, Grid.valid_to.is_(None))
        )
        e, n = w + 0.0004, s + 0.0004
        box = f"SRID=4490;POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))"
        session.execute(
            insert(Building).values(
                id=bid,
                micro_grid_id=micro_id,
                number=number,
                name=f"{number}号楼",
                floors=6,
                geom=func.ST_GeomFromEWKT(box),
            )
        )
        session.execute(insert(BuildingUnit).values(id=bid, building_id=bid, number=unit, floors=6))
        session.execute(
            insert(BuildingPost).values(
                id=bid,
                building_id=bid,
                role="building_head",
                person_id=head,
                start_date=dt.date(2026, 1, 1),
            )
        )
    party_buildings.link_households(session, building_ids=list(planted))


@pytest.fixture
def building_world(session: Session, world: World) -> None:
    """Buildings in A and B with a unit, a 楼栋长 and a 党员中心户 each."""
    _plant_buildings(session, A_BUILDINGS)
    _plant_buildings(session, B_BUILDINGS)
    for cid, (household, person) in (A_CENTRALS | B_CENTRALS).items():
        session.execute(
            insert(CentralHousehold).values(
                id=cid, household_id=household, person_id=person, start_date=dt.date(2026, 1, 1)
            )
        )
    session.commit()


@pytest.fixture
def login_as(app: OpenAPI, make_user: MakeUser, world: World) -> ClientFor:
    """A bearer-token client for ``role`` scoped to community A (admins have no scope)."""

    def login(role: str) -> FlaskClient:
        args: ScopeArgs = scope_args(role, world) if role in DATA_ROLES else {}
        return client_for(app, make_user(role, **args))

    return login


def auth_session_of(session: Session, token: str) -> AuthSession:
    """The server-side session row of a bearer token or session cookie."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == digest))
    assert row is not None, "no auth_session row for this token"
    return row


def b_secrets() -> list[str]:
    """Every string that would show that B's people or households leaked to A's caller."""
    from gridmap.core.privacy import mask_address, mask_name, mask_phone

    out: list[str] = list(B_NAMES)
    for name, phone in B_PEOPLE.values():
        out += [name, phone, mask_phone(phone) or "", (mask_name(name) or "")]
    for _, _, address, *_ in B_HOUSEHOLDS.values():
        out += [address, mask_address(address) or ""]
    out += [ID_NUMBERS[13], mask_id_number(ID_NUMBERS[13]) or ""]
    return [s for s in out if s]
