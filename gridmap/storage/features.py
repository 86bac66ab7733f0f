"""Queries behind OGC API Features (``gridmap.api.features``): the layers a GIS user reads,
each row filtered by the caller's scope like every other answer.

A collection is a select of its rows (scope applied), its geometry, its feature id (the
order of the pages) and, where it has one, its time. :func:`items` narrows it by a box, a
time interval and exact property values, counts what matched and reads one page, with the
geometry as GeoJSON text in lon/lat order (CRS84) or lat/lon order (EPSG:4490, whose axis
order is latitude first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from geoalchemy2.functions import ST_AsGeoJSON, ST_Intersects
from sqlalchemy import ColumnElement, Row, Select, and_, exists, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.core.clock import BEIJING
from gridmap.storage.grids import BBox, envelope, grid_columns
from gridmap.storage.households import household_columns
from gridmap.storage.models import (
    Category,
    Coverage,
    Grid,
    Household,
    Patrol,
    Person,
    ResidentRequest,
    WorkList,
)
from gridmap.storage.patrols import patrol_visible
from gridmap.storage.requests import request_rows, request_visible
from gridmap.storage.scoping import grid_visible, household_visible

#: The type of a property one may filter on (``?name=value``).
Kind = Literal["string", "integer", "boolean"]
#: A time interval, either end open (None); both ends aware.
Interval = tuple[dt.datetime | None, dt.datetime | None]
GRID_LEVELS = ("community", "zone", "micro")


@dataclass(frozen=True)
class Collection:
    """What the protocol says about a collection: its geometry, whether it has a time, and
    the properties one may filter on."""

    id: str
    geometry: str
    temporal: bool
    queryables: Mapping[str, Kind] = field(default_factory=dict)


def _grid_collection(level: str) -> Collection:
    return Collection(
        f"grids-{level}",
        "MultiPolygon",
        True,
        {"code": "string", "name": "string", "kind": "string", "parent_code": "string"},
    )


COLLECTIONS: dict[str, Collection] = {
    **{f"grids-{level}": _grid_collection(level) for level in GRID_LEVELS},
    "households": Collection(
        "households", "Point", False, {"micro_grid_code": "string", "covered": "boolean"}
    ),
    "requests": Collection(
        "requests",
        "Point",
        True,
        {
            "state": "string",
            "category_code": "string",
            "micro_grid_code": "string",
            "level": "string",
            "source": "string",
        },
    ),
    "patrols": Collection(
        "patrols",
        "MultiLineString",
        True,
        {"grid_code": "string", "person_id": "integer", "source": "string", "work_list": "string"},
    ),
}


@dataclass(frozen=True)
class ItemQuery:
    """What a page of items is narrowed to: a box in lon/lat (stored CRS), a time interval,
    exact property values (typed), and the page."""

    limit: int
    offset: int = 0
    bbox: BBox | None = None
    when: Interval | None = None
    equals: Mapping[str, Any] = field(default_factory=dict)
    #: Geometry with latitude first (EPSG:4490's axis order) instead of CRS84's lon/lat.
    lat_lon: bool = False


@dataclass(frozen=True)
class _Source:
    """A collection's rows in a scope, with the columns the protocol works on."""

    rows: Select[*tuple[Any, ...]]
    geom: Any
    key: Any
    columns: Mapping[str, Any]
    #: Start and end (None: an instant) of a feature's time; None without time.
    time: tuple[Any, Any] | None
    #: Whether the time is in days (grids' validity) rather than moments.
    daily: bool = False


# ------------------------------------------------------------------------------ sources


def _grids(level: str, scope: Scope, when: Interval | None) -> _Source:
    parent = aliased(Grid)
    rows = (
        select(*grid_columns(parent))
        .outerjoin(parent, parent.id == Grid.parent_id)
        .where(Grid.level == level, grid_visible(scope))
    )
    if when is None:  # today's grids unless a time is asked for
        rows = rows.where(Grid.valid_to.is_(None))
    columns = {"code": Grid.code, "name": Grid.name, "kind": Grid.kind, "parent_code": parent.code}
    return _Source(rows, Grid.geom, Grid.id, columns, (Grid.valid_from, Grid.valid_to), True)


def _households(scope: Scope) -> _Source:
    covered = exists().where(Coverage.household_id == Household.id)
    rows = (
        select(*household_columns())
        .outerjoin(Grid, Grid.id == Household.micro_grid_id)
        .where(household_visible(scope))
    )
    columns = {"micro_grid_code": Grid.code, "covered": covered}
    return _Source(rows, Household.geom, Household.id, columns, None)


def _requests(scope: Scope) -> _Source:
    rows = request_rows().where(request_visible(scope))
    columns = {
        "state": ResidentRequest.state,
        "category_code": Category.code,
        "micro_grid_code": Grid.code,
        "level": ResidentRequest.level,
        "source": ResidentRequest.source,
    }
    return _Source(
        rows, ResidentRequest.geom, ResidentRequest.id, columns, (ResidentRequest.created_at, None)
    )


def _patrols(scope: Scope) -> _Source:
    length = func.ST_Length(func.geography(func.ST_Force2D(Patrol.track)))
    rows = (
        select(
            Patrol.id,
            Patrol.person_id,
            Person.name.label("person_name"),
            Patrol.source,
            Patrol.started_at,
            Patrol.ended_at,
            WorkList.code.label("list_code"),
            WorkList.name.label("list_name"),
            WorkList.kind.label("list_kind"),
            Grid.code.label("grid_code"),
            Grid.name.label("grid_name"),
            func.coalesce(length, 0.0).label("length_m"),
        )
        .join(Person, Person.id == Patrol.person_id)
        .join(WorkList, WorkList.id == Patrol.work_list_id)
        .outerjoin(Grid, Grid.id == Patrol.grid_id)
        .where(patrol_visible(scope))
    )
    columns = {
        "grid_code": Grid.code,
        "person_id": Patrol.person_id,
        "source": Patrol.source,
        "work_list": WorkList.code,
    }
    track = func.ST_Force2D(Patrol.track)
    return _Source(rows, track, Patrol.id, columns, (Patrol.started_at, Patrol.ended_at))


def _source(collection: str, scope: Scope, when: Interval | None) -> _Source:
    makers: dict[str, Callable[[], _Source]] = {
        "households": lambda: _households(scope),
        "requests": lambda: _requests(scope),
        "patrols": lambda: _patrols(scope),
    }
    if collection.startswith("grids-"):
        return _grids(collection.removeprefix("grids-"), scope, when)
    return makers[collection]()


# ------------------------------------------------------------------------------ clauses


def _bbox_clause(source: _Source, bbox: BBox) -> ColumnElement[bool]:
    return ST_Intersects(source.geom, envelope(bbox))


def _day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(BEIJING).date()


def _time_clause(source: _Source, when: Interval) -> ColumnElement[bool]:
    """Features whose time meets the interval (ends included); a feature with an end is the
    period [start, end), one without (NULL end) goes on; grids' validity is in days."""
    assert source.time is not None
    start, end = source.time
    low, high = when
    low_value: Any = _day(low) if source.daily and low else low
    high_value: Any = _day(high) if source.daily and high else high
    clauses: list[ColumnElement[bool]] = []
    if high_value is not None:
        clauses.append(start <= high_value)
    if low_value is not None:
        if end is None:
            clauses.append(start >= low_value)
        else:
            clauses.append(or_(end.is_(None), end > low_value))
    return and_(*clauses) if clauses else true()


def _narrowed(source: _Source, query: ItemQuery) -> Select[*tuple[Any, ...]]:
    stmt = source.rows
    if query.bbox is not None:
        stmt = stmt.where(_bbox_clause(source, query.bbox))
    if query.when is not None and source.time is not None:
        stmt = stmt.where(_time_clause(source, query.when))
    for name, value in query.equals.items():
        stmt = stmt.where(source.columns[name] == value)
    return stmt


def _geojson(source: _Source, lat_lon: bool) -> Any:
    geom = func.ST_FlipCoordinates(source.geom) if lat_lon else source.geom
    return ST_AsGeoJSON(geom, 7, 0).label("geojson")


# ------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ItemPage:
    """One page of features (each row ending in its ``geojson``) and how many matched."""

    rows: list[Row[Any]]
    matched: int


def items(session: Session, collection: str, scope: Scope, query: ItemQuery) -> ItemPage:
    """A page of ``collection``'s features in ``scope`` narrowed by ``query``, by id."""
    source = _source(collection, scope, query.when)
    stmt = _narrowed(source, query)
    matched = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = (
        stmt.add_columns(_geojson(source, query.lat_lon))
        .order_by(source.key)
        .offset(query.offset)
        .limit(query.limit)
    )
    return ItemPage(list(session.execute(page).all()), int(matched))


def item(
    session: Session, collection: str, scope: Scope, feature_id: int, *, lat_lon: bool
) -> Row[Any] | None:
    """One feature of ``collection`` in ``scope`` by its id (any validity for a grid)."""
    source = _source(collection, scope, (None, None))
    stmt = source.rows.add_columns(_geojson(source, lat_lon)).where(source.key == feature_id)
    return session.execute(stmt).first()


@dataclass(frozen=True)
class Extent:
    """The lon/lat box of a collection's features in a scope (None when it has none) and
    the first and last time of its features (None: unknown or going on)."""

    bbox: BBox | None
    first: dt.datetime | dt.date | None
    last: dt.datetime | dt.date | None


def extent(session: Session, collection: str, scope: Scope) -> Extent:
    """What ``collection`` covers in ``scope``: the box of today's grids or of every other
    feature; the time of every version or feature."""
    source = _source(collection, scope, None)
    shapes = source.rows.add_columns(source.geom.label("g")).subquery()
    box = func.ST_Extent(shapes.c.g)
    xmin, ymin, xmax, ymax = session.execute(
        select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
    ).one()
    bbox = None if xmin is None else (float(xmin), float(ymin), float(xmax), float(ymax))
    if source.time is None:
        return Extent(bbox, None, None)
    every = _source(collection, scope, (None, None))
    start, end = every.time or source.time
    stop = start if end is None else end
    timed = every.rows.add_columns(start.label("t0"), stop.label("t1")).subquery()
    first, last, going_on = session.execute(
        select(func.min(timed.c.t0), func.max(timed.c.t1), func.bool_or(timed.c.t1.is_(None)))
    ).one()
    return Extent(bbox, first, None if going_on else last)
