"""Engine and the session of each request.

The engine is built by ``init_app`` (never at import); views and CLI commands get the
request's session from ``get_session()``; the teardown closes it, rolling back whatever was
not committed.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from gridmap.settings import Settings

_SESSIONS = "gridmap.sessionmaker"


def make_engine(settings: Settings) -> Engine:
    """Engine for ``settings.database_url`` with a small pool per worker process."""
    return create_engine(settings.database_url, pool_size=5, max_overflow=5, pool_pre_ping=True)


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


def init_app(app: Flask, settings: Settings) -> None:
    """Create the engine lazily-connecting pool and register the teardown."""
    app.extensions[_SESSIONS] = sessionmaker(make_engine(settings), expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def use_sessions(app: Flask, factory: sessionmaker[Session]) -> None:
    """Make the app draw its sessions from ``factory`` (tests bind it to one transaction)."""
    app.extensions[_SESSIONS] = factory
