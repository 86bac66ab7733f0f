"""Patrols and visits (巡查走访) and the "3+N" work lists: 日巡查 daily patrol of a micro-grid,
周探访 weekly visit to care households, 月摸排 monthly survey of every household, and N special
lists.

A **patrol** belongs to one person and one work list. Its person is the caller's own (an
account linked to a person): a worker records only their own patrols, and only the account
that started a patrol adds to it. A phone either runs a live patrol (start → post fixes,
numbered by the phone so that a retried batch stores nothing twice → check in at households →
end) or uploads a finished track as GPX or GeoJSON. Ending or uploading cleans the track
(:mod:`gridmap.spatial.tracks`), stores it and computes in PostGIS which households the patrol
reached (:func:`gridmap.storage.patrols.refresh_reach`); a check-in reaches its household at
once.

A **work list** is a rule (``work_list``): which households (all, those with care tags) or
the grid itself, how often (a day, a week from Monday, a month, or once within a special
list's validity; in Beijing time), by whom (the staff holding a post of a role at the list's
grid level, or the members for the households they cover), and the weakest reach that counts
(a check-in, or a pass-by). Each person's lists for a date are generated from the rules and
their posts and coverage; a duty is **done** when a patrol of that list reached the household
(or patrolled the grid) in the current period, and **due** otherwise. Overdue lists are the
duties still due in the current period across the caller's scope, with counts per worker and
per grid.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from gridmap.access.auth import Caller, Forbidden, Scope
from gridmap.core import clock, glossary
from gridmap.core.clock import BEIJING
from gridmap.core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from gridmap.core.settings import Settings
from gridmap.files import service as files
from gridmap.grid import ingest
from gridmap.grid.lookup import to_storage_point
from gridmap.spatial import tracks
from gridmap.spatial.crs import SpatialInputError, check_lonlat, parse_crs, to_cgcs2000
from gridmap.storage import duties
from gridmap.storage import patrols as store
from gridmap.storage.models import Patrol, WorkList

#: How far a phone's clock may run ahead of the server's, and how long before a patrol's
#: start its first fixes may have been taken.
CLOCK_SKEW = dt.timedelta(minutes=10)
#: How long ago a live patrol may say it began (a phone that started offline).
LATEST_BACKDATED_START = dt.timedelta(hours=24)
#: Most duties listed per work list in one answer (counts are always complete).
MAX_ITEMS = 5000

#: The standard lists seeded with the demo: 日巡查, 周探访, 月摸排 (in force since 2000, so that
#: old tracks can be uploaded too).
_SINCE = {"valid_from": dt.date(2000, 1, 1)}
STANDARD_LISTS: tuple[dict[str, Any], ...] = (
    {
        "code": "daily_patrol",
        "name": glossary.WORK_LIST_KINDS["daily_patrol"],
        "kind": "daily_patrol",
        "target": "grid",
        "period": "day",
        "min_reach": "pass_by",
        "roles": ["grid_worker"],
        "grid_level": "micro",
    }
    | _SINCE,
    {
        "code": "weekly_visit",
        "name": glossary.WORK_LIST_KINDS["weekly_visit"],
        "kind": "weekly_visit",
        "target": "care",
        "care_tags": ["elderly_alone", "disabled", "low_income"],
        "period": "week",
        "min_reach": "check_in",
        "roles": ["grid_worker"],
        "grid_level": "micro",
    }
    | _SINCE,
    {
        "code": "monthly_survey",
        "name": glossary.WORK_LIST_KINDS["monthly_survey"],
        "kind": "monthly_survey",
        "target": "all",
        "period": "month",
        "min_reach": "check_in",
        "roles": ["grid_worker"],
        "grid_level": "micro",
    }
    | _SINCE,
)


class NoLinkedPerson(Unprocessable):
    """The caller's account is no grid staff's: it has no patrols of its own to record."""

    code = "no-linked-person"


class PatrolEnded(Conflict):
    code = "patrol-ended"
    title = "Patrol has ended"


@dataclass(frozen=True)
class Fix:
    """One GPS fix a phone posts during a live patrol, in the batch's declared CRS."""

    seq: int
    at: dt.datetime
    lon: float
    lat: float
    accuracy_m: float | None = None


@dataclass(frozen=True)
class NewCheckIn:
    """入户签到 at a household: when (default now), where the phone was, a note, a photo."""

    household_id: int
    at: dt.datetime | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "EPSG:4326"
    note: str | None = None
    photo: str | None = None


@dataclass(frozen=True)
class Period:
    """The period of a list that holds a date: [start, end) in UTC, and its Beijing dates."""

    start: dt.datetime
    end: dt.datetime
    first_day: dt.date
    last_day: dt.date


def _latest() -> float:
    """The last UNIX time a track may carry: the one clock's now plus a day of phone skew."""
    return clock.now().timestamp() + 86_400


def midnight(day: dt.date) -> dt.datetime:
    """The instant a Beijing day begins."""
    return dt.datetime.combine(day, dt.time(), BEIJING).astimezone(dt.UTC)


def period_of(rule: WorkList, on: dt.date) -> Period:
    """The period of ``rule`` that holds ``on`` (Beijing calendar)."""
    if rule.period == "day":
        first, last = on, on
    elif rule.period == "week":
        first = on - dt.timedelta(days=on.weekday())
        last = first + dt.timedelta(days=6)
    elif rule.period == "month":
        first = on.replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    else:
        first, last = rule.valid_from, rule.valid_to or on
    return Period(midnight(first), midnight(last + dt.timedelta(days=1)), first, last)


# ------------------------------------------------------------------------------ recording


def person_of(session: Session, caller: Caller) -> int:
    """The person the caller records patrols as, or a 422 saying the account has none."""
    person = caller.scope.person_id or store.person_of_user(session, caller.user_id)
    if person is None:
        raise NoLinkedPerson(
            "Your account is not linked to a person: only a worker records patrols, as themselves."
        )
    return person


def _work_list(session: Session, code: str, on: dt.date) -> WorkList:
    found = store.active_work_lists(session, on, code)
    if not found:
        known = ", ".join(r.code for r in store.active_work_lists(session, on)) or "none"
        raise Unprocessable(f"work list {code!r} is not in force on {on}; in force: {known}")
    return found[0]


def _grid_id(
    session: Session, caller: Caller, person: int, rule: WorkList, code: str | None, on: dt.date
) -> int | None:
    if code is None:
        return store.post_grid(session, person, rule.grid_level, on)
    grid = store.visible_grid(session, code, caller.scope)
    if grid is None:
        raise NotFound(f"There is no grid {code}.")
    return int(grid.id)


def start(
    session: Session,
    caller: Caller,
    *,
    list_code: str,
    grid_code: str | None = None,
    started_at: dt.datetime | None = None,
    crs: str = "EPSG:4326",
) -> int:
    """开始巡查: open a live patrol of the caller's person; returns its id (not committed).

    ``grid_code`` defaults to the person's post at the list's grid level; ``crs`` is the
    default coordinate system of the fixes the phone will post.
    """
    person = person_of(session, caller)
    now = clock.now()
    began = started_at or now
    if not now - LATEST_BACKDATED_START <= began <= now + CLOCK_SKEW:
        raise InvalidInput(
            f"started_at {began.isoformat()} is more than a day ago or in the future",
            errors=[{"field": "started_at", "message": "check the device clock"}],
        )
    on = began.astimezone(BEIJING).date()
    rule = _work_list(session, list_code, on)
    running = store.open_patrol_of(session, person)
    if running is not None:
        raise Conflict(f"You have patrol {running} running: end it before starting another.")
    return store.insert_patrol(
        session,
        {
            "person_id": person,
            "user_id": caller.user_id,
            "work_list_id": rule.id,
            "grid_id": _grid_id(session, caller, person, rule, grid_code, on),
            "source": "live",
            "source_crs": parse_crs(crs).name,
            "started_at": began,
        },
    )


def own_patrol(session: Session, caller: Caller, patrol_id: int) -> Patrol:
    """The caller's own patrol, running or ended, locked (404 / 403 as for its writes)."""
    return _own(session, caller, patrol_id, running=False)


def _own(session: Session, caller: Caller, patrol_id: int, *, running: bool = True) -> Patrol:
    """The caller's own patrol, locked; 404 when not visible, 403 when someone else's, 409
    when it has ended (``running``)."""
    patrol = store.lock_own_patrol(session, patrol_id, caller.user_id)
    if patrol is None:
        if store.is_visible(session, patrol_id, caller.scope):
            raise Forbidden("Only the worker who started this patrol may add to it.")
        raise NotFound(f"There is no patrol {patrol_id}.")
    if running and patrol.ended_at is not None:
        raise PatrolEnded(f"Patrol {patrol_id} ended at {patrol.ended_at.isoformat()}.")
    return patrol


def _check_times(times: list[dt.datetime], earliest: dt.datetime, label: str) -> None:
    latest = clock.now() + CLOCK_SKEW
    for i, at in enumerate(times):
        if not earliest <= at <= latest:
            raise InvalidInput(
                f"{label} {i}: time {at.isoformat()} is before the patrol began or in the "
                "future; check the device clock",
                errors=[{"field": f"{label}s.{i}.t", "message": "outside the patrol"}],
            )


def add_fixes(
    session: Session, caller: Caller, patrol_id: int, fixes: list[Fix], crs: str | None
) -> dict[str, Any]:
    """Store a batch of fixes of the caller's running patrol; fixes whose ``seq`` is stored
    already are skipped (a retried batch is harmless). Returns the counts (not committed)."""
    patrol = _own(session, caller, patrol_id)
    declared = parse_crs(patrol.source_crs if crs is None else crs)
    lon, lat = to_cgcs2000([f.lon for f in fixes], [f.lat for f in fixes], declared)
    check_lonlat(lon, lat, label="point")
    _check_times([f.at for f in fixes], patrol.started_at - CLOCK_SKEW, "point")
    rows = [
        {"seq": f.seq, "at": f.at, "lon": float(x), "lat": float(y), "accuracy_m": f.accuracy_m}
        for f, x, y in zip(fixes, lon, lat, strict=True)
    ]
    stored = store.add_points(session, patrol_id, patrol.started_at, rows)
    return {
        "patrol_id": patrol_id,
        "received": len(fixes),
        "stored": stored,
        "duplicates": len(fixes) - stored,
        "points": store.point_count(session, patrol_id, patrol.started_at),
    }


def check_in(session: Session, caller: Caller, patrol_id: int, new: NewCheckIn) -> dict[str, Any]:
    """入户签到 during the caller's running patrol at a household in scope; the household
    counts as reached at once. Returns the check-in (not committed)."""
    patrol = _own(session, caller, patrol_id)
    if store.household_point(session, new.household_id, caller.scope) is None:
        raise NotFound(f"There is no household {new.household_id}.")
    at = new.at or clock.now()
    _check_times([at], patrol.started_at - CLOCK_SKEW, "check-in")
    lon = lat = None
    if new.lon is not None and new.lat is not None:
        lon, lat = to_storage_point(new.lon, new.lat, new.crs)
    values = {
        "patrol_id": patrol_id,
        "household_id": new.household_id,
        "at": at,
        "note": new.note,
        "photo": new.photo,
    }
    row = store.add_check_in(session, values, lon, lat)
    files.attach_to_check_in(session, [new.photo] if new.photo else [], caller.user_id, row.id)
    store.record_check_in_reach(session, patrol_id, new.household_id, at, row.distance_m)
    distance = None if row.distance_m is None else round(float(row.distance_m), 1)
    return {"id": row.id, "household_id": new.household_id, "at": at, "distance_m": distance}


def _live_track(
    session: Session, patrol_id: int, started_at: dt.datetime, settings: Settings
) -> tracks.CleanTrack | None:
    rows = store.points_of(session, patrol_id, started_at)
    if not rows:
        return None
    raw = tracks.RawTrack(
        np.array([r.lon for r in rows], dtype=np.float64),
        np.array([r.lat for r in rows], dtype=np.float64),
        np.array([float(r.seconds) for r in rows], dtype=np.float64),
    )
    return tracks.clean_track(raw, max_speed_mps=settings.track_max_speed_mps, latest=_latest())


def end(
    session: Session,
    caller: Caller,
    patrol_id: int,
    settings: Settings,
    ended_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """结束巡查: close the caller's running patrol, clean its fixes into the track and compute
    the households it reached. Returns the cleaning report (not committed)."""
    patrol = _own(session, caller, patrol_id)
    ended = ended_at or clock.now()
    if not patrol.started_at <= ended <= clock.now() + CLOCK_SKEW:
        raise InvalidInput(
            f"ended_at {ended.isoformat()} is before the patrol began or in the future",
            errors=[{"field": "ended_at", "message": "check the device clock"}],
        )
    report: dict[str, Any] = {"points_in": 0, "points_kept": 0, "parts": 0}
    try:
        cleaned = _live_track(session, patrol_id, patrol.started_at, settings)
    except SpatialInputError as exc:  # fixes are checked as they come: a safety net
        cleaned, report = None, report | {"refused": str(exc)}
    if cleaned is not None:
        report = cleaned.report
    wkb = cleaned.wkb() if cleaned is not None and cleaned.usable else None
    store.finish_patrol(session, patrol_id, ended_at=ended, track_wkb=wkb, report=report)
    store.refresh_reach(session, [patrol_id], settings.pass_by_metres)
    return report


def upload(
    session: Session,
    caller: Caller,
    data: bytes,
    settings: Settings,
    *,
    fmt: str | None,
    list_code: str,
    crs: str,
    grid_code: str | None = None,
) -> int:
    """Store a finished patrol from a GPX or GeoJSON track of the caller's person: read,
    cleaned (or refused with the point named), its grid the person's post the track runs
    through longest (unless given), and the households it reached. Returns its id (not
    committed)."""
    person = person_of(session, caller)
    cleaned = tracks.clean_track(
        tracks.read_track(data, fmt),
        crs,
        max_speed_mps=settings.track_max_speed_mps,
        latest=_latest(),
    ).require_line()
    began = dt.datetime.fromtimestamp(float(cleaned.t[0]), dt.UTC)
    ended = dt.datetime.fromtimestamp(float(cleaned.t[-1]), dt.UTC)
    on = began.astimezone(BEIJING).date()
    rule = _work_list(session, list_code, on)
    earlier = store.same_upload(session, person, began, ended)
    if earlier is not None:
        raise Conflict(f"This track was uploaded already, as patrol {earlier}.")
    wkb = cleaned.wkb()
    grid_id = (
        _grid_id(session, caller, person, rule, grid_code, on)
        if grid_code
        else store.best_post_grid(session, person, rule.grid_level, on, wkb)
    )
    patrol_id = store.insert_patrol(
        session,
        {
            "person_id": person,
            "user_id": caller.user_id,
            "work_list_id": rule.id,
            "grid_id": grid_id,
            "source": "upload",
            "source_crs": parse_crs(crs).name,
            "started_at": began,
        },
    )
    store.finish_patrol(session, patrol_id, ended_at=ended, track_wkb=wkb, report=cleaned.report)
    store.refresh_reach(session, [patrol_id], settings.pass_by_metres)
    return patrol_id


# -------------------------------------------------------------------------------- reading


def detail(session: Session, patrol_id: int, scope: Scope, settings: Settings) -> dict[str, Any]:
    """A patrol in scope for replay: its row, its track (parts of lon/lat and UNIX times;
    cleaned on the fly from the fixes while it runs), check-ins and households reached."""
    row = store.get_patrol(session, patrol_id, scope)
    if row is None:
        raise NotFound(f"There is no patrol {patrol_id}.")
    if row.ended_at is None:
        parts = _parts_of_live(session, patrol_id, row.started_at, settings)
    else:
        parts = _parts_of_stored(store.track_vertices(session, patrol_id))
    return {
        "patrol": row,
        "parts": parts,
        "check_ins": store.check_ins_of(session, patrol_id, scope),
        "reached": store.reaches_of(session, patrol_id, scope),
    }


def _parts_of_stored(vertices: list[Any]) -> list[dict[str, list[Any]]]:
    parts: dict[int, dict[str, list[Any]]] = {}
    for v in vertices:
        part = parts.setdefault(int(v.part), {"coordinates": [], "times": []})
        part["coordinates"].append([round(float(v.lon), 7), round(float(v.lat), 7)])
        part["times"].append(round(float(v.seconds), 3))
    return list(parts.values())


def _parts_of_live(
    session: Session, patrol_id: int, started_at: dt.datetime, settings: Settings
) -> list[dict[str, list[Any]]]:
    try:
        cleaned = _live_track(session, patrol_id, started_at, settings)
    except SpatialInputError:
        return []
    if cleaned is None:
        return []
    return [
        {
            "coordinates": np.round(
                np.column_stack([cleaned.lon[a:b], cleaned.lat[a:b]]), 7
            ).tolist(),
            "times": np.round(cleaned.t[a:b], 3).tolist(),
        }
        for a, b in cleaned.parts
    ]


def work_lists(
    session: Session, scope: Scope, person_id: int, on: dt.date, list_code: str | None = None
) -> dict[str, Any]:
    """A person's lists on ``on``: each list in force that they carry, with its period and
    every duty (household or grid) done or still due, within the caller's scope."""
    person = store.visible_person(session, person_id, scope)
    if person is None:
        raise NotFound(f"There is no person {person_id}.")
    lists = []
    for rule in store.active_work_lists(session, on, list_code):
        period = period_of(rule, on)
        table = duties.duties(
            duties.Obligation(rule, period.start, period.end, on, scope, person_id=person_id)
        )
        if table is None:
            continue
        rows = duties.duty_rows(session, table, due_only=False, limit=MAX_ITEMS)
        if rows:
            lists.append({"rule": rule, "period": period, "rows": rows})
    return {"person": person, "date": on, "lists": lists}


def overdue(
    session: Session,
    scope: Scope,
    on: dt.date,
    *,
    grid_code: str | None = None,
    list_code: str | None = None,
    level: str = "micro",
    limit: int = 1000,
    geometry: bool = False,
) -> dict[str, Any]:
    """The duties still due in each list's current period across ``scope`` (care households
    not visited this week, households not surveyed this month, micro-grids not patrolled
    today...), at most ``limit`` rows, with complete counts per list, per worker and per
    grid at ``level``."""
    lists: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    by_person: dict[Any, dict[str, Any]] = {}
    by_grid: dict[Any, dict[str, Any]] = {}
    for rule in store.active_work_lists(session, on, list_code):
        period = period_of(rule, on)
        ob = duties.Obligation(rule, period.start, period.end, on, scope, grid_code=grid_code)
        table = duties.duties(ob)
        if table is None:
            continue
        due = duties.duty_rows(
            session, table, due_only=True, limit=max(limit - len(rows), 0), geometry=geometry
        )
        last = duties.last_reaches(
            session, [int(r.household_id) for r in due if r.household_id], rule.id, rule.min_reach
        )
        rows += [{"rule": rule, "row": r, "last": last.get(r.household_id)} for r in due]
        counts = _tally(duties.duty_counts_by_person(session, table), by_person, rule, "person_id")
        _tally(duties.duty_counts_by_grid(session, table, level), by_grid, rule, "code")
        lists.append({"rule": rule, "period": period, **counts})
    return {
        "date": on,
        "lists": lists,
        "rows": rows,
        "by_person": list(by_person.values()),
        "by_grid": list(by_grid.values()),
    }


def _tally(
    counts: list[Any], into: dict[Any, dict[str, Any]], rule: WorkList, key: str
) -> dict[str, int]:
    """Add one list's counts to ``into`` (keyed by ``key``); returns the list's totals."""
    total = due = 0
    for row in counts:
        entry = into.setdefault(
            getattr(row, key), {key: getattr(row, key), "name": row.name, "due": {}, "total": {}}
        )
        entry["due"][rule.code] = int(row.due)
        entry["total"][rule.code] = int(row.total)
        total += int(row.total)
        due += int(row.due)
    return {"total": total, "due": due}


def household_visits(
    session: Session, household_id: int, scope: Scope, limit: int = 20
) -> list[Any]:
    """The last patrols and visits that reached a household in scope, newest first."""
    rows = store.household_visits(session, household_id, scope, limit)
    if rows is None:
        raise NotFound(f"There is no household {household_id}.")
    return rows


# ---------------------------------------------------------------------------------- seeding


def seed_work_lists(
    session: Session, specials: tuple[dict[str, Any], ...] | None = None
) -> ingest.ImportReport:
    """Add the standard lists (日巡查, 周探访, 月摸排) and ``specials`` that are missing
    (existing ones are left as edited). By default one special list for the demo: a fire
    safety check (消防安全检查) of households of elderly people living alone, this month."""
    if specials is None:
        first = clock.today().replace(day=1)
        specials = (
            {
                "code": "fire_safety",
                "name": "独居老人消防安全检查",
                "kind": "special",
                "target": "care",
                "care_tags": ["elderly_alone"],
                "period": "once",
                "min_reach": "check_in",
                "roles": ["grid_worker"],
                "grid_level": "micro",
                "valid_from": first,
                "valid_to": (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1),
            },
        )
    added = sum(store.add_work_list(session, values) for values in (*STANDARD_LISTS, *specials))
    return ingest.ImportReport("work lists", written=added)
