"""The database engine, built the one way every process (web, CLI, job worker) needs it."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

from gridmap.core.clock import BEIJING
from gridmap.core.settings import Settings


def make_engine(settings: Settings, *, pool_size: int = 5) -> Engine:
    """Engine for ``settings.database_url`` with a small pool per process."""
    # Calendar dates (validity periods, posts) follow Beijing time; instants are stored in UTC.
    return create_engine(
        settings.database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # No server-side prepared statements: a statement prepared after psycopg's fifth run
        # may switch to a generic plan, which cannot use a code prefix (LIKE $1 || '%') and, on
        # tables without statistics yet, ran a test's 三率 query for over 18 minutes instead
        # of half a second. Plans made for each call's values are also what a pooler expects.
        connect_args={"options": f"-c timezone={BEIJING.key}", "prepare_threshold": None},
    )
