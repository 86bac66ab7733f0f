"""The bulk path of household imports: staged by binary COPY, moved in one statement.

Each checked and located chunk is copied (binary COPY built from whole columns) into a
temporary table without constraints or indexes; when the whole file is read and nothing was
wrong, one ``INSERT … SELECT`` moves every row into ``household`` between
``gridmap_household_bulk_begin`` and ``gridmap_household_bulk_end`` (migrations 0028, 0036):
no per-row trigger for micro-grids the bulk locate decided nor for the address keys, which
are computed here for whole chunks (:mod:`gridmap.storage.address_keys`), and for a load at
least a quarter of the table's size the secondary indexes built once afterwards and the
foreign key validated once. Ids already taken (in the database, or earlier in the file) are
found by the primary key during the move; the move is then undone (a savepoint) and one
query names every such row with its line, as the row-by-row path would.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridmap.storage import binary_copy as bc
from gridmap.storage.address_keys import address_keys

#: The staged households: what ``household`` gets, with each row's line in the file.
_STAGING_SQL = """
CREATE TEMPORARY TABLE household_staging (
  line integer NOT NULL,
  id bigint NOT NULL,
  lon double precision NOT NULL,
  lat double precision NOT NULL,
  address text NOT NULL,
  address_key text NOT NULL,
  building_key text,
  building text,
  unit text,
  room text,
  residents integer NOT NULL,
  care_tags text[] NOT NULL,
  micro_grid_id integer
) ON COMMIT DROP
"""
_COLUMNS = (
    "line, id, lon, lat, address, address_key, building_key, building, unit, room, residents,"
    " care_tags, micro_grid_id"
)

_MOVE_SQL = """
INSERT INTO household (id, geom, address, address_key, building_key, building, unit, room,
                       residents, care_tags, micro_grid_id)
SELECT id, ST_SetSRID(ST_MakePoint(lon, lat), 4490), address, address_key, building_key,
       building, unit, room, residents, care_tags, micro_grid_id
  FROM pg_temp.household_staging
"""

#: Staged rows whose id is taken: by a household already there, or by an earlier line.
_CONFLICTS_SQL = """
SELECT line, id, count(*) OVER () AS total FROM (
  SELECT line, id, lag(line) OVER (PARTITION BY id ORDER BY line) AS earlier
    FROM pg_temp.household_staging
) s
WHERE earlier IS NOT NULL OR EXISTS (SELECT 1 FROM household h WHERE h.id = s.id)
ORDER BY line
LIMIT :limit
"""

_TAKEN_SQL = """
SELECT h.id FROM household h JOIN unnest(CAST(:ids AS bigint[])) AS u(id) ON u.id = h.id
UNION
SELECT s.id FROM pg_temp.household_staging s
  JOIN unnest(CAST(:ids AS bigint[])) AS u(id) ON u.id = s.id
"""


def already_exists(household_id: object) -> str:
    """The problem of a row whose id another household has."""
    return f"household {household_id} already exists (in the database or earlier in the file)"


class Staging:
    """The temporary table of one bulk import, in the session's transaction.

    A chunk's COPY runs in a thread of its own while the caller reads and checks the next
    chunk (the server works on one core while Python works on the other); at most one chunk
    is on its way, so memory stays bounded. Every other statement waits for it first.
    """

    def __init__(self, session: Session, cursor: Any) -> None:
        self.session = session
        self.cursor = cursor
        self.rows = 0
        self._tag_codes: dict[tuple[str, ...], int] = {}
        self._indexed = False
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="household-copy")
        self._sending: Future[None] | None = None
        session.execute(text("DROP TABLE IF EXISTS pg_temp.household_staging"))
        session.execute(text(_STAGING_SQL))

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if error is None:
                self._sent()
        finally:
            self._sender.shutdown(wait=True)

    def _sent(self) -> None:
        """Wait for the chunk on its way (its error, if any, is raised here)."""
        sending, self._sending = self._sending, None
        if sending is not None:
            sending.result()

    def _send(self, buffer: bytes) -> None:
        statement = f"COPY pg_temp.household_staging ({_COLUMNS}) FROM STDIN (FORMAT binary)"
        with self.cursor.copy(statement) as copy:
            copy.write(buffer)

    def copy(self, rows: pd.DataFrame, located: np.ndarray) -> None:
        """Copy one checked chunk (ids filled in) with the micro-grids located for it."""
        first = rows.attrs["first_row"]
        address_key, building_key = address_keys(rows["address"])
        fields = [
            bc.fixed(np.arange(first, first + len(rows)), "i4"),
            bc.fixed(rows["id"].to_numpy(dtype=np.int64), "i8"),
            bc.fixed(rows["lon"].to_numpy(), "f8"),
            bc.fixed(rows["lat"].to_numpy(), "f8"),
            bc.texts(rows["address"]),
            bc.texts(pd.Series(address_key, dtype=object)),
            bc.texts(pd.Series(building_key, dtype=object)),
            *(bc.texts(rows[name]) for name in ("building", "unit", "room")),
            bc.fixed(rows["residents"].to_numpy(dtype=np.float64), "i4"),
            self._care_tags(rows["care_tags"]),
            bc.fixed(located, "i4", null=located < 0),
        ]
        buffer = bc.copy_buffer(fields)
        self._sent()
        self._sending = self._sender.submit(self._send, buffer)
        self.rows += len(rows)

    def _care_tags(self, values: pd.Series) -> bc.Field:
        """Each row's tags as one of the file's few distinct arrays."""
        codes = np.empty(len(values), dtype=np.int64)
        for i, tags in enumerate(values.tolist()):
            codes[i] = self._tag_codes.setdefault(tuple(tags), len(self._tag_codes))
        encoded = [bc.text_array(tags) for tags in self._tag_codes]
        return bc.lookup(codes, encoded)

    def taken(self, ids: list[int]) -> set[int]:
        """Which of ``ids`` a household has, in the database or among the staged rows (the
        rows are indexed once, when the import first needs this: after a problem)."""
        self._sent()
        if not ids:
            return set()
        if not self._indexed:
            self.session.execute(text("CREATE INDEX ON pg_temp.household_staging (id)"))
            self.session.execute(text("ANALYZE pg_temp.household_staging"))
            self._indexed = True
        return set(self.session.scalars(text(_TAKEN_SQL), {"ids": ids}))

    def conflicts(self, limit: int) -> tuple[list[dict[str, Any]], int]:
        """The first ``limit`` staged rows whose id is taken, as problems, and how many."""
        self._sent()
        found = self.session.execute(text(_CONFLICTS_SQL), {"limit": limit}).all()
        problems = [{"where": f"row {line}", "message": already_exists(i)} for line, i, _ in found]
        return problems, found[0].total if found else 0

    def move(self) -> bool:
        """Move every staged row into ``household``; whether the indexes were built again.

        Raises :class:`DuplicateIds` when an id is taken (the move undone, nothing else),
        and lets any other refusal of the database through.
        """
        self._sent()
        try:
            with self.session.begin_nested():
                rebuilt = bool(
                    self.session.scalar(
                        text("SELECT gridmap_household_bulk_begin(:n)"), {"n": self.rows}
                    )
                )
                self.session.execute(text(_MOVE_SQL))
                self.session.execute(text("SELECT gridmap_household_bulk_end()"))
        except IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) == "23505":  # unique_violation
                raise DuplicateIds from None
            raise
        self.session.execute(text("DROP TABLE pg_temp.household_staging"))
        return rebuilt


class DuplicateIds(Exception):
    """The move found an id already taken; :meth:`Staging.conflicts` lists the rows."""
