"""Buildings (楼栋) and units (单元), the posts on them (楼栋长, 单元长) and 党员中心户.

"街道党工委—社区党委—小区党支部—党员楼栋长—党员中心户": a building is led by a 楼栋长 (a party
member or a resident volunteer), each unit by a 单元长, and member households (党员中心户)
each look after a few neighbour households of their building or micro-grid.

Every change of a building, its units, posts and 中心户 names the revision it was based on
(``If-Match`` with the building's ETag, or the 中心户's): the row is locked, the revision
compared and bumped. The staff change the buildings of their subtree; whoever sees a building
reads it. Households are linked to their building and unit by the address's free text within
the micro-grid (:func:`link_households`), after buildings are recorded or imported.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core import clock, etags
from gridmap.core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from gridmap.spatial.crs import check_lonlat, parse_crs, to_cgcs2000
from gridmap.storage import buildings as store
from gridmap.storage.models import CENTRAL_MEMBER_KINDS, POST_HOLDER_KINDS, SRID

#: Largest footprint accepted, in square degrees (about 1 km²): a building, not a district.
_MAX_FOOTPRINT = 1e-4


@dataclass(frozen=True)
class Unit:
    number: str
    floors: int | None = None


@dataclass(frozen=True)
class BuildingInput:
    """A building as given: its GeoJSON geometry (Point, Polygon or MultiPolygon) in ``crs``,
    its number (楼号), name, floors and units; ``micro_grid`` (a code) checks where it is."""

    geometry: dict[str, Any] | None = None
    crs: str = "EPSG:4490"
    number: str | None = None
    name: str | None = None
    floors: int | None = None
    units: tuple[Unit, ...] | None = None
    micro_grid: str | None = None
    given: frozenset[str] = field(default_factory=frozenset)


def building_etag(building_id: int, revision: int) -> str:
    return f'"building.{building_id}.{revision}"'


def central_etag(central_id: int, revision: int) -> str:
    return f'"central.{central_id}.{revision}"'


# ------------------------------------------------------------------------------ geometry


def storage_wkt(geometry: dict[str, Any], crs_text: str) -> str:
    """A GeoJSON Point, Polygon or MultiPolygon in ``crs_text`` as EWKT in EPSG:4490, checked:
    valid, non-empty, in China and no larger than a building."""
    try:
        shape = shapely.from_geojson(json.dumps(geometry))
    except (shapely.errors.GEOSException, ValueError, TypeError):
        raise InvalidInput("geometry is not a GeoJSON geometry") from None
    if shape.geom_type not in ("Point", "Polygon", "MultiPolygon") or shape.is_empty:
        raise InvalidInput(
            f"geometry must be a Point, Polygon or MultiPolygon, not {shape.geom_type}"
        )
    if shape.has_z:
        shape = shapely.force_2d(shape)
    crs = parse_crs(crs_text)

    def convert(xy: np.ndarray) -> np.ndarray:
        lon, lat = to_cgcs2000(xy[:, 0], xy[:, 1], crs)
        check_lonlat(lon, lat, label="geometry")
        return np.column_stack([lon, lat])

    shape = shapely.transform(shape, convert)
    if not shape.is_valid:
        raise InvalidInput(f"geometry is not valid: {shapely.is_valid_reason(shape)}")
    if shape.area > _MAX_FOOTPRINT:
        raise InvalidInput("geometry is larger than a building (over about 1 km²)")
    return f"SRID={SRID};{shape.wkt}"


def _locate(session: Session, wkt: str, micro_grid: str | None, scope: Scope) -> int:
    """The micro-grid of a building, in the caller's subtree (and ``micro_grid`` if given)."""
    found = store.micro_grid_at(session, wkt)
    # Outside every micro-grid and outside the caller's: the same answer (no existence told).
    if found is None or not any(found.code.startswith(p) for p in scope.prefixes):
        raise NotFound("There is no micro-grid you may change where the building lies.")
    if micro_grid is not None and found.code != micro_grid:
        raise Unprocessable(f"The building lies in micro-grid {found.code}, not {micro_grid}.")
    return int(found.id)


# ----------------------------------------------------------------------------- buildings


def create(session: Session, scope: Scope, given: BuildingInput) -> tuple[int, str]:
    """Record a building (and its units) in a micro-grid of the caller's subtree, and link
    the households whose address names it; returns its id and ETag."""
    if given.geometry is None or given.number is None:
        raise InvalidInput("geometry and number are needed")
    wkt = storage_wkt(given.geometry, given.crs)
    grid_id = _locate(session, wkt, given.micro_grid, scope)
    if store.building_numbered(session, grid_id, given.number) is not None:
        raise Conflict(f"Building {given.number} is already recorded in its micro-grid.")
    values = {
        "micro_grid_id": grid_id,
        "number": given.number,
        "name": given.name,
        "floors": given.floors,
    }
    building_id = store.insert_building(session, values, wkt)
    store.add_units(session, building_id, [(u.number, u.floors) for u in given.units or ()])
    link_households(session, building_ids=[building_id])
    return building_id, building_etag(building_id, 0)


def _locked(
    session: Session, building_id: int, scope: Scope, if_match: str | None
) -> store.BuildingRow:
    """A building the caller may change, locked, after checking If-Match."""
    row = store.get_building(session, building_id, scope, writable=True, lock=True)
    if row is None:
        raise NotFound(f"There is no building {building_id}.")
    etags.check(
        if_match,
        building_etag(row.id, row.revision),
        f"Building {building_id}",
        "reload it and make your change again.",
    )
    return row


def update(
    session: Session, scope: Scope, building_id: int, given: BuildingInput, if_match: str | None
) -> str:
    """Change a building's number, name, floors, geometry or units (given units replace the
    list: a unit with households or a current 单元长 cannot go); returns the new ETag."""
    _locked(session, building_id, scope, if_match)
    values: dict[str, Any] = {
        k: getattr(given, k) for k in ("number", "name", "floors") if k in given.given
    }
    if "number" in values and values["number"] is None:
        raise InvalidInput("number cannot be removed")
    wkt = None
    if "geometry" in given.given:
        if given.geometry is None:
            raise InvalidInput("geometry cannot be removed")
        wkt = storage_wkt(given.geometry, given.crs)
        values["micro_grid_id"] = _locate(session, wkt, given.micro_grid, scope)
    if given.units is not None:
        keep = [u.number for u in given.units]
        if busy := store.unit_in_use(session, building_id, keep):
            raise Conflict(
                f"Unit(s) {', '.join(busy)} hold households or a current 单元长: keep them."
            )
        store.drop_units(session, building_id, keep)
        store.add_units(session, building_id, [(u.number, u.floors) for u in given.units])
    revision = store.update_building(session, building_id, values, wkt)
    link_households(session, building_ids=[building_id])
    return building_etag(building_id, revision)


def detail(
    session: Session, scope: Scope, building_id: int, *, history: bool = False
) -> dict[str, Any]:
    """A building with its units, posts (current, or all with ``history``) and 中心户."""
    row = store.get_building(session, building_id, scope)
    if row is None:
        raise NotFound(f"There is no building {building_id}.")
    centrals = store.centrals_in_building(session, building_id)
    counts = store.neighbour_counts(session, [c.id for c in centrals])
    return {
        "row": row,
        "etag": building_etag(row.id, row.revision),
        "units": [
            {"id": u, "number": n, "floors": f, "households": h}
            for u, n, f, h in store.units(session, building_id)
        ],
        "posts": store.posts(session, [building_id], history=history)[building_id],
        "centrals": [
            {
                "id": c.id,
                "household_id": c.household_id,
                "person": {"id": c[2], "name": c.name, "phone": c.phone, "kind": c.kind},
                "neighbours": counts.get(c.id, 0),
            }
            for c in centrals
        ],
    }


# --------------------------------------------------------------------------------- posts


def _unit(session: Session, building_id: int, unit: str | None) -> int | None:
    if unit is None:
        return None
    found = store.unit_id(session, building_id, unit)
    if found is None:
        raise NotFound(f"Building {building_id} has no unit {unit}.")
    return found


def set_post(
    session: Session,
    scope: Scope,
    building_id: int,
    unit: str | None,
    person_id: int,
    start: dt.date | None,
    if_match: str | None,
) -> tuple[int, str]:
    """Give 楼栋长 (``unit`` None) or a unit's 单元长 to a person; the current holder's post
    ends the day the new one starts. Returns the post's id and the building's new ETag."""
    _locked(session, building_id, scope, if_match)
    unit_id = _unit(session, building_id, unit)
    kind = store.person_kind(session, person_id, scope)
    if kind is None:
        raise NotFound(f"There is no person {person_id}.")
    if kind not in POST_HOLDER_KINDS:
        raise Unprocessable(
            f"A {kind} cannot hold a building's post: a party member or a resident volunteer "
            f"does ({', '.join(POST_HOLDER_KINDS)})."
        )
    start = start or clock.today()
    current = store.current_post(session, building_id, unit_id)
    if current is not None:
        if current.person_id == person_id:
            raise Conflict(f"Person {person_id} already holds this post.")
        if start < current.start_date:
            raise Conflict(
                f"The current holder started on {current.start_date}; a successor cannot start "
                f"before that ({start})."
            )
        store.end_post(session, current.id, start)
    post_id = store.add_post(session, building_id, unit_id, person_id, start)
    return post_id, building_etag(building_id, store.bump(session, building_id))


def end_post(
    session: Session,
    scope: Scope,
    building_id: int,
    unit: str | None,
    end: dt.date | None,
    if_match: str | None,
) -> str:
    """End the current 楼栋长 (or a unit's 单元长), keeping its history; returns the ETag."""
    _locked(session, building_id, scope, if_match)
    unit_id = _unit(session, building_id, unit)
    current = store.current_post(session, building_id, unit_id)
    if current is None:
        raise Conflict("The post has no current holder.")
    end = end or clock.today()
    if end < current.start_date:
        raise InvalidInput(f"end_date {end} is before the start {current.start_date}")
    store.end_post(session, current.id, end)
    return building_etag(building_id, store.bump(session, building_id))


# ---------------------------------------------------------------------- 党员中心户


def _check_neighbours(
    session: Session,
    scope: Scope,
    central: tuple[int, int | None, int | None],
    household_ids: list[int],
    limit: int,
    central_id: int | None,
) -> None:
    """Neighbours: at most ``limit``, in the caller's subtree, in the central household's
    building (or its micro-grid when it has none), looked after by no other 中心户."""
    own_id, building_id, micro_id = central
    if len(household_ids) > limit:
        raise Unprocessable(
            f"A 党员中心户 looks after at most {limit} neighbour households, not "
            f"{len(household_ids)} (GRIDMAP_CENTRAL_HOUSEHOLD_NEIGHBOURS)."
        )
    if len(set(household_ids)) != len(household_ids) or own_id in household_ids:
        raise InvalidInput("neighbours must be distinct and not the central household itself")
    found = {r[0]: r for r in store.households_where(session, household_ids, scope)}
    if missing := [h for h in household_ids if h not in found]:
        raise NotFound(f"There is no household {missing[0]}.")
    near = [
        h
        for h, (_, b, m) in found.items()
        if (b == building_id if building_id is not None else m == micro_id)
    ]
    if far := sorted(set(household_ids) - set(near)):
        where = "building" if building_id is not None else "micro-grid"
        raise Unprocessable(f"Household(s) {far} are not in the central household's {where}.")
    taken = {h: c for h, c in store.central_of(session, household_ids).items() if c != central_id}
    if taken:
        listed = ", ".join(f"{h} (by {c})" for h, c in sorted(taken.items()))
        raise Conflict(f"Already looked after by another 党员中心户: {listed}.")


def designate(
    session: Session,
    scope: Scope,
    household_id: int,
    person_id: int,
    neighbour_ids: list[int],
    *,
    start: dt.date | None,
    limit: int,
) -> tuple[int, str]:
    """Make a member's household a 党员中心户 looking after ``neighbour_ids``; returns its id
    and ETag."""
    found = store.households_where(session, [household_id], scope)
    if not found:
        raise NotFound(f"There is no household {household_id}.")
    _, building_id, micro_id = found[0]
    kind = store.person_kind(session, person_id, scope)
    if kind is None:
        raise NotFound(f"There is no person {person_id}.")
    if kind not in CENTRAL_MEMBER_KINDS:
        raise Unprocessable(
            f"A 党员中心户 is a party member's household; person {person_id} is a {kind}."
        )
    if store.current_central_of_household(session, household_id) is not None:
        raise Conflict(f"Household {household_id} is already a 党员中心户.")
    _check_neighbours(
        session, scope, (household_id, building_id, micro_id), neighbour_ids, limit, None
    )
    central_id = store.insert_central(session, household_id, person_id, start or clock.today())
    store.replace_neighbours(session, central_id, neighbour_ids)
    if building_id is not None:
        store.bump(session, building_id)
    return central_id, central_etag(central_id, 0)


def _locked_central(
    session: Session, central_id: int, scope: Scope, if_match: str | None
) -> store.CentralRow:
    row = store.get_central(session, central_id, scope, writable=True, lock=True)
    if row is None:
        raise NotFound(f"There is no 党员中心户 {central_id}.")
    etags.check(
        if_match,
        central_etag(row.id, row.revision),
        f"党员中心户 {central_id}",
        "reload it and make your change again.",
    )
    if row.end_date is not None:
        raise Conflict(f"党员中心户 {central_id} ended on {row.end_date}.")
    return row


def set_neighbours(
    session: Session,
    scope: Scope,
    central_id: int,
    household_ids: list[int],
    if_match: str | None,
    *,
    limit: int,
) -> str:
    """Replace the neighbours a 中心户 looks after; returns its new ETag."""
    row = _locked_central(session, central_id, scope, if_match)
    own = (row.household_id, row.building_id, row.micro_grid_id)
    _check_neighbours(session, scope, own, household_ids, limit, central_id)
    store.replace_neighbours(session, central_id, household_ids)
    return central_etag(central_id, store.bump_central(session, central_id))


def end_central(
    session: Session, scope: Scope, central_id: int, end: dt.date | None, if_match: str | None
) -> str:
    """End a 中心户 (kept as history; its neighbours are free again); returns its ETag."""
    row = _locked_central(session, central_id, scope, if_match)
    end = end or clock.today()
    if end < row.start_date:
        raise InvalidInput(f"end_date {end} is before the start {row.start_date}")
    store.replace_neighbours(session, central_id, [])
    if row.building_id is not None:
        store.bump(session, row.building_id)
    return central_etag(central_id, store.bump_central(session, central_id, end))


def central(session: Session, scope: Scope, central_id: int) -> dict[str, Any]:
    """A 中心户 with the neighbours the caller sees."""
    row = store.get_central(session, central_id, scope)
    if row is None:
        raise NotFound(f"There is no 党员中心户 {central_id}.")
    return {
        "row": row,
        "etag": central_etag(row.id, row.revision),
        "neighbours": store.neighbours(session, central_id, scope),
    }


# ------------------------------------------------------------------ linking households


#: The buildings' micro-grids (every version of their code) first, then each household of
#: those micro-grids matched to its building: no join of household with itself, so a plan
#: made on stale statistics (a test's rows not yet analysed) stays linear in households.
_LINK_SQL = """
WITH m AS MATERIALIZED (
  SELECT b.id AS building_id, gridmap_number_key(b.number) AS key, gh.id AS micro_grid_id
  FROM building b
  JOIN grid gb ON gb.id = b.micro_grid_id
  JOIN grid gh ON gh.code = gb.code
  WHERE b.id = ANY(:buildings)
)
UPDATE household h
SET building_id = m.building_id, unit_id = (
  SELECT u.id FROM building_unit u
  WHERE u.building_id = m.building_id
    AND gridmap_number_key(u.number) = gridmap_number_key(h.unit))
FROM m
WHERE h.micro_grid_id = m.micro_grid_id AND h.building IS NOT NULL
  AND gridmap_number_key(h.building) = m.key
  AND (h.building_id, h.unit_id) IS DISTINCT FROM (m.building_id, (
    SELECT u.id FROM building_unit u
    WHERE u.building_id = m.building_id
      AND gridmap_number_key(u.number) = gridmap_number_key(h.unit)))
"""


def link_households(session: Session, *, building_ids: list[int]) -> int:
    """Link the households of the buildings' micro-grids whose address's building (and unit)
    number is the building's (and a unit's); returns how many links changed. A micro-grid is
    its code: a building recorded before a redraw keeps the households of the new version."""
    if not building_ids:
        return 0
    result = session.execute(text(_LINK_SQL), {"buildings": building_ids})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ------------------------------------------------------------- buildings from addresses


_DERIVE_BUILDINGS_SQL = """
INSERT INTO building (micro_grid_id, number, name, floors, geom)
SELECT h.micro_grid_id, gridmap_number_key(h.building), min(trim(h.building)) || '号楼',
       nullif(least(max(CASE WHEN h.room ~ '^[0-9]{3,4}$' THEN h.room::int / 100 END), 200), 0),
       ST_Envelope(ST_Buffer(ST_Collect(h.geom), 0.00004, 'quad_segs=1'))
FROM household h JOIN grid g ON g.id = h.micro_grid_id
WHERE h.building IS NOT NULL AND h.building_id IS NULL
  AND gridmap_number_key(h.building) <> '' AND g.code LIKE :prefix || '%'
GROUP BY h.micro_grid_id, gridmap_number_key(h.building)
HAVING char_length(gridmap_number_key(h.building)) <= 40
ON CONFLICT (micro_grid_id, number) DO NOTHING
RETURNING id
"""

_DERIVE_UNITS_SQL = """
INSERT INTO building_unit (building_id, number)
SELECT DISTINCT b.id, gridmap_number_key(h.unit)
FROM household h
JOIN building b ON b.micro_grid_id = h.micro_grid_id
 AND b.number = gridmap_number_key(h.building)
WHERE b.id = ANY(:buildings) AND h.unit IS NOT NULL
  AND char_length(gridmap_number_key(h.unit)) BETWEEN 1 AND 20
ON CONFLICT (building_id, number) DO NOTHING
"""


def derive_from_households(session: Session, prefix: str = "") -> tuple[list[int], int]:
    """Record the buildings and units the households' addresses name where none is recorded
    yet (in the micro-grids whose code starts with ``prefix``): a footprint around each
    building's households, floors from the room numbers (``301`` is on the 3rd). Returns
    the new buildings' ids and how many households were linked."""
    created = [int(i) for i in session.scalars(text(_DERIVE_BUILDINGS_SQL), {"prefix": prefix})]
    if created:
        session.execute(text(_DERIVE_UNITS_SQL), {"buildings": created})
    return created, link_households(session, building_ids=created)


# ----------------------------------------------------------------------------- the demo


# The household at a person's home (the first, if several share the door) is looked up per
# person on the households' spatial index: a LATERAL with a LIMIT, which the planner cannot
# flatten into a join; as a join, a district's households were scanned once per person.
_DEMO_HEADS_SQL = """
INSERT INTO building_post (building_id, role, person_id, start_date)
SELECT DISTINCT ON (h.building_id) h.building_id, 'building_head', p.id, :start
FROM person p
JOIN assignment a ON a.person_id = p.id AND a.role = 'building_leader' AND a.end_date IS NULL
CROSS JOIN LATERAL (
  SELECT h.building_id FROM household h
  WHERE ST_DWithin(h.geom, p.home, 1e-6) AND h.building_id IS NOT NULL
  ORDER BY h.id LIMIT 1
) h
WHERE p.kind = ANY(:kinds)
ORDER BY h.building_id, p.id
ON CONFLICT DO NOTHING
"""

_DEMO_UNIT_HEADS_SQL = """
INSERT INTO building_post (building_id, unit_id, role, person_id, start_date)
SELECT DISTINCT ON (h.unit_id) h.building_id, h.unit_id, 'unit_head', c.person_id, :start
FROM household h
JOIN coverage c ON c.household_id = h.id
JOIN person p ON p.id = c.person_id AND p.kind = ANY(:kinds)
WHERE h.unit_id IS NOT NULL
GROUP BY h.building_id, h.unit_id, c.person_id
ORDER BY h.unit_id, count(*) DESC, c.person_id
ON CONFLICT DO NOTHING
"""

_DEMO_CENTRALS_SQL = """
INSERT INTO central_household (household_id, person_id, start_date)
SELECT DISTINCT ON (h.building_id) h.id, p.id, :start
FROM person p
CROSS JOIN LATERAL (
  SELECT h.id, h.building_id FROM household h
  WHERE ST_DWithin(h.geom, p.home, 1e-6) AND h.building_id IS NOT NULL
  ORDER BY h.id LIMIT 1
) h
WHERE p.kind = ANY(:kinds)
ORDER BY h.building_id, p.id, h.id
ON CONFLICT DO NOTHING
RETURNING id
"""

_DEMO_NEIGHBOURS_SQL = """
INSERT INTO central_neighbour (central_id, household_id)
SELECT central_id, household_id FROM (
  SELECT ch.id AS central_id, h.id AS household_id,
         row_number() OVER (PARTITION BY ch.id ORDER BY abs(h.id - own.id), h.id) AS rank
  FROM central_household ch
  JOIN household own ON own.id = ch.household_id
  JOIN household h ON h.building_id = own.building_id AND h.id <> own.id
  WHERE ch.id = ANY(:centrals)
) near
WHERE rank <= :limit
ON CONFLICT DO NOTHING
"""


def seed_demo(session: Session, *, start: dt.date, limit: int) -> dict[str, int]:
    """The demo's buildings from its households' addresses, and their people: each building
    leader (楼栋长) heads the building they live in, the member covering most of a unit's
    households is its 单元长, and in each building a member's household is a 党员中心户
    looking after up to ``limit`` of its nearest neighbours (by household number)."""
    created, linked = derive_from_households(session)
    # The links just made, counted for the planner: with statistics saying no household has
    # a building yet, "building_id IS NOT NULL" looked rare and every person's home was
    # searched among all the linked households instead of on the spatial index.
    session.execute(text("ANALYZE household"))
    holders = {"start": start, "kinds": list(POST_HOLDER_KINDS)}
    heads = session.execute(text(_DEMO_HEADS_SQL), holders)
    unit_heads = session.execute(text(_DEMO_UNIT_HEADS_SQL), holders)
    members = {"start": start, "kinds": list(CENTRAL_MEMBER_KINDS)}
    centrals = [int(i) for i in session.scalars(text(_DEMO_CENTRALS_SQL), members)]
    session.execute(text(_DEMO_NEIGHBOURS_SQL), {"centrals": centrals, "limit": limit})
    return {
        "buildings": len(created),
        "households_linked": linked,
        "building_heads": int(heads.rowcount or 0),  # type: ignore[attr-defined]
        "unit_heads": int(unit_heads.rowcount or 0),  # type: ignore[attr-defined]
        "central_households": len(centrals),
    }
