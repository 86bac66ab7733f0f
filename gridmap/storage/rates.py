"""Queries behind the rates (三率) and timeliness warnings (红黄牌): requests of a period with
their timelines, and the grids a ranking lists, within a scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Row,
    Select,
    and_,
    any_,
    bindparam,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.requests.lifecycle import CLOCKED
from gridmap.storage.grids import current_at
from gridmap.storage.models import (
    Category,
    Department,
    Grid,
    Person,
    RequestEvent,
    RequestRateFact,
    ResidentRequest,
)
from gridmap.storage.requests import RequestRow, request_rows, request_visible
from gridmap.storage.scoping import grid_visible

#: A request that may count in a period: id, state, level, created_at, owner_person_id,
#: owner_user_id, department_id, department (its name), owner_name, micro_grid_code,
#: time_limits (its category's).
PeriodRequestRow = Row[
    int,
    str,
    str,
    dt.datetime,
    int | None,
    int | None,
    int | None,
    str | None,
    str,
    str,
    dict[str, object],
]
#: One event of a period request: request_id, at, action, to_state, detail.
PeriodEventRow = Row[int, dt.datetime, str, str, dict[str, object]]


def grids(session: Session, scope: Scope, level: str, grid_code: str | None) -> list[Row[str, str]]:
    """Today's grids of ``level`` in ``scope`` (inside ``grid_code``): code and name."""
    stmt = select(Grid.code, Grid.name).where(
        Grid.level == level, current_at(), grid_visible(scope)
    )
    if grid_code:
        stmt = stmt.where(Grid.code.startswith(grid_code, autoescape=True))
    return list(session.execute(stmt.order_by(Grid.code)).all())


def _candidates(
    scope: Scope,
    grid_code: str | None,
    start: dt.datetime,
    end: dt.datetime,
    replayed: dt.datetime | None = None,
) -> Select[int]:
    """Ids of the requests in ``scope`` that may count in the period: filed in it, due in it
    (``due_at``), or changed since it began (a rating in it moves ``updated_at``). Duplicates
    never count (they are merged into their original)."""
    micro, r = aliased(Grid), ResidentRequest
    stmt = (
        select(r.id)
        .join(micro, micro.id == r.micro_grid_id)
        .where(
            request_visible(scope),
            r.state != "duplicate",
            r.created_at < end,
            or_(
                r.created_at >= start,
                and_(r.due_at >= start, r.due_at < end),
                r.updated_at >= start,
            ),
        )
    )
    if grid_code:
        stmt = stmt.where(micro.code.startswith(grid_code, autoescape=True))
    if replayed is not None:
        f = RequestRateFact
        stmt = stmt.outerjoin(f, f.request_id == r.id).where(~_kept(replayed, end))
    if scope.department_id is not None:
        # A department's rates are its own: not those of the requests it only co-handles.
        stmt = stmt.where(r.department_id == scope.department_id)
    return stmt


#: The states a request is resolved in (the completion-based 解决率).
RESOLVED_STATES = ("completed", "feedback", "archived")
#: Columns of :func:`fact_tallies`' rows, after the grid code: the counts of a ``Tally``.
TALLY_COLUMNS = (
    "filed",
    "response_counted",
    "responded_on_time",
    "due",
    "resolved",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
    "answered",
    "answered_resolved",
)


def _kept(now: dt.datetime, end: dt.datetime) -> Any:
    """Whether a request's kept facts (``request_rate_fact``) are its facts for a period
    ending at ``end`` judged at ``now``: nothing happened to it after ``now``, and its latest
    answer in the period is its latest answer or it has none there."""
    r, f = ResidentRequest, RequestRateFact
    return and_(
        r.updated_at <= now,
        or_(f.first_answer_at.is_(None), f.first_answer_at >= end, f.last_answer_at < end),
    )


def fact_tallies(
    session: Session,
    scope: Scope,
    grid_code: str | None,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    cut: int,
) -> list[tuple[Any, ...]]:
    """The counts behind the 三率 per grid (the micro-grid's code cut to ``cut``) of the
    period's requests whose kept facts hold (:func:`_kept`), summed in the database from
    ``request_rate_fact``; the rest are :func:`period_requests` with ``replayed=True``."""
    r, f, micro = ResidentRequest, RequestRateFact, aliased(Grid)
    filed = and_(r.created_at >= start, r.created_at < end)
    accepted = f.accepted_at.is_not(None)
    counted = or_(accepted, f.response_deadline < now)
    on_time = and_(
        accepted, or_(f.response_deadline.is_(None), f.accepted_at <= f.response_deadline)
    )
    due = _due(r, f)
    due_in = and_(due >= start, due < end, due <= now)
    answered = and_(f.last_answer_at >= start, f.last_answer_at < end)
    resolved = r.state.in_(RESOLVED_STATES)

    def n(condition: Any) -> Any:
        return func.count().filter(condition).cast(Integer)

    code = func.substr(micro.code, 1, cut)
    ids = _ids(session, scope, grid_code, start, end, None)
    stmt = (
        select(
            code,
            n(filed),
            n(and_(filed, counted)),
            n(and_(filed, on_time)),
            n(due_in),
            n(and_(due_in, resolved)),
            n(and_(answered, f.answer_rating == "satisfied")),
            n(and_(answered, f.answer_rating == "basically_satisfied")),
            n(and_(answered, f.answer_rating == "unsatisfied")),
            n(answered),
            n(and_(answered, f.answer_resolved.is_(True))),
        )
        .select_from(r)
        .join(micro, micro.id == r.micro_grid_id)
        .outerjoin(f, f.request_id == r.id)
        .where(_among(r.id, ids), _kept(now, end))
        .group_by(code)
    )
    return [tuple(row) for row in session.execute(stmt)]


def _due(r: Any, f: Any) -> Any:
    """The due date of the resolution rate: before the first accept, the open response
    stage's deadline, else the filing time; from it, the due date it fixed (``due_at``)."""
    return case(
        (f.accepted_at.is_(None), func.coalesce(f.response_deadline, r.created_at)),
        else_=r.due_at,
    )


def _ids(
    session: Session,
    scope: Scope,
    grid_code: str | None,
    start: dt.datetime,
    end: dt.datetime,
    replayed: dt.datetime | None,
) -> list[int]:
    """The candidates' ids, read first: inside ``IN (subquery)`` the planner may scan every
    request (2 s at 5 M requests for a zone's 608 candidates, 10 ms on their own)."""
    return list(session.scalars(_candidates(scope, grid_code, start, end, replayed)))


def _among(column: Any, ids: list[int]) -> Any:
    """``column = ANY(ids)``, the ids as one array parameter (however many)."""
    return column == any_(bindparam(None, ids, type_=ARRAY(BigInteger)))


def period_requests(
    session: Session,
    scope: Scope,
    grid_code: str | None,
    start: dt.datetime,
    end: dt.datetime,
    *,
    replayed: dt.datetime | None = None,
) -> list[PeriodRequestRow]:
    """The requests that may count in ``[start, end)``, with their grid, owner and limits;
    with ``replayed`` (the moment judged), only those whose kept facts do not hold then (the
    rest are counted by :func:`fact_tallies`)."""
    micro, owner, department = aliased(Grid), aliased(Person), aliased(Department)
    stmt = (
        select(
            ResidentRequest.id,
            ResidentRequest.state,
            ResidentRequest.level,
            ResidentRequest.created_at,
            ResidentRequest.owner_person_id,
            ResidentRequest.owner_user_id,
            ResidentRequest.department_id,
            department.name.label("department"),
            owner.name.label("owner_name"),
            micro.code.label("micro_grid_code"),
            Category.time_limits,
        )
        .join(micro, micro.id == ResidentRequest.micro_grid_id)
        .join(Category, Category.id == ResidentRequest.category_id)
        .outerjoin(owner, owner.id == ResidentRequest.owner_person_id)
        .outerjoin(department, department.id == ResidentRequest.department_id)
        .where(_among(ResidentRequest.id, _ids(session, scope, grid_code, start, end, replayed)))
        .order_by(ResidentRequest.id)
    )
    return list(session.execute(stmt).all())


def period_events(session: Session, requests: list[PeriodRequestRow]) -> list[PeriodEventRow]:
    """The timelines of ``requests`` (:func:`period_requests`' rows), oldest event first; the
    candidates are not looked up again."""
    stmt = (
        select(
            RequestEvent.request_id,
            RequestEvent.at,
            RequestEvent.action,
            RequestEvent.to_state,
            RequestEvent.detail,
        )
        .where(_among(RequestEvent.request_id, [r.id for r in requests]))
        .order_by(RequestEvent.request_id, RequestEvent.at, RequestEvent.id)
    )
    return list(session.execute(stmt).all())


def clocked_requests(
    session: Session, scope: Scope, grid_code: str | None, now: dt.datetime
) -> list[RequestRow]:
    """Requests in ``scope`` whose stage clock runs and has started by ``now``: the candidates
    for a yellow or red card, as ``list_requests`` rows, the most overdue first."""
    stmt = request_rows().where(
        request_visible(scope),
        and_(
            ResidentRequest.state.in_(CLOCKED),
            ResidentRequest.stage_deadline.is_not(None),
            ResidentRequest.stage_started_at <= now,
        ),
    )
    if grid_code:
        stmt = stmt.where(Grid.code.startswith(grid_code, autoescape=True))
    order = (ResidentRequest.stage_deadline, ResidentRequest.id)
    return list(session.execute(stmt.order_by(*order)).all())
