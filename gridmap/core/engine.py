"""The database engine, built the one way every process (web, CLI, job worker) needs it."""

from __future__ import annotations

import time
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


def make_engine(settings: Settings, *, pool_size: int = 5, url: str | None = None) -> Engine:
    """Engine for ``url`` (default ``settings.database_url``) with a small pool per process."""
    # Calendar dates (validity periods, posts) follow Beijing time; instants are stored in UTC.
    engine = create_engine(
        url or settings.database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No server-side prepared statements: a statement prepared after psycopg's fifth run
        # may switch to a generic plan, which cannot use a code prefix (LIKE $1 || '%') and, on
        # tables without statistics yet, ran a test's 三率 query for over 18 minutes instead
        # of half a second. Plans made for each call's values are also what a pooler expects.
        connect_args={"options": f"-c timezone={BEIJING.key}", "prepare_threshold": None},
    )
    _ping_after_idle(engine)
    return engine


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
