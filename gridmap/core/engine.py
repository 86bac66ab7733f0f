"""The database engine, built the one way every process (web, CLI, job worker) needs it."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError

from gridmap.core.clock import BEIJING
from gridmap.core.settings import Settings

#: A pooled connection idle this long is tested before use (seconds). One used a moment ago
#: is not: the test is a round trip, a quarter of a short request's time in SQL, and a
#: connection the server dropped in between fails at the request's first statement, the
#: login check, which is tried again on a new connection (gridmap.access.security).
PING_AFTER_IDLE = 5.0


def make_engine(
    settings: Settings, *, pool_size: int = 5, url: str | None = None, autocommit: bool = False
) -> Engine:
    """Engine for ``url`` (default ``settings.database_url``) with a small pool per process.

    With ``autocommit``, every statement is a transaction of its own, and statements marked
    :data:`PREPARED` are prepared on the server. Its pool is its own: psycopg forgets (and
    the server deallocates) a connection's prepared statements at every ROLLBACK, which
    ends every request of a pooled connection in a transaction."""
    # Calendar dates (validity periods, posts) follow Beijing time; instants are stored in UTC.
    engine = create_engine(
        url or settings.database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
        # No server-side prepared statements by default: a statement prepared after psycopg's
        # fifth run may switch to a generic plan, which cannot use a code prefix (LIKE $1 ||
        # '%') and, on tables without statistics yet, ran a test's 三率 query for over 18
        # minutes instead of half a second. A statement marked PREPARED is the exception.
        connect_args={"options": f"-c timezone={BEIJING.key}", "prepare_threshold": None},
    )
    _ping_after_idle(engine)
    _execute_as_asked(engine, autocommit)
    return engine


#: Execution option of a statement prepared on the server at its first run on a connection
#: of an autocommit engine (``stmt.execution_options(**PREPARED)``; elsewhere it is run as
#: any other), so that its later runs there skip parsing and, once PostgreSQL settles on a
#: generic plan (after five custom ones, when the generic costs no more), planning. Only for
#: a short statement run on every request whose plan does not depend on its values: the
#: login count, the locate's chain at a point (a GiST probe), a household's coverage (a
#: primary key probe); the scope's code prefixes are filters there, never the index's
#: search. tests/api/test_one_statement.py checks that the plans become generic.
PREPARED = {"gridmap_prepared": True}


@dataclass
class Alongside:
    """A statement (SQL without parameters) sent in the same round trip as the next
    statement run in this context, just before it (psycopg's pipeline); its rows, once it
    has run, in ``rows``."""

    sql: str
    rows: list[tuple[Any, ...]] | None = None


#: The statement to send alongside the next one (set per request by gridmap.access.security).
ALONGSIDE: ContextVar[Alongside | None] = ContextVar("gridmap_alongside", default=None)


def _execute_as_asked(engine: Engine, autocommit: bool) -> None:
    """Run a statement with the one :data:`ALONGSIDE` asks for, and prepared when marked
    :data:`PREPARED` on an autocommit engine; any other statement as SQLAlchemy does."""

    @event.listens_for(engine, "do_execute")
    def _execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
        prepare = autocommit and bool(context.execution_options.get("gridmap_prepared"))
        alongside = ALONGSIDE.get()
        if alongside is None and not prepare:
            return None
        connection = cursor.connection
        if autocommit:
            # psycopg prepares nothing while the threshold is None, even when asked to.
            connection.prepare_threshold = 0
        try:
            if alongside is None:
                cursor.execute(statement, parameters, prepare=True)
                return True
            ALONGSIDE.set(None)
            with connection.pipeline():
                first = connection.cursor()
                first.execute(alongside.sql, prepare=autocommit)
                cursor.execute(statement, parameters, prepare=prepare)
            alongside.rows = first.fetchall()
            return True
        finally:
            connection.prepare_threshold = None


def _ping_after_idle(engine: Engine) -> None:
    """Test a pooled connection at checkout when it has been idle ``PING_AFTER_IDLE``
    seconds; a dead one is replaced (the pool retries on ``DisconnectionError``)."""

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # whatever the driver raises for a dead connection
            raise DisconnectionError(str(error)) from error
