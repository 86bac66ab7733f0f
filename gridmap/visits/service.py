"""民情日志: visits to the households a member or grid worker covers, and the request filed
from a visit in one step.

A **visit** belongs to the caller's person (an account linked to a person: a party member
of 党员分片包户, or a grid worker) and to one household in the caller's scope (a household
they do not see is 404, as everywhere). It says when (default now; up to
``LATEST_BACKDATED_VISIT`` ago, for a phone that kept it offline), how (入户, 电话, 微信),
the topics found and a note, and optionally the caller's own patrol it was made on. An
in-person visit reaches its household for the 3+N lists as a check-in does
(:mod:`gridmap.storage.duties`).

**Filing from a visit** (由走访上报) files a request for the visit's household through the
one intake (:func:`gridmap.requests.service.intake`); the request's first timeline event
names the visit, and the visit keeps the request's id: one request per visit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gridmap.access.auth import Caller
from gridmap.core import clock
from gridmap.core.errors import Conflict, InvalidInput, NotFound
from gridmap.files import service as files
from gridmap.patrols import service as patrols
from gridmap.requests import service as requests
from gridmap.storage import patrols as patrol_store
from gridmap.storage import visits as store

#: How long ago a visit may say it happened (a member writing up last week's visits, a phone
#: that was offline).
LATEST_BACKDATED_VISIT = dt.timedelta(days=30)


@dataclass(frozen=True)
class NewVisit:
    """A visit as recorded: the household, how, what was found, when, on which patrol, and
    the ids of the photos the caller uploaded for it."""

    household_id: int
    channel: str
    topics: tuple[str, ...] = ()
    note: str | None = None
    at: dt.datetime | None = None
    patrol_id: int | None = None
    photos: tuple[str, ...] = ()


@dataclass(frozen=True)
class FromVisit:
    """The request filed from a visit: its category, what and how urgent."""

    category: str
    description: str
    source: str
    urgency: str = "normal"


def record(session: Session, caller: Caller, new: NewVisit) -> int:
    """Store a visit of the caller's person to a household in scope; returns its id (not
    committed), with its photos attached in the same transaction. 404 for a household (or
    patrol) the caller does not see, 422 for an account with no person or a photo that is not
    the caller's unattached visit upload, 400 for a time outside the last 30 days."""
    person = patrols.person_of(session, caller)
    if patrol_store.household_point(session, new.household_id, caller.scope) is None:
        raise NotFound(f"There is no household {new.household_id}.")
    now = clock.now()
    at = new.at or now
    if not now - LATEST_BACKDATED_VISIT <= at <= now + patrols.CLOCK_SKEW:
        raise InvalidInput(
            f"at {at.isoformat()} is more than 30 days ago or in the future",
            errors=[{"field": "at", "message": "check the device clock"}],
        )
    if new.patrol_id is not None:
        patrols.own_patrol(session, caller, new.patrol_id)
    visit_id = store.insert_visit(
        session,
        {
            "household_id": new.household_id,
            "person_id": person,
            "user_id": caller.user_id,
            "patrol_id": new.patrol_id,
            "at": at,
            "channel": new.channel,
            "topics": sorted(set(new.topics)),
            "note": new.note,
        },
    )
    files.attach_to_visit(session, new.photos, caller.user_id, visit_id)
    return visit_id


def file_request(
    session: Session,
    caller: Caller,
    visit_id: int,
    what: FromVisit,
    factors: Mapping[str, float] = requests.DEFAULT_FACTORS,
) -> int:
    """由走访上报: file a request for the household of a visit in scope, its timeline naming
    the visit; returns the request's id (not committed). 409 when the visit has one already."""
    if store.get_visit(session, visit_id, caller.scope) is None:
        raise NotFound(f"There is no visit {visit_id}.")
    visit = store.lock_visit(session, visit_id)
    assert visit is not None  # seen in scope just above; visits are never deleted
    if visit.request_id is not None:
        raise Conflict(
            f"Request {visit.request_id} was filed from visit {visit_id} already.",
        )
    request_id = requests.intake(
        session,
        requests.NewRequest(
            category=what.category,
            description=what.description,
            source=what.source,
            household_id=visit.household_id,
            urgency=what.urgency,
            visit_id=visit_id,
        ),
        caller,
        factors,
    )
    store.link_request(session, visit_id, request_id)
    return request_id


def visit(session: Session, caller: Caller, visit_id: int) -> store.VisitRow:
    """A visit to a household in the caller's scope (404 otherwise)."""
    row = store.get_visit(session, visit_id, caller.scope)
    if row is None:
        raise NotFound(f"There is no visit {visit_id}.")
    return row


def mine(session: Session, caller: Caller, days: int, limit: int) -> list[store.VisitRow]:
    """The caller's own visits of the last ``days`` days, newest first."""
    person = patrols.person_of(session, caller)
    since = clock.now() - dt.timedelta(days=days)
    return store.visits_of_person(session, person, caller.scope, since, limit)


def of_household(
    session: Session, caller: Caller, household_id: int, limit: int
) -> list[store.VisitRow]:
    """A household's visits in the caller's scope, newest first."""
    return store.visits_of_household(session, household_id, caller.scope, limit)
