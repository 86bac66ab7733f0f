"""Engines and the sessions of each request.

The engines are built by ``init_app`` (never at import); views and CLI commands get the
request's session from ``get_session()``; the teardown closes it, rolling back whatever was
not committed.

With ``replica_database_url`` set, views marked ``@read_only`` read through
``get_read_session()`` from the streaming replica, when it has replayed everything the
primary had written when the request asked (read-your-writes for every caller, across
processes: a write acknowledged before the read began is always seen); otherwise, or when the
replica is unreachable, from the primary. Every other view, and every write, uses the primary.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from flask import Flask, current_app, g, has_request_context, request, stream_with_context
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gridmap.core import replica
from gridmap.core.engine import make_engine
from gridmap.core.errors import unreachable
from gridmap.core.settings import Settings

_SESSIONS = "gridmap.sessionmaker"
_REPLICA_SESSIONS = "gridmap.replica_sessionmaker"
_STATEMENT_SESSIONS = "gridmap.statement_sessionmaker"
_Chunk = TypeVar("_Chunk", str, bytes)
_View = TypeVar("_View")


def get_session() -> Session:
    """The session of the current request or CLI command (without a transaction for a view
    marked :func:`one_statement`)."""
    if "db_session" not in g:
        g.db_session = _factory()()
    session: Session = g.db_session
    return session


def one_statement(view: _View) -> _View:
    """Declare a view that reads with one statement: its session (the login check's too)
    runs each statement in a transaction of its own (autocommit), sparing the BEGIN and
    ROLLBACK round trips around it, two of a short read's three. Only for a view whose reads
    need no common snapshot; a write it makes (the login's minute touch, an audited refusal)
    is one statement, committed at once."""
    view.one_statement = True  # type: ignore[attr-defined]
    return view


def _factory() -> sessionmaker[Session]:
    extensions = current_app.extensions
    if _STATEMENT_SESSIONS in extensions and has_request_context() and request.endpoint:
        view = current_app.view_functions.get(request.endpoint)
        if getattr(view, "one_statement", False):
            factory: sessionmaker[Session] = extensions[_STATEMENT_SESSIONS]
            return factory
    default: sessionmaker[Session] = extensions[_SESSIONS]
    return default


def read_only(view: _View) -> _View:
    """Declare a view that only reads (no write, no audit row): ``get_read_session()`` may
    then serve it from the replica, and its login check falls back to the replica when the
    primary is away."""
    view.read_only = True  # type: ignore[attr-defined]
    return view


def replica_may_serve() -> bool:
    """Whether a replica is configured and the current request's view is ``@read_only``."""
    if _REPLICA_SESSIONS not in current_app.extensions or request.endpoint is None:
        return False
    view = current_app.view_functions.get(request.endpoint)
    return bool(getattr(view, "read_only", False))


def mark_primary_away() -> None:
    """Remember for this request that the primary did not answer: reads go to the replica
    without asking it again."""
    g.primary_away = True


def get_read_session() -> Session:
    """The session a ``@read_only`` view reads from: the replica's when it is configured,
    reachable and caught up with the primary, else the primary's (``get_session()``)."""
    if not replica_may_serve():
        return get_session()
    if "read_session" not in g:
        g.read_session = _caught_up_replica(_primary_position())
        if g.read_session is not None and not g.get("primary_away"):
            # The login check's transaction ends: the primary's connection goes back to the
            # pool while the replica does the work (it committed any write of its own).
            get_session().rollback()
    session: Session = g.read_session if g.read_session is not None else get_session()
    return session


def _primary_position() -> str | None:
    """The primary's current WAL position, or None when it is away."""
    if g.get("primary_away"):
        return None
    session = get_session()
    try:
        position = session.scalar(replica.PRIMARY_POSITION)
    except DBAPIError as error:
        session.rollback()
        if not unreachable(error):
            raise
        mark_primary_away()
        return None
    return str(position)


def _caught_up_replica(position: str | None) -> Session | None:
    """A session on the replica if it has replayed ``position``; None when it is behind,
    promoted or unreachable."""
    session: Session = current_app.extensions[_REPLICA_SESSIONS]()
    if replica.caught_up(session, position):
        return session
    session.close()
    return None


# The replica's state: whether it is one (in recovery), whether a WAL receiver runs (any role
# sees its pid), and its replay lag in seconds: none while everything received is replayed (an
# idle primary sends nothing, and the last replayed commit's age would grow without any lag).
_STATE = text(
    "SELECT pg_is_in_recovery(), EXISTS (SELECT FROM pg_stat_wal_receiver),"
    " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
)


def replica_status() -> dict[str, object]:
    """The replica's part of readiness: nothing when none is configured; else its state
    (``streaming``; ``disconnected``: it receives nothing from the primary, so its lag is
    unknown; ``unreachable``; ``not-a-replica``) and, while it streams, its replay lag. A
    replica that is behind never serves a read that needs what it lacks."""
    if _REPLICA_SESSIONS not in current_app.extensions:
        return {}
    with current_app.extensions[_REPLICA_SESSIONS]() as session:
        try:
            session.execute(text("SET LOCAL statement_timeout = '1s'"))
            standby, receiving, lag = session.execute(_STATE).one()
        except DBAPIError as error:
            if not unreachable(error):
                raise
            return {"replica": "unreachable"}
    if not standby:  # promoted, or the URL names a primary
        return {"replica": "not-a-replica"}
    if not receiving:
        return {"replica": "disconnected"}
    return {"replica": "streaming", "replica_lag_seconds": round(float(lag or 0), 3)}


def _close_session(exc: BaseException | None = None) -> None:
    for name in ("db_session", "read_session"):
        session = g.pop(name, None)
        if session is not None:
            session.close()


def streamed(chunks: Iterator[_Chunk]) -> Iterator[_Chunk]:
    """A response body made of ``chunks`` that read from the request's session after the view
    returns (a server-side cursor, a lazy query).

    Flask tears the request down, closing its session, before the body is sent, then pushes
    the context again around the body; the session, used again by ``chunks``, begins a new
    transaction that no teardown closes (``g`` no longer holds it). The body closes it when it
    ends, so its connection goes back to the pool instead of idling in its transaction."""
    session = get_session()

    def body() -> Iterator[_Chunk]:
        try:
            yield from chunks
        finally:
            session.close()

    return stream_with_context(body())


def init_app(app: Flask, settings: Settings) -> None:
    """Create the engines' lazily-connecting pools and register the teardown."""
    engine = make_engine(settings)
    app.extensions[_SESSIONS] = sessionmaker(engine, expire_on_commit=False)
    # A pool of its own, where the statements marked PREPARED stay prepared (engine.py).
    app.extensions[_STATEMENT_SESSIONS] = sessionmaker(
        make_engine(settings, autocommit=True), expire_on_commit=False
    )
    if settings.replica_database_url:
        engine = make_engine(settings, url=settings.replica_database_url)
        app.extensions[_REPLICA_SESSIONS] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def dispose(app: Flask) -> None:
    """Close the pooled connections of every engine ``init_app`` built for ``app``."""
    for name in (_SESSIONS, _STATEMENT_SESSIONS, _REPLICA_SESSIONS):
        factory = app.extensions.get(name)
        if factory is not None:
            factory.kw["bind"].dispose()


def use_sessions(app: Flask, factory: sessionmaker[Session]) -> None:
    """Make the app draw its sessions from ``factory`` (tests bind it to one transaction),
    for the views marked :func:`one_statement` too."""
    app.extensions[_SESSIONS] = factory
    app.extensions.pop(_STATEMENT_SESSIONS, None)


def migrate(database_url: str) -> None:
    """Apply the Alembic migrations to ``database_url`` (upgrade to head)."""
    from alembic import command  # only the migrate command needs Alembic
    from alembic.config import Config

    config = Config(str(Path(__file__).resolve().parents[2] / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` on the server of ``server_url``, closing its connections."""
    admin = create_engine(
        make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` afresh on the server of ``server_url``, migrated to head.

    For the test suite and the benchmarks, which must not touch the served database.
    """
    server = make_url(server_url)
    drop_database(server_url, name)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = server.set(database=name).render_as_string(hide_password=False)
    migrate(url)
    return url
