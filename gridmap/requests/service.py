"""Residents' requests (群众诉求): intake, routing (首接负责) and transitions.

Intake locates a request to its micro-grid (the rule the household triggers use,
``gridmap_micro_grid_at``) and gives it an owner at once. Routing starts at the category's
default level and climbs while a level has nobody: the micro-grid's grid worker (网格员),
else the zone leader (网格长), else the community's chief (总网格长), else the street (街道,
its street administrator if one has an account, otherwise the whole street's scope). A
category handled by a department by default starts at the street: only the street summons a
department (街乡吹哨). The first event of the timeline says who owns it and why. The rule
itself (:func:`climb`, the owners and their why, :func:`owner_detail`) and the due date
(:func:`due_at`, :func:`due_at_many` for arrays) are pure functions, so that the request
generator (:mod:`gridmap.demo.generator`) applies the same ones to its bulk-read staff.

Transitions are decided by :mod:`gridmap.requests.lifecycle`; this module locks the request, checks
the
caller saw its current revision (If-Match), finds the new owner when the level changes,
restarts the stage clock with :func:`gridmap.requests.deadlines.add_time` (in the stage limit's
basis, clock or working time, shortened by the request's urgency: ``set_urgency`` recounts the
running stage from its start), appends the event and bumps the revision, all in the caller's
transaction.

An ``Idempotency-Key`` makes intake safe to retry: the key is claimed with ``INSERT … ON
CONFLICT DO NOTHING`` in the same transaction as the request, and the answer is stored with
it, so a retry gets the first answer and two racing retries cannot both store a request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

import numpy as np
from sqlalchemy.orm import Session

from gridmap.access.auth import HANDLE, Caller, Forbidden
from gridmap.core import clock, etags, glossary
from gridmap.core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from gridmap.files import service as files
from gridmap.grid.lookup import to_storage_point
from gridmap.requests import deadlines, lifecycle, notices
from gridmap.storage import departments as department_store
from gridmap.storage import requests as store
from gridmap.storage.models import Category, ResidentRequest

#: The staff role that owns a request at each grid level.
GRID_ROLE = {"micro": "grid_worker", "zone": "zone_leader", "community": "chief"}
#: The share of every stage limit each urgency allows, unless configured
#: (``GRIDMAP_URGENCY_FACTORS``, :attr:`gridmap.core.settings.Settings.factors`).
DEFAULT_FACTORS: Final[Mapping[str, float]] = {"normal": 1.0, "urgent": 0.5, "critical": 0.25}
#: The moves that start a response stage (its limit may be the street's 限时督办).
_RESTARTS_RESPONSE: Final = frozenset({"report", "escalate", "return", "reassign"})
#: The keys of a stage limit (``basis`` optional: working time).
LIMIT_KEYS: Final = frozenset({"amount", "unit", "basis"})
#: The levels a new request climbs, from its category's default level up (首接负责).
CLIMB: Final = ("micro", "zone", "community", "street")


class IllegalAction(Conflict):
    code = "illegal-transition"
    title = "Not allowed now"


class OwnWork(Forbidden):
    """Nobody rates, verifies or calls back a request they handled or own."""

    code = "own-work"
    title = "Not independent of this request"


class OwnDeadline(Forbidden):
    """The owner of a request may make it more urgent, never less: that would lengthen its
    own deadline; a supervisor may (调整紧急程度)."""

    code = "own-deadline"
    title = "Not your own deadline to lengthen"


class AfterPhotoMissing(Conflict):
    """The category requires an "after" photo (处置后照片) to complete the request."""

    code = "after-photo-missing"
    title = "After photo missing"


class CheckMissing(Conflict):
    """The category requires an on-site check (核查) before the request is closed."""

    code = "check-missing"
    title = "On-site check missing"


@dataclass(frozen=True)
class NewRequest:
    """A request as filed: a place (a point in a declared CRS, or a household) and what."""

    category: str
    description: str
    source: str
    lon: float | None = None
    lat: float | None = None
    crs: str = "EPSG:4326"
    household_id: int | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    photos: tuple[str, ...] = ()
    #: 一般 (normal), 紧急 (urgent) or 特急 (critical): shortens every stage limit.
    urgency: str = "normal"
    #: The visit (民情日志) it was filed from, linked in its timeline's first event.
    visit_id: int | None = None


@dataclass(frozen=True)
class Change:
    """A transition asked for: the action and its arguments (see ``lifecycle.ACTION_ARGS``)."""

    action: str
    note: str | None = None
    rating: str | None = None
    reason: str | None = None
    duplicate_of: int | None = None
    #: The department summoned (escalating from the street) or handed to (reassign there).
    department_id: int | None = None
    #: 协办: the departments the street names to co-handle (add_cohandler).
    cohandler_ids: tuple[int, ...] = ()
    #: 社区吹哨: the people the community's chief calls up (call_helpers).
    helper_ids: tuple[int, ...] = ()
    #: The person to hand it to at the new level (default: the longest-serving staff there).
    person_id: int | None = None
    #: The time limit the street gives a summoned department's response (限时督办), the
    #: extra time a department asks for (延期) or the new limit of a supervision (督办).
    time_limit: dict[str, Any] | None = None
    #: set_urgency: the request's new urgency (一般 normal, 紧急 urgent, 特急 critical).
    urgency: str | None = None
    photos: tuple[str, ...] = field(default=())
    #: callback (回访): the answers "resolved?" and how it was asked.
    resolved: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class Owner:
    """Who owns a request at a level, and why them (for the timeline)."""

    level: str
    person_id: int | None
    user_id: int | None
    department_id: int | None
    why: str
    #: The department's name (for the timeline), when ``department_id`` is set.
    department: str | None = None


def etag(request_id: int, revision: int) -> str:
    return f'"request-{request_id}.{revision}"'


def fingerprint(path: str, body: dict[str, Any]) -> str:
    """What makes two writes the same: the endpoint and the validated body."""
    text = json.dumps({"path": path, "body": body}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# -------------------------------------------------------------------------------- idempotency


def once(
    session: Session,
    user_id: int,
    key: str | None,
    body_hash: str,
    write: Callable[[], tuple[int, str]],
) -> tuple[int, str, bool]:
    """Run ``write`` at most once per ``(user, key)``; returns the status and body text of
    the answer and whether this is a replay of the first one (byte for byte).

    The caller commits: the key, the write and its stored answer go in one transaction, so a
    failed write leaves no key behind and its retry runs again.
    """
    if key is None:
        return (*write(), False)
    if not store.claim_key(session, user_id, key, body_hash):
        stored = store.stored_key(session, user_id, key)
        if stored is None or stored.response_status is None or stored.response_body is None:
            raise Conflict("A write with this Idempotency-Key is in progress; retry shortly.")
        if stored.body_hash != body_hash:
            raise Unprocessable(
                "This Idempotency-Key was used for a different request body; "
                "use a new key for a new request."
            )
        return stored.response_status, stored.response_body, True
    status, body = write()
    store.finish_key(session, user_id, key, status, body)
    return status, body, False


# --------------------------------------------------------------------------------- categories


def check_time_limits(limits: dict[str, Any]) -> dict[str, Any]:
    """A category's ``{stage: {"amount": n, "unit": "hours" | "days", "basis": "working" |
    "clock"}}``, checked (``basis`` may be left out: working time); returns it unchanged."""
    if not isinstance(limits, dict):
        raise InvalidInput("time_limits must be an object {stage: {amount, unit, basis}}")
    for stage, limit in limits.items():
        if stage not in lifecycle.STAGE_OF.values():
            raise InvalidInput(
                f"time_limits: {stage!r} is no stage; use response, handling, feedback"
            )
        check_time_limit(limit, f"time_limits.{stage}")
    return limits


#: The stages whose lapse may climb a request by itself: the open ones (a lapsed 回访 is
#: archived or answered, not escalated).
LAPSING_STAGES: Final = tuple(dict.fromkeys(str(lifecycle.STAGE_OF[s]) for s in lifecycle.OPEN))


def check_escalate_on_lapse(stages: Any) -> list[str]:
    """A category's ``escalate_on_lapse``: a list of distinct open stages, checked."""
    if not isinstance(stages, list) or any(s not in LAPSING_STAGES for s in stages):
        raise InvalidInput(
            f"escalate_on_lapse must be a list of stages among {', '.join(LAPSING_STAGES)}"
        )
    if len(set(stages)) != len(stages):
        raise InvalidInput("escalate_on_lapse names a stage twice")
    return list(stages)


def check_time_limit(limit: Any, where: str) -> dict[str, Any]:
    """One stage limit ``{amount, unit[, basis]}``, checked; ``where`` names it in errors."""
    if not isinstance(limit, dict) or not {"amount", "unit"} <= set(limit) <= LIMIT_KEYS:
        raise InvalidInput(f"{where} must be {{amount, unit, basis}} (basis may be left out)")
    amount = limit["amount"]
    if type(amount) is not int or not 0 <= amount <= deadlines.MAX_AMOUNT:
        raise InvalidInput(f"{where}.amount must be a whole number 0..{deadlines.MAX_AMOUNT}")
    if limit["unit"] not in deadlines.UNIT_CODES:
        raise InvalidInput(f"{where}.unit must be hours or days; got {limit['unit']!r}")
    if limit.get("basis", "working") not in deadlines.BASES:
        raise InvalidInput(
            f"{where}.basis must be clock (elapsed time) or working (working time); "
            f"got {limit['basis']!r}"
        )
    return limit


def basis_of(limit: dict[str, Any] | None) -> deadlines.Basis:
    """How a stage limit is counted: its ``basis``, working time when it has none (old rows)."""
    return cast("deadlines.Basis", (limit or {}).get("basis", "working"))


def revise_category(session: Session, code: str, **changes: Any) -> Category:
    """A new version of category ``code`` with ``changes``; the old version is closed, and the
    requests filed under it keep its rules."""
    current = store.current_category(session, code, lock=True)
    if current is None:
        raise NotFound(f"There is no category {code!r}.")
    if "time_limits" in changes:
        check_time_limits(changes["time_limits"])
    if "escalate_on_lapse" in changes:
        check_escalate_on_lapse(changes["escalate_on_lapse"])
    fields = (
        "name",
        "event_class",
        "description",
        "default_level",
        "time_limits",
        "escalate_on_lapse",
        "requires_check",
        "requires_after_photo",
        "open_to_public",
    )
    values = {f: changes.get(f, getattr(current, f)) for f in fields}
    return store.add_category_version(session, current, values)


# ------------------------------------------------------------------------------------ routing


def _time_limit(category: Category, stage: str | None) -> dict[str, Any] | None:
    if stage is None:
        return None
    limit = category.time_limits.get(stage)
    return limit if isinstance(limit, dict) else None


def stage_deadline(
    start: dt.datetime, limit: dict[str, Any] | None, factor: float = 1.0
) -> dt.datetime | None:
    """When a stage begun at ``start`` runs out, counted in its limit's basis (clock or working
    time) and shortened by the request's urgency ``factor`` (None: no limit)."""
    if not limit:
        return None
    unit = cast("deadlines.Unit", limit["unit"])
    return deadlines.add_time(start, int(limit["amount"]), unit, basis_of(limit), factor=factor)


def on_duty(level: str, grid_code: str | None, person_id: int | None) -> Owner | None:
    """The owner at grid ``level`` (micro, zone, community): the person on duty there (the
    longest-serving one), or None when nobody is."""
    if person_id is None:
        return None
    why = f"{GRID_ROLE[level]} on duty in {glossary.LEVELS[level]} {grid_code}"
    return Owner(level, person_id, None, None, why)


def street_owner(micro_code: str, user_id: int | None) -> Owner:
    """The street's owner of a micro-grid: its street administrator's account if one has an
    account (``user_id``), else the whole street's scope."""
    who = "its street administrator" if user_id else "the street (no administrator account)"
    return Owner("street", None, user_id, None, f"{who} for {micro_code[:9]}")


def unstaffed(level: str, grid_code: str | None) -> Owner:
    """The owner when a transition moves a request to a grid level with nobody on duty: the
    level's scope owns it (no climbing: the move chose the level)."""
    why = f"nobody on duty as {GRID_ROLE[level]} in {grid_code}: its scope owns it"
    return Owner(level, None, None, None, why)


def summoned(department_id: int, name: str) -> Owner:
    """街乡吹哨: the department the street summons."""
    return Owner("department", None, None, department_id, "summoned by the street", name)


def first_level(default_level: str) -> str:
    """The level routing starts at for a category's default level: a department's category
    starts at the street (only the street summons a department)."""
    return default_level if default_level in CLIMB else "street"


def climb(start: str, owner_at: Callable[[str], Owner | None]) -> Owner:
    """首接负责: the first owner from level ``start`` up (a department's category starts at
    the street), ``owner_at(level)`` giving a level's owner or None when nobody is on duty;
    the owner's why notes the levels skipped. The street always answers."""
    first = CLIMB.index(first_level(start))
    skipped: list[str] = []
    for level in CLIMB[first:]:
        owner = owner_at(level)
        if owner is not None:
            note = f"; nobody on duty as {', '.join(skipped)}" if skipped else ""
            return Owner(owner.level, owner.person_id, owner.user_id, None, owner.why + note)
        skipped.append(GRID_ROLE[level])
    raise AssertionError("unreachable: the street level always answers")


def owner_detail(owner: Owner) -> dict[str, Any]:
    """The owner as the timeline records it (an event's ``detail.owner``)."""
    routed: dict[str, Any] = {
        "person_id": owner.person_id,
        "user_id": owner.user_id,
        "why": owner.why,
    }
    if owner.department_id is not None:
        routed["department_id"] = owner.department_id
        routed["department"] = owner.department
    return routed


def _grid_owner(
    session: Session, level: str, grid: store.ChainGrid, person_id: int | None
) -> Owner | None:
    role = GRID_ROLE[level]
    staff = store.staff_of(session, grid["id"], role)
    if person_id is not None:
        if person_id not in staff:
            raise Unprocessable(f"person {person_id} is not a {role} of grid {grid['code']}")
        return Owner(level, person_id, None, None, f"chosen {role} of {grid['code']}")
    return on_duty(level, grid["code"], staff[0] if staff else None)


def _street_owner(session: Session, micro_code: str) -> Owner:
    return street_owner(micro_code, store.street_admin_for(session, micro_code))


def _owner_of_level(
    session: Session, level: str, chain: dict[str, store.ChainGrid]
) -> Owner | None:
    if level == "street":
        return _street_owner(session, chain["micro"]["code"])
    if level not in chain:
        return None
    return _grid_owner(session, level, chain[level], None)


def route(session: Session, micro_grid_id: int, start: str) -> Owner:
    """首接负责: the owner of a new request in a micro-grid, climbing from level ``start``
    while a level has nobody on duty (the street always takes what nobody below does)."""
    chain = store.grid_chain(session, micro_grid_id)
    return climb(start, lambda level: _owner_of_level(session, level, chain))


def _owner_at(session: Session, row: ResidentRequest, level: str, change: Change) -> Owner:
    """The new owner when a transition moves a request to ``level`` (or within it)."""
    chain = store.grid_chain(session, row.micro_grid_id)
    if level == "department":
        if change.department_id is None:
            raise InvalidInput("department_id: name the department summoned (街乡吹哨)")
        found = _serving(session, change.department_id, chain["micro"]["code"])
        return summoned(found.id, found.name)
    if change.department_id is not None:
        raise InvalidInput("department_id is only for a request going to a department")
    if level == "street":
        return _street_owner(session, chain["micro"]["code"])
    owner = _grid_owner(session, level, chain[level], change.person_id)
    return owner or unstaffed(level, chain[level]["code"])


def _serving(session: Session, department_id: int, micro_code: str) -> Any:
    """The department if it is active and serves the request's place, else 422."""
    found = department_store.serving(session, department_id, micro_code)
    if found is None:
        raise Unprocessable(
            f"department {department_id} does not serve the place of this request "
            f"(micro-grid {micro_code}): summon a department whose area holds it"
        )
    return found


# ------------------------------------------------------------------------------------- intake


def _place(
    session: Session, new: NewRequest, caller: Caller
) -> tuple[float, float, int, int | None]:
    """lon, lat (EPSG:4490), micro-grid id and household id of a new request."""
    if new.household_id is not None:
        house = store.household_place(session, new.household_id, caller.scope)
        if house is None:
            raise NotFound(f"There is no household {new.household_id}.")
        lon, lat = float(house.lon), float(house.lat)
    else:
        assert new.lon is not None and new.lat is not None
        lon, lat = to_storage_point(new.lon, new.lat, new.crs)
    micro = store.micro_grid_at(session, lon, lat, caller.scope)
    if micro is None:
        raise Unprocessable(
            f"The point ({lon:.6f}, {lat:.6f}) lies outside every micro-grid you serve; "
            "a request must be filed where a grid worker can take it."
        )
    return lon, lat, int(micro.id), new.household_id


def intake(
    session: Session,
    new: NewRequest,
    caller: Caller,
    factors: Mapping[str, float] = DEFAULT_FACTORS,
) -> int:
    """上报: store a request, located and owned at once; returns its id (not committed).

    Its stage limits are shortened by ``factors[new.urgency]`` (the configured urgencies).
    A caller who does not handle requests (a party member) files for a household only; the
    public channel's resident (role ``resident``) files at a point, anywhere in the district."""
    handles = HANDLE in caller.capabilities or caller.role == "resident"
    if not handles and new.household_id is None:
        raise Forbidden(
            "You file requests for the households you cover: give household_id, not a location."
        )
    factor = urgency_factor(new.urgency, factors)
    category = store.current_category(session, new.category)
    if category is None:
        raise Unprocessable(
            f"category {new.category!r} is not in the catalogue; "
            "GET /open311/v2/services.json lists the codes"
        )
    lon, lat, micro_grid_id, household_id = _place(session, new, caller)
    owner = route(session, micro_grid_id, category.default_level)
    now = clock.now()
    state = lifecycle.new_request(cast("lifecycle.Level", owner.level))
    limit = _time_limit(category, state.stage)
    response_deadline = stage_deadline(now, limit, factor)
    request_id = store.insert_request(
        session,
        {
            "category_id": category.id,
            "description": new.description,
            "household_id": household_id,
            "micro_grid_id": micro_grid_id,
            "level": owner.level,
            "owner_person_id": owner.person_id,
            "owner_user_id": owner.user_id,
            "state": state.state,
            "contact_name": new.contact_name,
            "contact_phone": new.contact_phone,
            "contact_email": new.contact_email,
            "photos": list(new.photos),
            "source": new.source,
            "created_by": caller.user_id,
            "created_at": now,
            "updated_at": now,
            "stage_started_at": now,
            "stage_deadline": response_deadline,
            "stage_basis": basis_of(limit),
            "urgency": new.urgency,
            "due_at": due_at(now, response_deadline),
        },
        lon,
        lat,
    )
    files.attach_to_request(session, new.photos, caller.user_id, request_id)
    _event(
        session,
        request_id,
        caller,
        action="report",
        before=None,
        after=state.state,
        owner=owner,
        note=None,
        photos=new.photos,
        detail={"source": new.source, "category_version": category.version}
        | ({"visit_id": new.visit_id} if new.visit_id is not None else {})
        | _deadline_echo(response_deadline, new.urgency),
        at=now,
    )
    subject = notices.Subject(
        request_id,
        state.state,
        owner.level,
        new.urgency,
        new.contact_phone,
        owner.user_id,
        owner.person_id,
        owner.department_id,
    )
    notices.after_intake(session, subject, category, now)
    return request_id


def urgency_factor(urgency: str, factors: Mapping[str, float]) -> float:
    """The share of every stage limit a request of ``urgency`` gets (400 for an unknown one)."""
    if urgency not in factors:
        raise InvalidInput(f"urgency must be one of {', '.join(factors)}; got {urgency!r}")
    return factors[urgency]


def _deadline_echo(deadline: dt.datetime | None, urgency: str) -> dict[str, Any]:
    """The report's deadline and urgency as its event records them (a normal one: none)."""
    if urgency == "normal":
        return {}
    return {"urgency": urgency, "deadline": deadline.isoformat() if deadline else None}


def _event(
    session: Session,
    request_id: int,
    caller: Caller,
    *,
    action: str,
    before: str | None,
    after: str,
    owner: Owner,
    note: str | None,
    photos: tuple[str, ...],
    detail: dict[str, Any],
    at: dt.datetime,
) -> None:
    store.append_event(
        session,
        {
            "request_id": request_id,
            "at": at,
            "actor_user_id": caller.user_id,
            "actor": caller.username,
            "action": action,
            "from_state": before,
            "to_state": after,
            "level": owner.level,
            "owner_person_id": owner.person_id,
            "note": note,
            "photos": list(photos),
            "detail": detail | {"owner": owner_detail(owner)},
        },
    )


# -------------------------------------------------------------------------------- transitions


def _locked(session: Session, request_id: int, caller: Caller, if_match: str | None) -> Any:
    row = store.lock_request(session, request_id, caller.scope)
    if row is None:
        raise NotFound(f"There is no request {request_id}.")
    current = etag(row.id, row.revision)
    etags.check(if_match, current, f"Request {request_id}", "reload it and decide again.")
    return row


def _state_of(row: ResidentRequest) -> lifecycle.RequestState:
    return lifecycle.RequestState(
        state=cast("lifecycle.State", row.state),
        level=cast("lifecycle.Level", row.level),
        reopen_count=row.reopen_count,
        rating=cast("lifecycle.Rating | None", row.rating),
        duplicate_of=row.duplicate_of,
    )


def _arguments(change: Change) -> dict[str, object]:
    given = {
        "rating": change.rating,
        "reason": change.reason,
        "original_id": change.duplicate_of,
        "text": change.note if change.action == "comment" else None,
        "resolved": change.resolved,
        "channel": change.channel,
        "urgency": change.urgency,
    }
    return {name: value for name, value in given.items() if value is not None}


def role_on(session: Session, row: Any, caller: Caller) -> str:
    """The caller's role on a request: a department account co-handling a request that another
    department leads acts as ``co_department`` (协办: it may comment, never complete); a grid
    worker or member the community called up to a request it owns, as ``helper``."""
    if caller.role == "department" and row.department_id != caller.scope.department_id:
        return "co_department"
    helping = caller.role in ("grid_worker", "member") and row.level == "community"
    if helping and department_store.is_helper(session, row.id, caller.scope.person_id):
        return "helper"
    return caller.role


def _decide(
    session: Session, row: ResidentRequest, change: Change, caller: Caller
) -> lifecycle.Transition:
    try:
        return lifecycle.transition(
            _state_of(row), change.action, role_on(session, row, caller), **_arguments(change)
        )
    except lifecycle.IllegalTransition as exc:
        raise IllegalAction(str(exc)) from None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _check_original(session: Session, row: ResidentRequest, original: int, caller: Caller) -> None:
    """A duplicate points at another visible request of the same category, not a duplicate."""
    found = store.is_visible(session, original, caller.scope)
    if found is None:
        raise NotFound(f"There is no request {original}.")
    mine = store.category_version(session, row.category_id).code
    if original == row.id or found.state == "duplicate" or found.category != mine:
        raise Unprocessable(
            f"request {original} cannot be the original: it must be another request of "
            f"category {mine!r} that is not itself a duplicate"
        )


def _deadline_change(
    move: lifecycle.Transition,
    change: Change,
    category: Category,
    now: dt.datetime,
    factor: float,
) -> dict[str, Any]:
    """The stage clock after a move: restarted (a new stage or a new owner), stopped (no
    stage runs in the new state) or left as it is."""
    if move.deadline_starts is None:
        return {} if move.after.stage is not None else {"stage_deadline": None}
    limit = _time_limit(category, move.deadline_starts)
    if move.summoned and change.time_limit:
        given = _given(change.time_limit)
        # 限时督办 counts like the category's response limit unless the street says otherwise.
        limit = check_time_limit({"basis": basis_of(limit)} | given, "time_limit")
    return {
        "stage_started_at": now,
        "stage_deadline": stage_deadline(now, limit, factor),
        "stage_basis": basis_of(limit),
    }


def due_at(
    filed_at: dt.datetime,
    response_deadline: dt.datetime | None,
    accepted_at: dt.datetime | None = None,
    handling_deadline: dt.datetime | None = None,
) -> dt.datetime:
    """The due date the resolution rate judges (see :mod:`gridmap.requests.rates`): fixed by
    the first accept (``accepted_at``), its handling deadline, else its moment; until then the
    deadline of the last response stage opened, else the filing time."""
    if accepted_at is not None:
        return handling_deadline or accepted_at
    return response_deadline or filed_at


def due_at_many(
    filed_at: deadlines.Seconds,
    response_deadline: deadlines.Seconds,
    accepted_at: deadlines.Seconds,
    handling_deadline: deadlines.Seconds,
) -> deadlines.Seconds:
    """:func:`due_at` for arrays of Unix seconds, :data:`~gridmap.requests.deadlines.NEVER`
    standing for None."""
    never = deadlines.NEVER
    accepted = np.where(handling_deadline < never, handling_deadline, accepted_at)
    open_ = np.where(response_deadline < never, response_deadline, filed_at)
    return np.where(accepted_at < never, accepted, open_)


def _due_date(
    session: Session,
    row: ResidentRequest,
    move: lifecycle.Transition,
    values: dict[str, Any],
    now: dt.datetime,
) -> dict[str, Any]:
    """``due_at`` after a move (see ``gridmap.requests.rates``): fixed by the first accept (its
    handling deadline, else its moment); until then the open response stage's deadline."""
    if store.was_accepted(session, row.id):
        return {}
    if move.action == "accept":
        return {"due_at": due_at(row.created_at, None, now, values.get("stage_deadline"))}
    if move.after.state == "reported" and "stage_deadline" in values:
        return {"due_at": due_at(row.created_at, values["stage_deadline"])}
    return {}


def act(
    session: Session,
    request_id: int,
    change: Change,
    caller: Caller,
    if_match: str | None,
    factors: Mapping[str, float] = DEFAULT_FACTORS,
) -> int:
    """Apply one transition by the caller; returns the new revision (not committed). A
    restarted stage clock is shortened by ``factors`` of the request's urgency."""
    row = _locked(session, request_id, caller, if_match)
    return apply(session, row, change, caller, factors=factors)


def apply(
    session: Session,
    row: ResidentRequest,
    change: Change,
    caller: Caller,
    *,
    detail: dict[str, Any] | None = None,
    factors: Mapping[str, float] = DEFAULT_FACTORS,
) -> int:
    """Apply one transition by the caller to ``row``, locked by the caller (the scheduler
    locks its own rows, and says why it acts in ``detail``, added to the event's); returns
    the new revision (not committed)."""
    move = _decide(session, row, change, caller)
    _check_move(session, row, move, change, caller)
    if move.new_owner_level is not None:
        owner = _owner_at(session, row, move.new_owner_level, change)
    else:
        if change.department_id or change.person_id:
            raise InvalidInput(f"{change.action!r} hands the request to nobody new")
        owner = current_owner(session, row)
    now = clock.now()
    category = store.category_version(session, row.category_id)
    if move.after.state in _CLOSING and category.requires_check:
        _check_done(session, row, move)
    files.attach_to_request(session, change.photos, caller.user_id, row.id)
    if move.action == "complete" and category.requires_after_photo:
        _check_after_photo(session, row)
    values = {
        "state": move.after.state,
        "level": move.after.level,
        "reopen_count": move.after.reopen_count,
        "rating": move.after.rating,
        "duplicate_of": move.after.duplicate_of,
        "owner_person_id": owner.person_id,
        "owner_user_id": owner.user_id,
        "department_id": owner.department_id,
    } | _deadline_change(move, change, category, now, factors[row.urgency])
    if move.action == "set_urgency":
        values |= _urgency_change(session, row, category, cast("str", change.urgency), factors)
    values |= _due_date(session, row, move, values, now)
    echoed = (detail or {}) | _echo(move, values.get("stage_deadline"), change)
    if move.action in lifecycle.DEPARTMENT_STEPS:
        changed, step = _department_step(session, row, move, change, now)
        values |= changed
        echoed |= step
    elif move.deadline_starts is not None:
        _leave_departments(session, row, move, now)
    revision = store.update_request(session, row.id, values)
    _event(
        session,
        row.id,
        caller,
        action=move.action,
        before=move.before.state,
        after=move.after.state,
        owner=owner,
        note=change.note,
        photos=change.photos,
        detail=echoed,
        at=now,
    )
    subject = notices.Subject(
        row.id,
        move.after.state,
        move.after.level,
        str(values.get("urgency", row.urgency)),
        row.contact_phone,
        owner.user_id,
        owner.person_id,
        owner.department_id,
    )
    notices.after_move(
        session, subject, move.action, move.new_owner_level is not None, category, now
    )
    return revision


def _check_move(
    session: Session,
    row: ResidentRequest,
    move: lifecycle.Transition,
    change: Change,
    caller: Caller,
) -> None:
    """What the rule table cannot see: the arguments only some actions take, independence of
    the judging actions, the check's photo, a duplicate's original."""
    _check_extras(change, move)
    if move.action in lifecycle.INDEPENDENT:
        _check_independent(session, row, caller)
    if move.action == "verify" and not change.photos:
        raise InvalidInput("verify: photos must hold the photo of the on-site check (核查)")
    if move.duplicate_of is not None:
        _check_original(session, row, int(move.duplicate_of), caller)
    lowered = move.action == "set_urgency" and lifecycle.URGENCIES.index(
        str(change.urgency)
    ) < lifecycle.URGENCIES.index(row.urgency)
    if lowered and caller.role not in lifecycle.SUPERVISORS[cast("lifecycle.Level", row.level)]:
        raise OwnDeadline(
            f"Request {row.id} is {row.urgency!r}: its owner may make it more urgent, never "
            "less (that would lengthen its own deadline); ask a supervisor."
        )


#: The states a request is closed in: the on-site check (核查) must come before them.
_CLOSING: Final = frozenset({"feedback", "archived"})
#: The request's columns that name its owner (a person, an account, a department); an
#: account is the owner when one of its identities (:func:`identities`) is in them.
OWNER_COLUMNS: Final = ("owner_person_id", "owner_user_id", "department_id")


def identities(session: Session, caller: Caller) -> dict[str, object]:
    """Who the caller is, as the request's :data:`OWNER_COLUMNS` name owners: its account and
    its linked person, or its department (a department's account)."""
    person = caller.scope.person_id or store.person_of_user(session, caller.user_id)
    found: dict[str, object] = {
        "owner_user_id": caller.user_id,
        "owner_person_id": person,
        "department_id": caller.scope.department_id,
    }
    return {column: value for column, value in found.items() if value is not None}


def owns(row: Any, caller: Caller, mine: dict[str, object]) -> bool:
    """Whether the caller owns the request: one of its identities is the owner, or nobody
    is and the caller's role owns the request's level (its scope answers for it)."""
    if any(getattr(row, column, None) == value for column, value in mine.items()):
        return True
    nobody = all(getattr(row, column, None) is None for column in OWNER_COLUMNS)
    return nobody and lifecycle.OWNER_ROLE.get(row.level) == caller.role


def independent(session: Session, row: Any, caller: Caller) -> bool:
    """Whether the caller neither owns the request nor took a handling step on it: only
    then may it rate, verify or call back."""
    mine = identities(session, caller)
    person = cast("int | None", mine.get("owner_person_id"))
    return not (
        owns(row, caller, mine) or store.handled_by(session, row.id, caller.user_id, person)
    )


def _check_independent(session: Session, row: Any, caller: Caller) -> None:
    """Refuse (403 ``own-work``) a caller who owns the request or handled it."""
    if not independent(session, row, caller):
        raise OwnWork(
            f"You own or handled request {row.id}: its rating, on-site check and 回访 must "
            "come from someone independent of its handling."
        )


def _check_done(session: Session, row: Any, move: lifecycle.Transition) -> None:
    """Refuse (409 ``check-missing``) to close a request of a category that requires an
    on-site check before a verifier's check follows its last completion."""
    if move.action == "verify" or store.checked_since_completion(session, row.id):
        return
    raise CheckMissing(
        f"Request {row.id}'s category requires an on-site check (核查) with a photo before it "
        f"is closed: a verifier must record it ('verify') before {move.action!r}."
    )


def _check_after_photo(session: Session, row: Any) -> None:
    """Refuse (409 ``after-photo-missing``) to complete a request of a category that needs
    an "after" photo before one is attached (with this step or an earlier one)."""
    if files.has_after_photo(session, row.id):
        return
    raise AfterPhotoMissing(
        f"Request {row.id}'s category requires a photo of the result (处置后照片) to "
        "complete it: upload one with purpose 'after' (POST /api/v1/files) and give its id "
        "in photos."
    )


def _given(limit: dict[str, Any] | None) -> dict[str, Any]:
    """A time limit as given, without the members left out (None)."""
    return {k: v for k, v in (limit or {}).items() if v is not None}


def _running_limit(session: Session, row: ResidentRequest, category: Category) -> Any:
    """The limit of the running stage: the category's, or the one the street gave the
    summoned department (限时督办, recorded on the summons) while it has not accepted."""
    limit = _time_limit(category, lifecycle.STAGE_OF[cast("lifecycle.State", row.state)])
    if row.state != "reported":
        return limit
    restarts = [e for e in store.timeline(session, row.id) if e.action in _RESTARTS_RESPONSE]
    given = (restarts[-1].detail or {}).get("time_limit") if restarts else None
    return {"basis": row.stage_basis} | given if given else limit


def _urgency_change(
    session: Session,
    row: ResidentRequest,
    category: Category,
    urgency: str,
    factors: Mapping[str, float],
) -> dict[str, Any]:
    """set_urgency: the running stage's deadline recounted from its start with the new
    urgency's factor; the due date follows when it was that deadline."""
    factor = urgency_factor(urgency, factors)
    deadline = stage_deadline(row.stage_started_at, _running_limit(session, row, category), factor)
    values: dict[str, Any] = {"urgency": urgency, "stage_deadline": deadline}
    if deadline is not None and row.due_at == row.stage_deadline:
        values["due_at"] = deadline
    return values


def _check_extras(change: Change, move: lifecycle.Transition) -> None:
    """The arguments only some actions take: co-handlers (协办) and a time limit."""
    if change.cohandler_ids and change.action != "add_cohandler":
        raise InvalidInput("cohandler_ids is only for add_cohandler (协办)")
    if change.action == "add_cohandler" and not change.cohandler_ids:
        raise InvalidInput("cohandler_ids: name at least one co-handling department (协办)")
    if change.helper_ids and change.action != "call_helpers":
        raise InvalidInput("helper_ids is only for call_helpers (社区吹哨)")
    if change.action == "call_helpers" and not change.helper_ids:
        raise InvalidInput("helper_ids: name at least one grid worker or member (社区吹哨)")
    wants_limit = change.action in ("ask_extension", "supervise")
    if wants_limit and not change.time_limit:
        raise InvalidInput(f"time_limit: {change.action!r} needs {{amount, unit}}")
    if wants_limit and change.time_limit and int(change.time_limit["amount"]) <= 0:
        raise InvalidInput("time_limit.amount must be at least 1")
    if change.time_limit and not (wants_limit or move.summoned):
        raise InvalidInput(
            f"time_limit is not for {change.action!r}: it is for summoning a department "
            "(限时督办), asking for an extension (延期) or supervising (督办)"
        )


def current_owner(session: Session, row: ResidentRequest) -> Owner:
    """Who owns ``row`` now (a department named), as the timeline records it."""
    name = None
    if row.department_id is not None:
        found = department_store.get_department(session, row.department_id)
        name = found.name if found else None
    return Owner(row.level, row.owner_person_id, row.owner_user_id, row.department_id, "", name)


def _leave_departments(
    session: Session, row: ResidentRequest, move: lifecycle.Transition, now: dt.datetime
) -> None:
    """A department request changing hands or stage: its co-handlers leave with a new owner,
    and an extension still waiting is withdrawn (its stage is over). A community's request
    changing hands: the people it called up (社区吹哨) leave it."""
    if row.level == "community" and move.new_owner_level is not None:
        department_store.clear_helpers(session, row.id)
    if row.level != "department":
        return
    if move.new_owner_level is not None:
        department_store.clear_cohandlers(session, row.id)
    pending = department_store.pending_extension(session, row.id)
    if pending is not None:
        department_store.answer_extension(session, pending.id, "withdrawn", move.action, now)


def _department_step(
    session: Session,
    row: ResidentRequest,
    move: lifecycle.Transition,
    change: Change,
    now: dt.datetime,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """延期, 协办 and 督办: the request's changed columns and the event's detail, which always
    names the stage deadline in force after the step."""
    deadline = row.stage_deadline
    detail: dict[str, Any] = {"reason": move.reason}
    changed: dict[str, Any] = {}
    if move.action == "ask_extension":
        _ask_extension(session, row, move, change, now)
        detail["extension"] = _given(change.time_limit)
    elif move.action in ("approve_extension", "refuse_extension"):
        pending = department_store.pending_extension(session, row.id)
        if pending is None:
            raise Conflict(f"Request {row.id} has no extension waiting for an answer.")
        # More time counts like the running stage (clock or working time).
        limit = {"amount": pending.amount, "unit": pending.unit, "basis": row.stage_basis}
        approved = move.action == "approve_extension"
        state = "approved" if approved else "refused"
        department_store.answer_extension(session, pending.id, state, move.reason, now)
        detail["extension"] = limit
        if approved:
            detail["previous_deadline"] = _iso(deadline)
            deadline = stage_deadline(deadline or now, limit)
            changed["stage_deadline"] = deadline
    elif move.action == "add_cohandler":
        detail["cohandlers"] = _add_cohandlers(session, row, change.cohandler_ids)
    elif move.action == "call_helpers":
        detail["helpers"] = _call_helpers(session, row, change.helper_ids)
    else:  # supervise (督办)
        if deadline is None or deadline >= now:
            raise Conflict(
                f"Request {row.id} is not late: supervise (督办) a department request whose "
                "stage deadline has passed."
            )
        detail["previous_deadline"] = _iso(deadline)
        deadline = stage_deadline(now, {"basis": row.stage_basis} | _given(change.time_limit))
        changed["stage_deadline"] = deadline
    detail["deadline"] = _iso(deadline)
    return changed, {k: v for k, v in detail.items() if v is not None}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _ask_extension(
    session: Session,
    row: ResidentRequest,
    move: lifecycle.Transition,
    change: Change,
    now: dt.datetime,
) -> None:
    """延期: one request for more time at a time, waiting for the street's answer."""
    if department_store.pending_extension(session, row.id) is not None:
        raise Conflict(
            f"Request {row.id} already has an extension waiting for the street's answer."
        )
    assert change.time_limit is not None and row.department_id is not None  # checked before
    department_store.ask_extension(
        session,
        {
            "request_id": row.id,
            "department_id": row.department_id,
            "reason": move.reason,
            "amount": int(change.time_limit["amount"]),
            "unit": change.time_limit["unit"],
            "asked_at": now,
        },
    )


def _call_helpers(session: Session, row: ResidentRequest, person_ids: tuple[int, ...]) -> list[int]:
    """社区吹哨: grid workers posted in the request's community or in-service members living
    there; anyone else is a 422. Returns the person ids called up."""
    community = store.grid_chain(session, row.micro_grid_id)["community"]["code"]
    wanted = list(dict.fromkeys(person_ids))
    found = department_store.callable_helpers(session, community, wanted)
    missing = sorted(set(wanted) - {p.id for p in found})
    if missing:
        raise Unprocessable(
            f"person {', '.join(map(str, missing))} is neither a grid worker of community "
            f"{community} nor an in-service party member living there"
        )
    department_store.add_helpers(session, row.id, wanted)
    return wanted


def _add_cohandlers(
    session: Session, row: ResidentRequest, department_ids: tuple[int, ...]
) -> list[dict[str, Any]]:
    """协办: departments serving the place, other than the lead; returns those named."""
    micro_code = store.grid_chain(session, row.micro_grid_id)["micro"]["code"]
    named = []
    for department_id in dict.fromkeys(department_ids):
        if department_id == row.department_id:
            raise Unprocessable(
                f"department {department_id} leads this request: it cannot co-handle"
            )
        found = _serving(session, department_id, micro_code)
        named.append({"id": found.id, "name": found.name})
    department_store.add_cohandlers(session, row.id, [n["id"] for n in named])
    return named


def _echo(
    move: lifecycle.Transition, deadline: dt.datetime | None, change: Change
) -> dict[str, Any]:
    """What the timeline records of a move besides its states and owner (an answer's record:
    ``resolved``, ``rating``, ``channel``; a new urgency; the time limit given with a
    department's summons)."""
    detail: dict[str, Any] = {
        "reason": move.reason,
        "urgency": change.urgency if move.action == "set_urgency" else None,
        "time_limit": _given(change.time_limit) if move.summoned and change.time_limit else None,
        "rating": move.rating,
        "resolved": move.resolved,
        "channel": move.channel,
        "duplicate_of": move.duplicate_of,
        "reopened": move.reopened or None,
        "deadline": deadline.isoformat() if deadline else None,
    }
    return {k: v for k, v in detail.items() if v is not None}


# -------------------------------------------------------------------------------------- reads


def allowed(session: Session, row: Any, caller: Caller) -> list[str]:
    """The actions the caller may take on a request now (for clients and pages): its
    role's on the request (:func:`role_on`), without the judging ones when it owns or
    handled it (:func:`independent`)."""
    role = role_on(session, row, caller)
    if role not in lifecycle.ROLES:
        return []
    state = lifecycle.RequestState(
        state=row.state, level=row.level, reopen_count=row.reopen_count, rating=row.rating
    )
    actions = lifecycle.allowed_actions(state, role)
    if set(actions) & lifecycle.INDEPENDENT and not independent(session, row, caller):
        return [a for a in actions if a not in lifecycle.INDEPENDENT]
    return list(actions)


def get(
    session: Session, request_id: int, caller: Caller, *, just_written: bool = False
) -> tuple[Any, list[Any]]:
    """A request in the caller's scope with its timeline. ``just_written``: the caller's own
    write has just handed it out of their scope (a department's 退单, a reassignment), and the
    answer to that write shows it as it now stands, once."""
    row = store.get_request(session, request_id, caller.scope)
    if row is None and just_written:
        row = store.get_request(session, request_id, None)
    if row is None:
        raise NotFound(f"There is no request {request_id}.")
    return row, store.timeline(session, request_id)


def departments_of(session: Session, request_id: int) -> tuple[list[Any], dict[str, Any] | None]:
    """协办 and 延期 of a request: its co-handling departments and the extension waiting for
    the street's answer (reason, amount, unit, asked_at), if any."""
    pending = department_store.pending_extension(session, request_id, lock=False)
    asked = None
    if pending is not None:
        asked = {
            "reason": pending.reason,
            "amount": pending.amount,
            "unit": pending.unit,
            "asked_at": pending.asked_at.astimezone(dt.UTC).isoformat(),
        }
    return department_store.cohandlers(session, request_id), asked


def inbox_owner(session: Session, caller: Caller) -> tuple[int | None, int]:
    """The person (if the account has one) and the user whose requests are the caller's own
    (a department account's are its department's: ``caller.scope.department_id``)."""
    person = caller.scope.person_id or store.person_of_user(session, caller.user_id)
    return person, caller.user_id
