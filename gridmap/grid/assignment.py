"""Staffing grids (格中有人) and dividing households among members (党员分片包户).

Every change names the revision of the grid it was based on (``If-Match`` with the grid's
ETag): the grid row is locked, the revision compared, and bumped on the grid, its chain and
its subtree, so two chiefs editing the same area cannot silently overwrite each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core import clock, etags
from gridmap.core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from gridmap.spatial.loads import default_load_range, suggest_members
from gridmap.storage import coverage

#: The grid level each role staffs.
ROLE_LEVEL = {
    "chief": "community",
    "zone_leader": "zone",
    "grid_worker": "micro",
    "building_leader": "micro",
}


class DivisionInfeasible(Unprocessable):
    """The members' load bounds cannot cover the households (too few or too many between them)."""

    code = "division-infeasible"


def etag(code: str, revision: int) -> str:
    return f'"{code}.{revision}"'


def _grid(
    session: Session, code: str, scope: Scope, *, lock: bool = False
) -> coverage.GridRevisionRow:
    row = coverage.find_grid(session, code, scope, lock=lock)
    if row is None:
        raise NotFound(f"There is no grid with code {code}.")
    return row


def _locked(
    session: Session, code: str, scope: Scope, if_match: str | None
) -> coverage.GridRevisionRow:
    """The grid, locked, after checking that the caller saw its current revision."""
    row = _grid(session, code, scope, lock=True)
    current = etag(row.code, row.revision)
    etags.check(if_match, current, f"Grid {code}", "reload it and make your change again.")
    return row


def _person(session: Session, person_id: int, scope: Scope) -> None:
    if not coverage.person_assignable(session, person_id, scope):
        raise NotFound(f"There is no person {person_id}.")


def staffing(
    session: Session, code: str, scope: Scope, *, history: bool
) -> tuple[str, list[coverage.Post]]:
    """The ETag of a grid and its posts (current, or all with ``history``)."""
    row = _grid(session, code, scope)
    return etag(row.code, row.revision), coverage.assignments(session, row.id, history=history)


def assign_staff(
    session: Session,
    code: str,
    person_id: int,
    role: str,
    start: dt.date | None,
    scope: Scope,
    if_match: str | None,
) -> tuple[int, str]:
    """Give a person a post in a grid; returns the assignment id and the grid's new ETag."""
    row = _locked(session, code, scope, if_match)
    if ROLE_LEVEL.get(role) != row.level:
        fits = [r for r, level in ROLE_LEVEL.items() if level == row.level]
        raise InvalidInput(f"role {role!r} does not staff a {row.level} grid; use one of {fits}")
    _person(session, person_id, scope)
    assignment_id = coverage.add_assignment(session, row.id, person_id, role, start)
    return assignment_id, etag(code, coverage.bump_revision(session, code))


def end_staff(
    session: Session, assignment_id: int, end: dt.date, scope: Scope, if_match: str | None
) -> tuple[str, str]:
    """End a post (history is kept); returns the grid's code and its new ETag.

    Ended posts stay ended: a post whose end date has come is a 409, and so is a later end
    for a post that is due to end (ending never extends a post; an earlier end is allowed).
    """
    post = coverage.get_assignment(session, assignment_id, scope)
    if post is None:
        raise NotFound(f"There is no assignment {assignment_id}.")
    _locked(session, post.code, scope, if_match)
    if post.end_date is not None and post.end_date <= clock.today():
        raise Conflict(f"Assignment {assignment_id} already ended on {post.end_date}.")
    if post.end_date is not None and end > post.end_date:
        raise Conflict(
            f"Assignment {assignment_id} ends on {post.end_date}; ending it cannot move that "
            f"later to {end}."
        )
    if end < post.start_date:
        raise InvalidInput(f"end_date {end} is before the start {post.start_date}")
    coverage.end_assignment(session, assignment_id, end)
    return post.code, etag(post.code, coverage.bump_revision(session, post.code))


def coverage_state(session: Session, code: str, scope: Scope) -> dict[str, Any]:
    """A grid's households (with their member) and the members who may take them: only
    those the caller may give households to (the rule :func:`_person` applies to writes)."""
    row = _grid(session, code, scope)
    community_code = code[:12]
    community = coverage.find_grid(session, community_code, Scope((community_code,)), lock=False)
    households = coverage.households_in(session, code, scope)
    members = coverage.members_near(session, community.id, code, scope) if community else []
    return {
        "etag": etag(row.code, row.revision),
        "grid": {"code": row.code, "name": row.name, "level": row.level},
        "households": households,
        "members": members,
        "suggested_members": _suggested(households, members),
    }


def _suggested(
    households: list[coverage.CoveredHousehold], members: list[coverage.NearbyMember]
) -> list[int]:
    """The members the division form checks by default (``spatial.loads.suggest_members``)."""
    houses = pd.DataFrame(households, columns=["id", "lon", "lat", "care", "current"])
    people = pd.DataFrame(members, columns=["id", "lon", "lat"])
    houses["current"] = houses["current"].fillna(-1).astype(np.int64)
    return suggest_members(houses, people.astype({"lon": float, "lat": float}))


def _checked_households(
    session: Session, code: str, household_ids: Iterable[int], scope: Scope
) -> list[coverage.CoveredHousehold]:
    wanted = list(dict.fromkeys(household_ids))
    known = {h["id"]: h for h in coverage.households_in(session, code, scope)}
    missing = [h for h in wanted if h not in known]
    if missing:
        listed = ", ".join(map(str, missing[:20])) + (" …" if len(missing) > 20 else "")
        raise NotFound(f"{len(missing)} household(s) are not in grid {code}: {listed}")
    return [known[h] for h in wanted]


def change_coverage(
    session: Session,
    code: str,
    *,
    person_id: int | None,
    household_ids: list[int],
    scope: Scope,
    if_match: str | None,
) -> tuple[int, str]:
    """Give households to a member (moving them from whoever had them), or release them
    (``person_id`` None). Returns how many changed and the grid's new ETag."""
    _locked(session, code, scope, if_match)
    if not household_ids:
        raise InvalidInput("household_ids must list at least one household")
    households = _checked_households(session, code, household_ids, scope)
    if person_id is not None:
        _person(session, person_id, scope)
    changed = {h["id"]: person_id for h in households if h["current"] != person_id}
    coverage.replace_coverage(session, changed)
    return len(changed), etag(code, coverage.bump_revision(session, code))


def accept_division(
    session: Session, code: str, pairs: dict[int, int | None], scope: Scope, if_match: str | None
) -> tuple[int, str]:
    """Apply a whole division (household → member or None) in one transaction."""
    _locked(session, code, scope, if_match)
    households = _checked_households(session, code, pairs, scope)
    for person_id in {p for p in pairs.values() if p is not None}:
        _person(session, person_id, scope)
    changed = {h["id"]: pairs[h["id"]] for h in households if h["current"] != pairs[h["id"]]}
    coverage.replace_coverage(session, changed)
    return len(changed), etag(code, coverage.bump_revision(session, code))


def _member_frame(
    members: list[dict[str, Any]], households: pd.DataFrame, member_ids: list[int]
) -> pd.DataFrame:
    """The chosen members with their homes; a member without a recorded home is placed at the
    centre of the households they cover now."""
    known = {m["id"]: m for m in members}
    missing = [m for m in member_ids if m not in known]
    if missing:
        raise NotFound(f"Not members who can serve here: {', '.join(map(str, missing[:20]))}")
    rows = []
    for person_id in dict.fromkeys(member_ids):
        m = known[person_id]
        lon, lat = m["lon"], m["lat"]
        if lon is None:
            theirs = households[households["current"] == person_id]
            if theirs.empty:
                raise InvalidInput(
                    f"member {person_id} has no home location and covers no household here"
                )
            lon, lat = theirs["lon"].mean(), theirs["lat"].mean()
        rows.append({"id": person_id, "lon": lon, "lat": lat})
    return pd.DataFrame(rows)


def propose(
    session: Session,
    code: str,
    member_ids: list[int],
    scope: Scope,
    *,
    min_load: float | None,
    max_load: float | None,
    care_weight: float,
    fresh: bool,
    time_limit: float,
) -> dict[str, Any]:
    """A balanced division of a grid's households among the chosen members; writes nothing.

    The method is :func:`gridmap.spatial.balance.propose_division` (a capacitated assignment
    solved with HiGHS); its answer comes with the grid's ETag so that accepting it fails if
    anything changed meanwhile. A load bound left out (None) is derived from the households
    and the members (``spatial.loads.default_load_range``); the answer's ``load_range``
    says which range was used. ``time_limit`` is the solver's, in seconds (the setting
    ``division_time_limit_seconds``).
    """
    state = coverage_state(session, code, scope)
    houses = pd.DataFrame(state["households"], columns=["id", "lon", "lat", "care", "current"])
    if houses.empty:
        raise Unprocessable(f"Grid {code} has no households to divide.")
    houses["current"] = houses["current"].fillna(-1).astype(np.int64)
    members = _member_frame(state["members"], houses, member_ids)
    # scipy's MILP solver loads only when a division is asked for.
    from gridmap.spatial.balance import DivisionImpossible, propose_division

    low, high = _load_range(houses, len(members), care_weight, min_load, max_load)
    try:
        division = propose_division(
            houses,
            members,
            min_load=low,
            max_load=high,
            care_weight=care_weight,
            keep_existing=not fresh,
            time_limit=time_limit,
        )
    except DivisionImpossible as exc:
        raise DivisionInfeasible(str(exc)) from None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    current = dict(zip(houses["id"], houses["current"], strict=True))
    return {
        "etag": state["etag"],
        "assignments": [
            {
                "household_id": int(h),
                "person_id": int(p) if p >= 0 else None,
                "current": int(current[h]) if current[h] >= 0 else None,
            }
            for h, p in division.assignment.items()
        ],
        "loads": {int(k): float(v) for k, v in division.loads.items()},
        "load_range": {
            "min": low,
            "max": high,
            "derived": [
                name for name, given in (("min", min_load), ("max", max_load)) if given is None
            ],
        },
        "stats": division.stats,
    }


def _load_range(
    houses: pd.DataFrame,
    members: int,
    care_weight: float,
    min_load: float | None,
    max_load: float | None,
) -> tuple[float, float]:
    """The bounds given, the missing ones derived from the households and members."""
    heaviest = care_weight if bool(houses["care"].any()) else 1.0
    total = float(np.where(houses["care"].astype(bool), care_weight, 1.0).sum())
    low, high = default_load_range(total, members, heaviest=heaviest)
    if max_load is not None:
        high = max_load
        low = min(low, high)
    if min_load is not None:
        low = min_load
        high = max(high, low) if max_load is None else high
    return low, high
