"""SQL conditions that keep every query inside the caller's scope (deny by default).

A scope is a set of grid-code prefixes (a subtree: county, street, community, zone or
micro-grid) plus, for members and grid workers, the households one person covers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.orm import aliased

from gridmap.auth import Scope
from gridmap.storage.models import Assignment, Coverage, Grid, Household


def _prefixed(column: Any, prefixes: tuple[str, ...]) -> list[ColumnElement[bool]]:
    return [column.startswith(p, autoescape=True) for p in prefixes]


def grid_visible(scope: Scope, grid: Any = Grid) -> ColumnElement[bool]:
    """Grids in the subtree, and the chain above each micro-grid holding a covered household."""
    conditions = _prefixed(grid.code, scope.prefixes)
    if scope.person_id is not None:
        micro = aliased(Grid)
        conditions.append(
            exists()
            .where(Coverage.person_id == scope.person_id)
            .where(Household.id == Coverage.household_id, micro.id == Household.micro_grid_id)
            .where(micro.code.startswith(grid.code))
        )
    return or_(*conditions) if conditions else false()


def household_visible(scope: Scope, household: Any = Household) -> ColumnElement[bool]:
    """Households whose micro-grid is in the subtree, and those the person covers."""
    conditions: list[ColumnElement[bool]] = []
    if scope.prefixes:
        in_subtree = select(Grid.id).where(or_(*_prefixed(Grid.code, scope.prefixes)))
        conditions.append(household.micro_grid_id.in_(in_subtree))
    if scope.person_id is not None:
        conditions.append(
            exists().where(
                Coverage.household_id == household.id, Coverage.person_id == scope.person_id
            )
        )
    return or_(*conditions) if conditions else false()


def person_visible(scope: Scope, person_id: Any) -> ColumnElement[bool]:
    """People staffing a visible grid or covering a visible household."""
    today = func.current_date()
    staffed = (
        exists()
        .where(Assignment.person_id == person_id, Grid.id == Assignment.grid_id)
        .where(or_(Assignment.end_date.is_(None), Assignment.end_date >= today))
        .where(grid_visible(scope))
    )
    covering = exists().where(
        and_(Coverage.person_id == person_id, Household.id == Coverage.household_id),
        household_visible(scope),
    )
    return or_(staffed, covering)
