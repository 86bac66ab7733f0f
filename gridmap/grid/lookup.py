"""Answers for one place or one household: which grids, which staff, which members.

Locate (MapIt-style): a point → micro-grid → zone → community with the people assigned at
each level. Coverage: a household's grid chain, its staff and the members who cover it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core.errors import NotFound
from gridmap.core.privacy import Disclosure
from gridmap.spatial.crs import check_lonlat, parse_crs, to_cgcs2000
from gridmap.storage import grids, households

LEVELS = ("micro", "zone", "community")


def to_storage_point(x: float, y: float, crs_text: str) -> tuple[float, float]:
    """Convert a point declared in ``crs_text`` to EPSG:4490 lon/lat, checking it is in China."""
    crs = parse_crs(crs_text)
    lon, lat = to_cgcs2000(np.array([x]), np.array([y]), crs)
    check_lonlat(lon, lat, label="point")
    return float(lon[0]), float(lat[0])


def _with_staff(chain: dict[str, grids.StaffedGridPart], disclosure: Disclosure) -> dict[str, Any]:
    """``{level: grid}`` for every level, each grid with its staff, None where missing."""
    out: dict[str, Any] = dict.fromkeys(LEVELS)
    for level, part in chain.items():
        out[level] = {k: part[k] for k in ("code", "name", "level", "kind", "in_scope")}
        out[level]["staff"] = [disclosure.staff_contact(s) for s in part["staff"]]
    return out


def locate(
    session: Session, x: float, y: float, crs_text: str, scope: Scope, disclosure: Disclosure
) -> dict[str, Any]:
    """The grids in ``scope`` containing a point at each level, with the people assigned."""
    lon, lat = to_storage_point(x, y, crs_text)
    chain = grids.chain_at_point(session, lon, lat, scope)
    if not chain:
        raise NotFound(f"The point ({lon:.6f}, {lat:.6f}) lies outside every grid you can see.")
    return {"point": {"lon": lon, "lat": lat}, "grids": _with_staff(chain, disclosure)}


def household_coverage(
    session: Session, household_id: int, scope: Scope, disclosure: Disclosure
) -> dict[str, Any]:
    """A household's grid chain with its staff, and the members who look after it.

    Phone numbers are masked, staff names as ``disclosure`` says; ``gridmap.api.reveal``
    gives plain values.
    """
    row = households.coverage_of(session, household_id, scope)
    if row is None:
        raise NotFound(f"There is no household {household_id}.")
    return {
        "household": row,
        "grids": _with_staff(grids.staffed_chain(row.chain), disclosure),
        "members": [disclosure.staff_contact(m) for m in row.members],
        "building": _building(row, disclosure),
    }


def _building(row: Any, disclosure: Disclosure) -> dict[str, Any] | None:
    """The household's building and unit (numbers as its doors), their 楼栋长 and 单元长 and
    the 党员中心户 looking after it, names as ``disclosure`` says, phones masked (None when
    it has no building and no 中心户 looks after it)."""
    central = row.central
    if row.building_id is None and central is None:
        return None
    # A household without a building has no posts over it (the subquery found none).
    return {
        "id": row.building_id,
        "number": disclosure.door(row.building_number),
        "name": disclosure.door(row.building_name),
        "unit": disclosure.door(row.unit_number),
        "posts": [
            disclosure.staff_contact(p) | {"unit": disclosure.door(p["unit"])} for p in row.posts
        ],
        "central": central and central | {"person": disclosure.staff_contact(central["person"])},
    }
