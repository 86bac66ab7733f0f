"""The change counts (``change_count``, migration 0033), all read in one statement.

A request that keeps something derived from data (a login's caller, a grid tile) learns that
it is still current from these numbers: the login check reads them first, and a grid tile's
key reuses what it read, so a kept tile costs no statement of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String, literal_column, select
from sqlalchemy.orm import Session

from gridmap.storage.models import ChangeCount


@dataclass(frozen=True)
class ChangeCounts:
    """``login``: the login change count. ``grid``: the grids' revision, their change count
    with the transaction that last counted it up (``"n.xmin"``): a count is also counted up
    by a transaction that is then rolled back (a test's savepoint), and the same count made
    again by another transaction names other grids, which its ``xmin`` tells apart."""

    login: int
    grid: str


_XMIN = literal_column("change_count.xmin::text", String)
# The table's columns, not the entity's: a plain row read skips the ORM's statement handling
# on every authenticated request.
_TABLE = ChangeCount.__table__
_ALL = select(_TABLE.c.name, _TABLE.c.n, _XMIN)


def read(session: Session) -> ChangeCounts:
    """Every change count, as of now."""
    rows = {name: (n, xmin) for name, n, xmin in session.execute(_ALL)}
    login = rows.get("login", (0, "0"))[0]
    grid_n, grid_xmin = rows.get("grid", (0, "0"))
    return ChangeCounts(login=int(login), grid=f"{grid_n}.{grid_xmin}")
