"""Engine and the session of each request.

The engine is built by ``init_app`` (never at import); views and CLI commands get the
request's session from ``get_session()``; the teardown closes it, rolling back whatever was
not committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from flask import Flask, current_app, g, stream_with_context
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from gridmap.core.engine import make_engine
from gridmap.core.settings import Settings

_SESSIONS = "gridmap.sessionmaker"
_Chunk = TypeVar("_Chunk", str, bytes)


def get_session() -> Session:
    """The session of the current request or CLI command."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[_SESSIONS]()
    session: Session = g.db_session
    return session


def _close_session(exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
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
    """Create the engine lazily-connecting pool and register the teardown."""
    app.extensions[_SESSIONS] = sessionmaker(make_engine(settings), expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def use_sessions(app: Flask, factory: sessionmaker[Session]) -> None:
    """Make the app draw its sessions from ``factory`` (tests bind it to one transaction)."""
    app.extensions[_SESSIONS] = factory


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
