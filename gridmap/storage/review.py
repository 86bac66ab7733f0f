"""Aggregate queries of the monthly review (一月一研判), over the request tally.

Every count comes from ``request_tally`` (requests filed per week or month, micro-grid,
category code and state, kept current by the database), never from scanning the requests:
the work grows with the number of micro-grids and periods, not with the number of requests.
The one exception is the *overdue* filter, a property of the moment (a running clock past its
stage deadline), which counts the few requests whose clock still runs, live.

A review is confined to grid subtrees: the caller's scope prefixes, narrowed to one grid when
asked. A scope of one person's households (a member) reviews nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypedDict

from geoalchemy2.functions import ST_X, ST_Y
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    Select,
    Subquery,
    and_,
    false,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.core import clock
from gridmap.core.clock import BEIJING
from gridmap.requests.lifecycle import CLOCKED, COUNTED
from gridmap.storage.models import (
    Category,
    ChangeCount,
    Grid,
    Household,
    RequestTally,
    RequestTallyGrid,
    ResidentRequest,
    ReviewHotSpots,
)

Kind = Literal["W", "M"]
Level = Literal["community", "zone", "micro"]
CODE_LENGTH: dict[str, int] = {"community": 12, "zone": 14, "micro": 17}
#: States a review counts unless told otherwise: a duplicate is merged into its original.
COUNTED_STATES = COUNTED

#: code, name, lon, lat of a micro-grid (its label point; None where it has none).
MicroGridRow = Row[str, str, float | None, float | None]


class OverdueRequest(TypedDict):
    """A request whose stage clock ran past its deadline (no personal data)."""

    id: int
    category: str
    category_name: str
    state: str
    micro_grid: str
    created_at: dt.datetime
    stage_deadline: dt.datetime | None


@dataclass(frozen=True)
class ReviewFilter:
    """Which requests a review counts: filed in the periods ``first``..``last`` (starts of
    weeks or months, both included), of these categories and states, inside these subtrees.

    ``prefixes`` is already the intersection of the caller's scope and the chosen grid.
    ``overdue`` keeps only the requests whose stage clock ran past its deadline by ``now``.
    """

    kind: Kind
    first: dt.date
    last: dt.date
    prefixes: tuple[str, ...]
    categories: tuple[str, ...] = ()
    states: tuple[str, ...] = COUNTED_STATES
    overdue: bool = False
    now: dt.datetime | None = None


def review_prefixes(scope: Scope, grid_code: str | None) -> tuple[str, ...]:
    """The subtrees a review may count: the scope's, narrowed to ``grid_code`` (which must lie
    inside one of them, else nothing)."""
    if grid_code is None:
        return scope.prefixes
    if any(grid_code.startswith(p) for p in scope.prefixes):
        return (grid_code,)
    return tuple(p for p in scope.prefixes if p.startswith(grid_code))


def _total(column: Any) -> ColumnElement[int]:
    """``sum(column)`` as a bigint (PostgreSQL sums integers as numeric)."""
    return func.sum(column).cast(BigInteger)


def in_subtrees(column: Any, prefixes: Sequence[str]) -> ColumnElement[bool]:
    if not prefixes:
        return false()
    return or_(*[column.startswith(p, autoescape=True) for p in prefixes])


def _period_start(column: Any, kind: Kind) -> ColumnElement[Any]:
    unit = "week" if kind == "W" else "month"
    return func.date_trunc(unit, func.timezone(BEIJING.key, column)).cast(
        RequestTally.period_start.type
    )


@dataclass(frozen=True)
class _Source:
    """The filter's rows before grouping: ``stmt`` selects nothing yet; ``code`` (the
    micro-grid's code), ``period`` and ``category`` are its columns, ``n`` what a row counts."""

    stmt: Select[Any]
    code: Any
    period: Any
    category: Any
    n: Any


def _source(wanted: ReviewFilter, *, by_category: bool = False) -> _Source:
    """From the tally (per category only when the filter or the caller needs it: otherwise the
    per-micro-grid tally, whose ``category_code`` is null), or, for ``overdue``, from the
    requests whose clock runs past its deadline (a partial index of running clocks)."""
    micro = aliased(Grid)
    if wanted.overdue:
        r, c = aliased(ResidentRequest), aliased(Category)
        stmt = (
            select()
            .select_from(r)
            .join(c, c.id == r.category_id)
            .join(micro, micro.id == r.micro_grid_id)
            .where(_overdue(r, wanted))
        )
        found = _Source(
            stmt, micro.code, _period_start(r.created_at, wanted.kind), c.code, literal(1)
        )
    else:
        per_category = by_category or bool(wanted.categories)
        t: Any = aliased(RequestTally if per_category else RequestTallyGrid)
        n = sum((getattr(t, s) for s in wanted.states[1:]), getattr(t, wanted.states[0]))
        stmt = (
            select()
            .select_from(t)
            .join(micro, micro.id == t.micro_grid_id)
            .where(
                t.period_kind == wanted.kind,
                t.period_start.between(wanted.first, wanted.last),
            )
        )
        category = t.category_code if per_category else null()
        found = _Source(stmt, micro.code, t.period_start, category, n)
    stmt = found.stmt.where(in_subtrees(micro.code, wanted.prefixes))
    if wanted.categories:
        stmt = stmt.where(found.category.in_(wanted.categories))
    return replace(found, stmt=stmt)


def _grouped(source: _Source, *keys: Any) -> Select[Any]:
    """The source's count per ``keys``, in one GROUP BY; groups counting nothing (tally rows
    of other states only) are left out."""
    total = _total(source.n)
    return source.stmt.add_columns(*keys, total.label("n")).group_by(*keys).having(total > 0)


def counted(wanted: ReviewFilter, *, by_category: bool = False) -> Subquery:
    """The filter's counts as a subquery ``(code, period_start, category_code, n)``, ``code``
    being the micro-grid's code, inside the filter's subtrees (see :func:`_source`)."""
    source = _source(wanted, by_category=by_category)
    keys = [source.code, source.period]
    if by_category or wanted.categories or wanted.overdue:
        keys.append(source.category)
    total = _total(source.n)
    stmt = source.stmt.add_columns(
        source.code.label("code"),
        source.period.label("period_start"),
        source.category.label("category_code"),
        total.label("n"),
    )
    return stmt.group_by(*keys).having(total > 0).subquery("counted")


def _overdue(r: Any, wanted: ReviewFilter) -> ColumnElement[bool]:
    """Filed in the filter's periods, in its states, with a clock past its stage deadline."""
    start, end = filed_window(wanted)
    now = literal(wanted.now or clock.now())
    return and_(
        r.state.in_([s for s in wanted.states if s in CLOCKED]),
        r.stage_deadline < now,
        r.created_at >= start,
        r.created_at < end,
    )


def filed_window(wanted: ReviewFilter) -> tuple[dt.datetime, dt.datetime]:
    """The instants ``[start, end)`` of the filter's periods (Beijing time)."""
    return _day_start(wanted.first), _day_start(_after(wanted.kind, wanted.last))


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=BEIJING)


def _after(kind: Kind, start: dt.date) -> dt.date:
    """The start of the period after the one starting on ``start``."""
    if kind == "W":
        return start + dt.timedelta(days=7)
    return dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)


def by_grid(session: Session, wanted: ReviewFilter, level: Level) -> dict[str, int]:
    """Counts per grid code of ``level`` (grids without requests are absent)."""
    source = _source(wanted)
    stmt = _grouped(source, func.substr(source.code, 1, CODE_LENGTH[level]))
    return {row[0]: int(row[1]) for row in session.execute(stmt)}


def by_category(session: Session, wanted: ReviewFilter) -> dict[str, int]:
    """Counts per category code, largest first."""
    source = _source(wanted, by_category=True)
    stmt = _grouped(source, source.category)
    stmt = stmt.order_by(_total(source.n).desc(), source.category)
    return {row[0]: int(row[1]) for row in session.execute(stmt)}


def by_period(session: Session, wanted: ReviewFilter) -> dict[dt.date, int]:
    """Counts per period start (periods without requests are absent)."""
    source = _source(wanted)
    stmt = _grouped(source, source.period).order_by(source.period)
    return {row[0]: int(row[1]) for row in session.execute(stmt)}


def by_micro_and_period(
    session: Session, wanted: ReviewFilter
) -> tuple[list[str], list[dt.date], list[int]]:
    """Micro-grid codes, period starts and counts, one entry per micro-grid and period with
    requests, as three arrays of one row (no row object per count)."""
    source = _source(wanted)
    rows = _grouped(source, source.code.label("code"), source.period.label("start")).subquery()
    stmt = select(
        func.array_agg(rows.c.code), func.array_agg(rows.c.start), func.array_agg(rows.c.n)
    )
    codes, periods, counts = session.execute(stmt).one()
    return list(codes or []), list(periods or []), list(counts or [])


def micro_grids(session: Session, prefixes: Sequence[str]) -> list[MicroGridRow]:
    """Today's micro-grids in the subtrees: ``(code, name, lon, lat)`` ordered by code, drawn
    at their label point."""
    stmt = (
        select(
            Grid.code,
            Grid.name,
            ST_X(Grid.label_point).label("lon"),
            ST_Y(Grid.label_point).label("lat"),
        )
        .where(Grid.level == "micro", Grid.valid_to.is_(None), in_subtrees(Grid.code, prefixes))
        .order_by(Grid.code)
    )
    return list(session.execute(stmt).all())


def community_names(session: Session, prefixes: Sequence[str]) -> dict[str, str]:
    """Today's communities touching the subtrees, code → name (to name a micro-grid with its
    community: "1-001" alone says nothing on a street's map)."""
    around = or_(in_subtrees(Grid.code, prefixes), Grid.code.in_([p[:12] for p in prefixes]))
    stmt = select(Grid.code, Grid.name).where(
        Grid.level == "community", Grid.valid_to.is_(None), around
    )
    return {code: name for code, name in session.execute(stmt)}


def heat(session: Session, wanted: ReviewFilter, level: Level) -> list[Row[float, float, int]]:
    """Weighted points ``(lat, lon, n)``: the counts per grid of ``level`` drawn at today's
    grid's label point (a grid that no longer exists is not drawn)."""
    source = _source(wanted)
    code = func.substr(source.code, 1, CODE_LENGTH[level]).label("code")
    sums = _grouped(source, code).subquery()
    stmt = (
        select(ST_Y(Grid.label_point), ST_X(Grid.label_point), sums.c.n)
        .join(Grid, and_(Grid.code == sums.c.code, Grid.valid_to.is_(None)))
        .order_by(sums.c.n.desc())
    )
    return list(session.execute(stmt).all())


def grid_count(session: Session, prefixes: Sequence[str], level: Level) -> int:
    """How many of today's grids of ``level`` lie in the subtrees."""
    stmt = select(func.count()).where(
        Grid.level == level, Grid.valid_to.is_(None), in_subtrees(Grid.code, prefixes)
    )
    return int(session.scalar(stmt) or 0)


def households_by_grid(session: Session, prefixes: Sequence[str], level: Level) -> dict[str, int]:
    """Households per grid code of ``level`` in the subtrees (for rates per 100 households)."""
    code = func.substr(Grid.code, 1, CODE_LENGTH[level])
    stmt = (
        select(code, func.count())
        .select_from(Household)
        .join(Grid, Grid.id == Household.micro_grid_id)
        .where(in_subtrees(Grid.code, prefixes))
        .group_by(code)
    )
    return {row[0]: int(row[1]) for row in session.execute(stmt)}


def current_grid(session: Session, code: str) -> Row[str, str, str] | None:
    """Today's grid of ``code``: code, name, level."""
    stmt = select(Grid.code, Grid.name, Grid.level).where(
        Grid.code == code, Grid.valid_to.is_(None)
    )
    return session.execute(stmt).first()


def overdue_requests(session: Session, wanted: ReviewFilter, *, limit: int) -> list[OverdueRequest]:
    """The filter's requests whose clock ran past the stage deadline, most overdue first:
    id, category, state, micro-grid, filing time and deadline (no personal data)."""
    micro, c = aliased(Grid), aliased(Category)
    r = ResidentRequest
    stmt = (
        select(
            r.id,
            c.code.label("category"),
            c.name.label("category_name"),
            r.state,
            micro.code.label("micro_grid"),
            r.created_at,
            r.stage_deadline,
        )
        .join(c, c.id == r.category_id)
        .join(micro, micro.id == r.micro_grid_id)
        .where(
            _overdue(r, wanted),
            in_subtrees(micro.code, wanted.prefixes),
        )
        .order_by(r.stage_deadline, r.id)
        .limit(limit)
    )
    if wanted.categories:
        stmt = stmt.where(c.code.in_(wanted.categories))
    return [
        OverdueRequest(
            id=rid,
            category=category,
            category_name=category_name,
            state=state,
            micro_grid=micro_grid,
            created_at=created_at,
            stage_deadline=deadline,
        )
        for rid, category, category_name, state, micro_grid, created_at, deadline in (
            session.execute(stmt)
        )
    ]


def areas(session: Session, prefixes: Sequence[str], *, limit: int = 300) -> list[Row[str, str]]:
    """Today's communities and zones in the subtrees, ``(code, name)``, to review one of."""
    stmt = (
        select(Grid.code, Grid.name)
        .where(
            Grid.level.in_(("community", "zone")),
            Grid.valid_to.is_(None),
            in_subtrees(Grid.code, prefixes),
        )
        .order_by(Grid.code)
        .limit(limit)
    )
    return list(session.execute(stmt).all())


def extent(session: Session, prefixes: Sequence[str]) -> tuple[float, ...] | None:
    """``(min lon, min lat, max lon, max lat)`` of today's communities in the subtrees."""
    box = func.ST_Extent(Grid.geom)
    stmt = select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box)).where(
        Grid.valid_to.is_(None), Grid.level == "community", in_subtrees(Grid.code, prefixes)
    )
    row = session.execute(stmt).one()
    return None if row[0] is None else tuple(float(v) for v in row)


# ------------------------------------------------------------------- stored hot-spot answers


def grid_revision(session: Session) -> int:
    """The ``grid`` change count (migration 0033): any grid written counts it up."""
    return int(session.scalar(select(ChangeCount.n).where(ChangeCount.name == "grid")) or 0)


def hot_spot_stamp(session: Session, kind: Kind, first: dt.date, last: dt.date) -> str:
    """What a hot-spot answer over the periods ``first``..``last`` was computed under: the grid
    change count, and the per-micro-grid tally's rows and change sum over those periods (a
    tally row is counted up by every statement that changes it, migration 0035)."""
    t = RequestTallyGrid
    rows, changes = session.execute(
        select(func.count(), func.coalesce(func.sum(t.changes), 0)).where(
            t.period_kind == kind, t.period_start.between(first, last)
        )
    ).one()
    return f"{grid_revision(session)}:{int(rows)}:{int(changes)}"


def stored_hot_spots(session: Session, key: str, stamp: str) -> dict[str, Any] | None:
    """The hot-spot answer stored under ``key`` if it was computed under ``stamp``."""
    stmt = select(ReviewHotSpots.answer).where(
        ReviewHotSpots.key == key, ReviewHotSpots.stamp == stamp
    )
    return session.scalar(stmt)


def keep_hot_spots(session: Session, key: str, stamp: str, answer: dict[str, Any]) -> None:
    """Store (or replace) the hot-spot answer of ``key`` computed under ``stamp``."""
    stmt = pg_insert(ReviewHotSpots).values(key=key, stamp=stamp, answer=answer)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ReviewHotSpots.key],
            set_={
                "stamp": stmt.excluded.stamp,
                "answer": stmt.excluded.answer,
                "computed_at": func.now(),
            },
        )
    )
