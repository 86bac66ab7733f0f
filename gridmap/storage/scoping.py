"""SQL conditions that keep every query inside the caller's scope (deny by default).

A scope is a set of grid-code prefixes (a subtree: county, street, community, zone or
micro-grid) plus, for members and grid workers, the households one person covers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.orm import aliased

from gridmap.access.auth import Scope
from gridmap.storage.models import (
    Assignment,
    Building,
    BuildingPost,
    Coverage,
    Grid,
    Household,
)


def _prefixed(column: Any, prefixes: tuple[str, ...]) -> list[ColumnElement[bool]]:
    return [column.startswith(p, autoescape=True) for p in prefixes]


# Every subquery below uses its own aliases, so that one condition nested in another's
# subquery is never correlated with the outer query's tables.


def grid_visible(scope: Scope, grid: Any = Grid) -> ColumnElement[bool]:
    """Grids in the subtree, and the chain above each micro-grid holding a covered household."""
    conditions = _prefixed(grid.code, scope.prefixes)
    if scope.person_id is not None:
        micro, house, cover = aliased(Grid), aliased(Household), aliased(Coverage)
        conditions.append(
            exists()
            .where(cover.person_id == scope.person_id)
            .where(house.id == cover.household_id, micro.id == house.micro_grid_id)
            .where(micro.code.startswith(grid.code))
        )
    return or_(*conditions) if conditions else false()


def household_visible(scope: Scope, household: Any = Household) -> ColumnElement[bool]:
    """Households whose micro-grid is in the subtree, and those the person covers."""
    conditions: list[ColumnElement[bool]] = []
    if scope.prefixes:
        micro = aliased(Grid)
        in_subtree = select(micro.id).where(or_(*_prefixed(micro.code, scope.prefixes)))
        conditions.append(household.micro_grid_id.in_(in_subtree))
    if scope.person_id is not None:
        cover = aliased(Coverage)
        conditions.append(
            exists().where(cover.household_id == household.id, cover.person_id == scope.person_id)
        )
    return or_(*conditions) if conditions else false()


def building_in_subtree(scope: Scope, building: Any = Building) -> ColumnElement[bool]:
    """Buildings whose micro-grid is in the subtree: where the staff may change them."""
    if not scope.prefixes:
        return false()
    micro = aliased(Grid)
    subtree = select(micro.id).where(or_(*_prefixed(micro.code, scope.prefixes)))
    in_subtree: ColumnElement[bool] = building.micro_grid_id.in_(subtree)
    return in_subtree


def building_visible(scope: Scope, building: Any = Building) -> ColumnElement[bool]:
    """Buildings in the subtree, those holding a household the person covers, and those
    where the person holds a current post (楼栋长, 单元长)."""
    conditions = [building_in_subtree(scope, building)] if scope.prefixes else []
    if scope.person_id is not None:
        cover, house, post = aliased(Coverage), aliased(Household), aliased(BuildingPost)
        conditions.append(
            exists()
            .where(cover.person_id == scope.person_id, house.id == cover.household_id)
            .where(house.building_id == building.id)
        )
        conditions.append(
            exists().where(
                post.building_id == building.id,
                post.person_id == scope.person_id,
                post.end_date.is_(None),
            )
        )
    return or_(*conditions) if conditions else false()


def person_visible(scope: Scope, person_id: Any) -> ColumnElement[bool]:
    """People staffing a visible grid, covering a visible household or holding a current
    post on a visible building."""
    today = func.current_date()
    post, grid = aliased(Assignment), aliased(Grid)
    staffed = (
        exists()
        .where(post.person_id == person_id, grid.id == post.grid_id)
        .where(or_(post.end_date.is_(None), post.end_date > today))
        .where(grid_visible(scope, grid))
    )
    cover, house = aliased(Coverage), aliased(Household)
    covering = exists().where(
        and_(cover.person_id == person_id, house.id == cover.household_id),
        household_visible(scope, house),
    )
    if not scope.prefixes:
        return or_(staffed, covering)
    held, building = aliased(BuildingPost), aliased(Building)
    posted = exists().where(
        held.person_id == person_id,
        or_(held.end_date.is_(None), held.end_date > today),
        held.building_id.in_(select(building.id).where(building_in_subtree(scope, building))),
    )
    return or_(staffed, covering, posted)
