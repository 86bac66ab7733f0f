"""双报到: units and in-service members report to a community, members choose service posts,
sign up for the activities a community publishes (社区吹哨、党员报到), have their attendance
confirmed (by the organiser, or by checking in near the place within the activity's time),
and the quarter's services and hours are held against the rule (每季度服务不少于2次、时长不少于
6个小时) per member, community and unit (双报告).

Staff (*party*) act on the communities their scope manages (``storage.party``); a member
(*serve*) acts for themselves in the community they are registered with today. Functions
flush and never commit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridmap.access.auth import Caller, Scope
from gridmap.core import clock, glossary
from gridmap.core.errors import Conflict, GridmapError, InvalidInput, NotFound, Unprocessable
from gridmap.core.settings import Settings
from gridmap.grid.lookup import to_storage_point
from gridmap.storage import party as store
from gridmap.storage.models import Grid, MemberRegistration

#: Who may register with a community (双报到): in-service members first, and party members.
MEMBER_KINDS = ("in_service_member", "party_member")
QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


class ActivityFull(Conflict):
    """Every place of the activity is taken."""

    code = "activity-full"


class TooFar(Unprocessable):
    """A check-in farther from the place than the radius allows."""

    code = "check-in-too-far"


class NotNow(Unprocessable):
    """A check-in outside the activity's time, or a sign-up after it ended."""

    code = "activity-not-now"


class NotRegistered(GridmapError):
    """The caller is a member of no community yet (双报到 first)."""

    status = 409
    code = "not-registered"


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter in Beijing: its label ("2026Q4"), first day and the next quarter's."""

    label: str
    first: dt.date
    last: dt.date

    @property
    def moments(self) -> tuple[dt.datetime, dt.datetime]:
        return _midnight(self.first), _midnight(self.last)

    @property
    def name(self) -> str:
        """As people write it: 2026年第4季度."""
        number = (self.first.month - 1) // 3 + 1
        return glossary.PARTY_QUARTER.format(year=self.first.year, number=number)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), clock.BEIJING)


def quarter(label: str | None) -> Quarter:
    """The quarter ``label`` names (``YYYYQn``), this quarter (in Beijing) when None."""
    if label is None:
        today = clock.today()
        year, number = today.year, (today.month - 1) // 3 + 1
    else:
        found = QUARTER.match(label)
        if found is None or not clock.supported_year(int(found[1])):
            raise InvalidInput(f"quarter {label!r}: expected YYYYQ1 to YYYYQ4")
        year, number = int(found[1]), int(found[2])
    first = dt.date(year, 3 * number - 2, 1)
    last = dt.date(year + 1, 1, 1) if number == 4 else dt.date(year, 3 * number + 1, 1)
    return Quarter(f"{year}Q{number}", first, last)


# --------------------------------------------------------------------------- registration


@dataclass(frozen=True)
class Registration:
    """Where a member reports: the home point (None: the person's recorded home), the unit
    they work in, and from which day."""

    person_id: int
    lon: float | None = None
    lat: float | None = None
    crs: str = "EPSG:4490"
    unit_id: int | None = None
    since: dt.date | None = None
    #: With no ``unit_id``: keep the unit of the registration a move closes.
    keep_unit: bool = False


def register(session: Session, new: Registration, scope: Scope | None = None) -> dict[str, Any]:
    """Register an in-service member with the community holding their home (双报到). A member
    already registered elsewhere moves: the current registration ends the day before
    ``since`` and the new one opens (with the same unit if ``keep_unit``), so each date keeps
    its one community. Staff register
    members into the communities their ``scope`` manages (another is 404)."""
    if store.person_kind(session, new.person_id) not in MEMBER_KINDS:
        raise NotFound(f"There is no in-service member {new.person_id}.")
    if new.unit_id is not None and not store.unit_exists(session, new.unit_id):
        raise InvalidInput(f"unit_id: there is no unit {new.unit_id}")
    lon, lat = _home(session, new)
    community = store.community_at(session, lon, lat)
    if community is None:
        raise Unprocessable(f"The home ({lon:.6f}, {lat:.6f}) lies in no community.")
    if scope is not None and store.community_by_code(session, community.code, scope) is None:
        raise NotFound(f"The home lies in community {community.code}, not one of yours.")
    since = new.since or clock.today()
    unit_id = new.unit_id
    if unit_id is None and new.keep_unit:
        latest = store.latest_registration(session, new.person_id)
        unit_id = latest.unit_id if latest is not None else None
    _close_current(session, new.person_id, since)
    values = {
        "person_id": new.person_id,
        "community_id": community.id,
        "unit_id": unit_id,
        "valid_from": since,
    }
    registration_id = store.add_registration(session, values, lon, lat)
    return {"id": registration_id, "community": {"code": community.code, "name": community.name}}


def _home(session: Session, new: Registration) -> tuple[float, float]:
    if new.lon is not None and new.lat is not None:
        return to_storage_point(new.lon, new.lat, new.crs)
    home = store.person_home(session, new.person_id)
    if home is None:
        raise InvalidInput("lon, lat: the member has no recorded home; give the home's point")
    return home


def _close_current(session: Session, person_id: int, since: dt.date) -> None:
    latest = store.latest_registration(session, person_id)
    if latest is None:
        return
    if latest.valid_from >= since:
        raise Conflict(
            f"The member is registered since {latest.valid_from.isoformat()}: a move must "
            "come later."
        )
    if latest.valid_to is None or latest.valid_to > since:
        latest.valid_to = since
    session.flush()


def add_unit(session: Session, scope: Scope, code: str, name: str, community: str) -> int:
    """Record a unit's party organisation reporting to a community the scope manages."""
    community_id = store.community_by_code(session, community, scope)
    if community_id is None:
        raise NotFound(f"There is no community {community}.")
    if store.unit_code_taken(session, code):
        raise Conflict(f"A unit with code {code} exists already.")
    return store.add_unit(session, code, name, community_id, clock.today())


def member_of(session: Session, caller: Caller) -> int:
    """The in-service member a member's account stands for."""
    if caller.scope.person_id is None:
        raise NotFound("This account stands for no member.")
    return caller.scope.person_id


def current_registration(session: Session, person_id: int, on: dt.date) -> MemberRegistration:
    found = store.registration_on(session, person_id, on)
    if found is None:
        raise NotRegistered("Report to the community where you live first (双报到).")
    return found


def set_posts(session: Session, person_id: int, kinds: list[str]) -> list[str]:
    """The service posts a member holds (认领岗位), replacing the earlier choice."""
    known = {code for code, _ in store.post_kinds(session)}
    unknown = sorted(set(kinds) - known)
    if unknown:
        raise InvalidInput(f"kinds: unknown post kinds {unknown}; known: {sorted(known)}")
    store.set_member_posts(session, person_id, sorted(set(kinds)))
    return store.member_posts(session, person_id)


# ---------------------------------------------------------------------------- activities


@dataclass(frozen=True)
class NewActivity:
    """社区吹哨: what a community publishes."""

    community: str
    kind: str
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place_name: str
    lon: float
    lat: float
    wanted: int
    crs: str = "EPSG:4490"


def publish(session: Session, caller: Caller, new: NewActivity) -> int:
    """Publish an activity of a community the caller manages (404 for another)."""
    community_id = store.community_by_code(session, new.community, caller.scope)
    if community_id is None:
        raise NotFound(f"There is no community {new.community}.")
    if new.kind not in {code for code, _ in store.post_kinds(session)}:
        raise InvalidInput(f"kind: unknown post kind {new.kind!r}")
    if not new.starts_at < new.ends_at <= new.starts_at + dt.timedelta(hours=24):
        raise InvalidInput("ends_at: after starts_at, at most 24 hours later")
    lon, lat = to_storage_point(new.lon, new.lat, new.crs)
    values = {
        "community_id": community_id,
        "kind": new.kind,
        "title": new.title,
        "starts_at": new.starts_at,
        "ends_at": new.ends_at,
        "place_name": new.place_name,
        "wanted": new.wanted,
        "organiser_id": caller.user_id,
    }
    return store.add_activity(session, values, lon, lat)


def managed(scope: Scope) -> ColumnElement[bool]:
    return store.community_managed(scope)


def of_community(community_id: int) -> ColumnElement[bool]:
    return Grid.id == community_id


def activity(session: Session, activity_id: int, where: ColumnElement[bool]) -> Any:
    found = store.activity(session, activity_id, where)
    if found is None:
        raise NotFound(f"There is no activity {activity_id}.")
    return found


def member_activities(
    session: Session, person_id: int, days: int, limit: int
) -> tuple[list[Any], dict[int, Any]]:
    """The activities of a member's community today from ``days`` ago on, and the member's
    sign-ups among them (none before the member has registered)."""
    today = clock.today()
    registration = store.registration_on(session, person_id, today)
    if registration is None:
        return [], {}
    first = _midnight(today - dt.timedelta(days=days))
    last = _midnight(today + dt.timedelta(days=366))
    found = store.activities(session, of_community(registration.community_id), first, last, limit)
    return found, store.signed_by(session, person_id, [a.id for a in found])


def sign_up(session: Session, person_id: int, activity_id: int) -> bool:
    """Sign a member up for an activity of their community; True when newly signed. The
    activity's row is locked first, so concurrent sign-ups for the last place queue and
    exactly one takes it (the others: :class:`ActivityFull`)."""
    registration = current_registration(session, person_id, clock.today())
    locked = store.lock_activity(session, activity_id)
    if locked is None or locked.community_id != registration.community_id:
        raise NotFound(f"There is no activity {activity_id}.")
    if store.signup(session, activity_id, person_id) is not None:
        return False
    if clock.now() >= locked.ends_at:
        raise NotNow("The activity is over.")
    if store.signup_count(session, activity_id) >= locked.wanted:
        raise ActivityFull(f"All {locked.wanted} places are taken.")
    try:
        store.add_signup(session, activity_id, person_id, clock.now())
    except IntegrityError as error:  # the same member twice at once
        raise Conflict("You are signed up already.") from error
    return True


def cancel_signup(session: Session, person_id: int, activity_id: int) -> None:
    """A member withdraws from an activity of their community before it ends, freeing the
    place; an attendance already confirmed stays (409)."""
    registration = current_registration(session, person_id, clock.today())
    locked = store.lock_activity(session, activity_id)
    if locked is None or locked.community_id != registration.community_id:
        raise NotFound(f"There is no activity {activity_id}.")
    entry = store.signup(session, activity_id, person_id)
    if entry is None:
        raise NotFound(f"You are not signed up for activity {activity_id}.")
    if entry.attended_at is not None:
        raise Conflict("Your attendance is confirmed: the sign-up stays.")
    if clock.now() >= locked.ends_at:
        raise NotNow("The activity is over.")
    store.delete_signup(session, activity_id, person_id)


def _duration_hours(starts_at: dt.datetime, ends_at: dt.datetime) -> Decimal:
    seconds = Decimal((ends_at - starts_at).total_seconds())
    return (seconds / Decimal(3600)).quantize(Decimal("0.01"))


def check_in(
    session: Session,
    person_id: int,
    activity_id: int,
    point: tuple[float, float, str],
    settings: Settings,
) -> dict[str, Any]:
    """A member signed up checks in at the place within the activity's time: within
    ``party_check_in_metres`` it confirms attendance, counting the activity's hours."""
    registration = current_registration(session, person_id, clock.today())
    locked = store.lock_activity(session, activity_id)
    if locked is None or locked.community_id != registration.community_id:
        raise NotFound(f"There is no activity {activity_id}.")
    entry = store.signup(session, activity_id, person_id)
    if entry is None:
        raise NotFound(f"You are not signed up for activity {activity_id}.")
    now = clock.now()
    if not locked.starts_at <= now <= locked.ends_at:
        raise NotNow("Check in while the activity takes place.")
    lon, lat = to_storage_point(*point)
    distance = store.distance_to_place(session, activity_id, lon, lat)
    if distance > settings.party_check_in_metres:
        raise TooFar(
            f"You are {distance:.0f} m from the place; check in within "
            f"{settings.party_check_in_metres:.0f} m."
        )
    if entry.attended_at is None:
        hours = _duration_hours(locked.starts_at, locked.ends_at)
        values = {"attended_at": now, "how": "check_in", "distance_m": distance, "hours": hours}
        store.mark_attended(session, activity_id, person_id, values)
    session.flush()
    return _attendance(session, activity_id, person_id)


def confirm(
    session: Session,
    caller: Caller,
    activity_id: int,
    person_id: int,
    hours: Decimal | None,
) -> dict[str, Any]:
    """The organiser (staff of the community) confirms a signed-up member attended, counting
    ``hours`` (default: the activity's length); a later confirmation corrects the hours."""
    activity(session, activity_id, managed(caller.scope))
    locked = store.lock_activity(session, activity_id)
    assert locked is not None  # seen just above, and activities are never deleted
    if store.signup(session, activity_id, person_id) is None:
        raise NotFound(f"Member {person_id} is not signed up for activity {activity_id}.")
    if clock.now() < locked.starts_at:
        raise NotNow("Attendance is confirmed once the activity has started.")
    counted = hours if hours is not None else _duration_hours(locked.starts_at, locked.ends_at)
    values = {
        "attended_at": clock.now(),
        "how": "organiser",
        "confirmed_by": caller.user_id,
        "hours": counted,
    }
    store.mark_attended(session, activity_id, person_id, values)
    session.flush()
    return _attendance(session, activity_id, person_id)


def _attendance(session: Session, activity_id: int, person_id: int) -> dict[str, Any]:
    entry = store.signup(session, activity_id, person_id)
    assert entry is not None
    session.refresh(entry)
    return {
        "activity_id": activity_id,
        "person_id": person_id,
        "attended_at": entry.attended_at,
        "how": entry.how,
        "distance_m": None if entry.distance_m is None else round(entry.distance_m, 1),
        "hours": entry.hours,
    }


# ------------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class Rule:
    """每季度服务不少于 ``services`` 次、时长不少于 ``hours`` 小时."""

    services: int
    hours: Decimal

    @classmethod
    def of(cls, settings: Settings) -> Rule:
        return cls(settings.party_quarter_services, Decimal(str(settings.party_quarter_hours)))

    def met(self, services: int, hours: Decimal) -> bool:
        return services >= self.services and hours >= self.hours


@dataclass(frozen=True)
class Report:
    """The quarter's 双报到 table: one row per member and community (a member who moved has
    a row in each, their services counted where they lived on the activity's day), and the
    totals that decide whether the member met the rule."""

    quarter: Quarter
    rule: Rule
    rows: list[dict[str, Any]]

    @property
    def summary(self) -> dict[str, int]:
        return _tally(self.rows)

    @property
    def by_community(self) -> list[dict[str, Any]]:
        """Who met the rule and who did not, per community (a member who moved counts in
        each community they served in this quarter)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            found.setdefault(row["community_code"], []).append(row)
        return [
            {"code": code, "name": rows[0]["community_name"]} | _tally(rows)
            for code, rows in found.items()
        ]


def _tally(rows: list[dict[str, Any]]) -> dict[str, int]:
    members = {r["person_id"]: r["met"] for r in rows}
    met = sum(members.values())
    return {"members": len(members), "met": met, "not_met": len(members) - met}


def report(
    session: Session,
    scope: Scope,
    wanted: Quarter,
    settings: Settings,
    community: str | None = None,
    unit_id: int | None = None,
) -> Report:
    """The quarter's table for the communities ``scope`` manages (or one of them)."""
    rule = Rule.of(settings)
    parts = store.quarter_parts(
        session, (wanted.first, wanted.last), wanted.moments, scope.prefixes, community, unit_id
    )
    rows = [_row(p, rule) for p in parts]
    return Report(wanted, rule, rows)


def _row(part: Any, rule: Rule) -> dict[str, Any]:
    total_services, total_hours = int(part.quarter_services), Decimal(part.quarter_hours)
    return {
        "person_id": part.person_id,
        "name": part.name,
        "community_code": part.community_code,
        "community_name": part.community_name,
        "unit_id": part.unit_id,
        "unit_name": part.unit_name,
        "since": part.since,
        "until": part.until,
        "services": int(part.services),
        "hours": Decimal(part.hours),
        "quarter_services": total_services,
        "quarter_hours": total_hours,
        "met": rule.met(total_services, total_hours),
    }


def unit_of(caller: Caller) -> int:
    """The unit a unit's account stands for."""
    if caller.scope.party_unit_id is None:
        raise NotFound("This account stands for no unit.")
    return caller.scope.party_unit_id


def unit_report(
    session: Session, scope: Scope, unit_id: int, wanted: Quarter, settings: Settings
) -> tuple[Any, Report]:
    """双报告 to a unit: its members' quarter, one row per member (their totals), for a unit
    reporting to a community the scope manages, or the unit's own account's."""
    own = scope.party_unit_id == unit_id
    found = store.units(session, Scope(("",)) if own else scope, unit_id)
    if not found:
        raise NotFound(f"There is no unit {unit_id}.")
    whole = report(session, Scope(("",)), wanted, settings, unit_id=unit_id)
    by_member: dict[int, dict[str, Any]] = {}
    for row in whole.rows:
        by_member[row["person_id"]] = row  # the latest part names where they live now
    return found[0], Report(wanted, whole.rule, list(by_member.values()))


def my_quarter(
    session: Session, person_id: int, wanted: Quarter, settings: Settings
) -> dict[str, Any]:
    """A member's own quarter: the activities attended with their hours, and the rule."""
    rule = Rule.of(settings)
    rows = store.member_hours(session, person_id, *wanted.moments)
    services, hours = len(rows), sum((Decimal(r.hours) for r in rows), Decimal(0))
    return {
        "quarter": wanted.label,
        "services": services,
        "hours": hours,
        "rule": {"services": rule.services, "hours": rule.hours},
        "met": rule.met(services, hours),
        "activities": rows,
    }
