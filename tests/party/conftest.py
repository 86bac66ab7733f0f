"""Fixtures of the party tests: for 双报到, the patrol tests' communities A and B with their
staff, and in-service members (在职党员) with accounts of their own; for buildings, the security
suite's two communities (A and B) with their buildings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from sqlalchemy.orm import Session

from gridmap.grid import ingest
from tests.conftest import COMMUNITY, ClientFor, MakeUser, client_for
from tests.patrols.conftest import clients, patrol_world  # noqa: F401  (fixtures)
from tests.security.conftest import B, building_world, login_as, world  # noqa: F401

#: Points in A (its north-west micro-grid) and in B.
HOME_A = (116.405, 39.915)
HOME_B = (116.445, 39.915)
#: In-service members 21–29, living in A; their names.
MEMBERS = {pid: f"在职党员{pid}" for pid in range(21, 30)}


@pytest.fixture
def members(session: Session, patrol_world: None) -> dict[int, str]:  # noqa: F811
    """In-service members 21–29 (home community A), not yet registered."""
    rows = [[str(pid), name, None, "in_service_member", COMMUNITY] for pid, name in MEMBERS.items()]
    frame = pd.DataFrame(rows, columns=["id", "name", "phone", "kind", "home_community_code"])
    ingest.import_people(session, frame)
    session.commit()
    return MEMBERS


@pytest.fixture
def member_client(app: OpenAPI, make_user: MakeUser, members: dict[int, str]) -> ClientFor:
    """A bearer-token client of in-service member ``person_id``'s own account."""
    made: dict[Any, FlaskClient] = {}

    def client(person_id: Any) -> FlaskClient:
        if person_id not in made:
            made[person_id] = client_for(app, make_user("member", person_id=int(person_id)))
        return made[person_id]

    return client


def beijing(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def activity_body(
    start: dt.datetime, hours: float, *, community: str = COMMUNITY, wanted: int = 20, **more: Any
) -> dict[str, Any]:
    place = more.pop("place", HOME_A if community == COMMUNITY else HOME_B)
    return {
        "community": community,
        "kind": "patrol",
        "title": "平安巡逻",
        "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=hours)).isoformat(),
        "place_name": "社区党群服务中心",
        "place": {"lon": place[0], "lat": place[1], "crs": "EPSG:4490"},
        "wanted": wanted,
    } | more


__all__ = ["HOME_A", "HOME_B", "MEMBERS", "B", "activity_body", "beijing"]
