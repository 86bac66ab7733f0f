"""三张清单 with 双向认领: residents' needs (需求清单: recorded by the community, or one click
from a visit or a request), what units and members offer (资源清单) and the service projects
that match them (服务清单). Either side proposes a match (认领): a unit or member claims an open
need, or the community pairs a need with a resource; the community confirms, and the project
runs to completion with a result and photos.

Needs are published without personal data: the household and exact point stay in the table,
the lists show the kind, the text (refused when it holds a phone or ID number) and a point
rounded to about 200 m. Concurrent claims of one need queue on the need's row lock: exactly
one wins, the others are told :class:`NeedTaken`. Functions flush and never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridmap.access.auth import Caller, Scope
from gridmap.core import clock, etags
from gridmap.core.errors import Conflict, InvalidInput, NotFound
from gridmap.files import service as files
from gridmap.grid.lookup import to_storage_point
from gridmap.storage import lists as store
from gridmap.storage import requests as requests_store
from gridmap.storage import visits as visits_store
from gridmap.storage.models import Grid, PartyMatch, PartyNeed, PartyResource

#: A mobile number or an ID number (身份证号) in published text: refused.
_PERSONAL = re.compile(r"1[3-9]\d{9}|\d{17}[\dXx]|\d{3,4}-\d{7,8}")


class NeedTaken(Conflict):
    """The need is matched already (someone claimed it first)."""

    code = "need-taken"


class StateConflict(Conflict):
    """The project is not in a state that allows this step."""

    code = "wrong-state"


@dataclass(frozen=True)
class Claimant:
    """Who claims: a member (``person_id``) or a unit (``unit_id``), in their community, and
    where they are (a member's registered home) for "near me"."""

    community_id: int
    person_id: int | None = None
    unit_id: int | None = None
    home: tuple[float, float] | None = None

    @property
    def columns(self) -> dict[str, int | None]:
        return {"person_id": self.person_id, "unit_id": self.unit_id}


def claimant_of(session: Session, caller: Caller) -> Claimant:
    """The member or unit a claiming account stands for; 409 for a member not registered
    with a community yet (双报到 first)."""
    from gridmap.party.reporting import NotRegistered  # the 双报到 room's own error

    if caller.scope.party_unit_id is not None:
        community = store.unit_community(session, caller.scope.party_unit_id)
        if community is None:
            raise NotFound("This account stands for no unit.")
        return Claimant(community, unit_id=caller.scope.party_unit_id)
    if caller.scope.person_id is None:
        raise NotFound("This account stands for no member.")
    found = store.member_community(session, caller.scope.person_id, clock.today())
    if found is None:
        raise NotRegistered("Report to the community where you live first (双报到).")
    home = None if found.lon is None else (float(found.lon), float(found.lat))
    return Claimant(found.community_id, person_id=caller.scope.person_id, home=home)


def published_text(name: str, value: str) -> str:
    """``value`` stripped, refused when it holds a phone or ID number (it is published)."""
    if _PERSONAL.search(value):
        raise InvalidInput(f"{name}: no phone or ID numbers here; the list is published")
    return value.strip()


def managed(scope: Scope) -> ColumnElement[bool]:
    return store.need_managed(scope)


def of_community(community_id: int) -> ColumnElement[bool]:
    return Grid.id == community_id


def need_etag(need_id: int, revision: int) -> str:
    return f'"need.{need_id}.{revision}"'


def match_etag(match_id: int, revision: int) -> str:
    return f'"match.{match_id}.{revision}"'


# ---------------------------------------------------------------------------------- needs


@dataclass(frozen=True)
class NewNeed:
    """需求 as the community records it: for a household of the community (its point) or at a
    given point, else at the community's middle."""

    community: str
    kind: str
    title: str
    detail: str = ""
    household_id: int | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "EPSG:4490"

    @property
    def point(self) -> tuple[float, float, str] | None:
        if self.lon is None or self.lat is None:
            return None
        return self.lon, self.lat, self.crs


def record_need(session: Session, caller: Caller, new: NewNeed) -> int:
    """Record a need of a community the caller manages (404 for another)."""
    community = store.community_of_code(session, new.community, managed(caller.scope))
    if community is None:
        raise NotFound(f"There is no community {new.community}.")
    lon, lat = place_in(session, community.id, new.household_id, new.point)
    return _insert_need(
        session,
        caller,
        community.id,
        (new.kind, new.title, new.detail),
        (lon, lat),
        source="resident",
        household_id=new.household_id,
    )


def place_in(
    session: Session,
    community_id: int,
    household_id: int | None,
    given: tuple[float, float, str] | None = None,
) -> tuple[float, float]:
    """Where a need or wish is: its household's point (which must lie in the community), the
    ``given`` point (lon, lat, crs; in the community), else the community's middle."""
    if household_id is not None:
        found = store.household_point(session, household_id)
        if found is None or store.community_holding(session, *found) != community_id:
            raise InvalidInput(f"household_id: no household {household_id} in the community")
        return found
    if given is not None:
        lon, lat = to_storage_point(*given)
        if store.community_holding(session, lon, lat) != community_id:
            raise InvalidInput("place: the point lies outside the community")
        return lon, lat
    return store.community_middle(session, community_id)


def _insert_need(
    session: Session,
    caller: Caller,
    community_id: int,
    what: tuple[str, str, str],
    place: tuple[float, float],
    **more: Any,
) -> int:
    kind, title, detail = what
    row = PartyNeed(
        community_id=community_id,
        kind=kind,
        title=published_text("title", title),
        detail=published_text("detail", detail),
        place=store.point(*place),
        recorded_by=caller.user_id,
        created_at=clock.now(),
        **more,
    )
    return store.add(session, row)


def need_from_visit(
    session: Session, caller: Caller, visit_id: int, what: tuple[str, str, str]
) -> int:
    """一键转需求: a need for the household of a visit in the caller's scope (a member's own
    households, a worker's grids); 409 when the visit has one already."""
    if visits_store.get_visit(session, visit_id, caller.scope) is None:
        raise NotFound(f"There is no visit {visit_id}.")
    visit = visits_store.lock_visit(session, visit_id)
    assert visit is not None  # seen in scope just above
    if store.need_for(session, visit_id=visit_id) is not None:
        raise Conflict(f"A need was recorded from visit {visit_id} already.")
    place = store.household_point(session, visit.household_id)
    community = None if place is None else store.community_holding(session, *place)
    if place is None or community is None:
        raise InvalidInput(f"visit {visit_id}: its household lies in no community")
    return _insert_need(
        session,
        caller,
        community,
        what,
        place,
        source="visit",
        visit_id=visit_id,
        household_id=visit.household_id,
    )


def need_from_request(
    session: Session, caller: Caller, request_id: int, what: tuple[str, str, str]
) -> int:
    """一键转需求: a need from a resident's request in the caller's scope, at its place;
    409 when the request has one already."""
    if requests_store.is_visible(session, request_id, caller.scope) is None:
        raise NotFound(f"There is no request {request_id}.")
    if store.need_for(session, request_id=request_id) is not None:
        raise Conflict(f"A need was recorded from request {request_id} already.")
    found = store.request_place(session, request_id)
    community = store.community_holding(session, found.lon, found.lat)
    if community is None:
        raise InvalidInput(f"request {request_id}: its place lies in no community")
    try:
        with session.begin_nested():
            return _insert_need(
                session,
                caller,
                community,
                what,
                (found.lon, found.lat),
                source="request",
                request_id=request_id,
                household_id=found.household_id,
            )
    except IntegrityError as error:  # the same request twice at once
        raise Conflict(f"A need was recorded from request {request_id} already.") from error


def need(session: Session, need_id: int, where: ColumnElement[bool]) -> Any:
    found = store.need(session, need_id, where)
    if found is None:
        raise NotFound(f"There is no need {need_id}.")
    return found


def recorded_anywhere() -> ColumnElement[bool]:
    """No filter: to read back what the caller just recorded (a member's scope is households,
    not grids)."""
    return true()


def recorded(session: Session, need_id: int) -> Any:
    """A need just recorded by the caller."""
    return need(session, need_id, recorded_anywhere())


# ------------------------------------------------------------------------------ resources


@dataclass(frozen=True)
class NewResource:
    """资源: what is offered, and where (optional: money or time has no place)."""

    kind: str
    title: str
    detail: str = ""
    lon: float | None = None
    lat: float | None = None
    crs: str = "EPSG:4490"


def offer(session: Session, claimant: Claimant, new: NewResource) -> int:
    """A unit or member offers a resource to its community (资源清单)."""
    place = None
    if new.lon is not None and new.lat is not None:
        place = store.point(*to_storage_point(new.lon, new.lat, new.crs))
    row = PartyResource(
        community_id=claimant.community_id,
        kind=new.kind,
        title=published_text("title", new.title),
        detail=published_text("detail", new.detail),
        place=place,
        created_at=clock.now(),
        **claimant.columns,
    )
    return store.add(session, row)


# -------------------------------------------------------------------------------- matches


def claim_need(session: Session, claimant: Claimant, need_id: int, resource_id: int | None) -> int:
    """认领: a unit or member proposes to meet an open need of its community (with one of
    its resources, if it says which). The need's row is locked first, so concurrent claims
    queue and exactly one wins; the others: :class:`NeedTaken`."""
    locked = store.lock_need(session, need_id)
    if locked is None or locked.community_id != claimant.community_id:
        raise NotFound(f"There is no need {need_id}.")
    if resource_id is not None:
        found = store.resource(session, resource_id)
        mine = found is not None and (found.person_id, found.unit_id) == (
            claimant.person_id,
            claimant.unit_id,
        )
        if not mine:
            raise InvalidInput(f"resource_id: {resource_id} is not one of your resources")
    return _match(session, locked, "provider", resource_id, claimant.columns)


def propose(session: Session, caller: Caller, need_id: int, resource_id: int) -> int:
    """The community pairs one of its open needs with a resource offered in it: confirmed at
    once (the community is the side that confirms)."""
    need(session, need_id, managed(caller.scope))
    locked = store.lock_need(session, need_id)
    assert locked is not None  # seen in scope just above; needs are never deleted
    found = store.resource(session, resource_id)
    if found is None or found.community_id != locked.community_id or not found.available:
        raise InvalidInput(f"resource_id: no available resource {resource_id} in the community")
    provider = {"person_id": found.person_id, "unit_id": found.unit_id}
    match_id = _match(session, locked, "community", resource_id, provider)
    now = clock.now()
    store.update_match(
        session,
        match_id,
        {"state": "confirmed", "confirmed_by": caller.user_id, "confirmed_at": now},
    )
    return match_id


def _match(
    session: Session,
    locked: PartyNeed,
    proposed_by: str,
    resource_id: int | None,
    provider: dict[str, int | None],
) -> int:
    if locked.state != "open":
        raise NeedTaken(f"Need {locked.id} is matched already.")
    row = PartyMatch(
        need_id=locked.id,
        resource_id=resource_id,
        proposed_by=proposed_by,
        proposed_at=clock.now(),
        **provider,
    )
    try:
        with session.begin_nested():
            match_id = store.add(session, row)
    except IntegrityError as error:  # the partial unique index: one live match per need
        raise NeedTaken(f"Need {locked.id} is matched already.") from error
    store.set_need_state(session, locked.id, "matched")
    return match_id


def match(session: Session, match_id: int, where: ColumnElement[bool]) -> Any:
    found = store.matches(session, where, 1, match_id)
    if not found:
        raise NotFound(f"There is no service project {match_id}.")
    return found[0]


def _locked_match(
    session: Session, caller: Caller, match_id: int, if_match: str | None, states: tuple[str, ...]
) -> PartyMatch:
    current = match(session, match_id, managed(caller.scope))
    etags.check(
        if_match,
        match_etag(match_id, current.revision),
        f"Service project {match_id}",
        "reload it and decide again",
    )
    locked = store.lock_match(session, match_id)
    assert locked is not None
    if locked.revision != current.revision:
        raise etags.PreconditionFailed(f"Service project {match_id} changed meanwhile.")
    if locked.state not in states:
        raise StateConflict(f"Service project {match_id} is {locked.state}.")
    return locked


def confirm(session: Session, caller: Caller, match_id: int, if_match: str | None) -> None:
    """The community confirms a proposed project (双向认领's last step)."""
    _locked_match(session, caller, match_id, if_match, ("proposed",))
    values = {"state": "confirmed", "confirmed_by": caller.user_id, "confirmed_at": clock.now()}
    store.update_match(session, match_id, values)


def decline(session: Session, caller: Caller, match_id: int, if_match: str | None) -> None:
    """The community declines a project not done yet: the need is open again."""
    locked = _locked_match(session, caller, match_id, if_match, ("proposed", "confirmed"))
    store.update_match(session, match_id, {"state": "declined"})
    session.flush()
    store.set_need_state(session, locked.need_id, "open")


def complete(
    session: Session,
    caller: Caller,
    match_id: int,
    if_match: str | None,
    result: tuple[str, list[str]],
) -> None:
    """A confirmed project is done: its result and the caller's uploaded photos."""
    text, photos = result
    locked = _locked_match(session, caller, match_id, if_match, ("confirmed",))
    attach(session, photos, caller.user_id, match_id=match_id)
    values = {"state": "done", "completed_at": clock.now(), "result": text.strip()}
    store.update_match(session, match_id, values)
    store.set_need_state(session, locked.need_id, "done")


def attach(session: Session, photos: list[str], user_id: int, **owner: int) -> None:
    """The caller's uploaded photos, to a project (``match_id``) or a wish (``wish_id``)."""
    own = [f.id for f in files.own_photos(session, photos, user_id)]
    taken = store.photos_taken(session, own)
    if taken:
        raise InvalidInput(f"photos: {', '.join(taken)} already belongs to something else")
    store.add_photos(session, own, **owner)
