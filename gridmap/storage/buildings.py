"""Queries of the building aggregate: buildings (楼栋) with their units (单元), posts (楼栋长,
单元长) and 党员中心户, and what a household's panel shows of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypedDict

from geoalchemy2.functions import ST_AsGeoJSON, ST_Intersects
from sqlalchemy import Row, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.storage.grids import BBox, Page, _page, envelope
from gridmap.storage.households import subtree_ids
from gridmap.storage.models import (
    Building,
    BuildingPost,
    BuildingUnit,
    CentralHousehold,
    CentralNeighbour,
    Grid,
    Household,
    Person,
)
from gridmap.storage.scoping import (
    building_in_subtree,
    building_visible,
    household_visible,
    person_visible,
)

#: id, number, name, floors, micro_grid_code, units, households, revision, geojson.
BuildingRow = Row[int, str, str | None, int | None, str, int, int, int, str]


class PostEntry(TypedDict):
    """A post on a building: 楼栋长 (``unit`` None) or a unit's 单元长, and who holds it."""

    id: int
    role: str
    unit: str | None
    person_id: int
    name: str
    phone: str | None
    kind: str
    start_date: str
    end_date: str | None


def _household_count() -> Any:
    return (
        select(func.count())
        .where(Household.building_id == Building.id)
        .correlate(Building)
        .scalar_subquery()
    )


def _unit_count() -> Any:
    return (
        select(func.count())
        .where(BuildingUnit.building_id == Building.id)
        .correlate(Building)
        .scalar_subquery()
    )


def _columns() -> tuple[Any, ...]:
    return (
        Building.id,
        Building.number,
        Building.name,
        Building.floors,
        Grid.code.label("micro_grid_code"),
        _unit_count().label("units"),
        _household_count().label("households"),
        Building.revision,
        ST_AsGeoJSON(Building.geom, 7, 0).label("geojson"),
    )


def list_buildings(
    session: Session,
    *,
    bbox: BBox | None,
    grid_code: str | None,
    limit: int,
    after_id: int | None,
    scope: Scope,
) -> Page[BuildingRow]:
    """Buildings in ``scope``, in a bbox and/or a grid's subtree, ordered by id."""
    stmt = (
        select(*_columns())
        .join(Grid, Grid.id == Building.micro_grid_id)
        .where(building_visible(scope))
    )
    if bbox:
        stmt = stmt.where(ST_Intersects(Building.geom, envelope(bbox)))
    if grid_code:
        codes = select(Grid.code).where(Grid.id.in_(subtree_ids(grid_code)))
        stmt = stmt.where(Grid.code.in_(codes))
    if after_id is not None:
        stmt = stmt.where(Building.id > after_id)
    return _page(session, stmt, Building.id, limit)


def get_building(
    session: Session, building_id: int, scope: Scope, *, writable: bool = False, lock: bool = False
) -> BuildingRow | None:
    """One building ``scope`` sees (with ``writable``: may change), or None; ``lock`` holds
    its row until the transaction ends."""
    seen = building_in_subtree(scope) if writable else building_visible(scope)
    stmt = (
        select(*_columns())
        .join(Grid, Grid.id == Building.micro_grid_id)
        .where(Building.id == building_id, seen)
    )
    if lock:
        stmt = stmt.with_for_update(of=Building)
    return session.execute(stmt).first()


def insert_building(session: Session, values: dict[str, Any], wkt: str) -> int:
    """A new building from ``values`` and its geometry as EWKT; returns its id."""
    return int(
        session.execute(
            insert(Building).values(**values, geom=func.ST_GeomFromEWKT(wkt)).returning(Building.id)
        ).scalar_one()
    )


def update_building(
    session: Session, building_id: int, values: dict[str, Any], wkt: str | None
) -> int:
    """Change a building and bump its revision; returns the new revision."""
    if wkt is not None:
        values = values | {"geom": func.ST_GeomFromEWKT(wkt)}
    stmt = (
        update(Building)
        .where(Building.id == building_id)
        .values(**values, revision=Building.revision + 1)
        .returning(Building.revision)
    )
    return int(session.execute(stmt).scalar_one())


def building_numbered(session: Session, micro_grid_id: int, number: str) -> int | None:
    """The id of the building numbered ``number`` in a micro-grid (any version of the
    micro-grid's code: a redraw makes a new row), if recorded."""
    code = select(Grid.code).where(Grid.id == micro_grid_id).scalar_subquery()
    stmt = (
        select(Building.id)
        .join(Grid, Grid.id == Building.micro_grid_id)
        .where(Grid.code == code, Building.number == number)
        .order_by(Building.id)
        .limit(1)
    )
    return session.scalar(stmt)


def micro_grid_at(session: Session, wkt: str) -> Row[int, str] | None:
    """The current micro-grid (id, code) holding a geometry's point on its surface."""
    point = func.ST_PointOnSurface(func.ST_GeomFromEWKT(wkt))
    stmt = select(Grid.id, Grid.code).where(
        Grid.id == func.gridmap_micro_grid_at(point), Grid.level == "micro"
    )
    return session.execute(stmt).first()


def units(session: Session, building_id: int) -> list[Row[int, str, int | None, int]]:
    """A building's units: id, number, floors, households linked to it; by number."""
    households = (
        select(func.count())
        .where(Household.unit_id == BuildingUnit.id)
        .correlate(BuildingUnit)
        .scalar_subquery()
    )
    stmt = (
        select(BuildingUnit.id, BuildingUnit.number, BuildingUnit.floors, households)
        .where(BuildingUnit.building_id == building_id)
        .order_by(func.length(BuildingUnit.number), BuildingUnit.number)
    )
    return list(session.execute(stmt).all())


def add_units(
    session: Session, building_id: int, numbers: Sequence[tuple[str, int | None]]
) -> None:
    """Add units (number, floors) to a building; existing numbers get the floors given."""
    for number, floors in numbers:
        found = session.scalar(
            select(BuildingUnit.id).where(
                BuildingUnit.building_id == building_id, BuildingUnit.number == number
            )
        )
        if found is None:
            session.execute(
                insert(BuildingUnit).values(building_id=building_id, number=number, floors=floors)
            )
        else:
            session.execute(
                update(BuildingUnit).where(BuildingUnit.id == found).values(floors=floors)
            )


def unit_in_use(session: Session, building_id: int, keep: list[str]) -> list[str]:
    """Numbers of the building's units not in ``keep`` that hold households or a current
    单元长 (they cannot be dropped)."""
    post = aliased(BuildingPost)
    used = or_(
        select(Household.id).where(Household.unit_id == BuildingUnit.id).exists(),
        select(post.id).where(post.unit_id == BuildingUnit.id, post.end_date.is_(None)).exists(),
    )
    stmt = select(BuildingUnit.number).where(
        BuildingUnit.building_id == building_id, BuildingUnit.number.not_in(keep), used
    )
    return list(session.scalars(stmt))


def drop_units(session: Session, building_id: int, keep: list[str]) -> None:
    session.execute(
        delete(BuildingUnit).where(
            BuildingUnit.building_id == building_id, BuildingUnit.number.not_in(keep)
        )
    )


def unit_id(session: Session, building_id: int, number: str) -> int | None:
    return session.scalar(
        select(BuildingUnit.id).where(
            BuildingUnit.building_id == building_id, BuildingUnit.number == number
        )
    )


def bump(session: Session, building_id: int) -> int:
    """Bump a building's revision (its units, posts or 中心户 changed); returns it."""
    return update_building(session, building_id, {}, None)


# ------------------------------------------------------------------------------- posts


def posts(
    session: Session, building_ids: list[int], *, history: bool
) -> dict[int, list[PostEntry]]:
    """The posts on each building, current ones (or all with ``history``), 楼栋长 first."""
    stmt = (
        select(
            BuildingPost.id,
            BuildingPost.building_id,
            BuildingPost.role,
            BuildingUnit.number,
            Person.id,
            Person.name,
            Person.phone,
            Person.kind,
            BuildingPost.start_date,
            BuildingPost.end_date,
        )
        .join(Person, Person.id == BuildingPost.person_id)
        .outerjoin(BuildingUnit, BuildingUnit.id == BuildingPost.unit_id)
        .where(BuildingPost.building_id.in_(building_ids))
        .order_by(
            BuildingPost.building_id,
            BuildingPost.unit_id.nulls_first(),
            BuildingPost.start_date.desc(),
            BuildingPost.id.desc(),
        )
    )
    if not history:
        stmt = stmt.where(BuildingPost.end_date.is_(None))
    out: dict[int, list[PostEntry]] = {b: [] for b in building_ids}
    for pid, bid, role, unit, person, name, phone, kind, start, end in session.execute(stmt):
        out[bid].append(
            PostEntry(
                id=pid,
                role=role,
                unit=unit,
                person_id=person,
                name=name,
                phone=phone,
                kind=kind,
                start_date=start.isoformat(),
                end_date=end.isoformat() if end else None,
            )
        )
    return out


def current_post(
    session: Session, building_id: int, unit: int | None
) -> Row[int, int, dt.date] | None:
    """The current post (id, person_id, start_date) of 楼栋长 (``unit`` None) or a unit's."""
    where = BuildingPost.unit_id.is_(None) if unit is None else BuildingPost.unit_id == unit
    stmt = select(BuildingPost.id, BuildingPost.person_id, BuildingPost.start_date).where(
        BuildingPost.building_id == building_id, where, BuildingPost.end_date.is_(None)
    )
    return session.execute(stmt).first()


def end_post(session: Session, post_id: int, end: dt.date) -> None:
    session.execute(update(BuildingPost).where(BuildingPost.id == post_id).values(end_date=end))


def add_post(
    session: Session, building_id: int, unit: int | None, person_id: int, start: dt.date
) -> int:
    role = "building_head" if unit is None else "unit_head"
    stmt = (
        insert(BuildingPost)
        .values(
            building_id=building_id,
            unit_id=unit,
            role=role,
            person_id=person_id,
            start_date=start,
        )
        .returning(BuildingPost.id)
    )
    return int(session.execute(stmt).scalar_one())


def person_kind(session: Session, person_id: int, scope: Scope) -> str | None:
    """The kind of a person the caller may name for a post: one they see, or one whose home
    community is in their subtree (a resident volunteer); None otherwise."""
    home = aliased(Grid)
    at_home = Person.home_community_id.in_(
        select(home.id).where(or_(*[home.code.startswith(p) for p in scope.prefixes]))
    )
    seen = (
        or_(person_visible(scope, Person.id), at_home)
        if scope.prefixes
        else person_visible(scope, Person.id)
    )
    return session.scalar(select(Person.kind).where(Person.id == person_id, seen))


# ------------------------------------------------------------------- 党员中心户


#: id, household_id, person_id, name, phone, kind, start_date, end_date, revision,
#: building_id, micro_grid_id, address.
CentralRow = Row[
    int, int, int, str, str | None, str, dt.date, dt.date | None, int, int | None, int | None, str
]


def _central_columns() -> tuple[Any, ...]:
    return (
        CentralHousehold.id,
        CentralHousehold.household_id,
        Person.id,
        Person.name,
        Person.phone,
        Person.kind,
        CentralHousehold.start_date,
        CentralHousehold.end_date,
        CentralHousehold.revision,
        Household.building_id,
        Household.micro_grid_id,
        Household.address,
    )


def get_central(
    session: Session, central_id: int, scope: Scope, *, writable: bool = False, lock: bool = False
) -> CentralRow | None:
    """A 党员中心户 whose household ``scope`` sees (``writable``: in the subtree)."""
    seen = household_visible(Scope(scope.prefixes)) if writable else household_visible(scope)
    stmt = (
        select(*_central_columns())
        .join(Household, Household.id == CentralHousehold.household_id)
        .join(Person, Person.id == CentralHousehold.person_id)
        .where(CentralHousehold.id == central_id, seen)
    )
    if lock:
        stmt = stmt.with_for_update(of=CentralHousehold)
    return session.execute(stmt).first()


def centrals_in_building(session: Session, building_id: int) -> list[CentralRow]:
    """The current 党员中心户 of a building's households."""
    stmt = (
        select(*_central_columns())
        .join(Household, Household.id == CentralHousehold.household_id)
        .join(Person, Person.id == CentralHousehold.person_id)
        .where(Household.building_id == building_id, CentralHousehold.end_date.is_(None))
        .order_by(CentralHousehold.id)
    )
    return list(session.execute(stmt).all())


def neighbours(session: Session, central_id: int, scope: Scope) -> list[Row[int, str]]:
    """The neighbour households (id, address) a 中心户 looks after that ``scope`` sees."""
    stmt = (
        select(Household.id, Household.address)
        .join(CentralNeighbour, CentralNeighbour.household_id == Household.id)
        .where(CentralNeighbour.central_id == central_id, household_visible(scope))
        .order_by(Household.id)
    )
    return list(session.execute(stmt).all())


def neighbour_counts(session: Session, central_ids: list[int]) -> dict[int, int]:
    stmt = (
        select(CentralNeighbour.central_id, func.count())
        .where(CentralNeighbour.central_id.in_(central_ids))
        .group_by(CentralNeighbour.central_id)
    )
    return {int(c): int(n) for c, n in session.execute(stmt)}


def households_where(
    session: Session, ids: list[int], scope: Scope
) -> list[Row[int, int | None, int | None]]:
    """Of ``ids``, the households ``scope`` may change: id, building_id, micro_grid_id."""
    stmt = select(Household.id, Household.building_id, Household.micro_grid_id).where(
        Household.id.in_(ids), household_visible(Scope(scope.prefixes))
    )
    return list(session.execute(stmt).all())


def central_of(session: Session, household_ids: list[int]) -> dict[int, int]:
    """``{household: the current 中心户 looking after it}`` of ``household_ids``."""
    stmt = select(CentralNeighbour.household_id, CentralNeighbour.central_id).where(
        CentralNeighbour.household_id.in_(household_ids)
    )
    return {int(h): int(c) for h, c in session.execute(stmt)}


def current_central_of_household(session: Session, household_id: int) -> int | None:
    return session.scalar(
        select(CentralHousehold.id).where(
            CentralHousehold.household_id == household_id, CentralHousehold.end_date.is_(None)
        )
    )


def insert_central(session: Session, household_id: int, person_id: int, start: dt.date) -> int:
    stmt = (
        insert(CentralHousehold)
        .values(household_id=household_id, person_id=person_id, start_date=start)
        .returning(CentralHousehold.id)
    )
    return int(session.execute(stmt).scalar_one())


def replace_neighbours(session: Session, central_id: int, household_ids: list[int]) -> None:
    session.execute(delete(CentralNeighbour).where(CentralNeighbour.central_id == central_id))
    if household_ids:
        session.execute(
            insert(CentralNeighbour),
            [{"central_id": central_id, "household_id": h} for h in household_ids],
        )


def bump_central(session: Session, central_id: int, end: dt.date | None = None) -> int:
    values: dict[str, Any] = {"revision": CentralHousehold.revision + 1}
    if end is not None:
        values["end_date"] = end
    stmt = (
        update(CentralHousehold)
        .where(CentralHousehold.id == central_id)
        .values(**values)
        .returning(CentralHousehold.revision)
    )
    return int(session.execute(stmt).scalar_one())
