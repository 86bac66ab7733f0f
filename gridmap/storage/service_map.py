"""Queries of the service map (15分钟便民服务圈): service sites, the walking circles computed on
the network with pgRouting, every household's walk to its nearest site, the candidate sites,
and the figures per community and micro-grid.

How a walk is measured (the README's service map section says the same). A site starts from
the network node nearest to it; a household leaves from the nearest point of the nearest
street. The walk is the straight way from the site to its node, the network distance
(``pgr_drivingDistance``, every street both ways), the part of the household's street up to
that point and the straight way to the door. A site or household farther than
``access_m`` from the network is not reached. A circle is drawn as the concave hull of the
points a site reaches within the band (the nodes, and the point on each street where the time
runs out) widened by ``DRAW_M``: it may cover a block's inside or water between two reached
streets; the household figures never read the drawing, only the distances.

The computation writes temporary tables (``ON COMMIT DROP``) inside the caller's transaction:
``site_start``, ``site_reach``, ``household_access``; call the steps in the order of
``gridmap.services.circles.refresh``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.storage.models import (
    Grid,
    Household,
    ServiceCandidate,
    ServiceIsochrone,
    ServiceMapState,
    ServiceReach,
    ServiceSite,
)
from gridmap.storage.scoping import grid_visible
from gridmap.storage.walk_network import EDGES_SQL, mark_stale

#: How far a drawn circle reaches past its outermost reached points, metres (the houses
#: along the last street).
DRAW_M = 40.0
#: ST_ConcaveHull's ``param_pctconvex``: 0 hugs the reached points most, 1 is the convex hull.
CONCAVITY = 0.2

# ------------------------------------------------------------------------------- sites


def upsert_sites(session: Session, rows: Sequence[dict[str, Any]], *, replace: bool) -> int:
    """Insert or update sites by ``code`` (keys: code, name, kind, address, opening_hours,
    services, wkb); with ``replace``, sites not in ``rows`` are removed. Returns the rows
    written."""
    if replace:
        session.execute(
            delete(ServiceSite).where(ServiceSite.code.not_in([r["code"] for r in rows]))
        )
    if rows:
        stmt = pg_insert(ServiceSite).values(
            [
                {
                    "code": r["code"],
                    "name": r["name"],
                    "kind": r["kind"],
                    "address": r.get("address"),
                    "opening_hours": r.get("opening_hours"),
                    "services": list(r.get("services") or []),
                    "geom": func.ST_GeomFromWKB(r["wkb"], 4490),
                }
                for r in rows
            ]
        )
        excluded = stmt.excluded
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ServiceSite.code],
                set_={
                    "name": excluded.name,
                    "kind": excluded.kind,
                    "address": excluded.address,
                    "opening_hours": excluded.opening_hours,
                    "services": excluded.services,
                    "geom": excluded.geom,
                    "updated_at": func.now(),
                },
            )
        )
    mark_stale(session)
    return len(rows)


def sites_outside(session: Session, codes: Sequence[str], scope_code: str) -> list[str]:
    """The sites of ``codes`` that lie in no current grid under ``scope_code``."""
    inside = (
        select(Grid.id)
        .where(Grid.code.startswith(scope_code, autoescape=True), Grid.valid_to.is_(None))
        .where(func.ST_Covers(Grid.geom, ServiceSite.geom))
        .exists()
    )
    stmt = select(ServiceSite.code).where(ServiceSite.code.in_(list(codes)), ~inside)
    return list(session.scalars(stmt.order_by(ServiceSite.code)))


def site_features(
    session: Session, bbox: tuple[float, float, float, float] | None, kinds: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Sites as GeoJSON features (in ``bbox`` and of ``kinds`` when given), by code."""
    stmt = select(
        ServiceSite.id,
        ServiceSite.code,
        ServiceSite.name,
        ServiceSite.kind,
        ServiceSite.address,
        ServiceSite.opening_hours,
        ServiceSite.services,
        func.ST_AsGeoJSON(ServiceSite.geom, 7, 0),
    ).order_by(ServiceSite.code)
    if bbox is not None:
        stmt = stmt.where(ServiceSite.geom.intersects(func.ST_MakeEnvelope(*bbox, 4490)))
    if kinds:
        stmt = stmt.where(ServiceSite.kind.in_(list(kinds)))
    return [
        _feature(geometry, code, site_id=sid, code=code, name=name, kind=kind,
                 address=address, opening_hours=hours, services=list(services))
        for sid, code, name, kind, address, hours, services, geometry in session.execute(stmt)
    ]  # fmt: skip


def _feature(geometry: str, fid: int | str | None = None, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": json.loads(geometry),
        "properties": properties,
    }


# ------------------------------------------------------------------- computing the circles

_SITE_START = """
CREATE TEMP TABLE site_start ON COMMIT DROP AS
SELECT s.id AS site_id, n.id AS node, ST_Distance(s.geom::geography, n.geom::geography) AS offset_m
FROM service_site s
CROSS JOIN LATERAL (SELECT id, geom FROM walk_node ORDER BY geom <-> s.geom LIMIT 1) n
"""

_SITE_REACH = """
CREATE TEMP TABLE site_reach ON COMMIT DROP AS
SELECT s.site_id, d.node, d.agg_cost + s.offset_m AS cost
FROM pgr_drivingDistance(:edges, CAST(:starts AS bigint[]), :max_m, directed => false) d
JOIN site_start s ON s.node = d.from_v
WHERE d.agg_cost + s.offset_m <= :max_m
"""

_NO_REACH = """
CREATE TEMP TABLE site_reach (site_id integer, node bigint, cost double precision) ON COMMIT DROP
"""

# The points a site reaches within the band: its reached nodes and, on each street it leaves
# before the time runs out, the point where it stops; the circle is their concave hull
# (GEOS 3.11's, fast), widened by the street frontage.
_ISOCHRONES = """
INSERT INTO service_isochrone (site_id, minutes, geom)
SELECT site_id, :minutes, ST_SetSRID(ST_Multi(ST_Buffer(
         ST_ConcaveHull(ST_Collect(point), :concavity)::geography, :draw_m, 'quad_segs=4'
       )::geometry), 4490)
FROM (
  SELECT r.site_id, n.geom AS point
  FROM site_reach r JOIN walk_node n ON n.id = r.node
  WHERE r.cost <= :d
  UNION ALL
  SELECT r.site_id, ST_LineInterpolatePoint(e.geom, (:d - r.cost) / e.length_m)
  FROM site_reach r JOIN walk_edge e ON e.source = r.node
  WHERE r.cost < :d AND r.cost + e.length_m > :d
  UNION ALL
  SELECT r.site_id, ST_LineInterpolatePoint(e.geom, 1 - (:d - r.cost) / e.length_m)
  FROM site_reach r JOIN walk_edge e ON e.target = r.node
  WHERE r.cost < :d AND r.cost + e.length_m > :d
) points
GROUP BY site_id
"""

_HOUSEHOLD_ACCESS = """
CREATE TEMP TABLE household_access ON COMMIT DROP AS
SELECT h.id AS household_id, e.source, e.target, e.length_m,
       ST_LineLocatePoint(e.geom, h.geom) * e.length_m AS along_m,
       ST_Distance(h.geom::geography, e.geom::geography) AS offset_m
FROM household h
CROSS JOIN LATERAL (
  SELECT id, source, target, length_m, geom FROM walk_edge ORDER BY geom <-> h.geom LIMIT 1
) e
"""

_NODE_BEST = """
CREATE TEMP TABLE node_best ON COMMIT DROP AS
SELECT DISTINCT ON (node) node, site_id, cost FROM site_reach ORDER BY node, cost, site_id
"""

# Joins, not a lateral subquery per household: node_best has no index, hash joins read it once.
_REACH = """
INSERT INTO service_reach (household_id, walk_m, site_id)
SELECT h.id, best.walk_m, best.site_id
FROM household h
LEFT JOIN (
  SELECT DISTINCT ON (household_id) household_id, walk_m, site_id
  FROM (
    SELECT a.household_id, b.cost + a.along_m + a.offset_m AS walk_m, b.site_id
    FROM household_access a JOIN node_best b ON b.node = a.source
    WHERE a.offset_m <= :access_m
    UNION ALL
    SELECT a.household_id, b.cost + (a.length_m - a.along_m) + a.offset_m, b.site_id
    FROM household_access a JOIN node_best b ON b.node = a.target
    WHERE a.offset_m <= :access_m
  ) ends
  ORDER BY household_id, walk_m, site_id
) best ON best.household_id = h.id
"""

# Candidates: for each ~200 m cell holding uncovered households that can reach the network,
# the node nearest to their mean position; the cells with most such households first.
_CANDIDATE_POOL = """
SELECT DISTINCT ON (n.id) n.id
FROM (
  SELECT ST_SetSRID(ST_MakePoint(avg(ST_X(h.geom)), avg(ST_Y(h.geom))), 4490) AS centre,
         count(*) AS households
  FROM service_reach r
  JOIN household h ON h.id = r.household_id
  JOIN household_access a ON a.household_id = r.household_id AND a.offset_m <= :access_m
  WHERE r.walk_m IS NULL OR r.walk_m > :d
  GROUP BY floor(ST_X(h.geom) / 0.002), floor(ST_Y(h.geom) / 0.002)
  ORDER BY households DESC
  LIMIT :limit
) cell
CROSS JOIN LATERAL (SELECT id FROM walk_node ORDER BY geom <-> cell.centre LIMIT 1) n
"""

_CANDIDATE_PAIRS = """
WITH reach AS (
  SELECT from_v AS candidate, node, agg_cost AS cost
  FROM pgr_drivingDistance(:edges, CAST(:starts AS bigint[]), :d, directed => false)
), uncovered AS (
  SELECT a.* FROM household_access a JOIN service_reach r USING (household_id)
  WHERE a.offset_m <= :access_m AND (r.walk_m IS NULL OR r.walk_m > :d)
)
SELECT DISTINCT candidate, household_id FROM (
  SELECT r.candidate, u.household_id FROM reach r JOIN uncovered u ON u.source = r.node
  WHERE r.cost + u.along_m + u.offset_m <= :d
  UNION ALL
  SELECT r.candidate, u.household_id FROM reach r JOIN uncovered u ON u.target = r.node
  WHERE r.cost + (u.length_m - u.along_m) + u.offset_m <= :d
) pairs
"""


def _temp(session: Session, name: str, sql: str, params: dict[str, Any] | None = None) -> None:
    """Create temporary table ``name`` anew (a second refresh in one transaction finds the
    first one's)."""
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{name}"))
    session.execute(text(sql), params or {})


def clear_results(session: Session) -> None:
    """Remove the cached circles, walks and candidates before they are computed again."""
    for model in (ServiceIsochrone, ServiceReach, ServiceCandidate):
        session.execute(delete(model))


def start_sites(session: Session, access_m: float) -> list[int]:
    """Place every site on its nearest node (``site_start``); returns the nodes of the sites
    within ``access_m`` of the network (the others reach nothing)."""
    _temp(session, "site_start", _SITE_START)
    session.execute(text("DELETE FROM site_start WHERE offset_m > :m"), {"m": access_m})
    return list(session.scalars(text("SELECT DISTINCT node FROM site_start ORDER BY node")))


def reach_sites(session: Session, starts: Sequence[int], max_m: float) -> None:
    """Every node each site reaches within ``max_m`` and its walk (``site_reach``), from one
    call of ``pgr_drivingDistance`` for all the sites' nodes."""
    if not starts:
        _temp(session, "site_reach", _NO_REACH)
        return
    params = {"edges": EDGES_SQL, "starts": list(starts), "max_m": max_m}
    _temp(session, "site_reach", _SITE_REACH, params)


def write_isochrones(session: Session, bands: Iterable[tuple[int, float]]) -> None:
    """The drawn circles of every band (minutes, metres)."""
    for minutes, metres in bands:
        params = {"minutes": minutes, "d": metres, "draw_m": DRAW_M, "concavity": CONCAVITY}
        session.execute(text(_ISOCHRONES), params)


def write_reach(session: Session, access_m: float) -> None:
    """Every household's walk to its nearest site (``service_reach``)."""
    _temp(session, "household_access", _HOUSEHOLD_ACCESS)
    _temp(session, "node_best", _NODE_BEST)
    session.execute(text(_REACH), {"access_m": access_m})


def candidate_pool(session: Session, metres: float, access_m: float, limit: int) -> list[int]:
    """The nodes worth trying as a new site: one per cell of uncovered households."""
    params = {"d": metres, "access_m": access_m, "limit": limit}
    return list(session.scalars(text(_CANDIDATE_POOL), params))


def candidate_cover(
    session: Session, pool: Sequence[int], metres: float, access_m: float
) -> dict[int, set[int]]:
    """For each candidate node, the uncovered households a site there would bring within
    ``metres``."""
    cover: dict[int, set[int]] = {}
    if not pool:
        return cover
    params = {"edges": EDGES_SQL, "starts": list(pool), "d": metres, "access_m": access_m}
    for candidate, household in session.execute(text(_CANDIDATE_PAIRS), params):
        cover.setdefault(int(candidate), set()).add(int(household))
    return cover


def write_candidates(session: Session, picks: Sequence[tuple[int, int]]) -> None:
    """The chosen candidates, best first: (node, households it newly covers)."""
    for rank, (node, households) in enumerate(picks, start=1):
        session.execute(
            text(
                "INSERT INTO service_candidate (rank, node_id, households, geom)"
                " SELECT :rank, id, :households, geom FROM walk_node WHERE id = :node"
            ),
            {"rank": rank, "node": node, "households": households},
        )


def finish(session: Session, speed_mps: float, at: dt.datetime) -> None:
    session.execute(
        update(ServiceMapState)
        .where(ServiceMapState.id == 1)
        .values(refreshed_at=at, stale=False, speed_mps=speed_mps)
    )


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class MapState:
    refreshed_at: dt.datetime | None
    stale: bool
    speed_mps: float | None
    nodes: int
    edges: int
    components: int
    detached_nodes: int


def state(session: Session) -> MapState:
    row = session.execute(
        select(
            ServiceMapState.refreshed_at,
            ServiceMapState.stale,
            ServiceMapState.speed_mps,
            ServiceMapState.nodes,
            ServiceMapState.edges,
            ServiceMapState.components,
            ServiceMapState.detached_nodes,
        ).where(ServiceMapState.id == 1)
    ).one()
    return MapState(*row)


def isochrone_features(session: Session) -> list[dict[str, Any]]:
    """The drawn circles, widest first (so the narrower ones lie on top)."""
    stmt = (
        select(
            ServiceIsochrone.site_id,
            ServiceIsochrone.minutes,
            ServiceSite.code,
            ServiceSite.name,
            func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(ServiceIsochrone.geom, 2e-6), 6, 0),
        )
        .join(ServiceSite, ServiceSite.id == ServiceIsochrone.site_id)
        .order_by(ServiceIsochrone.minutes.desc(), ServiceSite.code)
    )
    return [
        _feature(geometry, site_id=sid, minutes=minutes, code=code, name=name)
        for sid, minutes, code, name, geometry in session.execute(stmt)
    ]


def candidate_features(session: Session, scope: Scope, grid: str | None) -> list[dict[str, Any]]:
    """The candidate sites lying in a current micro-grid in ``scope`` (under ``grid``), best
    first; the households a candidate would bring are counted over the whole district."""
    micro = aliased(Grid)
    where = [
        micro.level == "micro",
        micro.valid_to.is_(None),
        grid_visible(scope, micro),
        func.ST_Covers(micro.geom, ServiceCandidate.geom),
    ]
    if grid:
        where.append(micro.code.startswith(grid, autoescape=True))
    stmt = (
        select(
            ServiceCandidate.rank,
            ServiceCandidate.households,
            micro.code,
            func.ST_AsGeoJSON(ServiceCandidate.geom, 7, 0),
        )
        .join(micro, and_(*where))
        .order_by(ServiceCandidate.rank)
    )
    return [
        _feature(geometry, rank, rank=rank, households=households, micro_grid=code)
        for rank, households, code, geometry in session.execute(stmt)
    ]


#: A micro-grid's figures: id, code, name, community code, community name, households,
#: uncovered households, and its GeoJSON when asked for.
GapRow = Row[Any]


def gap_rows(
    session: Session, scope: Scope, grid: str | None, metres: float, *, shapes: bool
) -> list[GapRow]:
    """Households and households outside every last-band circle per current micro-grid in
    ``scope`` and under ``grid`` (a household with no computed walk counts as outside), by
    code."""
    micro, zone, community = aliased(Grid), aliased(Grid), aliased(Grid)
    outside = (ServiceReach.walk_m.is_(None)) | (ServiceReach.walk_m > metres)
    columns: list[Any] = [
        micro.id,
        micro.code,
        micro.name,
        community.code.label("community_code"),
        community.name.label("community_name"),
        func.count(Household.id).label("households"),
        func.count(Household.id).filter(outside).label("uncovered"),
    ]
    if shapes:
        simplified = func.ST_SimplifyPreserveTopology(micro.geom, 2e-6)
        columns.append(func.ST_AsGeoJSON(simplified, 6, 0).label("geometry"))
    stmt = (
        select(*columns)
        .join(zone, zone.id == micro.parent_id)
        .join(community, community.id == zone.parent_id)
        .join(Household, Household.micro_grid_id == micro.id)
        .outerjoin(ServiceReach, ServiceReach.household_id == Household.id)
        .where(micro.level == "micro", micro.valid_to.is_(None), grid_visible(scope, micro))
        .where(micro.code.startswith(grid or "", autoescape=True))
        .group_by(micro.id, community.code, community.name)
        .order_by(micro.code)
    )
    return list(session.execute(stmt))
