"""Views marked ``db.one_statement`` (locate, a household's coverage) run without a
transaction: each statement, the login check's too, on a connection in autocommit, so no
BEGIN and no ROLLBACK go to the server around them; every other view keeps its transaction.

The suite's apps draw their sessions from the test's transaction, so this needs an app on
its own engine over committed data: a database of its own with the resilience tests' staffed
grid and accounts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, event, text

from gridmap import create_app
from gridmap.core import db
from gridmap.core.settings import Settings
from tests.conftest import MID_LAT, MID_LON, create_test_database, drop_test_database
from tests.resilience.conftest import Deployment, prepare


@pytest.fixture(scope="module")
def live() -> Iterator[Deployment]:
    name = f"gridmap_test_one_statement_{os.getpid()}"
    owner, app_url = create_test_database(name)
    yield prepare(owner, app_url)
    drop_test_database(name)


@pytest.fixture
def served(live: Deployment) -> Iterator[tuple[FlaskClient, list[tuple[str, bool]]]]:
    """A client of an app on its own engine, and the statements it runs with whether their
    connection was in autocommit."""
    settings = Settings(
        database_url=live.app_url, migrate_database_url=live.owner_url, basemap_crs="none"
    )
    app = create_app(settings)
    seen: list[tuple[str, bool]] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append((statement, bool(conn.connection.dbapi_connection.autocommit)))

    for engine in _engines(app):
        event.listen(engine, "before_cursor_execute", note)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {live.tokens['street']}"
    yield client, seen
    db.dispose(app)


def _engines(app: Flask) -> list[Engine]:
    """The engines of the app: its transactions' and its one-statement views'."""
    names = ("gridmap.sessionmaker", "gridmap.statement_sessionmaker")
    return [app.extensions[name].kw["bind"] for name in names]


def test_locate_and_coverage_run_without_a_transaction(served) -> None:
    client, seen = served
    middle = f"lon={MID_LON}&lat={MID_LAT}"
    for url in (f"/api/v1/locate?{middle}", "/api/v1/households/1/coverage"):
        client.get(url)  # the token is checked, then kept
        seen.clear()
        assert client.get(url).status_code == 200
        # The view's one statement; the count of the login check goes with it, in the same
        # round trip (tests/security/test_recent_logins.py).
        assert len(seen) == 1, seen
        assert "change_count" not in seen[0][0]
        assert all(autocommit for _, autocommit in seen), seen


def test_other_views_keep_their_transaction(served) -> None:
    client, seen = served
    assert client.get("/api/v1/grids").status_code == 200
    assert seen and not any(autocommit for _, autocommit in seen), seen


def test_a_refusal_is_audited_from_a_one_statement_view(served, live) -> None:
    """An audited refusal (a 401 of a read) writes its audit row through the same session:
    in autocommit it is one INSERT, committed at once."""
    client, seen = served
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer not-a-token"
    engine = create_engine(live.owner_url)
    count = text("SELECT count(*) FROM audit_log WHERE outcome = 'denied'")
    try:
        with engine.connect() as conn:
            before = conn.scalar(count)
        assert client.get(f"/api/v1/locate?lon={MID_LON}&lat={MID_LAT}").status_code == 401
        with engine.connect() as conn:
            assert conn.scalar(count) == (before or 0) + 1
        assert all(autocommit for _, autocommit in seen), seen
    finally:
        engine.dispose()


def test_their_statements_are_prepared_with_generic_plans(served) -> None:
    """The login count, the locate's and the coverage's statements are prepared on the
    connection at their first run, and after PostgreSQL's five custom plans it runs them on a
    generic plan: planned no more."""
    client, _ = served
    middle = f"lon={MID_LON}&lat={MID_LAT}"
    for _ in range(8):
        assert client.get(f"/api/v1/locate?{middle}").status_code == 200
        assert client.get("/api/v1/households/1/coverage").status_code == 200
    app = client.application
    engine = app.extensions["gridmap.statement_sessionmaker"].kw["bind"]
    # One request at a time: the pool holds the one connection that served them all.
    assert engine.pool.checkedin() == 1
    with engine.connect() as conn:
        prepared = conn.execute(
            text("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        ).all()
    found = {
        what: plans
        for what, clue in (
            ("login", "FROM change_count"),
            ("locate", "ST_Intersects"),
            ("coverage", "household_id"),
        )
        for statement, *plans in prepared
        if clue in statement
    }
    assert set(found) == {"login", "locate", "coverage"}, prepared
    for what, (generic, custom) in found.items():
        assert generic >= 2 and custom <= 5, (what, generic, custom)


def test_transactions_prepare_nothing(served) -> None:
    """A view in a transaction runs the login count as any statement: its connection's
    ROLLBACK would deallocate what it prepared."""
    client, _ = served
    assert client.get("/api/v1/grids").status_code == 200
    engine = client.application.extensions["gridmap.sessionmaker"].kw["bind"]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM pg_prepared_statements")) == 0
