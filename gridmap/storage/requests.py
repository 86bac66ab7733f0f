"""Queries of the request aggregate: categories, requests, their timeline and the
idempotency keys of intake.

A request is visible to a scope when its micro-grid lies in one of the scope's subtrees, when
the scope's person owns it, or when it concerns a household that person covers; to a
department's scope when it is summoned to that department or co-handled by it (协办).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVarTuple

from geoalchemy2.functions import ST_X, ST_Y, ST_Point
from sqlalchemy import ColumnElement, Row, Select, false, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.core import clock
from gridmap.requests.lifecycle import CLOCKED, HANDLING, OPEN
from gridmap.storage import rate_facts
from gridmap.storage.grids import BBox, envelope
from gridmap.storage.models import (
    SRID,
    Assignment,
    Category,
    Coverage,
    Department,
    Grid,
    Household,
    IdempotencyKey,
    Person,
    RequestCohandler,
    RequestEvent,
    RequestExtension,
    RequestHelper,
    ResidentRequest,
    User,
)
from gridmap.storage.scoping import grid_visible, household_visible
from gridmap.storage.sql import GeometryEncoding, geometry_columns

#: States in which a stage clock runs (the rest wait for nobody).

Ts = TypeVarTuple("Ts")

#: A request as the API shows it: the 32 columns of :func:`request_rows`, by name (select()
#: types only its first 10 columns, so the row is typed as a row, its columns by name).
RequestRow = Row[*tuple[Any, ...]]
#: One event of a request's timeline: id, at, actor, action, from_state, to_state, level,
#: owner_person_id, note, photos, detail.
EventRow = Row[
    int,
    dt.datetime,
    str | None,
    str,
    str | None,
    str,
    str,
    int | None,
    str | None,
    list[object],
    dict[str, object],
]


class ChainGrid(TypedDict):
    """One grid of a micro-grid's chain: id, code, name."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class RequestFilter:
    """What ``GET /api/v1/requests`` narrows the caller's requests to."""

    states: tuple[str, ...] = ()
    category: str | None = None
    grid_code: str | None = None
    overdue: bool = False
    #: Only those owned by this person, this user or this department (the caller's inbox).
    mine: bool = False
    owner_person_id: int | None = None
    owner_user_id: int | None = None
    owner_department_id: int | None = None
    #: 协办: only those this department co-handles.
    cohandled_by: int | None = None
    #: 延期: only those with an extension waiting for the street's answer.
    extension_pending: bool = False
    #: Only those filed by this user (the filer's 我上报的, whoever owns them now).
    filed_by: int | None = None
    #: 红黄牌: ``"red"`` only those past their stage deadline at ``now``; ``"yellow"`` narrows
    #: to running clocks not yet past it (the caller decides the yellow card exactly, see
    #: ``gridmap.requests.rates.warning_page``: it needs working time, which SQL does not know).
    warning: str | None = None
    #: The moment the warning is judged at (default: the database's now).
    now: dt.datetime | None = None
    #: Only those inside this lon/lat box (a map's visible area).
    bbox: BBox | None = None
    #: Only those of one of these category codes (Open311's comma list of service codes).
    categories: tuple[str, ...] = ()


# --------------------------------------------------------------------------------- categories


def current_category(session: Session, code: str, *, lock: bool = False) -> Category | None:
    """The version of category ``code`` in force now (locked with ``lock``)."""
    stmt = select(Category).where(Category.code == code, Category.valid_to.is_(None))
    return session.scalar(stmt.with_for_update() if lock else stmt)


def current_categories(session: Session) -> list[Category]:
    return list(
        session.scalars(
            select(Category).where(Category.valid_to.is_(None)).order_by(Category.code)
        ).all()
    )


def category_version(session: Session, category_id: int) -> Category:
    """The category version a request was filed under (its rules stay with it)."""
    found = session.get(Category, category_id)
    assert found is not None  # a foreign key of every request
    return found


def add_category(session: Session, values: dict[str, Any]) -> bool:
    """Add version 1 of a category unless the code exists; True when added."""
    stmt = (
        pg_insert(Category)
        .values(**values, version=1)
        .on_conflict_do_nothing(index_elements=["code", "version"])
        .returning(Category.id)
    )
    return session.execute(stmt).first() is not None


def add_category_version(session: Session, current: Category, values: dict[str, Any]) -> Category:
    """Close ``current`` (locked) and insert its next version with ``values``."""
    session.execute(
        update(Category)
        .where(Category.id == current.id, Category.valid_to.is_(None))
        .values(valid_to=func.now())
    )
    session.flush()
    row = Category(code=current.code, version=current.version + 1, **values)
    session.add(row)
    session.flush()
    return row


# ------------------------------------------------------------------------------ place and staff


def micro_grid_at(session: Session, lon: float, lat: float, scope: Scope) -> Row[int, str] | None:
    """The current micro-grid containing a point (``gridmap_micro_grid_at``, the rule the
    household triggers use) if it is in ``scope``: id and code, else None."""
    point = ST_Point(lon, lat, SRID)
    stmt = select(Grid.id, Grid.code).where(
        Grid.id == func.gridmap_micro_grid_at(point), grid_visible(scope)
    )
    return session.execute(stmt).first()


def household_place(
    session: Session, household_id: int, scope: Scope
) -> Row[float, float, int | None] | None:
    """A household in ``scope``: lon, lat and micro_grid_id (None outside every micro-grid)."""
    stmt = select(
        ST_X(Household.geom).label("lon"),
        ST_Y(Household.geom).label("lat"),
        Household.micro_grid_id,
    ).where(Household.id == household_id, household_visible(scope))
    return session.execute(stmt).first()


def grid_chain(session: Session, micro_grid_id: int) -> dict[str, ChainGrid]:
    """``{level: row(id, code, name)}`` of a micro-grid, its zone and its community."""
    zone, community = aliased(Grid), aliased(Grid)
    stmt = (
        select(Grid.id, Grid.code, Grid.name, zone.id, zone.code, zone.name)
        .add_columns(community.id, community.code, community.name)
        .outerjoin(zone, zone.id == Grid.parent_id)
        .outerjoin(community, community.id == zone.parent_id)
        .where(Grid.id == micro_grid_id)
    )
    # Zone and community come from outer joins: a missing one is None in every column.
    row = session.execute(stmt).one()
    columns: tuple[int, str, str, int | None, str, str, int | None, str, str] = row
    parts = (("micro", columns[0:3]), ("zone", columns[3:6]), ("community", columns[6:9]))
    return {
        level: ChainGrid(id=gid, code=code, name=name)
        for level, (gid, code, name) in parts
        if gid is not None
    }


def staff_of(session: Session, grid_id: int, role: str) -> list[int]:
    """Ids of the people holding ``role`` in a grid today, longest-serving first."""
    today = func.current_date()
    stmt = (
        select(Assignment.person_id)
        .where(
            Assignment.grid_id == grid_id,
            Assignment.role == role,
            Assignment.start_date <= today,
            or_(Assignment.end_date.is_(None), Assignment.end_date > today),
        )
        .order_by(Assignment.start_date, Assignment.id)
    )
    return list(session.scalars(stmt).all())


def open_requests_in(session: Session, micro_grid_ids: list[int]) -> int:
    """How many open requests were filed in the given micro-grids."""
    if not micro_grid_ids:
        return 0
    stmt = select(func.count()).where(
        ResidentRequest.micro_grid_id.in_(micro_grid_ids), ResidentRequest.state.in_(OPEN)
    )
    return int(session.scalar(stmt) or 0)


def street_admin_for(session: Session, grid_code: str) -> int | None:
    """The active street administrator whose scope holds ``grid_code`` (the narrowest)."""
    stmt = (
        select(User.id)
        .where(
            User.role == "street_admin",
            User.active.is_(True),
            User.scope_code.is_not(None),
            func.strpos(grid_code, User.scope_code) == 1,
        )
        .order_by(func.length(User.scope_code).desc(), User.id)
        .limit(1)
    )
    return session.scalar(stmt)


def person_of_user(session: Session, user_id: int) -> int | None:
    return session.scalar(select(User.person_id).where(User.id == user_id))


# ---------------------------------------------------------------------------------- requests


def request_visible(scope: Scope, request: Any = ResidentRequest) -> ColumnElement[bool]:
    """Requests in the scope's subtrees, owned by its person, or of a household it covers;
    a department's: summoned to it or co-handled by it."""
    conditions: list[ColumnElement[bool]] = []
    if scope.department_id is not None:
        co = aliased(RequestCohandler)
        conditions.append(request.department_id == scope.department_id)
        conditions.append(
            request.id.in_(select(co.request_id).where(co.department_id == scope.department_id))
        )
    if scope.prefixes:
        micro = aliased(Grid)
        in_subtree = select(micro.id).where(
            or_(*[micro.code.startswith(p, autoescape=True) for p in scope.prefixes])
        )
        conditions.append(request.micro_grid_id.in_(in_subtree))
    if scope.person_id is not None:
        cover, helper = aliased(Coverage), aliased(RequestHelper)
        conditions.append(request.owner_person_id == scope.person_id)
        # 社区吹哨: the requests the person was called up to help with.
        conditions.append(
            request.id.in_(select(helper.request_id).where(helper.person_id == scope.person_id))
        )
        conditions.append(
            request.household_id.in_(
                select(cover.household_id).where(cover.person_id == scope.person_id)
            )
        )
    return or_(*conditions) if conditions else false()


def insert_request(session: Session, values: dict[str, Any], lon: float, lat: float) -> int:
    """Store a new request at (lon, lat) in EPSG:4490; returns its id."""
    # Before any accept a request is due when its response stage runs out (gridmap.requests.rates).
    due = values.get("stage_deadline") or values.get("created_at") or func.now()
    stmt = (
        insert(ResidentRequest)
        .values(**({"due_at": due} | values), geom=ST_Point(lon, lat, SRID))
        .returning(ResidentRequest.id)
    )
    return int(session.execute(stmt).scalar_one())


def was_accepted(session: Session, request_id: int) -> bool:
    """Whether the request's timeline holds an ``accept``."""
    found = select(RequestEvent.id).where(
        RequestEvent.request_id == request_id, RequestEvent.action == "accept"
    )
    return bool(session.scalar(select(found.exists())))


def handled_by(session: Session, request_id: int, user_id: int, person_id: int | None) -> bool:
    """Whether the account ``user_id`` (or its person ``person_id``, the owner an event
    records) took a handling action (``lifecycle.HANDLING``) in the request's timeline."""
    who = RequestEvent.actor_user_id == user_id
    if person_id is not None:
        who = or_(who, RequestEvent.owner_person_id == person_id)
    found = select(RequestEvent.id).where(
        RequestEvent.request_id == request_id,
        RequestEvent.action.in_(sorted(HANDLING)),
        who,
    )
    return bool(session.scalar(select(found.exists())))


def checked_since_completion_clause(request_id: Any) -> Any:
    """SQL: an on-site check (``verify``) follows the last ``complete`` of request
    ``request_id`` (a value or a column)."""
    completion = aliased(RequestEvent)
    last_complete = (
        select(func.max(completion.id))
        .where(completion.request_id == request_id, completion.action == "complete")
        .scalar_subquery()
    )
    return (
        select(RequestEvent.id)
        .where(
            RequestEvent.request_id == request_id,
            RequestEvent.action == "verify",
            RequestEvent.id > func.coalesce(last_complete, 0),
        )
        .exists()
    )


def checked_since_completion(session: Session, request_id: int) -> bool:
    """Whether an on-site check (``verify``) follows the request's last ``complete``."""
    return bool(session.scalar(select(checked_since_completion_clause(request_id))))


def append_event(session: Session, values: dict[str, Any]) -> None:
    """Append one step to a request's timeline (the table is append-only), and keep the
    request's 三率 facts (:mod:`gridmap.storage.rate_facts`)."""
    session.execute(insert(RequestEvent).values(**values))
    rate_facts.record(session, values)


def lock_request(session: Session, request_id: int, scope: Scope) -> ResidentRequest | None:
    """The request in ``scope``, locked until the transaction ends (writers serialise on it)."""
    stmt = (
        select(ResidentRequest)
        .where(ResidentRequest.id == request_id, request_visible(scope))
        .with_for_update()
    )
    return session.scalar(stmt)


def update_request(session: Session, request_id: int, values: dict[str, Any]) -> int:
    """Apply a transition's changes and bump the revision; returns the new revision."""
    stmt = (
        update(ResidentRequest)
        .where(ResidentRequest.id == request_id)
        .values(**values, revision=ResidentRequest.revision + 1, updated_at=func.now())
        .returning(ResidentRequest.revision)
    )
    return int(session.execute(stmt).scalar_one())


def is_visible(session: Session, request_id: int, scope: Scope) -> Row[int, str, str] | None:
    """Id, category code and state of a request in ``scope``, else None."""
    stmt = (
        select(ResidentRequest.id, Category.code.label("category"), ResidentRequest.state)
        .join(Category, Category.id == ResidentRequest.category_id)
        .where(ResidentRequest.id == request_id, request_visible(scope))
    )
    return session.execute(stmt).first()


def request_rows() -> Select[*tuple[Any, ...]]:
    """Requests as the API shows them, with their category, grid and owner."""
    owner, department = aliased(Person), aliased(Department)
    columns: list[Any] = [
        ResidentRequest.id,
        ResidentRequest.state,
        ResidentRequest.level,
        ResidentRequest.description,
        ResidentRequest.source,
        ResidentRequest.household_id,
        ResidentRequest.reopen_count,
        ResidentRequest.rating,
        ResidentRequest.duplicate_of,
        ResidentRequest.contact_name,
        ResidentRequest.contact_phone,
        ResidentRequest.contact_email,
        ResidentRequest.photos,
        ResidentRequest.created_at,
        ResidentRequest.updated_at,
        ResidentRequest.stage_started_at,
        ResidentRequest.stage_deadline,
        ResidentRequest.stage_basis,
        ResidentRequest.urgency,
        ResidentRequest.revision,
        ResidentRequest.department_id,
        department.name.label("department"),
        ResidentRequest.owner_person_id,
        ResidentRequest.owner_user_id,
        ResidentRequest.category_id,
        owner.name.label("owner_name"),
        owner.phone.label("owner_phone"),
        Category.code.label("category_code"),
        Category.name.label("category_name"),
        Category.event_class,
        Category.version.label("category_version"),
        Grid.code.label("micro_grid_code"),
        ST_X(ResidentRequest.geom).label("lon"),
        ST_Y(ResidentRequest.geom).label("lat"),
    ]
    return (
        select(*columns)
        .join(Category, Category.id == ResidentRequest.category_id)
        .join(Grid, Grid.id == ResidentRequest.micro_grid_id)
        .outerjoin(owner, owner.id == ResidentRequest.owner_person_id)
        .outerjoin(department, department.id == ResidentRequest.department_id)
    )


def get_request(session: Session, request_id: int, scope: Scope | None) -> RequestRow | None:
    """One request in ``scope`` (a row of ``list_requests``), or None. ``None`` as the scope
    reads it wherever it is: only for the answer to a write that handed it out of the writer's
    scope (a department's 退单)."""
    stmt = request_rows().where(ResidentRequest.id == request_id)
    if scope is not None:
        stmt = stmt.where(request_visible(scope))
    return session.execute(stmt).first()


def timeline(session: Session, request_id: int) -> list[EventRow]:
    """A request's events, oldest first."""
    stmt = (
        select(
            RequestEvent.id,
            RequestEvent.at,
            RequestEvent.actor,
            RequestEvent.action,
            RequestEvent.from_state,
            RequestEvent.to_state,
            RequestEvent.level,
            RequestEvent.owner_person_id,
            RequestEvent.note,
            RequestEvent.photos,
            RequestEvent.detail,
        )
        .where(RequestEvent.request_id == request_id)
        .order_by(RequestEvent.at, RequestEvent.id)
    )
    return list(session.execute(stmt).all())


def _filtered(stmt: Select[*Ts], wanted: RequestFilter) -> Select[*Ts]:
    if wanted.states:
        stmt = stmt.where(ResidentRequest.state.in_(wanted.states))
    if wanted.category:
        stmt = stmt.where(Category.code == wanted.category)
    if wanted.categories:
        stmt = stmt.where(Category.code.in_(wanted.categories))
    if wanted.grid_code:
        stmt = stmt.where(Grid.code.startswith(wanted.grid_code, autoescape=True))
    now = wanted.now or clock.now()
    if wanted.overdue or wanted.warning == "red":
        stmt = stmt.where(ResidentRequest.state.in_(CLOCKED), ResidentRequest.stage_deadline < now)
    if wanted.warning == "yellow":
        stmt = stmt.where(
            ResidentRequest.state.in_(CLOCKED),
            ResidentRequest.stage_deadline >= now,
            ResidentRequest.stage_started_at <= now,
        )
    stmt = _department_tabs(stmt, wanted)
    if wanted.filed_by is not None:
        stmt = stmt.where(ResidentRequest.created_by == wanted.filed_by)
    if wanted.bbox:
        stmt = stmt.where(func.ST_Intersects(ResidentRequest.geom, envelope(wanted.bbox)))
    return stmt


def _department_tabs(stmt: Select[*Ts], wanted: RequestFilter) -> Select[*Ts]:
    """The inbox (``mine``), 协办 (``cohandled_by``) and 延期 (``extension_pending``)."""
    if wanted.mine:
        stmt = stmt.where(
            _owned_by(wanted.owner_person_id, wanted.owner_user_id, wanted.owner_department_id)
        )
    if wanted.cohandled_by is not None:
        co = aliased(RequestCohandler)
        mine = select(co.request_id).where(co.department_id == wanted.cohandled_by)
        stmt = stmt.where(ResidentRequest.id.in_(mine))
    if wanted.extension_pending:
        ext = aliased(RequestExtension)
        asked = select(ext.request_id).where(ext.state == "pending")
        stmt = stmt.where(ResidentRequest.id.in_(asked))
    return stmt


def _owned_by(
    person_id: int | None, user_id: int | None, department_id: int | None = None
) -> ColumnElement[bool]:
    owners: list[ColumnElement[bool]] = []
    if department_id is not None:
        owners.append(ResidentRequest.department_id == department_id)
    if person_id is not None:
        owners.append(ResidentRequest.owner_person_id == person_id)
    if user_id is not None:
        owners.append(ResidentRequest.owner_user_id == user_id)
    return or_(*owners) if owners else false()


def list_requests(
    session: Session,
    wanted: RequestFilter,
    *,
    scope: Scope,
    limit: int,
    before_id: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    ids: tuple[int, ...] = (),
) -> tuple[list[RequestRow], int | None]:
    """Requests in ``scope`` matching ``wanted``, newest first (keyset paging on the id).

    Returns the rows and the id to pass as ``before_id`` for the next page (None: last page).
    """
    stmt = _filtered(request_rows().where(request_visible(scope)), wanted)
    if before_id is not None:
        stmt = stmt.where(ResidentRequest.id < before_id)
    if since is not None:
        stmt = stmt.where(ResidentRequest.created_at >= since)
    if until is not None:
        stmt = stmt.where(ResidentRequest.created_at <= until)
    if ids:
        stmt = stmt.where(ResidentRequest.id.in_(ids))
    rows = list(session.execute(stmt.order_by(ResidentRequest.id.desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def export_select(
    scope: Scope,
    wanted: RequestFilter,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    geometry: GeometryEncoding | None = None,
) -> Select[Any]:
    """Requests in ``scope`` matching ``wanted`` and filed in ``[since, until)``, oldest first:
    a row of ``list_requests``, then the point in ``geometry``'s columns
    (:func:`gridmap.storage.sql.geometry_columns`)."""
    stmt = _filtered(request_rows().where(request_visible(scope)), wanted)
    stmt = stmt.add_columns(*geometry_columns(ResidentRequest.geom, geometry))
    if since is not None:
        stmt = stmt.where(ResidentRequest.created_at >= since)
    if until is not None:
        stmt = stmt.where(ResidentRequest.created_at < until)
    return stmt.order_by(ResidentRequest.id)


#: How far (degrees, about 50 m) a request filed at a point looks for the household whose
#: address describes where it is.
NEAR_DEGREES = 0.0005


def addresses_of(session: Session, request_ids: list[int], scope: Scope) -> dict[int, str]:
    """``{request id: address}``: the address of the household a request concerns, else of the
    nearest household in ``scope`` within about 50 m of its point (the caller masks it)."""
    if not request_ids:
        return {}
    own, near = aliased(Household), aliased(Household)
    nearest = (
        select(near.address)
        .where(
            household_visible(scope, near),
            func.ST_DWithin(near.geom, ResidentRequest.geom, NEAR_DEGREES),
        )
        .order_by(near.geom.op("<->")(ResidentRequest.geom))
        .limit(1)
        .correlate(ResidentRequest)
        .scalar_subquery()
    )
    stmt = (
        select(ResidentRequest.id, func.coalesce(own.address, nearest))
        .outerjoin(own, own.id == ResidentRequest.household_id)
        .where(ResidentRequest.id.in_(request_ids))
    )
    return {int(i): a for i, a in session.execute(stmt) if a is not None}


# ------------------------------------------------------------------------- idempotency keys


def claim_key(session: Session, user_id: int, key: str, body_hash: str) -> bool:
    """Claim ``key`` for this user's write; False when it is already taken.

    ``INSERT … ON CONFLICT DO NOTHING``: a concurrent retry holding the same key waits on the
    unique index until the first transaction ends, then sees its row, so two retries can
    never both store a request.
    """
    stmt = (
        pg_insert(IdempotencyKey)
        .values(user_id=user_id, key=key, body_hash=body_hash)
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(IdempotencyKey.key)
    )
    return session.execute(stmt).first() is not None


def stored_key(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    )


def finish_key(session: Session, user_id: int, key: str, status: int, body: str) -> None:
    """Store the answer of the write that claimed ``key`` (committed with the write)."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .values(response_status=status, response_body=body)
    )


def duplicate_candidates(
    session: Session, request_id: int, scope: Scope, *, radius_m: float, days: int, limit: int
) -> list[RequestRow] | None:
    """Open requests in ``scope`` of the same category code near a request in place and time,
    nearest first, each with its distance in metres; None when the request is not visible."""
    this = session.execute(
        select(ResidentRequest.created_at, Category.code)
        .join(Category, Category.id == ResidentRequest.category_id)
        .where(ResidentRequest.id == request_id, request_visible(scope))
    ).first()
    if this is None:
        return None
    other_category, original = aliased(Category), aliased(ResidentRequest)
    here = func.geography(ResidentRequest.geom)
    there = select(func.geography(original.geom)).where(original.id == request_id).scalar_subquery()
    window = dt.timedelta(days=days)
    stmt = (
        request_rows()
        .add_columns(func.ST_Distance(here, there).label("distance_m"))
        .join(other_category, other_category.id == ResidentRequest.category_id)
        .where(
            ResidentRequest.id != request_id,
            other_category.code == this.code,
            ResidentRequest.state.not_in(("archived", "duplicate")),
            ResidentRequest.created_at.between(this.created_at - window, this.created_at + window),
            func.ST_DWithin(here, there, radius_m),
            request_visible(scope),
        )
        .order_by(func.ST_Distance(here, there), ResidentRequest.id)
        .limit(limit)
    )
    return list(session.execute(stmt))
