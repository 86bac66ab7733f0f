"""Fixtures of the request tests: the category catalogue, a staffed small grid with gaps (so
that routing has to climb) and clients for each role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gridmap.access.auth import Caller
from gridmap.demo import loader as demo
from gridmap.grid import ingest
from gridmap.requests import departments as departments_domain
from gridmap.storage.models import IdempotencyKey, RequestEvent, ResidentRequest
from tests.conftest import COMMUNITY, ClientFor, MakeUser, client_for
from tests.helpers import households_csv
from tests.requests.timelines import M1, Desk, at, nov

#: Points (WGS 84) in each micro-grid of the small grid.
IN_01001 = (116.405, 39.915)  # worker 3 serves here
IN_01002 = (116.405, 39.905)  # no worker: zone leader 2 of zone 01
IN_02001 = (116.415, 39.915)  # no worker, zone 02 without a leader: chief 1
IN_02002 = (116.415, 39.905)
PEOPLE = {
    1: ("王总", "13800000001"),
    2: ("李长", "13800000002"),
    3: ("张员", "13800000003"),
    4: ("赵党", "13800000004"),
    5: ("钱员", "13800000005"),
}


@pytest.fixture
def catalogue(session: Session) -> None:
    demo.seed_categories(session)
    session.commit()


def load_staff(session: Session, extra_posts: tuple[list[str], ...] = ()) -> None:
    """Households 1 (in 01001, covered by member 4) and 2 (in 02002); chief 1 of the
    community, zone leader 2 of zone 01, worker 3 of micro-grid 01001; zone 02 and micro-grids
    01002, 02001, 02002 have nobody. Person 5 is a worker without a post, unless
    ``extra_posts`` ([person id, grid code, role] rows) gives one."""
    ingest.import_households(
        session,
        households_csv(
            [
                {"id": 1, "lon": IN_01001[0], "lat": IN_01001[1], "address": "测试社区1号楼101"},
                {"id": 2, "lon": IN_02002[0], "lat": IN_02002[1], "address": "测试社区2号楼202"},
            ]
        ),
        "EPSG:4326",
    )
    kinds = {1: "party_member", 2: "grid_worker", 3: "grid_worker", 4: "party_member"}
    ingest.import_people(
        session,
        pd.DataFrame(
            [
                [str(pid), name, phone, kinds.get(pid, "grid_worker"), COMMUNITY]
                for pid, (name, phone) in PEOPLE.items()
            ],
            columns=["id", "name", "phone", "kind", "home_community_code"],
        ),
    )
    posts = [
        ["1", COMMUNITY, "chief"],
        ["2", COMMUNITY + "01", "zone_leader"],
        ["3", COMMUNITY + "01001", "grid_worker"],
        *extra_posts,
    ]
    ingest.import_assignments(
        session, pd.DataFrame(posts, columns=["person_id", "grid_code", "role"])
    )
    ingest.import_coverage(
        session, pd.DataFrame([["4", "1"]], columns=["person_id", "household_id"])
    )
    session.commit()


@pytest.fixture
def staff(session: Session, small_grid: gpd.GeoDataFrame, catalogue: None) -> None:
    """The staffed small grid of ``load_staff``."""
    load_staff(session)


@pytest.fixture
def clients(app: OpenAPI, make_user: MakeUser, staff: None) -> ClientFor:
    """A bearer-token client per role, all in the small grid's community."""
    made: dict[str, FlaskClient] = {}

    def client(role: str) -> FlaskClient:
        if role not in made:
            actual, scope = SCOPES[role]
            made[role] = client_for(app, make_user(actual, **scope))
        return made[role]

    return client


#: The test departments: key → (code, name, kind, the area served). ``far`` serves another
#: district, so it may not be summoned to the small grid.
DEPARTMENTS: dict[str, tuple[str, str, str, str]] = {
    "cg": ("t.cg", "城管执法队", "城管", COMMUNITY[:6]),
    "sw": ("t.sw", "供水所", "供水", COMMUNITY[:9]),
    "zj": ("t.zj", "住建委", "住建", COMMUNITY[:6]),
    "far": ("t.far", "外区市场监管所", "市场监管", "110102"),
}


@pytest.fixture
def departments(session: Session, staff: None) -> dict[str, int]:
    """The test departments, committed: key → id."""
    ids = {
        key: departments_domain.create(session, code, name, kind, scope)
        for key, (code, name, kind, scope) in DEPARTMENTS.items()
    }
    session.commit()
    return ids


@pytest.fixture
def officers(
    app: OpenAPI, make_user: MakeUser, departments: dict[str, int]
) -> Callable[[str], FlaskClient]:
    """A department account's client per test department key."""
    made: dict[str, FlaskClient] = {}

    def officer(key: str) -> FlaskClient:
        if key not in made:
            made[key] = client_for(app, make_user("department", department_id=departments[key]))
        return made[key]

    return officer


@pytest.fixture
def admin(app: OpenAPI, make_user: MakeUser) -> FlaskClient:
    """The system administrator, who issues Open311 API keys."""
    return client_for(app, make_user("system_admin"))


#: name → (role, scope) of the test accounts.
SCOPES: dict[str, tuple[str, dict[str, Any]]] = {
    "street_admin": ("street_admin", {"scope_code": COMMUNITY[:9]}),
    "chief": ("chief", {"scope_code": COMMUNITY}),
    "zone_leader": ("zone_leader", {"scope_code": COMMUNITY + "01"}),
    "zone_leader_02": ("zone_leader", {"scope_code": COMMUNITY + "02"}),
    "grid_worker": ("grid_worker", {"scope_code": COMMUNITY + "01001", "person_id": 3}),
    "member": ("member", {"person_id": 4}),
    "auditor": ("auditor", {"scope_code": COMMUNITY}),
}


def intake_body(point: tuple[float, float] = IN_01001, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "sanitation.garbage",
        "description": "楼下垃圾桶满溢，已经两天没人清运",
        "location": {"lon": point[0], "lat": point[1], "crs": "EPSG:4326"},
        "contact": {"name": "陈小姐", "phone": "13912345678"},
    }
    return body | changes


def counts(session: Session) -> dict[str, int]:
    """Rows of the request tables, to prove a refused write stored nothing."""
    return {
        m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
        for m in (ResidentRequest, RequestEvent, IdempotencyKey)
    }


def file(
    client: FlaskClient, point: tuple[float, float] = IN_01001, **changes: Any
) -> dict[str, Any]:
    """File a request; returns its JSON answer (asserting 201)."""
    response = client.post("/api/v1/requests", json=intake_body(point, **changes))
    assert response.status_code == 201, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


def act(client: FlaskClient, request_id: int, etag: str | None, **body: Any) -> TestResponse:
    headers = {"If-Match": etag} if etag else {}
    return client.post(f"/api/v1/requests/{request_id}/transitions", json=body, headers=headers)


@pytest.fixture
def desk(session: Session, staff: None, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The timelines of the module's table, committed; returns the request ids R1…R7."""
    d = Desk(session, monkeypatch)
    chief = d.caller("rate-chief", "chief", scope_code=COMMUNITY)
    leader = d.caller("rate-leader", "zone_leader", scope_code=COMMUNITY + "01")
    worker = d.caller("rate-worker", "grid_worker", scope_code=M1, person_id=3)

    def loop(rid: int, owner: Caller, accepted: dt.datetime, completed: dt.datetime) -> None:
        d.act(rid, owner, accepted, "accept")
        d.act(rid, owner, accepted + dt.timedelta(minutes=10), "start")
        d.act(rid, owner, completed, "complete")

    r1 = d.file(chief, IN_01001, nov(4, 9))
    loop(r1, worker, nov(4, 10), nov(5, 15))
    d.act(r1, leader, nov(6, 9), "rate", rating="satisfied")
    d.act(r1, leader, nov(6, 10), "archive")
    r2 = d.file(chief, IN_01001, nov(4, 14))
    loop(r2, worker, nov(5, 10), nov(6, 15))
    d.act(r2, leader, nov(7, 9), "rate", rating="basically_satisfied")
    r3 = d.file(chief, IN_01001, nov(11, 9))
    loop(r3, worker, nov(11, 9, 30), nov(12, 15))
    d.act(r3, leader, nov(13, 9), "rate", rating="unsatisfied")
    r4 = d.file(chief, IN_01002, nov(18, 9))
    r5 = d.file(chief, IN_01002, nov(29, 17))
    d.act(r5, leader, at(12, 2, 10), "accept")
    r6 = d.file(chief, IN_01001, at(10, 31, 16))
    loop(r6, worker, at(10, 31, 16, 30), nov(1, 15))
    r7 = d.file(chief, IN_01001, nov(20, 9))
    d.act(r7, worker, nov(20, 9, 30), "mark_duplicate", duplicate_of=r1)
    session.commit()
    return [r1, r2, r3, r4, r5, r6, r7]
