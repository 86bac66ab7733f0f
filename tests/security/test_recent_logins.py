"""A token checked a moment ago is taken from the process's recent logins (one read of the
``login`` change count instead of the session and account rows), yet every revocation holds
from the very next request, in every process: two apps stand for two gunicorn workers, each
with its own recent logins, over the same database."""

from __future__ import annotations

import datetime as dt
import functools

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from gridmap import create_app
from gridmap.access import accounts
from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.storage.models import AuthSession, ChangeCount, User
from tests.conftest import client_for
from tests.helpers import statements_during
from tests.security.conftest import A, B


@pytest.fixture
def workers(settings: Settings, session_factory: sessionmaker[Session]) -> tuple[Flask, Flask]:
    """Two apps over the same database, as two worker processes."""
    apps = []
    for _ in range(2):
        app = create_app(settings)
        app.config["TESTING"] = True
        db.use_sessions(app, session_factory)
        apps.append(app)
    return apps[0], apps[1]


def _login_count(session: Session) -> int:
    return int(session.scalar(select(ChangeCount.n).where(ChangeCount.name == "login")) or 0)


def test_a_recent_token_costs_one_read_of_the_login_count(workers, session, make_user, world):
    first, _ = workers
    client = client_for(first, make_user("chief", A))
    assert client.get("/api/v1/auth/me").status_code == 200
    run = statements_during(session, lambda: client.get("/api/v1/auth/me"))
    # The login check reads the count and nothing of the session or account rows (the
    # view itself then reads the account's notices).
    login = [s for s in run if "auth_session" in s or "app_user" in s or "change_count" in s]
    assert len(login) == 1 and "FROM change_count" in login[0], run


def test_logout_ends_the_token_in_every_process_at_once(workers, session, make_user, world):
    first, second = workers
    token = make_user("chief", A)
    one, other = client_for(first, token), client_for(second, token)
    assert one.get(f"/api/v1/grids/{A}").status_code == 200
    assert other.get(f"/api/v1/grids/{A}").status_code == 200  # both now keep it
    before = _login_count(session)
    assert one.post("/api/v1/auth/logout").status_code == 200
    assert _login_count(session) > before
    assert other.get(f"/api/v1/grids/{A}").status_code == 401
    assert one.get(f"/api/v1/grids/{A}").status_code == 401


def test_a_reset_or_a_disabled_account_locks_out_at_once(workers, session, make_user, world):
    first, second = workers
    reset, disabled = make_user("chief", A), make_user("zone_leader", A + "01")
    clients = {t: (client_for(first, t), client_for(second, t)) for t in (reset, disabled)}
    for pair in clients.values():
        assert all(c.get("/api/v1/auth/me").status_code == 200 for c in pair)
    # The administrator's reset (a one-time password) ends every login of the account.
    accounts.reset_password(
        session, _user_id(session, "t0-chief"), admin="sysadmin", valid_for=dt.timedelta(hours=1)
    )
    session.commit()
    assert [c.get("/api/v1/auth/me").status_code for c in clients[reset]] == [401, 401]
    # An account disabled in the database stops at once too; the other login is untouched.
    session.execute(update(User).where(User.username == "t1-zone-leader").values(active=False))
    session.commit()
    assert [c.get("/api/v1/auth/me").status_code for c in clients[disabled]] == [401, 401]


def test_a_role_change_is_seen_at_once(workers, session, make_user, world):
    first, second = workers
    token = make_user("chief", A)
    other = client_for(second, token)
    assert other.get(f"/api/v1/grids/{A}").status_code == 200
    # A change of scope in place (no session ended): the cached caller must not outlive it.
    session.execute(update(User).where(User.username == "t0-chief").values(scope_code=A + "01"))
    session.commit()
    assert other.get(f"/api/v1/grids/{A}").status_code == 404
    assert client_for(first, token).get(f"/api/v1/grids/{A}01").status_code == 200


def test_the_minute_touch_does_not_end_the_recent_logins(workers, session, make_user, world):
    """``last_seen_at`` is written once a minute per login: that write must not count as a
    change, or every process would check every token afresh each time one is touched."""
    first, _ = workers
    client = client_for(first, make_user("chief", A))
    assert client.get("/api/v1/auth/me").status_code == 200
    before = _login_count(session)
    session.execute(update(User).where(User.username == "t0-chief").values(failed_logins=0))
    session.execute(
        update(AuthSession).values(last_seen_at=dt.datetime.now(dt.UTC))  # the touch
    )
    session.commit()
    assert _login_count(session) == before


def _user_id(session: Session, username: str) -> int:
    found = session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


#: Locate and coverage (views marked ``security.one_statement``) of household 1 in A.
ONE_STATEMENT = ("/api/v1/locate?lon=116.405&lat=39.915", "/api/v1/households/1/coverage")


def test_a_recent_token_on_a_one_statement_view_is_one_round_trip(
    workers, session, make_user, world
):
    """Taken on trust, the login count goes with the view's statement (psycopg's pipeline,
    below SQLAlchemy's statement events): the view's statement is all there is to see."""
    first, _ = workers
    client = client_for(first, make_user("chief", A))
    for url in ONE_STATEMENT:
        assert client.get(url).status_code == 200  # checked, then kept
        run = statements_during(session, functools.partial(client.get, url))
        assert len(run) == 1 and "change_count" not in run[0], run


def test_logout_ends_the_token_of_one_statement_views_in_every_process(
    workers, session, make_user, world
):
    first, second = workers
    token = make_user("chief", A)
    one, other = client_for(first, token), client_for(second, token)
    for url in ONE_STATEMENT:
        assert one.get(url).status_code == 200
        assert other.get(url).status_code == 200
    assert one.post("/api/v1/auth/logout").status_code == 200
    for url in ONE_STATEMENT:
        assert other.get(url).status_code == 401
        assert one.get(url).status_code == 401


def test_a_lockout_ends_the_token_of_one_statement_views_at_once(
    workers, session, make_user, world
):
    """An account disabled, then the administrator's reset: each holds from the next
    request of a process that answered the token a moment ago, bad parameters too (a
    caller taken on trust is confirmed before anything is answered)."""
    _, second = workers
    disabled, reset = make_user("chief", A), make_user("zone_leader", A + "01")
    clients = {t: client_for(second, t) for t in (disabled, reset)}
    for client in clients.values():
        assert client.get(ONE_STATEMENT[1]).status_code == 200
        assert client.get(ONE_STATEMENT[0]).status_code in (200, 404)
    session.execute(update(User).where(User.username == "t0-chief").values(active=False))
    session.commit()
    # Refused parameters, before the view runs: not a 422 for a caller taken on trust.
    assert clients[disabled].get("/api/v1/locate?lon=east&lat=39.9").status_code == 401
    assert clients[disabled].get(ONE_STATEMENT[0]).status_code == 401
    accounts.reset_password(
        session,
        _user_id(session, "t1-zone-leader"),
        admin="sysadmin",
        valid_for=dt.timedelta(hours=1),
    )
    session.commit()
    assert clients[reset].get("/api/v1/households/999999/coverage").status_code == 401
    assert clients[reset].get(ONE_STATEMENT[1]).status_code == 401


def test_a_scope_change_is_seen_at_once_by_one_statement_views(workers, session, make_user, world):
    _, second = workers
    token = make_user("chief", A)
    other = client_for(second, token)
    for url in ONE_STATEMENT:
        assert other.get(url).status_code == 200
    # The account moved to community B in place: no session ended, the count moved.
    session.execute(update(User).where(User.username == "t0-chief").values(scope_code=B))
    session.commit()
    for url in ONE_STATEMENT:
        assert other.get(url).status_code == 404
    assert other.get("/api/v1/households/11/coverage").status_code == 200
