"""The change counts (``change_count``, migration 0033), all read in one statement.

A request that keeps something derived from data (a login's caller, a grid tile) learns that
it is still current from these numbers: the login check reads them first, and a grid tile's
key reuses what it read, so a kept tile costs no statement of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.core.engine import PREPARED


@dataclass(frozen=True)
class ChangeCounts:
    """``login``: the login change count. ``grid``: the grids' revision, their change count
    with the transaction that last counted it up (``"n.xmin"``): a count is also counted up
    by a transaction that is then rolled back (a test's savepoint), and the same count made
    again by another transaction names other grids, which its ``xmin`` tells apart."""

    login: int
    grid: str


#: Every change count, as SQL of its own: also sent alongside a view's statement
#: (gridmap.access.security). Plain SQL skips the ORM's statement handling on every
#: authenticated request; prepared on the server where the engine allows (core/engine.py).
SQL = "SELECT name, n, xmin::text FROM change_count"
_ALL = text(SQL).execution_options(**PREPARED)


def read(session: Session) -> ChangeCounts:
    """Every change count, as of now."""
    return of_rows(session.execute(_ALL))


def of_rows(rows: Iterable[Any]) -> ChangeCounts:
    """The change counts of :data:`SQL`'s rows."""
    found = {name: (n, xmin) for name, n, xmin in rows}
    login = found.get("login", (0, "0"))[0]
    grid_n, grid_xmin = found.get("grid", (0, "0"))
    return ChangeCounts(login=int(login), grid=f"{grid_n}.{grid_xmin}")
