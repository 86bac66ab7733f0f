"""Queries of the people aggregate: one person, within a scope."""

from __future__ import annotations

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.storage.models import Person
from gridmap.storage.scoping import person_visible

#: id, name, phone, kind.
PersonRow = Row[int, str, str | None, str]


def get_person(session: Session, person_id: int, scope: Scope) -> PersonRow | None:
    """A person staffing or covering something in ``scope``: id, name, phone, kind; or None."""
    stmt = select(Person.id, Person.name, Person.phone, Person.kind).where(
        Person.id == person_id, person_visible(scope, Person.id)
    )
    return session.execute(stmt).first()
