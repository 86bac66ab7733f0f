"""Queries of the household aggregate: households by area or grid, and who covers them."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any, TypedDict, cast

from geoalchemy2.functions import ST_X, ST_Y, ST_AsGeoJSON, ST_Intersects
from sqlalchemy import BigInteger, Label, Row, Select, bindparam, exists, func, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.core.engine import PREPARED
from gridmap.storage.grids import BBox, Page, _page, chain_above, current_at, envelope
from gridmap.storage.models import (
    Building,
    BuildingPost,
    BuildingUnit,
    CentralHousehold,
    CentralNeighbour,
    Coverage,
    Grid,
    Household,
    Person,
)
from gridmap.storage.scoping import household_visible
from gridmap.storage.sql import GeometryEncoding, geometry_columns, stream

#: A household as the API shows it: id, address, building, unit, room, residents, care_tags,
#: micro_grid_code, covered, geojson (text).
HouseholdRow = Row[
    int, str, str | None, str | None, str | None, int, list[str], str | None, bool, str
]
#: A ``HouseholdRow`` followed by micro_grid_id.
HouseholdDetailRow = Row[
    int, str, str | None, str | None, str | None, int, list[str], str | None, bool, str, int | None
]
#: id, address, lon, lat of a household found by search.
HouseholdHitRow = Row[int, str, float, float]


class CoveringMember(TypedDict):
    """A member who looks after a household."""

    id: int
    name: str
    phone: str | None
    kind: str


def _covered() -> Label[bool]:
    return exists().where(Coverage.household_id == Household.id).label("covered")


def household_columns() -> tuple[Any, ...]:
    """A household's columns as every answer shows them (Grid outer-joined on its micro-grid),
    without its point."""
    return (
        Household.id,
        Household.address,
        Household.building,
        Household.unit,
        Household.room,
        Household.residents,
        Household.care_tags,
        Grid.code.label("micro_grid_code"),
        _covered(),
    )


def _columns() -> tuple[Any, ...]:
    return (*household_columns(), ST_AsGeoJSON(Household.geom, 7, 0).label("geojson"))


def subtree_ids(grid_code: str) -> Select[int]:
    """Ids of the current grid with ``grid_code`` and all its current descendants."""
    top = select(Grid.id).where(Grid.code == grid_code, current_at()).cte(recursive=True)
    below = select(Grid.id).where(Grid.parent_id == top.c.id, current_at())
    tree = top.union_all(below)
    return select(tree.c.id)


def list_households(
    session: Session,
    *,
    bbox: BBox | None = None,
    grid_code: str | None = None,
    limit: int,
    after_id: int | None = None,
    scope: Scope,
) -> Page[HouseholdRow]:
    """Households in ``scope``, in a bbox and/or a grid subtree, ordered by id."""
    stmt = (
        select(*_columns())
        .outerjoin(Grid, Grid.id == Household.micro_grid_id)
        .where(household_visible(scope))
    )
    if bbox:
        stmt = stmt.where(ST_Intersects(Household.geom, envelope(bbox)))
    if grid_code:
        stmt = stmt.where(Household.micro_grid_id.in_(subtree_ids(grid_code)))
    if after_id is not None:
        stmt = stmt.where(Household.id > after_id)
    return _page(session, stmt, Household.id, limit)


#: A household as the CSV download shows it: a ``HouseholdRow`` without its geometry.
HouseholdExportRow = Row[
    int, str, str | None, str | None, str | None, int, list[str], str | None, bool
]


def export_select(
    scope: Scope,
    *,
    bbox: BBox | None = None,
    grid_code: str | None = None,
    geometry: GeometryEncoding | None = None,
) -> Select[Any]:
    """Households in ``scope`` (in a bbox and/or a grid subtree) as the downloads show them,
    ordered by id: a ``HouseholdExportRow``, then the point in ``geometry``'s columns
    (:func:`gridmap.storage.sql.geometry_columns`)."""
    stmt = (
        select(*household_columns(), *geometry_columns(Household.geom, geometry))
        .outerjoin(Grid, Grid.id == Household.micro_grid_id)
        .where(household_visible(scope))
    )
    if bbox:
        stmt = stmt.where(ST_Intersects(Household.geom, envelope(bbox)))
    if grid_code:
        stmt = stmt.where(Household.micro_grid_id.in_(subtree_ids(grid_code)))
    return stmt.order_by(Household.id)


def export_rows(
    session: Session,
    *,
    bbox: BBox | None = None,
    grid_code: str | None = None,
    limit: int,
    scope: Scope,
    batch: int = 2000,
) -> Iterator[HouseholdExportRow]:
    """Households in ``scope`` (in a bbox and/or a grid subtree), ordered by id, at most
    ``limit``: read through a server-side cursor ``batch`` rows at a time, so memory stays
    the same however many there are. The session's transaction must stay open meanwhile."""
    stmt = export_select(scope, bbox=bbox, grid_code=grid_code).limit(limit)
    for row in stream(session, stmt, batch):
        yield cast(HouseholdExportRow, row)


def get_household(session: Session, household_id: int, scope: Scope) -> HouseholdDetailRow | None:
    """One household in ``scope`` (a row of ``list_households`` plus micro_grid_id), or None."""
    stmt = (
        select(*_columns(), Household.micro_grid_id)
        .outerjoin(Grid, Grid.id == Household.micro_grid_id)
        .where(Household.id == household_id, household_visible(scope))
    )
    return session.execute(stmt).first()


def coverage_of(session: Session, household_id: int, scope: Scope) -> Row[*tuple[Any, ...]] | None:
    """One household in ``scope`` as ``list_households`` shows it, then ``chain``: its
    micro-grid, zone and community with their staff (JSON, :func:`grids.chain_above`),
    ``members``: the people who look after it (JSON, :class:`CoveringMember` objects by id),
    and its building's panel: ``building_number``, ``building_name``, ``unit_number``,
    ``posts`` (the current 楼栋长 and this unit's 单元长, JSON as ``buildings.PostEntry``)
    and ``central`` (the 党员中心户 looking after it, or its own designation; JSON or None).
    One statement; None when there is no such household in scope."""
    return session.execute(_coverage_of(scope), {"household_id": household_id}).first()


@functools.lru_cache(maxsize=1024)
def _coverage_of(scope: Scope) -> Select[Any]:
    """``coverage_of``'s statement for ``scope``, the household bound as ``household_id``:
    built once per scope (building it costs more than running it)."""
    person, cover = aliased(Person), aliased(Coverage)
    member = func.json_build_object(
        "id", person.id, "name", person.name, "phone", person.phone, "kind", person.kind
    )
    members = (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(member, person.id)), func.json_build_array()
            )
        )
        .select_from(cover)
        .join(person, person.id == cover.person_id)
        .where(cover.household_id == Household.id)
        .scalar_subquery()
    )
    unit = aliased(BuildingUnit)
    return (
        select(
            *_columns(),
            chain_above(Grid, scope).label("chain"),
            members.label("members"),
            Household.building_id.label("building_id"),
            Building.number.label("building_number"),
            Building.name.label("building_name"),
            unit.number.label("unit_number"),
            _building_posts(unit).label("posts"),
            _central().label("central"),
        )
        .outerjoin(Grid, Grid.id == Household.micro_grid_id)
        .outerjoin(Building, Building.id == Household.building_id)
        .outerjoin(unit, unit.id == Household.unit_id)
        .where(
            Household.id == bindparam("household_id", type_=BigInteger), household_visible(scope)
        )
        .execution_options(**PREPARED)
    )


def _building_posts(household_unit: Any) -> Any:
    """The current posts on the household's building that concern it, 楼栋长 first: the
    building's own and its unit's (JSON list)."""
    person, post_unit = aliased(Person), aliased(BuildingUnit)
    entry = func.json_build_object(
        "id", BuildingPost.id,
        "role", BuildingPost.role,
        "unit", post_unit.number,
        "person_id", person.id,
        "name", person.name,
        "phone", person.phone,
        "kind", person.kind,
        "start_date", BuildingPost.start_date,
        "end_date", BuildingPost.end_date,
    )  # fmt: skip
    order = (
        BuildingPost.unit_id.nulls_first(),
        BuildingPost.start_date.desc(),
        BuildingPost.id.desc(),
    )
    return (
        select(
            func.coalesce(func.json_agg(aggregate_order_by(entry, *order)), func.json_build_array())
        )
        .select_from(BuildingPost)
        .join(person, person.id == BuildingPost.person_id)
        .outerjoin(post_unit, post_unit.id == BuildingPost.unit_id)
        .where(
            BuildingPost.building_id == Household.building_id,
            BuildingPost.end_date.is_(None),
            or_(BuildingPost.unit_id.is_(None), post_unit.number == household_unit.number),
        )
        .scalar_subquery()
    )


def _central() -> Any:
    """The current 党员中心户 looking after the household, or its own designation (the
    smallest id; JSON or None)."""
    person = aliased(Person)
    looked_after = select(CentralNeighbour.central_id).where(
        CentralNeighbour.household_id == Household.id
    )
    entry = func.json_build_object(
        "id", CentralHousehold.id,
        "household_id", CentralHousehold.household_id,
        "is_this_household", CentralHousehold.household_id == Household.id,
        "person", func.json_build_object(
            "id", person.id, "name", person.name, "phone", person.phone, "kind", person.kind
        ),
    )  # fmt: skip
    return (
        select(entry)
        .select_from(CentralHousehold)
        .join(person, person.id == CentralHousehold.person_id)
        .where(
            CentralHousehold.end_date.is_(None),
            or_(
                CentralHousehold.id.in_(looked_after),
                CentralHousehold.household_id == Household.id,
            ),
        )
        .order_by(CentralHousehold.id)
        .limit(1)
        .scalar_subquery()
    )


def search(session: Session, text: str, limit: int, scope: Scope) -> list[HouseholdHitRow]:
    """Households in ``scope`` whose address contains ``text`` (trigram index)."""
    pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = (
        select(Household.id, Household.address, ST_X(Household.geom), ST_Y(Household.geom))
        .where(Household.address.contains(pattern, escape="\\"), household_visible(scope))
        .order_by(func.length(Household.address), Household.id)
        .limit(limit)
    )
    return list(session.execute(stmt).all())


def micro_grids_in_box(session: Session, bbox: BBox) -> dict[int, str | None]:
    """``{household id: its micro-grid's code}`` (None outside every micro-grid) of the
    households inside ``bbox``: compared before and after a grid redraw, the households that
    would move."""
    stmt = (
        select(Household.id, Grid.code)
        .outerjoin(Grid, Grid.id == Household.micro_grid_id)
        .where(ST_Intersects(Household.geom, envelope(bbox)))
    )
    return {int(hid): code for hid, code in session.execute(stmt)}


def at_address(session: Session, text: str, scope: Scope, limit: int = 2) -> list[int]:
    """Ids of the households in ``scope`` whose whole address is ``text`` as addresses are
    compared (``address_key``, ``gridmap_address_key``: NFKC, lower case, no spaces or ASCII
    punctuation), at most ``limit``."""
    stmt = (
        select(Household.id)
        .where(
            Household.address_key == func.gridmap_address_key(text),
            household_visible(scope),
        )
        .order_by(Household.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def building_at_address(session: Session, text: str, scope: Scope) -> Row[float, float] | None:
    """Where the building at address ``text`` stands (``…12号楼``, ``…3栋``): the centre of
    its households in ``scope`` (lon, lat in EPSG:4490), or None when none has it."""
    found = (
        select(Household.geom)
        .where(
            Household.building_key == func.gridmap_address_key(text),
            household_visible(scope),
        )
        .subquery()
    )
    centre = func.ST_Centroid(func.ST_Collect(found.c.geom))
    stmt = select(ST_X(centre), ST_Y(centre)).having(func.count() > 0)
    return session.execute(stmt).first()
