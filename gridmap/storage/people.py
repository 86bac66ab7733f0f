"""Queries of the people aggregate: one person, within a scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.storage.models import Person
from gridmap.storage.scoping import person_visible


def get_person(session: Session, person_id: int, scope: Scope) -> Any | None:
    """A person staffing or covering something in ``scope``: id, name, phone, kind; or None."""
    stmt = select(Person.id, Person.name, Person.phone, Person.kind).where(
        Person.id == person_id, person_visible(scope, Person.id)
    )
    return session.execute(stmt).first()
