"""The read replica (``replica_database_url``): when it may serve a read, and the reads of
background work (the report and export jobs) from it.

A read goes to the replica only once it has replayed the primary's WAL up to the position the
primary had when the read was asked for, so whatever was committed before (the caller's own
write, the job's row) is seen; otherwise it goes to the primary.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gridmap.core.engine import make_engine
from gridmap.core.errors import unreachable
from gridmap.core.settings import Settings

#: The primary's current WAL position.
PRIMARY_POSITION = text("SELECT CAST(pg_current_wal_lsn() AS text)")
#: Whether the replica is one (in recovery: not promoted, not a primary named by mistake) and
#: has replayed ``:primary`` (NULL: the primary is away, nothing newer can have been written).
CAUGHT_UP = text(
    "SELECT pg_is_in_recovery() AND (CAST(:primary AS pg_lsn) IS NULL"
    " OR pg_last_wal_replay_lsn() >= CAST(:primary AS pg_lsn))"
)
#: How long a job waits for the replica to catch up before it reads from the primary: a job
#: is not in a hurry, and the replica is usually milliseconds behind.
JOB_WAIT_SECONDS = 5.0


def caught_up(replica: Session, position: str | None) -> bool | None:
    """Whether ``replica`` may serve a read asked for at the primary's ``position``; None
    when it cannot be reached."""
    try:
        return bool(replica.scalar(CAUGHT_UP, {"primary": position}))
    except DBAPIError as error:
        if not unreachable(error):
            raise
        replica.rollback()
        return None


class Replica:
    """The replica's sessions for a worker process, or none (no replica configured)."""

    def __init__(self, settings: Settings) -> None:
        url = settings.replica_database_url
        engine = make_engine(settings, pool_size=2, url=url) if url else None
        self._sessions = sessionmaker(engine, expire_on_commit=False) if engine else None

    def close(self) -> None:
        """Close the pooled connections to the replica (a process that stops, a test)."""
        if self._sessions is not None:
            self._sessions.kw["bind"].dispose()

    @contextmanager
    def reads(self, primary: Session) -> Iterator[Session]:
        """A session to read from: the replica's once it has replayed what ``primary`` had
        written (waiting up to :data:`JOB_WAIT_SECONDS`), else ``primary`` itself. Writes
        go to ``primary``."""
        if self._sessions is None:
            yield primary
            return
        position = primary.scalar(PRIMARY_POSITION)
        with self._sessions() as session:
            deadline = time.monotonic() + JOB_WAIT_SECONDS
            while (ready := caught_up(session, position)) is False:
                session.rollback()  # the next check sees the replica's newer snapshot
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            if ready:
                yield session
                return
        yield primary
