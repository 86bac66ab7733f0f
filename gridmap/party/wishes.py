"""微心愿: a resident's small wish, recorded with their consent by a worker or a member,
published without personal data (its title and text, refused with a phone or ID number, and a
point rounded to about 200 m; never the household, the name or the door), claimed by one member
or unit of the community, fulfilled with proof (a photo), confirmed by the resident (through the
worker) or the worker; counted per member and unit.

Concurrent claims of one wish queue on its row lock: exactly one wins, the others are told
:class:`WishTaken`. Functions flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import Session

from gridmap.access.auth import Caller
from gridmap.core import clock, etags
from gridmap.core.errors import Conflict, InvalidInput, NotFound
from gridmap.party import lists, reporting
from gridmap.storage import lists as store
from gridmap.storage.models import SmallWish


class WishTaken(Conflict):
    """Someone claimed the wish first."""

    code = "wish-taken"


def wish_etag(wish_id: int, revision: int) -> str:
    return f'"wish.{wish_id}.{revision}"'


@dataclass(frozen=True)
class NewWish:
    """微心愿 as recorded: the community (staff; a member records in their own), the wish,
    the household it is for (staff only; kept, never published) and the resident's consent."""

    title: str
    detail: str = ""
    community: str | None = None
    household_id: int | None = None


def record(session: Session, caller: Caller, new: NewWish, *, member: bool = False) -> int:
    """Record a wish with the resident's consent: staff in a community they manage, a
    ``member`` in the community they are registered with (without the household)."""
    if member:
        community_id = lists.claimant_of(session, caller).community_id
        if new.household_id is not None:
            raise InvalidInput("household_id: a member records a wish without the household")
    else:
        if new.community is None:
            raise InvalidInput("community: which community the wish is for")
        found = store.community_of_code(session, new.community, lists.managed(caller.scope))
        if found is None:
            raise NotFound(f"There is no community {new.community}.")
        community_id = found.id
    place = lists.place_in(session, community_id, new.household_id)
    now = clock.now()
    row = SmallWish(
        community_id=community_id,
        household_id=new.household_id,
        title=lists.published_text("title", new.title),
        detail=lists.published_text("detail", new.detail),
        place=store.point(*place),
        consent_at=now,
        recorded_by=caller.user_id,
        created_at=now,
    )
    return store.add(session, row)


def wish(session: Session, wish_id: int, where: ColumnElement[bool]) -> Any:
    found = store.wish(session, wish_id, where)
    if found is None:
        raise NotFound(f"There is no wish {wish_id}.")
    return found


def claim(session: Session, claimant: lists.Claimant, wish_id: int) -> None:
    """认领: a member or unit takes an open wish of its community. The row is locked first:
    of concurrent claims exactly one wins, the others: :class:`WishTaken`."""
    locked = store.lock_wish(session, wish_id)
    if locked is None or locked.community_id != claimant.community_id:
        raise NotFound(f"There is no wish {wish_id}.")
    if locked.state != "open":
        raise WishTaken(f"Wish {wish_id} is claimed already.")
    store.update_wish(
        session, wish_id, {"state": "claimed", "claimed_at": clock.now(), **claimant.columns}
    )


def fulfil(
    session: Session,
    caller: Caller,
    claimant: lists.Claimant,
    wish_id: int,
    proof: tuple[str, list[str]],
) -> None:
    """The claimant fulfilled the wish: a note and at least one photo as proof."""
    note, photos = proof
    locked = store.lock_wish(session, wish_id)
    mine = locked is not None and (locked.person_id, locked.unit_id) == (
        claimant.person_id,
        claimant.unit_id,
    )
    if locked is None or not mine:
        raise NotFound(f"There is no wish {wish_id} of yours.")
    if locked.state != "claimed":
        raise lists.StateConflict(f"Wish {wish_id} is {locked.state}.")
    if not photos:
        raise InvalidInput("photos: at least one photo as proof")
    lists.attach(session, photos, caller.user_id, wish_id=wish_id)
    values = {
        "state": "fulfilled",
        "fulfilled_at": clock.now(),
        "fulfilment": lists.published_text("note", note),
    }
    store.update_wish(session, wish_id, values)


def confirm(session: Session, caller: Caller, wish_id: int, how: str, if_match: str | None) -> None:
    """The resident (through the worker) or the worker confirms a fulfilled wish."""
    current = wish(session, wish_id, lists.managed(caller.scope))
    etags.check(if_match, wish_etag(wish_id, current.revision), f"Wish {wish_id}", "reload it")
    locked = store.lock_wish(session, wish_id)
    assert locked is not None
    if locked.revision != current.revision:
        raise etags.PreconditionFailed(f"Wish {wish_id} changed meanwhile.")
    if locked.state != "fulfilled":
        raise lists.StateConflict(f"Wish {wish_id} is {locked.state}.")
    values = {
        "state": "confirmed",
        "confirmed_at": clock.now(),
        "confirmed_by": caller.user_id,
        "confirmed_how": how,
    }
    store.update_wish(session, wish_id, values)


def counts(session: Session, caller: Caller, quarter: str | None = None) -> list[dict[str, Any]]:
    """Wishes claimed, fulfilled and confirmed per member and per unit (type), in each of
    the caller's communities; of one quarter's claims (``YYYYQn``, in Beijing) if given."""
    where = lists.managed(caller.scope)
    if quarter is not None:
        first, last = reporting.quarter(quarter).moments
        where = and_(where, SmallWish.claimed_at >= first, SmallWish.claimed_at < last)
    members, units = store.wish_counts(session, where)
    disclosure = caller.disclosure

    def row(found: Any, kind: str) -> dict[str, Any]:
        return {
            "type": kind,
            "id": found[0],
            "name": disclosure.staff_name(found.name) if kind == "member" else found.name,
            "community": found.code,
            "claimed": found.claimed,
            "fulfilled": found.fulfilled,
            "confirmed": found.confirmed,
        }

    return [row(m, "member") for m in members] + [row(u, "unit") for u in units]
