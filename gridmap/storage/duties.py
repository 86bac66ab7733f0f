"""The obligations of the 3+N work lists (what each list asks of whom in a period) as SQL,
and which of them the period's check-ins, patrols and in-person visits (民情日志) fulfilled."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from geoalchemy2.functions import ST_X, ST_Y, ST_AsGeoJSON
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Row,
    Select,
    Subquery,
    Text,
    and_,
    any_,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.storage.models import (
    Assignment,
    Coverage,
    Grid,
    Household,
    HouseholdVisit,
    Patrol,
    PatrolReach,
    Person,
    WorkList,
)
from gridmap.storage.patrols import CODE_LENGTH, post_active
from gridmap.storage.scoping import grid_visible, household_visible
from gridmap.storage.sql import as_array

#: The visit channel that reaches a household as a check-in does (入户).
IN_PERSON = "in_person"

#: A duty of :func:`duty_rows`: target, household_id, grid_code, grid_name, done_at,
#: person_ids, address, care_tags, lon, lat (household columns None for a grid), geojson.
DutyRow = Row[
    str,
    int | None,
    str,
    str,
    dt.datetime | None,
    list[int],
    str | None,
    list[str] | None,
    float | None,
    float | None,
    str | None,
]


@dataclass(frozen=True)
class Obligation:
    """One list's duties in a period, limited to a scope and optionally a person or grid."""

    work_list: WorkList
    start: dt.datetime
    end: dt.datetime
    on: dt.date
    scope: Scope
    person_id: int | None = None
    grid_code: str | None = None


def _care_rule(rule: WorkList, house: type[Household]) -> ColumnElement[bool]:
    if rule.target != "care":
        return literal(True)
    if rule.care_tags:
        overlaps: ColumnElement[bool] = house.care_tags.overlap(as_array(rule.care_tags, Text))
        return overlaps
    return func.cardinality(house.care_tags) > 0


def _household_duties(
    ob: Obligation,
) -> Select[int, int, int] | CompoundSelect[int, int, int] | None:
    """(household_id, micro_grid_id, person_id) of every household the list asks for."""
    rule = ob.work_list
    house, micro = aliased(Household), aliased(Grid)
    parts: list[Select[int, int, int]] = []
    staff_roles = [r for r in rule.roles if r != "member"]
    if staff_roles:
        post_grid = aliased(Grid)
        length = CODE_LENGTH[rule.grid_level]
        parts.append(
            select(house.id, micro.id, Assignment.person_id)
            .join(micro, micro.id == house.micro_grid_id)
            .join(post_grid, post_grid.code == func.left(micro.code, length))
            .join(Assignment, Assignment.grid_id == post_grid.id)
            .where(Assignment.role.in_(staff_roles), post_active(ob.on))
            .where(post_grid.level == rule.grid_level)
        )
    if "member" in rule.roles:
        parts.append(
            select(house.id, micro.id, Coverage.person_id)
            .join(Coverage, Coverage.household_id == house.id)
            .join(micro, micro.id == house.micro_grid_id)
        )
    if not parts:
        return None
    filtered = [_filtered_households(p, ob, house, micro) for p in parts]
    return filtered[0] if len(filtered) == 1 else filtered[0].union(*filtered[1:])


def _filtered_households(
    stmt: Select[int, int, int], ob: Obligation, house: type[Household], micro: type[Grid]
) -> Select[int, int, int]:
    rule = ob.work_list
    stmt = stmt.where(_care_rule(rule, house), household_visible(ob.scope, house))
    for prefix in (rule.grid_code, ob.grid_code):
        if prefix:
            stmt = stmt.where(micro.code.startswith(prefix, autoescape=True))
    if ob.person_id is not None:
        stmt = stmt.where(stmt.selected_columns[2] == ob.person_id)
    return stmt


def _grid_duties(ob: Obligation) -> Select[int, int]:
    """(grid_id, person_id) of every grid the list asks to patrol."""
    rule, grid = ob.work_list, aliased(Grid)
    stmt = (
        select(grid.id, Assignment.person_id)
        .join(Assignment, Assignment.grid_id == grid.id)
        .where(Assignment.role.in_(rule.roles), post_active(ob.on))
        .where(grid.level == rule.grid_level, grid.valid_to.is_(None))
        .where(grid_visible(ob.scope, grid))
    )
    for prefix in (rule.grid_code, ob.grid_code):
        if prefix:
            stmt = stmt.where(grid.code.startswith(prefix, autoescape=True))
    if ob.person_id is not None:
        stmt = stmt.where(Assignment.person_id == ob.person_id)
    return stmt


def _reaches(work_list_id: int, min_reach: str) -> Select[int, dt.datetime]:
    """(household_id, at) of every qualifying reach for a list: its patrols' (check-ins only
    when ``min_reach`` asks for them) and every in-person visit (入户, 民情日志), which is a
    check-in at the door whoever made it."""
    patrols = (
        select(PatrolReach.household_id, PatrolReach.at)
        .join(Patrol, Patrol.id == PatrolReach.patrol_id)
        .where(Patrol.work_list_id == work_list_id)
    )
    if min_reach == "check_in":
        patrols = patrols.where(PatrolReach.how == "check_in")
    visits = select(HouseholdVisit.household_id, HouseholdVisit.at).where(
        HouseholdVisit.channel == IN_PERSON
    )
    return patrols.union_all(visits)  # type: ignore[return-value]


def _reached_in_period(ob: Obligation) -> Subquery:
    """household_id → the last qualifying reach (patrol or in-person visit) in the period."""
    reach = _reaches(ob.work_list.id, ob.work_list.min_reach).subquery()
    return (
        select(reach.c.household_id, func.max(reach.c.at).label("done_at"))
        .where(reach.c.at >= ob.start, reach.c.at < ob.end)
        .group_by(reach.c.household_id)
        .subquery()
    )


def _patrolled_in_period(ob: Obligation) -> Subquery:
    """grid code → when the last of the list's patrols for that grid began in the period."""
    grid = aliased(Grid)
    return (
        select(grid.code, func.max(Patrol.started_at).label("done_at"))
        .join(grid, grid.id == Patrol.grid_id)
        .where(Patrol.work_list_id == ob.work_list.id)
        .where(Patrol.started_at >= ob.start, Patrol.started_at < ob.end)
        .group_by(grid.code)
        .subquery()
    )


def duties(ob: Obligation) -> Subquery | None:
    """Every duty of a list with its state: a subquery of (target ``household`` or ``grid``,
    household_id, grid_id (the household's micro-grid, or the grid to patrol), person_id,
    done_at (None: still due)); None when nobody carries the list."""
    if ob.work_list.target == "grid":
        base = _grid_duties(ob).subquery()
        done = _patrolled_in_period(ob)
        grid = aliased(Grid)
        return (
            select(
                literal("grid").label("target"),
                literal(None, BigInteger).label("household_id"),
                base.c[0].label("grid_id"),
                base.c[1].label("person_id"),
                done.c.done_at,
            )
            .join(grid, grid.id == base.c[0])
            .outerjoin(done, done.c.code == grid.code)
            .subquery()
        )
    found = _household_duties(ob)
    if found is None:
        return None
    base = found.subquery()
    reached = _reached_in_period(ob)
    return (
        select(
            literal("household").label("target"),
            base.c[0].label("household_id"),
            base.c[1].label("grid_id"),
            base.c[2].label("person_id"),
            reached.c.done_at,
        )
        .outerjoin(reached, reached.c.household_id == base.c[0])
        .subquery()
    )


def duty_rows(
    session: Session, table: Subquery, *, due_only: bool, limit: int, geometry: bool = False
) -> list[DutyRow]:
    """The duties of ``duties()``, one row per household or grid with everyone who carries
    it; the household's or grid's place and names (and GeoJSON geometry when asked);
    ordered by grid code and household."""
    grid = aliased(Grid)
    house = aliased(Household)
    shape = case(
        (table.c.target == "grid", ST_AsGeoJSON(grid.geom, 7, 0)),
        else_=ST_AsGeoJSON(house.geom, 7, 0),
    )
    stmt = (
        select(
            table.c.target,
            table.c.household_id,
            grid.code.label("grid_code"),
            grid.name.label("grid_name"),
            func.max(table.c.done_at).label("done_at"),
            func.array_agg(table.c.person_id.distinct()).label("person_ids"),
            house.address,
            house.care_tags,
            ST_X(house.geom).label("lon"),
            ST_Y(house.geom).label("lat"),
            (shape if geometry else literal(None)).label("geojson"),
        )
        .join(grid, grid.id == table.c.grid_id)
        .outerjoin(house, house.id == table.c.household_id)
        .group_by(table.c.target, table.c.household_id, grid.id, house.id)
        .order_by(grid.code, table.c.household_id)
        .limit(limit)
    )
    if due_only:
        stmt = stmt.having(func.max(table.c.done_at).is_(None))
    return list(session.execute(stmt).all())


def duty_counts_by_person(session: Session, table: Subquery) -> list[Row[int, str, int, int]]:
    """person_id, name, duties and those still due."""
    stmt = (
        select(
            table.c.person_id,
            Person.name,
            func.count().label("total"),
            func.count().filter(table.c.done_at.is_(None)).label("due"),
        )
        .join(Person, Person.id == table.c.person_id)
        .group_by(table.c.person_id, Person.name)
        .order_by(table.c.person_id)
    )
    return list(session.execute(stmt).all())


def duty_counts_by_grid(
    session: Session, table: Subquery, level: str
) -> list[Row[str, str | None, int, int]]:
    """Grid code (at ``level``: the duty's micro-grid or its ancestor), name, households or
    grids asked for and those still due (each counted once whoever carries it)."""
    grid, parent = aliased(Grid), aliased(Grid)
    per_target = (
        select(
            table.c.target,
            table.c.household_id,
            table.c.grid_id,
            func.max(table.c.done_at).label("done_at"),
        )
        .group_by(table.c.target, table.c.household_id, table.c.grid_id)
        .subquery()
    )
    code = func.left(grid.code, CODE_LENGTH[level])
    stmt = (
        select(
            code.label("code"),
            func.min(parent.name).label("name"),
            func.count().label("total"),
            func.count().filter(per_target.c.done_at.is_(None)).label("due"),
        )
        .join(grid, grid.id == per_target.c.grid_id)
        .outerjoin(parent, and_(parent.code == code, parent.valid_to.is_(None)))
        .group_by(code)
        .order_by(code)
    )
    return list(session.execute(stmt).all())


def last_reaches(
    session: Session, household_ids: list[int], work_list_id: int, min_reach: str
) -> dict[int, dt.datetime]:
    """household_id → the last qualifying reach of a list (its patrols' or an in-person
    visit) ever (for overdue rows)."""
    if not household_ids:
        return {}
    reach = _reaches(work_list_id, min_reach).subquery()
    stmt = (
        select(reach.c.household_id, func.max(reach.c.at))
        .where(reach.c.household_id == any_(as_array(household_ids, BigInteger)))
        .group_by(reach.c.household_id)
    )
    return {int(h): at for h, at in session.execute(stmt).all()}
