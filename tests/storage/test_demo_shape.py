"""The demo district looks like a real one (issue 12 item 7), measured in the database.

A small seeded demo (the first communities of the committed Dongcheng grid holding 3 000
households, made by the same generator and loader as the full one) is loaded, and
:func:`gridmap.storage.shape.district_shape` must find the shape the knobs of
:mod:`gridmap.demo.shape` ask for: micro-grids of 20–50 households and none empty, zones of
300–500, one full-time grid worker per zone, a building leader in every micro-grid, members
covering 5–15 households each and about 4 % of households uncovered.
"""

from __future__ import annotations

import pyogrio
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.demo import loader as demo
from gridmap.demo import summary
from gridmap.demo.shape import DEFAULT
from gridmap.storage.shape import DistrictShape, district_shape

HOUSEHOLDS = 3000


@pytest.fixture
def shape(session: Session, settings: Settings) -> DistrictShape:
    demo.load(session, households=HOUSEHOLDS, seed=5, settings=settings)
    return district_shape(session, clock.today())


def test_micro_grids_hold_a_building_or_a_few_and_none_is_empty(shape):
    lo, hi = DEFAULT.households_per_micro
    assert shape.empty_micro_grids == 0
    assert lo <= shape.per_micro.min and shape.per_micro.max <= hi
    assert 30 <= shape.per_micro.median <= 40
    assert shape.micro_grids * lo <= shape.households <= shape.micro_grids * hi


def test_zones_hold_three_to_five_hundred_households(shape):
    lo, hi = DEFAULT.households_per_zone
    assert lo <= shape.per_zone.min and shape.per_zone.max <= hi
    assert HOUSEHOLDS <= shape.households < HOUSEHOLDS + 6 * hi  # whole communities
    assert shape.micro_per_zone.min >= 8 and shape.micro_per_zone.max <= 14


def test_one_full_time_worker_per_zone_and_volunteers_lead_the_micro_grids(shape):
    assert shape.workers == shape.zones
    assert shape.workers_per_zone.min == shape.workers_per_zone.max == 1
    assert 300 <= shape.households / shape.workers <= 500
    assert shape.micro_without_leader == 0 and shape.leaders >= shape.micro_grids


def test_members_cover_five_to_fifteen_households_and_a_few_are_left_out(shape):
    lo, hi = DEFAULT.households_per_member
    assert lo <= shape.per_member.min and shape.per_member.max <= hi
    assert 7 <= shape.per_member.median <= 11
    assert 0.03 <= shape.uncovered / shape.households <= 0.05


def test_only_the_populated_communities_are_imported(session, shape):
    communities = session.scalars(
        text("SELECT code FROM grid WHERE level = 'community' ORDER BY code")
    ).all()
    grid = pyogrio.read_dataframe(demo.GRID_FILE, read_geometry=False)
    committed = sorted(grid.loc[grid["level"] == "community", "code"])
    assert communities == committed[: len(communities)] and 1 <= len(communities) < 10
    found = session.scalar(text("SELECT count(DISTINCT left(code, 12)) FROM grid"))
    assert found == len(communities)


def test_the_summary_says_the_shape(session, shape):
    lines = summary.as_text(summary.measure(session), DEFAULT)
    assert f"{shape.households:,} households in {shape.zones} zones" in lines
    assert "(0 empty)" in lines and "(knob 20–50)" in lines and "(knob 300–500)" in lines
    assert f"full-time grid workers      {shape.zones}, per zone min 1 / median 1 / max 1" in lines
    assert "0 micro-grids without one" in lines and "(knob 5–15)" in lines
