"""Queries of the visit aggregate (民情日志, ``household_visit``): recording a visit, reading
one or a household's in scope, and linking the request filed from it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.storage.models import Household, HouseholdVisit, Person, StoredFile
from gridmap.storage.scoping import household_visible

#: A visit as the API shows it: id, household_id, person_id, person_name, user_id, patrol_id,
#: at, channel, topics, note, request_id, address, photos (ids, or None for none).
VisitRow = Row[
    int,
    int,
    int,
    str,
    int,
    int | None,
    dt.datetime,
    str,
    list[str],
    str | None,
    int | None,
    str,
    list[str] | None,
]


def insert_visit(session: Session, values: dict[str, Any]) -> int:
    stmt = insert(HouseholdVisit).values(**values).returning(HouseholdVisit.id)
    return int(session.execute(stmt).scalar_one())


def _photos() -> Any:
    """The ids of a visit's photos in upload order (NULL when it has none)."""
    return (
        select(func.array_agg(aggregate_order_by(StoredFile.id, StoredFile.uploaded_at)))
        .where(StoredFile.visit_id == HouseholdVisit.id)
        .scalar_subquery()
    )


def _rows() -> Any:
    return (
        select(
            HouseholdVisit.id,
            HouseholdVisit.household_id,
            HouseholdVisit.person_id,
            Person.name.label("person_name"),
            HouseholdVisit.user_id,
            HouseholdVisit.patrol_id,
            HouseholdVisit.at,
            HouseholdVisit.channel,
            HouseholdVisit.topics,
            HouseholdVisit.note,
            HouseholdVisit.request_id,
            Household.address,
            _photos().label("photos"),
        )
        .join(Person, Person.id == HouseholdVisit.person_id)
        .join(Household, Household.id == HouseholdVisit.household_id)
    )


def get_visit(session: Session, visit_id: int, scope: Scope) -> VisitRow | None:
    """A visit to a household in ``scope``."""
    stmt = _rows().where(HouseholdVisit.id == visit_id, household_visible(scope))
    found: VisitRow | None = session.execute(stmt).first()
    return found


def lock_visit(session: Session, visit_id: int) -> HouseholdVisit | None:
    """The visit, locked until the transaction ends (filing a request from it)."""
    stmt = select(HouseholdVisit).where(HouseholdVisit.id == visit_id).with_for_update()
    return session.scalar(stmt)


def link_request(session: Session, visit_id: int, request_id: int) -> None:
    session.execute(
        update(HouseholdVisit).where(HouseholdVisit.id == visit_id).values(request_id=request_id)
    )


def visits_of_household(
    session: Session, household_id: int, scope: Scope, limit: int
) -> list[VisitRow]:
    """A household's visits (in ``scope``), newest first."""
    stmt = (
        _rows()
        .where(HouseholdVisit.household_id == household_id, household_visible(scope))
        .order_by(HouseholdVisit.at.desc(), HouseholdVisit.id.desc())
        .limit(limit)
    )
    return list(session.execute(stmt).all())


def visits_of_person(
    session: Session, person_id: int, scope: Scope, since: dt.datetime, limit: int
) -> list[VisitRow]:
    """A person's visits since ``since`` to households in ``scope``, newest first."""
    stmt = (
        _rows()
        .where(HouseholdVisit.person_id == person_id, HouseholdVisit.at >= since)
        .where(household_visible(scope))
        .order_by(HouseholdVisit.at.desc(), HouseholdVisit.id.desc())
        .limit(limit)
    )
    return list(session.execute(stmt).all())
