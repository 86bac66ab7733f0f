"""Balanced division of a zone's households among members: propose, review, accept."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap import create_app
from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.grid import ingest
from gridmap.storage.models import Coverage
from tests.conftest import COMMUNITY, MID_LAT, MID_LON, MakeUser, N, S, W, client_for
from tests.helpers import assert_problem, households_csv, row_counts

ZONE = COMMUNITY + "01"


@pytest.fixture
def zone_with_members(session: Session, small_grid: gpd.GeoDataFrame) -> None:
    """60 households in zone 01 (a few care households) and 3 members living there."""
    rng = np.random.default_rng(4)
    lon = rng.uniform(W + 0.0005, MID_LON - 0.0005, 60)
    lat = rng.uniform(S + 0.0005, N - 0.0005, 60)
    ingest.import_households(
        session,
        households_csv(
            [
                {
                    "id": i + 1,
                    "lon": x,
                    "lat": y,
                    "address": f"测试{i + 1}号",
                    "care_tags": "elderly_alone" if i % 10 == 0 else "",
                }
                for i, (x, y) in enumerate(zip(lon, lat, strict=True))
            ]
        ),
        "EPSG:4490",
    )
    people = pd.DataFrame(
        [
            [str(i), f"党员{i}", "", "party_member", COMMUNITY, str(x), str(y)]
            for i, x, y in (
                (1, W + 0.002, S + 0.003),
                (2, W + 0.008, MID_LAT),
                (3, W + 0.004, N - 0.003),
            )
        ],
        columns=["id", "name", "phone", "kind", "home_community_code", "home_lon", "home_lat"],
    )
    ingest.import_people(session, people, "EPSG:4490")
    session.commit()


def _propose(client, **body):
    return client.post(f"/api/v1/grids/{ZONE}/division", json={"member_ids": [1, 2, 3]} | body)


def test_propose_review_and_accept(client, zone_with_members, session):
    proposal = _propose(client, min_load=10, max_load=30)
    assert proposal.status_code == 200, proposal.get_data(as_text=True)
    body = proposal.get_json()
    pairs = body["assignments"]
    assert len(pairs) == 60 and all(p["person_id"] in (1, 2, 3) for p in pairs)
    assert body["stats"]["coverage"] == 1.0
    assert max(body["loads"].values()) <= 30
    assert session.scalar(select(func.count()).select_from(Coverage)) == 0  # nothing written yet
    accepted = client.put(
        f"/api/v1/grids/{ZONE}/division",
        json={
            "assignments": [
                {"household_id": p["household_id"], "person_id": p["person_id"]} for p in pairs
            ]
        },
        headers={"If-Match": proposal.headers["ETag"]},
    )
    assert accepted.get_json()["changed"] == 60
    assert session.scalar(select(func.count()).select_from(Coverage)) == 60
    again = client.put(
        f"/api/v1/grids/{ZONE}/division",
        json={"assignments": [{"household_id": 1, "person_id": None}]},
        headers={"If-Match": proposal.headers["ETag"]},
    )
    assert_problem(again, 412)
    kept = _propose(client, min_load=10, max_load=30).get_json()
    assert sum(p["person_id"] != p["current"] for p in kept["assignments"]) == 0


def test_the_time_limit_is_a_setting_and_never_costs_coverage(
    client, zone_with_members, settings: Settings, session_factory, make_user: MakeUser
):
    assert _propose(client, fresh=True).get_json()["stats"]["status"] == "optimal"
    hurried = create_app(settings.replace(division_time_limit_seconds=1e-6))
    db.use_sessions(hurried, session_factory)
    proposal = _propose(client_for(hurried, make_user("chief", COMMUNITY[:9])), fresh=True)
    stats = proposal.get_json()["stats"]
    assert stats["status"] == "time limit: greedy start"
    assert stats["coverage"] == 1.0


def test_impossible_and_bad_proposals(client, zone_with_members, session):
    before = row_counts(session)
    assert_problem(_propose(client, max_load=15), 422, "15")
    assert_problem(_propose(client, member_ids=[1, 99]), 404, "99")
    assert_problem(_propose(client, min_load=40, max_load=30), 400, "min_load")
    assert_problem(_propose(client, member_ids=[]), 400, "member_ids")
    assert row_counts(session) == before
