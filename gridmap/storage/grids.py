"""Queries of the grid aggregate: grids, their chain of parents and the staff on each."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar, TypeVarTuple

from geoalchemy2.functions import ST_AsGeoJSON, ST_Intersects, ST_MakeEnvelope, ST_Point
from sqlalchemy import ColumnElement, ColumnExpressionArgument, Row, Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.storage.models import SRID, Assignment, Grid, Person
from gridmap.storage.scoping import grid_visible
from gridmap.storage.sql import GeometryEncoding, geometry_columns

BBox = tuple[float, float, float, float]
RowT = TypeVar("RowT")
Ts = TypeVarTuple("Ts")

#: A grid as the API shows it: id, code, name, level, kind, parent_code, valid_from,
#: valid_to, geojson (text).
GridRow = Row[int, str, str, str, str, str | None, dt.date, dt.date | None, str]
#: code, name, level, kind of a child grid.
ChildRow = Row[str, str, str, str]
#: code, name, level and the bounding box (xmin, ymin, xmax, ymax) of a grid found by search.
GridHitRow = Row[str, str, str, float, float, float, float]


@dataclass(frozen=True)
class Page(Generic[RowT]):
    """One page of rows and the cursor of the next page (``None`` on the last)."""

    rows: list[RowT]
    next_cursor: str | None


class StaffEntry(TypedDict):
    """A person holding a post in a grid today."""

    person_id: int
    name: str
    phone: str | None
    role: str


class GridPart(TypedDict):
    """One grid of a chain (micro-grid, zone, community)."""

    id: int
    code: str
    name: str
    level: str
    kind: str
    #: In the reader's scope; False for the zone or community named above it.
    in_scope: bool


def current_at(at: dt.date | None = None) -> ColumnElement[bool]:
    """Grids valid on ``at`` (today's grids when ``at`` is None)."""
    if at is None:
        return Grid.valid_to.is_(None)
    return and_(Grid.valid_from <= at, or_(Grid.valid_to.is_(None), Grid.valid_to > at))


def envelope(bbox: BBox) -> ColumnElement[Any]:
    return ST_MakeEnvelope(*bbox, SRID)


def _page(
    session: Session, stmt: Select[int, *Ts], key: ColumnExpressionArgument[int], limit: int
) -> Page[Row[int, *Ts]]:
    """One page of ``stmt`` ordered by ``key``; its first column (the id) is the cursor."""
    rows = list(session.execute(stmt.order_by(key).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, str(rows[-1][0]) if more else None)


def _grid_rows(
    parent: type[Grid],
) -> Select[int, str, str, str, str, str | None, dt.date, dt.date | None, str]:
    """Grid rows as the API shows them: with the parent's code and the GeoJSON geometry."""
    return select(*grid_columns(parent), ST_AsGeoJSON(Grid.geom, 7, 0).label("geojson")).outerjoin(
        parent, parent.id == Grid.parent_id
    )


def grid_columns(parent: type[Grid]) -> tuple[Any, ...]:
    """A grid's columns as every answer shows them (``parent`` an alias of Grid, outer-joined
    on ``parent_id``): id, code, name, level, kind, parent_code, valid_from, valid_to."""
    return (
        Grid.id,
        Grid.code,
        Grid.name,
        Grid.level,
        Grid.kind,
        parent.code.label("parent_code"),
        Grid.valid_from,
        Grid.valid_to,
    )


def list_grids(
    session: Session,
    *,
    level: str | None = None,
    parent_code: str | None = None,
    bbox: BBox | None = None,
    at: dt.date | None = None,
    limit: int,
    after_id: int | None = None,
    scope: Scope,
) -> Page[GridRow]:
    """Grids in ``scope`` valid on ``at`` filtered by level, parent code and bbox, by id.

    Each row: id, code, name, level, kind, parent_code, valid_from, valid_to, GeoJSON text.
    """
    parent = aliased(Grid)
    stmt = _grid_rows(parent).where(current_at(at), grid_visible(scope))
    if level:
        stmt = stmt.where(Grid.level == level)
    if parent_code:
        stmt = stmt.where(parent.code == parent_code)
    if bbox:
        stmt = stmt.where(ST_Intersects(Grid.geom, envelope(bbox)))
    if after_id is not None:
        stmt = stmt.where(Grid.id > after_id)
    return _page(session, stmt, Grid.id, limit)


def get_grid(session: Session, code: str, at: dt.date | None, scope: Scope) -> GridRow | None:
    """The grid with ``code`` valid on ``at`` if in ``scope``: a row of ``list_grids``."""
    stmt = _grid_rows(aliased(Grid)).where(Grid.code == code, current_at(at), grid_visible(scope))
    return session.execute(stmt).first()


def children(session: Session, code: str, at: dt.date | None, scope: Scope) -> list[ChildRow]:
    """Code, name, level and kind of the children in ``scope`` of the grid ``code`` valid on
    ``at`` (today's when None).

    A child is matched by its parent's code, not its row: a redraw gives the parent a new row,
    and only the children current at the time follow it, so a past child may point to any
    version of its parent.
    """
    parent = aliased(Grid)
    stmt = (
        select(Grid.code, Grid.name, Grid.level, Grid.kind)
        .join(parent, parent.id == Grid.parent_id)
        .where(parent.code == code, current_at(at), grid_visible(scope))
        .order_by(Grid.code)
    )
    return list(session.execute(stmt).all())


def staff_on(session: Session, code: str, on: dt.date | None = None) -> list[StaffEntry]:
    """People holding a post on ``on`` (today when None) in the grid ``code``, whichever of
    its versions the post was made on."""
    day: ColumnElement[dt.date] | dt.date = func.current_date() if on is None else on
    stmt = (
        select(Person.id, Person.name, Person.phone, Assignment.role)
        .join(Assignment, Assignment.person_id == Person.id)
        .join(Grid, Grid.id == Assignment.grid_id)
        .where(
            Grid.code == code,
            Assignment.start_date <= day,
            or_(Assignment.end_date.is_(None), Assignment.end_date > day),
        )
        .order_by(Assignment.role, Person.id)
        .distinct()
    )
    return [
        StaffEntry(person_id=pid, name=name, phone=phone, role=role)
        for pid, name, phone, role in session.execute(stmt)
    ]


def staff(session: Session, grid_ids: list[int]) -> dict[int, list[StaffEntry]]:
    """People assigned today to each grid: ``{grid_id: [{person_id, name, phone, role}]}``."""
    if not grid_ids:
        return {}
    today = func.current_date()
    stmt = (
        select(Assignment.grid_id, Person.id, Person.name, Person.phone, Assignment.role)
        .join(Person, Person.id == Assignment.person_id)
        .where(
            Assignment.grid_id.in_(grid_ids),
            Assignment.start_date <= today,
            or_(Assignment.end_date.is_(None), Assignment.end_date > today),
        )
        .order_by(Assignment.grid_id, Assignment.role, Person.id)
    )
    out: dict[int, list[StaffEntry]] = {gid: [] for gid in grid_ids}
    for grid_id, person_id, name, phone, role in session.execute(stmt):
        out[grid_id].append(StaffEntry(person_id=person_id, name=name, phone=phone, role=role))
    return out


def chain_at_point(session: Session, lon: float, lat: float, scope: Scope) -> dict[str, GridPart]:
    """The current grids containing a point, one per level (smallest id on a shared edge):
    those in ``scope``, and the zone and community above one in ``scope`` there (the chain
    is not secret: a worker scoped to a micro-grid is told which zone and community it
    belongs to).

    Returns ``{level: {id, code, name, level, kind, in_scope}}``.
    """
    point = ST_Point(lon, lat, SRID)
    below = aliased(Grid)
    seen_below = (
        select(below.id)
        .where(below.valid_to.is_(None), ST_Intersects(below.geom, point))
        .where(below.code.startswith(Grid.code), below.code != Grid.code)
        .where(grid_visible(scope, below))
        .exists()
    )
    stmt = (
        select(Grid.id, Grid.code, Grid.name, Grid.level, Grid.kind, grid_visible(scope))
        .where(current_at(), ST_Intersects(Grid.geom, point))
        .where(or_(grid_visible(scope), seen_below))
        .order_by(Grid.level, Grid.id)
    )
    chain: dict[str, GridPart] = {}
    for gid, code, name, level, kind, in_scope in session.execute(stmt):
        part = GridPart(id=gid, code=code, name=name, level=level, kind=kind, in_scope=in_scope)
        chain.setdefault(level, part)
    return chain


def chain_of_micro_grid(session: Session, micro_grid_id: int, scope: Scope) -> dict[str, GridPart]:
    """A micro-grid in ``scope`` with its zone and community, shaped as ``chain_at_point``'s
    answer: the chain above a grid one may see is named (it is not secret), so a worker
    scoped to a micro-grid reads its zone and community rather than "not in a grid"."""
    zone, community = aliased(Grid), aliased(Grid)
    stmt = (
        select(
            Grid.id,
            Grid.code,
            Grid.name,
            Grid.level,
            Grid.kind,
            grid_visible(scope),
            zone.id,
            zone.code,
            zone.name,
            zone.level,
            zone.kind,
            grid_visible(scope, zone),
            community.id,
            community.code,
            community.name,
            community.level,
            community.kind,
            grid_visible(scope, community),
        )
        .outerjoin(zone, zone.id == Grid.parent_id)
        .outerjoin(community, community.id == zone.parent_id)
        .where(Grid.id == micro_grid_id)
    )
    row = session.execute(stmt).first()
    if row is None:
        return {}
    # select() is typed up to 10 columns; the rest are spelled out here.
    columns: tuple[*_PartColumns, *_PartColumns, *_PartColumns] = row
    if not columns[5]:  # the micro-grid itself is out of scope: nothing of its chain
        return {}
    parts = (_part(columns[0:6]), _part(columns[6:12]), _part(columns[12:18]))
    return {part["level"]: part for part in parts if part is not None}


#: id (None when the outer join found no grid), code, name, level, kind, visible.
_PartColumns = tuple[int | None, str, str, str, str, bool]


def _part(columns: _PartColumns) -> GridPart | None:
    """A grid of ``chain_of_micro_grid``'s row, or None if missing."""
    gid, code, name, level, kind, in_scope = columns
    if gid is None:
        return None
    return GridPart(id=gid, code=code, name=name, level=level, kind=kind, in_scope=in_scope)


def search(session: Session, text: str, limit: int, scope: Scope) -> list[GridHitRow]:
    """Current grids in ``scope`` whose code starts with ``text`` or whose name contains it."""
    pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = (
        select(
            Grid.code,
            Grid.name,
            Grid.level,
            func.ST_XMin(Grid.geom),
            func.ST_YMin(Grid.geom),
            func.ST_XMax(Grid.geom),
            func.ST_YMax(Grid.geom),
        )
        .where(
            current_at(),
            grid_visible(scope),
            or_(
                Grid.code.startswith(pattern, escape="\\"), Grid.name.contains(pattern, escape="\\")
            ),
        )
        .order_by(func.length(Grid.code), Grid.code)
        .limit(limit)
    )
    return list(session.execute(stmt).all())


def current_in_box(session: Session, bbox: BBox, *, limit: int) -> list[dict[str, Any]]:
    """Today's grids meeting ``bbox`` (any level) as GeoJSON features, largest levels first;
    at most ``limit``. No scope: grid outlines carry no personal data."""
    rows = session.execute(
        select(Grid.code, Grid.name, Grid.level, ST_AsGeoJSON(Grid.geom, 7))
        .where(current_at(), ST_Intersects(Grid.geom, envelope(bbox)))
        .order_by(func.length(Grid.code), Grid.code)
        .limit(limit)
    ).all()
    return [
        {
            "type": "Feature",
            "geometry": json.loads(geometry),
            "properties": {"code": code, "name": name, "level": level},
        }
        for code, name, level, geometry in rows
    ]


def export_select(
    scope: Scope,
    *,
    level: str | None = None,
    grid_code: str | None = None,
    at: dt.date | None = None,
    bbox: BBox | None = None,
    geometry: GeometryEncoding | None = None,
) -> Select[Any]:
    """Grids in ``scope`` valid on ``at`` (today's when None), of ``level``, in the subtree of
    ``grid_code`` (itself included) and meeting ``bbox``, ordered by code: id, code, name,
    level, kind, parent_code, valid_from, valid_to, then the outline in ``geometry``'s columns
    (:func:`gridmap.storage.sql.geometry_columns`; ``lonlat`` is a point on its surface)."""
    parent = aliased(Grid)
    stmt = (
        select(*grid_columns(parent), *geometry_columns(Grid.geom, geometry))
        .outerjoin(parent, parent.id == Grid.parent_id)
        .where(current_at(at), grid_visible(scope))
    )
    if level:
        stmt = stmt.where(Grid.level == level)
    if grid_code:
        stmt = stmt.where(Grid.code.startswith(grid_code, autoescape=True))
    if bbox:
        stmt = stmt.where(ST_Intersects(Grid.geom, envelope(bbox)))
    return stmt.order_by(Grid.code, Grid.id)
