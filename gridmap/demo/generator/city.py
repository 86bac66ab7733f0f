"""The demo city as the generator needs it: grid, households, staff and categories, read from
the database in bulk, and the owners intake would route to in each micro-grid.

The owners come from :mod:`gridmap.requests.service` (``climb`` and the owner constructors),
from today's staff read once rather than one query per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import shapely
from numpy.typing import NDArray
from sqlalchemy import Connection, text

from gridmap.core.errors import Unprocessable
from gridmap.demo.generator.model import CATEGORY_MODELS, Bools, Floats, Ints
from gridmap.requests import deadlines, service
from gridmap.requests.service import GRID_ROLE, Owner


class MissingCity(Unprocessable):
    """The database holds no demo city (grid, households, categories) to generate over."""

    code = "missing-city"
    title = "Nothing to generate requests over"


_CLIMB: Final = service.CLIMB


@dataclass
class City:
    """The grid, households, staff and categories read from the database, in bulk."""

    micro_id: Ints
    micro_code: list[str]
    micro_geom: NDArray[np.object_]
    zone_code: list[str | None]
    community_code: list[str | None]
    zone_id: Ints
    community_id: Ints
    staff: dict[tuple[int, str], int]
    street_admin: Ints
    house_id: Ints
    house_lon: Floats
    house_lat: Floats
    house_micro: Ints
    house_residents: Floats
    house_cared: Bools
    category_id: Ints
    category_version: Ints
    category_level: list[str]
    limits: dict[str, tuple[Ints, Ints, Ints]]  # stage: amounts, unit and basis codes, by category
    #: The departments the categories summon: code → (id, name).
    departments: dict[str, tuple[int, str]]

    @classmethod
    def load(cls, conn: Connection) -> City:
        micro = conn.execute(text(_MICRO_SQL)).all()
        if not micro:
            raise MissingCity(
                "The database holds no current micro-grid: load the demo city first "
                "(flask gridmap load-demo)."
            )
        ids = np.array([r.id for r in micro], dtype=np.int64)
        houses = conn.execute(text(_HOUSEHOLD_SQL)).all()
        if not houses:
            raise MissingCity("The database holds no household inside a micro-grid.")
        at = np.searchsorted(ids, np.array([h.micro_grid_id for h in houses], dtype=np.int64))
        codes = [r.code for r in micro]
        return cls(
            micro_id=ids,
            micro_code=codes,
            micro_geom=shapely.from_wkb([bytes(r.wkb) for r in micro]),
            zone_code=[r.zone_code for r in micro],
            community_code=[r.community_code for r in micro],
            zone_id=np.array([r.zone_id or -1 for r in micro], dtype=np.int64),
            community_id=np.array([r.community_id or -1 for r in micro], dtype=np.int64),
            staff={(r.grid_id, r.role): r.person_id for r in conn.execute(text(_STAFF_SQL))},
            street_admin=_street_admins(conn, codes),
            house_id=np.array([h.id for h in houses], dtype=np.int64),
            house_lon=np.array([h.lon for h in houses], dtype=np.float64),
            house_lat=np.array([h.lat for h in houses], dtype=np.float64),
            house_micro=at.astype(np.int64),
            house_residents=np.array([max(h.residents, 1) for h in houses], dtype=np.float64),
            house_cared=np.array([h.cared for h in houses], dtype=bool),
            **_categories(conn),
            departments=_departments(conn),
        )

    def routes(self) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
        """Owners by micro-grid: ``[g, start level]`` as intake routes (climbing, with
        :func:`gridmap.requests.service.climb`), and ``[g, level]`` at exactly a level
        (escalation: nobody there is the level's scope)."""
        n = len(self.micro_code)
        routed = np.empty((n, len(_CLIMB)), dtype=object)
        exact = np.empty((n, len(_CLIMB)), dtype=object)
        for g in range(n):
            found: dict[str, Owner | None] = {
                level: self._owner_of_level(g, level) for level in _CLIMB
            }
            for i, level in enumerate(_CLIMB):
                owner = found[level]
                exact[g, i] = owner or service.unstaffed(level, self._grid(g, level)[1])
                routed[g, i] = service.climb(level, found.__getitem__)
        return routed, exact

    def _owner_of_level(self, g: int, level: str) -> Owner | None:
        """As :func:`gridmap.requests.service.route` finds it, from the staff read in bulk."""
        if level == "street":
            return service.street_owner(self.micro_code[g], int(self.street_admin[g]) or None)
        grid_id, code = self._grid(g, level)
        return service.on_duty(level, code, self.staff.get((grid_id, GRID_ROLE[level])))

    def _grid(self, g: int, level: str) -> tuple[int, str | None]:
        if level == "micro":
            return int(self.micro_id[g]), self.micro_code[g]
        if level == "zone":
            return int(self.zone_id[g]), self.zone_code[g]
        return int(self.community_id[g]), self.community_code[g]


_MICRO_SQL = """
SELECT m.id, m.code, z.id AS zone_id, z.code AS zone_code, c.id AS community_id,
       c.code AS community_code, ST_AsBinary(m.geom) AS wkb
  FROM grid m
  LEFT JOIN grid z ON z.id = m.parent_id
  LEFT JOIN grid c ON c.id = z.parent_id
 WHERE m.level = 'micro' AND m.valid_to IS NULL
 ORDER BY m.id
"""
_HOUSEHOLD_SQL = """
SELECT h.id, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat, h.micro_grid_id, h.residents,
       h.care_tags && ARRAY['elderly_alone', 'disabled']::text[] AS cared
  FROM household h JOIN grid g ON g.id = h.micro_grid_id
 WHERE g.level = 'micro' AND g.valid_to IS NULL
 ORDER BY h.id
"""
# Today's staff, the longest-serving first (as gridmap.storage.requests.staff_of).
_STAFF_SQL = """
SELECT DISTINCT ON (grid_id, role) grid_id, role, person_id
  FROM assignment
 WHERE role IN ('grid_worker', 'zone_leader', 'chief')
   AND start_date <= current_date AND (end_date IS NULL OR end_date > current_date)
 ORDER BY grid_id, role, start_date, id
"""
_STREET_ADMIN_SQL = """
SELECT id, scope_code FROM app_user
 WHERE role = 'street_admin' AND active AND scope_code IS NOT NULL
 ORDER BY length(scope_code) DESC, id
"""
_DEPARTMENT_SQL = """
SELECT id, code, name FROM department WHERE active
"""
_CATEGORY_SQL = """
SELECT id, code, version, default_level, time_limits FROM category WHERE valid_to IS NULL
"""


def _street_admins(conn: Connection, codes: list[str]) -> Ints:
    """The narrowest active street administrator of each micro-grid (0: none)."""
    admins = conn.execute(text(_STREET_ADMIN_SQL)).all()
    return np.array(
        [next((a.id for a in admins if code.startswith(a.scope_code)), 0) for code in codes],
        dtype=np.int64,
    )


def _departments(conn: Connection) -> dict[str, tuple[int, str]]:
    """The departments the modelled categories summon, by code."""
    rows = {r.code: (int(r.id), str(r.name)) for r in conn.execute(text(_DEPARTMENT_SQL))}
    wanted = sorted({m.department for m in CATEGORY_MODELS if m.department})
    missing = [code for code in wanted if code not in rows]
    if missing:
        raise MissingCity(
            f"The demo's departments are missing ({', '.join(missing)}): load the demo city "
            "first (flask gridmap load-demo)."
        )
    return {code: rows[code] for code in wanted}


def _categories(conn: Connection) -> dict[str, Any]:
    """The current version of each modelled category with its limits per stage."""
    rows = {r.code: r for r in conn.execute(text(_CATEGORY_SQL))}
    missing = [m.code for m in CATEGORY_MODELS if m.code not in rows]
    if missing:
        raise MissingCity(
            f"The demo's request categories are missing ({', '.join(missing)}): load the demo "
            "city first (flask gridmap load-demo)."
        )
    chosen = [rows[m.code] for m in CATEGORY_MODELS]
    limits: dict[str, tuple[Ints, Ints, Ints]] = {}
    for stage in ("response", "handling", "feedback"):
        given = [
            r.time_limits.get(stage) if isinstance(r.time_limits, dict) else None for r in chosen
        ]
        limits[stage] = (
            np.array([int(g["amount"]) if g else 0 for g in given], dtype=np.int64),
            np.array([deadlines.UNIT_CODES[g["unit"]] if g else 0 for g in given], dtype=np.int64),
            np.array(
                [deadlines.BASIS_CODES[service.basis_of(g)] if g else 0 for g in given],
                dtype=np.int64,
            ),
        )
    return {
        "category_id": np.array([r.id for r in chosen], dtype=np.int64),
        "category_version": np.array([r.version for r in chosen], dtype=np.int64),
        "category_level": [r.default_level for r in chosen],
        "limits": limits,
    }
