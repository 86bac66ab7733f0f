"""Fixtures of the API tests: a staffed small grid and problem+json checks."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from gridmap.grid import ingest
from tests.conftest import COMMUNITY
from tests.helpers import households_csv


@pytest.fixture
def staffed(session: Session, small_grid: gpd.GeoDataFrame) -> None:
    """Households, a chief, a zone leader, a worker and a member covering household 1."""
    ingest.import_households(
        session,
        households_csv(
            [
                {"id": 1, "lon": 116.405, "lat": 39.915, "address": "东城区测试社区1号楼1单元101"},
                {
                    "id": 2,
                    "lon": 116.415,
                    "lat": 39.905,
                    "address": "东城区测试社区2号楼1单元202",
                    "care_tags": "elderly_alone",
                },
            ]
        ),
        "EPSG:4326",
    )
    people = pd.DataFrame(
        [
            ["1", "王总", "13800000001", "party_member", COMMUNITY],
            ["2", "李长", "13800000002", "grid_worker", COMMUNITY],
            ["3", "张员", "13800000003", "grid_worker", COMMUNITY],
            ["4", "赵党", "13800000004", "party_member", COMMUNITY],
        ],
        columns=["id", "name", "phone", "kind", "home_community_code"],
    )
    ingest.import_people(session, people)
    ingest.import_assignments(
        session,
        pd.DataFrame(
            [
                ["1", COMMUNITY, "chief"],
                ["2", COMMUNITY + "01", "zone_leader"],
                ["3", COMMUNITY + "01001", "grid_worker"],
            ],
            columns=["person_id", "grid_code", "role"],
        ),
    )
    ingest.import_coverage(
        session, pd.DataFrame([["4", "1"]], columns=["person_id", "household_id"])
    )
    session.commit()
