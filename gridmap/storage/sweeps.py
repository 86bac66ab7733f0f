"""Queries of the scheduler's sweep: the requests due for time-driven work, locked so that
concurrent sweeps share them out (``FOR UPDATE SKIP LOCKED``), and the cards and reminders it
raises, each once (unique keys, ``ON CONFLICT DO NOTHING``).

Every batch is read after the last id of the one before (keyset), so a sweep visits each
request at most once even when it leaves some as they are.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from gridmap.requests.lifecycle import CLOCKED, OPEN, STAGE_OF
from gridmap.storage import requests
from gridmap.storage.models import Category, RequestCard, ResidentRequest, User

#: The account the scheduler acts as (migration 0016: inactive, without role).
SYSTEM_USERNAME = "system"


def system_user_id(session: Session) -> int:
    """The id of the scheduler's account."""
    found = session.scalar(select(User.id).where(User.username == SYSTEM_USERNAME))
    if found is None:
        raise LookupError(f"no account {SYSTEM_USERNAME!r}: apply the migrations (0016)")
    return int(found)


def _lock_batch(
    session: Session, condition: ColumnElement[bool], after_id: int, limit: int
) -> list[ResidentRequest]:
    """The next ``limit`` requests meeting ``condition`` after ``after_id``, locked; those
    another transaction holds are skipped (it is handling them)."""
    stmt = (
        select(ResidentRequest)
        .where(condition, ResidentRequest.id > after_id)
        .order_by(ResidentRequest.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        # The row as it is now that it is locked, not as an earlier read of this session
        # left it in the identity map.
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt).all())


def _no_card(colour: str) -> ColumnElement[bool]:
    return ~exists().where(
        RequestCard.request_id == ResidentRequest.id,
        RequestCard.stage_started_at == ResidentRequest.stage_started_at,
        RequestCard.colour == colour,
    )


def card_candidates(
    session: Session, now: dt.datetime, after_id: int, limit: int
) -> list[ResidentRequest]:
    """Requests whose running stage may deserve a card it has not got (not locked): red
    exactly (past the deadline), yellow narrowed (before it; working time decides)."""
    stmt = (
        select(ResidentRequest)
        .where(
            ResidentRequest.id > after_id,
            ResidentRequest.state.in_(CLOCKED),
            ResidentRequest.stage_deadline.is_not(None),
            ResidentRequest.stage_started_at <= now,
            or_(
                and_(ResidentRequest.stage_deadline < now, _no_card("red")),
                and_(ResidentRequest.stage_deadline >= now, _no_card("yellow")),
            ),
        )
        .order_by(ResidentRequest.id)
        .limit(limit)
    )
    return list(session.scalars(stmt).all())


def lock_for_card(session: Session, request_ids: list[int]) -> list[ResidentRequest]:
    """Those of ``request_ids`` no other transaction holds, locked, with a clock running."""
    condition = and_(ResidentRequest.id.in_(request_ids), ResidentRequest.state.in_(CLOCKED))
    return _lock_batch(session, condition, 0, len(request_ids))


def _escalating(states: tuple[str, ...]) -> ColumnElement[bool]:
    """Requests in ``states`` whose category version escalates their stage on lapse."""
    stage = STAGE_OF[states[0]]  # type: ignore[index]
    by_rule = select(Category.id).where(Category.escalate_on_lapse.contains([stage]))
    return and_(ResidentRequest.state.in_(states), ResidentRequest.category_id.in_(by_rule))


def lock_lapsed(
    session: Session, now: dt.datetime, levels: tuple[str, ...], after_id: int, limit: int
) -> list[ResidentRequest]:
    """Open requests at ``levels`` whose stage ran out by ``now`` and whose category says a
    lapse of that stage escalates, locked."""
    by_stage: dict[str, list[str]] = {}
    for state in OPEN:
        by_stage.setdefault(str(STAGE_OF[state]), []).append(state)
    condition = and_(
        ResidentRequest.level.in_(levels),
        ResidentRequest.stage_deadline < now,
        or_(*(_escalating(tuple(states)) for states in by_stage.values())),
    )
    return _lock_batch(session, condition, after_id, limit)


def lock_unrated(
    session: Session, now: dt.datetime, days: int, after_id: int, limit: int
) -> list[ResidentRequest]:
    """Completed requests without the resident's answer ``days`` after completion and past
    their 回访 deadline if they have one, locked; one whose category requires an on-site
    check (核查) only once a check follows its completion."""
    needs_check = (
        select(Category.id)
        .where(Category.id == ResidentRequest.category_id, Category.requires_check)
        .exists()
    )
    condition = and_(
        ResidentRequest.state == "completed",
        ResidentRequest.stage_started_at <= now - dt.timedelta(days=days),
        or_(ResidentRequest.stage_deadline.is_(None), ResidentRequest.stage_deadline <= now),
        or_(~needs_check, requests.checked_since_completion_clause(ResidentRequest.id)),
    )
    return _lock_batch(session, condition, after_id, limit)


def add_card(session: Session, values: dict[str, Any]) -> bool:
    """Record a card unless this stage run already has it; True when added."""
    stmt = (
        pg_insert(RequestCard)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_request_card_stage_run")
        .returning(RequestCard.id)
    )
    return session.execute(stmt).first() is not None
