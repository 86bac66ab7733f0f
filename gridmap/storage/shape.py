"""The shape of the staffed grid as a grid office reads it: households per micro-grid and per
zone, paid workers and volunteers per grid, members' loads (党员分片包户). Today's grids and
posts, the whole database (no scope: the demo loader and tests read it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Spread:
    """Minimum, median and maximum of a count over some grids or people (0s when none)."""

    min: int
    median: float
    max: int


@dataclass(frozen=True)
class DistrictShape:
    """What :func:`district_shape` measures.

    ``workers`` are people of kind ``grid_worker`` (专职网格员) holding a ``grid_worker`` post
    today; ``leaders`` hold a ``building_leader`` post (楼栋长, volunteers); ``members`` are
    the people who cover at least one household.
    """

    households: int
    micro_grids: int
    empty_micro_grids: int
    per_micro: Spread
    zones: int
    per_zone: Spread
    micro_per_zone: Spread
    workers: int
    workers_per_zone: Spread
    leaders: int
    micro_without_leader: int
    members: int
    per_member: Spread
    uncovered: int


_GRIDS_SQL = """
WITH micro AS (
  SELECT g.id, g.parent_id AS zone_id, count(h.id) AS households
    FROM grid g LEFT JOIN household h ON h.micro_grid_id = g.id
   WHERE g.level = 'micro' AND g.valid_to IS NULL
   GROUP BY g.id
), zone AS (
  SELECT z.id, coalesce(sum(m.households), 0) AS households, count(m.id) AS micro_grids
    FROM grid z LEFT JOIN micro m ON m.zone_id = z.id
   WHERE z.level = 'zone' AND z.valid_to IS NULL
   GROUP BY z.id
)
SELECT (SELECT count(*) FROM micro) AS micro_grids,
       (SELECT count(*) FROM micro WHERE households = 0) AS empty_micro_grids,
       (SELECT coalesce(min(households), 0) FROM micro) AS micro_min,
       (SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY households), 0)
          FROM micro) AS micro_median,
       (SELECT coalesce(max(households), 0) FROM micro) AS micro_max,
       (SELECT count(*) FROM zone) AS zones,
       (SELECT coalesce(min(households), 0) FROM zone) AS zone_min,
       (SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY households), 0)
          FROM zone) AS zone_median,
       (SELECT coalesce(max(households), 0) FROM zone) AS zone_max,
       (SELECT coalesce(min(micro_grids), 0) FROM zone) AS mpz_min,
       (SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY micro_grids), 0)
          FROM zone) AS mpz_median,
       (SELECT coalesce(max(micro_grids), 0) FROM zone) AS mpz_max,
       (SELECT count(*) FROM household) AS households
"""

_POSTS_SQL = """
WITH post AS (
  SELECT a.person_id, a.role, g.id AS grid_id, g.parent_id, p.kind
    FROM assignment a
    JOIN grid g ON g.id = a.grid_id AND g.valid_to IS NULL
    JOIN person p ON p.id = a.person_id
   WHERE a.start_date <= :today AND (a.end_date IS NULL OR a.end_date > :today)
), per_zone AS (
  SELECT z.id, count(DISTINCT w.person_id) AS workers
    FROM grid z
    LEFT JOIN post w ON w.parent_id = z.id AND w.role = 'grid_worker' AND w.kind = 'grid_worker'
   WHERE z.level = 'zone' AND z.valid_to IS NULL
   GROUP BY z.id
)
SELECT (SELECT count(DISTINCT person_id) FROM post
         WHERE role = 'grid_worker' AND kind = 'grid_worker') AS workers,
       (SELECT coalesce(min(workers), 0) FROM per_zone) AS wpz_min,
       (SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY workers), 0)
          FROM per_zone) AS wpz_median,
       (SELECT coalesce(max(workers), 0) FROM per_zone) AS wpz_max,
       (SELECT count(DISTINCT person_id) FROM post WHERE role = 'building_leader') AS leaders,
       (SELECT count(*) FROM grid g
         WHERE g.level = 'micro' AND g.valid_to IS NULL
           AND NOT EXISTS (SELECT FROM post l
                            WHERE l.grid_id = g.id AND l.role = 'building_leader'))
         AS micro_without_leader
"""

_MEMBERS_SQL = """
WITH load AS (SELECT person_id, count(*) AS households FROM coverage GROUP BY person_id)
SELECT count(*) AS members,
       coalesce(min(households), 0) AS load_min,
       coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY households), 0) AS load_median,
       coalesce(max(households), 0) AS load_max,
       (SELECT count(*) FROM household h
         WHERE NOT EXISTS (SELECT FROM coverage c WHERE c.household_id = h.id)) AS uncovered
  FROM load
"""


def district_shape(session: Session, today: dt.date) -> DistrictShape:
    """Measure the grid, its posts valid on ``today`` and the coverage."""
    g = session.execute(text(_GRIDS_SQL)).mappings().one()
    p = session.execute(text(_POSTS_SQL), {"today": today}).mappings().one()
    m = session.execute(text(_MEMBERS_SQL)).mappings().one()
    return DistrictShape(
        households=g["households"],
        micro_grids=g["micro_grids"],
        empty_micro_grids=g["empty_micro_grids"],
        per_micro=Spread(g["micro_min"], float(g["micro_median"]), g["micro_max"]),
        zones=g["zones"],
        per_zone=Spread(g["zone_min"], float(g["zone_median"]), g["zone_max"]),
        micro_per_zone=Spread(g["mpz_min"], float(g["mpz_median"]), g["mpz_max"]),
        workers=p["workers"],
        workers_per_zone=Spread(p["wpz_min"], float(p["wpz_median"]), p["wpz_max"]),
        leaders=p["leaders"],
        micro_without_leader=p["micro_without_leader"],
        members=m["members"],
        per_member=Spread(m["load_min"], float(m["load_median"]), m["load_max"]),
        uncovered=m["uncovered"],
    )
