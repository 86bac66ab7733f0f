"""Queries of staffing and coverage (党员分片包户) within one grid's subtree."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

from geoalchemy2.functions import ST_X, ST_Y
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    and_,
    any_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.storage.grids import current_at
from gridmap.storage.households import subtree_ids
from gridmap.storage.models import CARE_TAGS, Assignment, Coverage, Grid, Household, Person
from gridmap.storage.scoping import grid_visible, household_visible, person_visible
from gridmap.storage.sql import as_array

MEMBER_KINDS = ("party_member", "volunteer", "in_service_member")

#: id, code, name, level, revision of a grid.
GridRevisionRow = Row[int, str, str, str, int]
#: id, start_date, end_date and the grid's code of a post.
AssignmentRow = Row[int, dt.date, dt.date | None, str]


class Post(TypedDict):
    """A post in a grid's staffing, with the person holding it."""

    id: int
    role: str
    start_date: dt.date
    end_date: dt.date | None
    person_id: int
    name: str
    phone: str | None
    kind: str


class CoveredHousehold(TypedDict):
    """A household of a grid's subtree and the member covering it (``current``, or None)."""

    id: int
    lon: float
    lat: float
    care: bool
    current: int | None


class NearbyMember(TypedDict):
    """A member who may cover households of a grid: home (or None) and current load."""

    id: int
    name: str
    kind: str
    lon: float | None
    lat: float | None
    load: int


def _chain_and_subtree(code: str) -> ColumnElement[bool]:
    """The current grids a change inside ``code`` touches: its chain upwards and its
    subtree."""
    return and_(current_at(), or_(Grid.code.startswith(code), func.strpos(code, Grid.code) == 1))


def find_grid(session: Session, code: str, scope: Scope, *, lock: bool) -> GridRevisionRow | None:
    """The current grid ``code`` in ``scope``; with ``lock``, it and every grid whose revision
    a change would bump are locked until the transaction ends, so writers serialise.

    The rows are locked in code order, parents before children (a parent's code is a prefix
    of its children's): a chief's community edit and a zone leader's zone edit then queue on
    the community row instead of each holding a row the other needs (a deadlock); the one
    that waited reads the bumped revision and gets 412.
    """
    if lock:
        session.execute(
            select(Grid.id).where(_chain_and_subtree(code)).order_by(Grid.code).with_for_update()
        )
    stmt = select(Grid.id, Grid.code, Grid.name, Grid.level, Grid.revision).where(
        Grid.code == code, current_at(), grid_visible(scope)
    )
    return session.execute(stmt).first()


def bump_revision(session: Session, code: str) -> int:
    """A change inside ``code``: bump the grid, its chain upwards and its subtree."""
    session.execute(update(Grid).where(_chain_and_subtree(code)).values(revision=Grid.revision + 1))
    return int(session.scalar(select(Grid.revision).where(Grid.code == code, current_at())) or 0)


def assignments(session: Session, grid_id: int, *, history: bool) -> list[Post]:
    """Staffing of one grid: current posts, or every post ever held with ``history``."""
    today = func.current_date()
    stmt = (
        select(
            Assignment.id,
            Assignment.role,
            Assignment.start_date,
            Assignment.end_date,
            Person.id.label("person_id"),
            Person.name,
            Person.phone,
            Person.kind,
        )
        .join(Person, Person.id == Assignment.person_id)
        .where(Assignment.grid_id == grid_id)
        .order_by(Assignment.role, Assignment.start_date, Assignment.id)
    )
    if not history:
        stmt = stmt.where(or_(Assignment.end_date.is_(None), Assignment.end_date > today))
    return [
        Post(
            id=post_id,
            role=role,
            start_date=start,
            end_date=end,
            person_id=person_id,
            name=name,
            phone=phone,
            kind=kind,
        )
        for post_id, role, start, end, person_id, name, phone, kind in session.execute(stmt)
    ]


def assignable(scope: Scope) -> ColumnElement[bool]:
    """People the caller may staff or give households to: those living in a community of
    the scope, or already serving in it. The one rule for the candidates a page offers
    (:func:`members_near`) and for the writes that act on them (:func:`person_assignable`)."""
    community = aliased(Grid)
    lives_here = (
        select(community.id)
        .where(community.id == Person.home_community_id, grid_visible(scope, community))
        .exists()
    )
    return or_(lives_here, person_visible(scope, Person.id))


def person_assignable(session: Session, person_id: int, scope: Scope) -> bool:
    """Whether the caller may staff ``person_id`` or give them households (:func:`assignable`)."""
    stmt = select(Person.id).where(Person.id == person_id, assignable(scope))
    return session.scalar(stmt) is not None


def add_assignment(
    session: Session, grid_id: int, person_id: int, role: str, start: dt.date | None
) -> int:
    values: dict[str, Any] = {"grid_id": grid_id, "person_id": person_id, "role": role}
    if start is not None:
        values["start_date"] = start
    return session.execute(
        insert(Assignment).values(**values).returning(Assignment.id)
    ).scalar_one()


def get_assignment(session: Session, assignment_id: int, scope: Scope) -> AssignmentRow | None:
    stmt = (
        select(Assignment.id, Assignment.start_date, Assignment.end_date, Grid.code)
        .join(Grid, Grid.id == Assignment.grid_id)
        .where(Assignment.id == assignment_id, grid_visible(scope))
    )
    return session.execute(stmt).first()


def end_assignment(session: Session, assignment_id: int, end: dt.date) -> None:
    session.execute(update(Assignment).where(Assignment.id == assignment_id).values(end_date=end))


def households_in(session: Session, code: str, scope: Scope) -> list[CoveredHousehold]:
    """Every household of a grid's subtree in scope: id, lon, lat, care, current member."""
    member = (
        select(func.min(Coverage.person_id))
        .where(Coverage.household_id == Household.id)
        .scalar_subquery()
    )
    stmt = (
        select(
            Household.id,
            ST_X(Household.geom).label("lon"),
            ST_Y(Household.geom).label("lat"),
            Household.care_tags.overlap(list(CARE_TAGS)).label("care"),
            member.label("current"),
        )
        .where(Household.micro_grid_id.in_(subtree_ids(code)), household_visible(scope))
        .order_by(Household.id)
    )
    return [
        CoveredHousehold(id=hid, lon=lon, lat=lat, care=care, current=current)
        for hid, lon, lat, care, current in session.execute(stmt)
    ]


def members_near(
    session: Session, community_id: int, grid_code: str, scope: Scope
) -> list[NearbyMember]:
    """Members living in the community or covering households in the grid whom the caller
    may give households to (:func:`assignable`), with their home (lon/lat, or None) and their
    current number of households in the grid."""
    in_grid = select(Household.id).where(Household.micro_grid_id.in_(subtree_ids(grid_code)))
    load = (
        select(func.count())
        .where(Coverage.person_id == Person.id, Coverage.household_id.in_(in_grid))
        .scalar_subquery()
    )
    covering = select(Coverage.person_id).where(Coverage.household_id.in_(in_grid))
    stmt = (
        select(
            Person.id,
            Person.name,
            Person.kind,
            ST_X(Person.home).label("lon"),
            ST_Y(Person.home).label("lat"),
            load.label("load"),
        )
        .where(
            or_(
                Person.kind.in_(MEMBER_KINDS) & (Person.home_community_id == community_id),
                Person.id.in_(covering),
            ),
            assignable(scope),
        )
        .order_by(Person.id)
    )
    return [
        NearbyMember(id=pid, name=name, kind=kind, lon=lon, lat=lat, load=load)
        for pid, name, kind, lon, lat, load in session.execute(stmt)
    ]


def replace_coverage(session: Session, pairs: dict[int, int | None]) -> None:
    """Each household in ``pairs`` is covered by exactly its person (or by nobody)."""
    if not pairs:
        return
    session.execute(
        delete(Coverage).where(Coverage.household_id == any_(as_array(pairs, BigInteger)))
    )
    rows = [{"household_id": h, "person_id": p} for h, p in pairs.items() if p is not None]
    if rows:
        session.execute(insert(Coverage), rows)
