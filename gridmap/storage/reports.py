"""Queries behind the staffing and coverage reports (格中有人, 无遗漏), within a scope."""

from __future__ import annotations

from typing import Any, TypedDict

from sqlalchemy import and_, case, func, not_, select
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.storage.grids import current_at
from gridmap.storage.households import subtree_ids
from gridmap.storage.models import CARE_TAGS, Assignment, Coverage, Grid, Household, Person
from gridmap.storage.scoping import grid_visible, household_visible

#: The post every grid of a level must have.
REQUIRED_ROLE = {"community": "chief", "zone": "zone_leader", "micro": "grid_worker"}


class UnstaffedGrid(TypedDict):
    """A current grid without the post its level needs."""

    code: str
    name: str
    level: str
    missing_role: str


class UncoveredHousehold(TypedDict):
    """A household nobody covers."""

    id: int
    address: str
    care_tags: list[str]
    micro_grid_code: str | None


class MemberLoad(TypedDict):
    """A member's households in scope, plain and weighted."""

    id: int
    name: str
    phone: str | None
    kind: str
    households: int
    weighted_load: float


class CoverageRate(TypedDict):
    """A grid's households, covered households and coverage rate (None without households)."""

    code: str
    name: str
    households: int
    covered: int
    rate: float | None


def _in(grid_code: str | None, column: Any) -> Any:
    return column.in_(subtree_ids(grid_code)) if grid_code else True


def unstaffed(session: Session, scope: Scope, grid_code: str | None) -> list[UnstaffedGrid]:
    """Current grids without the post their level needs (chief, zone leader, grid worker)."""
    today = func.current_date()
    role = case(*((Grid.level == lvl, r) for lvl, r in REQUIRED_ROLE.items()))
    staffed = (
        select(Assignment.id)
        .where(Assignment.grid_id == Grid.id, Assignment.role == role)
        .where(Assignment.start_date <= today)
        .where((Assignment.end_date.is_(None)) | (Assignment.end_date > today))
        .exists()
    )
    stmt = (
        select(Grid.code, Grid.name, Grid.level, role.label("missing_role"))
        .where(current_at(), grid_visible(scope), _in(grid_code, Grid.id), not_(staffed))
        .order_by(Grid.code)
    )
    return [
        UnstaffedGrid(code=code, name=name, level=level, missing_role=missing)
        for code, name, level, missing in session.execute(stmt)
    ]


def uncovered(session: Session, scope: Scope, grid_code: str | None) -> list[UncoveredHousehold]:
    """Households nobody covers, care households (关爱对象) first."""
    care = Household.care_tags.overlap(list(CARE_TAGS))
    micro = aliased(Grid)
    stmt = (
        select(
            Household.id,
            Household.address,
            Household.care_tags,
            micro.code.label("micro_grid_code"),
        )
        .outerjoin(micro, micro.id == Household.micro_grid_id)
        .where(household_visible(scope), _in(grid_code, Household.micro_grid_id))
        .where(~select(Coverage.person_id).where(Coverage.household_id == Household.id).exists())
        .order_by(care.desc(), micro.code, Household.id)
    )
    return [
        UncoveredHousehold(id=hid, address=address, care_tags=tags, micro_grid_code=micro_code)
        for hid, address, tags, micro_code in session.execute(stmt)
    ]


def loads(
    session: Session, scope: Scope, grid_code: str | None, care_weight: float
) -> list[MemberLoad]:
    """Each member's households in scope, plain and weighted (care households weigh more)."""
    weight = case((Household.care_tags.overlap(list(CARE_TAGS)), care_weight), else_=1.0)
    stmt = (
        select(
            Person.id,
            Person.name,
            Person.phone,
            Person.kind,
            func.count().label("households"),
            func.sum(weight).label("weighted_load"),
        )
        .join(Coverage, Coverage.person_id == Person.id)
        .join(Household, Household.id == Coverage.household_id)
        .where(household_visible(scope), _in(grid_code, Household.micro_grid_id))
        .group_by(Person.id)
        .order_by(func.sum(weight).desc(), Person.id)
    )
    return [
        MemberLoad(id=pid, name=name, phone=phone, kind=kind, households=count, weighted_load=load)
        for pid, name, phone, kind, count, load in session.execute(stmt)
    ]


def coverage_rates(
    session: Session, scope: Scope, grid_code: str | None, level: str
) -> list[CoverageRate]:
    """Per grid of ``level``: households, covered households and the coverage rate."""
    covered = select(Coverage.person_id).where(Coverage.household_id == Household.id).exists()
    micro = aliased(Grid)
    stmt = (
        select(
            Grid.code,
            Grid.name,
            func.count(Household.id).label("households"),
            func.count(Household.id).filter(covered).label("covered"),
        )
        .join(
            micro,
            and_(
                micro.code.startswith(Grid.code), micro.level == "micro", micro.valid_to.is_(None)
            ),
        )
        .join(Household, Household.micro_grid_id == micro.id)
        .where(Grid.level == level, current_at(), grid_visible(scope), household_visible(scope))
        .where(_in(grid_code, Grid.id))
        .group_by(Grid.id)
        .order_by(Grid.code)
    )
    return [
        CoverageRate(
            code=code,
            name=name,
            households=households,
            covered=covered,
            rate=round(covered / households, 4) if households else None,
        )
        for code, name, households, covered in session.execute(stmt)
    ]
