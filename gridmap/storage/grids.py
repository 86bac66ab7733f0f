"""Queries of the grid aggregate: grids, their chain of parents and the staff on each."""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar, TypeVarTuple

from geoalchemy2.functions import ST_AsGeoJSON, ST_Intersects, ST_MakeEnvelope, ST_Point
from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    Float,
    Row,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, distinct_on
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.core.engine import PREPARED
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


class StaffedGridPart(TypedDict):
    """One grid of a chain (micro-grid, zone, community) with its staff of today."""

    id: int
    code: str
    name: str
    level: str
    kind: str
    #: In the reader's scope; False for the zone or community named above it.
    in_scope: bool
    staff: list[StaffEntry]


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


def staff_today(grid_id: Any) -> ScalarSelect[Any]:
    """The people assigned today to the grid ``grid_id`` (a column of the enclosing query),
    as a JSON array of :class:`StaffEntry` objects ordered by role and person: a grid's staff
    within the statement that finds the grid."""
    today = func.current_date()
    post, person = aliased(Assignment), aliased(Person)
    entry = func.json_build_object(
        "person_id", person.id, "name", person.name, "phone", person.phone, "role", post.role
    )
    return (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(entry, post.role, person.id)),
                func.json_build_array(),
            )
        )
        .select_from(post)
        .join(person, person.id == post.person_id)
        .where(
            post.grid_id == grid_id,
            post.start_date <= today,
            or_(post.end_date.is_(None), post.end_date > today),
        )
        .scalar_subquery()
    )


def chain_at_point(
    session: Session, lon: float, lat: float, scope: Scope
) -> dict[str, StaffedGridPart]:
    """The current grids containing a point, one per level (smallest id on a shared edge),
    each with its staff of today: those in ``scope``, and the zone and community above one
    in ``scope`` there (the chain is not secret: a worker scoped to a micro-grid is told which
    zone and community it belongs to). One statement.

    Returns ``{level: {id, code, name, level, kind, in_scope, staff}}``.
    """
    rows = session.execute(_chain_at_point(scope), {"lon": lon, "lat": lat})
    return {
        level: StaffedGridPart(
            id=gid, code=code, name=name, level=level, kind=kind, in_scope=in_scope, staff=staff
        )
        for gid, code, name, level, kind, in_scope, staff in rows
    }


@functools.lru_cache(maxsize=1024)
def _chain_at_point(scope: Scope) -> Select[Any]:
    """``chain_at_point``'s statement for ``scope``, the point bound as ``lon`` and ``lat``:
    built once per scope (building it costs more than running it)."""
    point = ST_Point(bindparam("lon", type_=Float), bindparam("lat", type_=Float), SRID)
    below = aliased(Grid)
    seen_below = (
        select(below.id)
        .where(below.valid_to.is_(None), ST_Intersects(below.geom, point))
        .where(below.code.startswith(Grid.code), below.code != Grid.code)
        .where(grid_visible(scope, below))
        .exists()
    )
    return (
        select(
            Grid.id,
            Grid.code,
            Grid.name,
            Grid.level,
            Grid.kind,
            grid_visible(scope),
            staff_today(Grid.id),
        )
        .where(current_at(), ST_Intersects(Grid.geom, point))
        .where(or_(grid_visible(scope), seen_below))
        .ext(distinct_on(Grid.level))
        .order_by(Grid.level, Grid.id)
        .execution_options(**PREPARED)
    )


def chain_above(micro: Any, scope: Scope) -> ScalarSelect[Any]:
    """The micro-grid ``micro`` (a grid alias of the enclosing query) with its zone and
    community, each with its staff of today, as a JSON array of :class:`StaffedGridPart`
    objects (micro-grid first; the chain above a grid one may see is named, it is not
    secret). Empty when ``micro`` is NULL."""
    zone, part = aliased(Grid), aliased(Grid)
    fields = {
        "id": part.id,
        "code": part.code,
        "name": part.name,
        "level": part.level,
        "kind": part.kind,
        "in_scope": grid_visible(scope, part),
        "staff": staff_today(part.id),
    }
    entry = func.json_build_object(*(x for pair in fields.items() for x in pair))
    community_id = (
        select(zone.parent_id).where(zone.id == micro.parent_id).correlate(micro).scalar_subquery()
    )
    ids = [micro.id, micro.parent_id, community_id]
    return (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(entry, func.length(part.code).desc())),
                func.json_build_array(),
            )
        )
        .where(part.id.in_(ids))
        .scalar_subquery()
    )


def staffed_chain(parts: list[dict[str, Any]]) -> dict[str, StaffedGridPart]:
    """``chain_above``'s answer as ``chain_at_point``'s: ``{level: part}``, and nothing when
    the micro-grid itself is out of scope (nothing of its chain then)."""
    if not parts or not parts[0]["in_scope"]:
        return {}
    return {part["level"]: StaffedGridPart(**part) for part in parts}  # type: ignore[typeddict-item]


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
