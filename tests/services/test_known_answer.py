"""The service map's known answers, on the river network of ``network_fixture`` (walking
1.2 m/s: 5, 10 and 15 minutes are 360, 720 and 1080 m).

From site A at the south-west corner (0, 0), a south-bank node (x, y) is x + y metres away;
the north bank is reached only over the bridge, from (1000, 400) at 1400 m, far past 15
minutes. A household walks to its street's nearer reached end, along the street, then 10 m to
its door; a household whose street has no end within 15 minutes has no walk (None):

======  ============  ===========================================  ========  =======
name    at            walk from A                                  metres    covered
======  ============  ===========================================  ========  =======
H1      (300, 10)     (200, 0) 200 + 100 + 10                      310       yes
H2      (60, 610)     north bank, ends past 1080 m                 None      no
H3      (880, 390)    ends (800, 400) 1200, (1000, 400) 1400       None      no
H4      (500, 410)    (400, 400) 800 + 100 + 10                    910       yes
H5      (700, 210)    (600, 200) 800 + 100 + 10                    910       yes
H6      (990, 180)    (1000, 0) 1000 + 180 + 10                    1190      no
======  ============  ===========================================  ========  =======
"""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import LineString, Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core.settings import Settings
from gridmap.services import circles
from gridmap.storage import walk_network
from gridmap.storage.models import ServiceCandidate, ServiceIsochrone, ServiceReach
from tests.conftest import COMMUNITY
from tests.services.network_fixture import (
    add_households,
    add_site,
    load_network,
    lonlat,
    metres,
)

WALKS_FROM_A = {"H1": 310.0, "H2": None, "H3": None, "H4": 910.0, "H5": 910.0, "H6": 1190.0}


def _walks(session: Session, ids: dict[str, int]) -> dict[str, float | None]:
    rows = dict(session.execute(select(ServiceReach.household_id, ServiceReach.walk_m)).all())
    return {name: rows[hid] for name, hid in ids.items()}


def _circle(session: Session, site_id: int, minutes: int) -> shapely.Geometry:
    geom = session.scalar(
        select(ServiceIsochrone.geom.ST_AsBinary()).where(
            ServiceIsochrone.site_id == site_id, ServiceIsochrone.minutes == minutes
        )
    )
    assert geom is not None
    return metres(shapely.from_wkb(bytes(geom)))


def _reached_points(budget: float) -> list[Point]:
    """By hand: the south-bank nodes (x, y) within ``budget`` of (0, 0) (x + y metres away)
    and, on each street leaving one, the point where the time runs out."""
    found = []
    for x in range(0, 1001, 200):
        for y in (0, 200, 400):
            left = budget - (x + y)
            if left < 0:
                continue
            found.append(Point(x, y))
            if left < 200:  # stops on the streets east and north of it
                found += [Point(x + left, y)] if x < 1000 else []
                found += [Point(x, y + left)] if y < 400 else []
    return found


@pytest.fixture
def river_with_bridge(session: Session, small_grid: object) -> dict[str, int]:
    load_network(session, bridge=True)
    return add_households(session, ["H1", "H2", "H3", "H4", "H5", "H6"])


def test_topology_cuts_streets_at_shared_vertices(session: Session, small_grid: object) -> None:
    load_network(session, bridge=True)
    check = walk_network.check_network(session)
    # South: 6 x 3 nodes; north: 6 x 2; streets 5 x 5 + 6 x 2 + 6 x 1 + 1 bridge.
    assert (check.nodes, check.edges, check.components) == (30, 44, 1)
    assert check.detached_nodes == 0


def test_without_the_bridge_the_banks_are_two_pieces(session: Session, small_grid: object) -> None:
    load_network(session, bridge=False)
    check = walk_network.check_network(session)
    assert (check.components, check.detached_nodes, check.detached_pieces) == (2, 12, (12,))


def test_walks_and_uncovered_households_match_the_hand_computed_ones(
    session: Session, settings: Settings, river_with_bridge: dict[str, int]
) -> None:
    add_site(session, "A", 0, 0)
    circles.refresh(session, settings)
    walks = _walks(session, river_with_bridge)
    for name, expected in WALKS_FROM_A.items():
        assert walks[name] == (None if expected is None else pytest.approx(expected, abs=1.0))
    gaps = circles.gaps(session, Scope((COMMUNITY,)), settings)
    by_code = {m["code"][-5:]: (m["households"], m["uncovered"]) for m in gaps.micro_grids}
    # H2 north-west; H1, H4, H5 south-west; H3, H6 south-east.
    assert by_code == {"01001": (1, 1), "01002": (3, 0), "02002": (2, 2)}
    assert gaps.communities == [
        {"code": COMMUNITY, "name": "测试社区", "households": 6, "uncovered": 3}
    ]


def test_the_circles_hold_the_points_reached_in_time(
    session: Session, settings: Settings, river_with_bridge: dict[str, int]
) -> None:
    site = add_site(session, "A", 0, 0)
    circles.refresh(session, settings)
    for minutes, budget in ((5, 360.0), (15, 1080.0)):
        drawn = _circle(session, site, minutes)
        for point in _reached_points(budget):
            assert drawn.buffer(0.5).contains(point), (minutes, point.wkt)
    five, fifteen = _circle(session, site, 5), _circle(session, site, 15)
    # 5 minutes: (200, 200) is 400 m away; the circle keeps off it.
    assert five.contains(Point(100, 100)) and not five.contains(Point(220, 220))
    # 15 minutes: the south-east corner (1400 m) and the far bank stay outside.
    assert not fifteen.contains(Point(950, 350)) and not fifteen.contains(Point(1000, 400))
    assert not fifteen.intersects(Point(100, 700).buffer(100))


def test_a_site_across_the_river_covers_the_far_bank_only_over_the_bridge(
    session: Session, settings: Settings, small_grid: object
) -> None:
    load_network(session, bridge=False)
    ids = add_households(session, ["H2", "H7", "H8"])
    site = add_site(session, "N", 400, 600)
    circles.refresh(session, settings)
    walks = _walks(session, ids)
    # H2 (60, 610): from (400, 600) to (200, 600) 200, on 140, 10 to the door.
    assert walks["H2"] == pytest.approx(350.0, abs=1.0)
    assert walks["H7"] is None and walks["H8"] is None
    assert not _circle(session, site, 15).intersects(LineString([(0, 400), (1000, 400)]))

    load_network(session, bridge=True)
    circles.refresh(session, settings)
    walks = _walks(session, ids)
    # H7 (990, 300): 600 east, 200 over the bridge, 100 south, 10 to the door.
    assert walks["H7"] == pytest.approx(910.0, abs=1.0)
    # H8 (410, 390), 210 m across the water: its street's ends are 1200 m ((600, 400)) and
    # 1400 m away by the bridge.
    assert walks["H8"] is None
    uncovered = circles.gaps(session, Scope((COMMUNITY,)), settings).communities[0]["uncovered"]
    assert uncovered == 1


def test_candidates_take_the_most_uncovered_households_first(
    session: Session, settings: Settings, river_with_bridge: dict[str, int]
) -> None:
    add_site(session, "A", 0, 0)
    circles.refresh(session, settings)
    picks = session.execute(
        select(ServiceCandidate.households, ServiceCandidate.geom.ST_AsBinary()).order_by(
            ServiceCandidate.rank
        )
    ).all()
    assert [households for households, _ in picks] == [2, 1]
    first, second = (metres(shapely.from_wkb(bytes(g))) for _, g in picks)
    # One site in the south-east brings H3 and H6; then the north bank's corner brings H2.
    assert first.x > 790 and first.y < 410
    assert second.distance(Point(0, 600)) < 0.5


def test_greedy_stops_when_nobody_is_left() -> None:
    cover = {1: {10, 11, 12}, 2: {12, 13}, 3: {10, 11}, 4: {13}}
    assert circles.greedy(cover, 5) == [(1, 3), (2, 1)]


def test_without_sites_every_household_is_uncovered(
    session: Session, settings: Settings, river_with_bridge: dict[str, int]
) -> None:
    circles.refresh(session, settings)
    assert set(_walks(session, river_with_bridge).values()) == {None}
    assert session.scalar(select(ServiceIsochrone.site_id)) is None
    assert lonlat(0, 0)[0] == pytest.approx(116.401)
