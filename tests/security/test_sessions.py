"""Logins: throttling, idle and absolute timeouts, logout, CSRF on cookie sessions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from gridmap.access import accounts, auth
from gridmap.access.security import SESSION_COOKIE
from gridmap.storage.models import AuthSession, LoginThrottle, User
from tests.conftest import PASSWORD, client_for
from tests.security.conftest import A_PEOPLE, A, auth_session_of

WRONG = "not-the-password"
REVEAL_PHONE = {"object": "person", "id": 1, "field": "phone"}


@pytest.fixture
def chief(session, world) -> str:
    """The username of a community chief of A who has not logged in yet."""
    user = accounts.create_user(session, "chief-a", PASSWORD)
    accounts.grant_role(session, user.id, "chief", scope_code=A)
    session.commit()
    return user.username


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of a page's form or ``csrf-token`` meta tag (the client keeps the
    session cookie it came with)."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(
        r'name="csrf-token" content="([^"]+)"', page
    )
    assert found, f"{path} has no CSRF token"
    return found.group(1)


def web_login(client, username: str, password: str, token: str | None = None):
    form = {"username": username, "password": password}
    if token is not None:
        form["csrf_token"] = token
    return client.post("/login", data=form)


def api_login(client, username: str, password: str):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def _attempt(channel: str, client, username: str, password: str):
    if channel == "web":
        return web_login(client, username, password, csrf_token(client))
    return api_login(client, username, password)


def test_scripts_get_a_bearer_token_without_any_csrf_token(app, anonymous, chief):
    """``POST /api/v1/auth/token`` is how scripts and phones log in: no cookie, no form."""
    response = api_login(anonymous, chief, PASSWORD)
    assert response.status_code == 200, response.get_data(as_text=True)
    token = response.get_json()["token"]
    assert client_for(app, token).get("/api/v1/auth/me").get_json()["username"] == chief


@pytest.mark.parametrize("channel", ["web", "api"])
def test_five_wrong_passwords_make_this_address_wait_not_the_account(
    app, anonymous, session, chief, channel
):
    for n in range(5):
        response = _attempt(channel, anonymous, chief, WRONG)
        assert response.status_code == 401, f"attempt {n + 1}: {response.status_code}"
    assert _attempt(channel, anonymous, chief, WRONG).status_code == 401  # the 6th counts
    throttled = _attempt(channel, anonymous, chief, PASSWORD)
    assert throttled.status_code == 429
    assert SESSION_COOKIE not in throttled.headers.get("Set-Cookie", "")
    row = session.scalar(select(LoginThrottle).where(LoginThrottle.username == chief))
    session.refresh(row)
    assert row.failures == 6 and row.blocked_until is not None
    # Another address is not held back: nobody can lock an account out for everyone.
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert _attempt(channel, elsewhere, chief, PASSWORD).status_code in (200, 302)
    # Once the wait is over, the right password works from here too, and clears the count.
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.username == chief)
        .values(blocked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    session.commit()
    assert _attempt(channel, anonymous, chief, PASSWORD).status_code in (200, 302)
    session.expire_all()
    assert session.scalar(select(LoginThrottle).where(LoginThrottle.username == chief)) is None
    assert session.scalar(select(User.locked_until).where(User.username == chief)) is None


def test_four_wrong_passwords_do_not_hold_back(anonymous, chief):
    for _ in range(4):
        assert _attempt("web", anonymous, chief, WRONG).status_code == 401
    assert _attempt("web", anonymous, chief, PASSWORD).status_code == 302


def _age(session, token: str, **moves: dt.timedelta) -> None:
    """Move a login's timestamps back by the given amounts."""
    row = auth_session_of(session, token)
    now = dt.datetime.now(dt.UTC)
    values = {column: now - delta for column, delta in moves.items()}
    session.execute(update(AuthSession).where(AuthSession.id == row.id).values(**values))
    session.commit()


@pytest.mark.parametrize(
    ("moves", "works"),
    [
        ({"last_seen_at": dt.timedelta(minutes=29), "created_at": dt.timedelta(minutes=29)}, True),
        ({"last_seen_at": dt.timedelta(minutes=31), "created_at": dt.timedelta(minutes=31)}, False),
        ({"created_at": dt.timedelta(hours=11, minutes=59)}, True),
        ({"created_at": dt.timedelta(hours=12, minutes=1)}, False),
    ],
    ids=["idle-29min", "idle-31min", "absolute-11h59", "absolute-12h01"],
)
def test_idle_and_absolute_timeouts(app, session, make_user, world, moves, works):
    token = make_user("chief", A)
    client = client_for(app, token)
    assert client.get("/api/v1/auth/me").status_code == 200
    _age(session, token, **moves)
    response = client.get("/api/v1/auth/me")
    assert response.status_code == (200 if works else 401)
    if not works:
        session.expire_all()
        assert auth_session_of(session, token).revoked_at is not None
        _age(session, token, last_seen_at=dt.timedelta(0))  # a later request cannot revive it
        assert client.get("/api/v1/auth/me").status_code == 401


def test_the_read_only_login_check_judges_alike_and_writes_nothing(
    session, make_user, world, settings
):
    """The check a read replica makes while the primary is away: same answers, no touch of
    the idle clock, no revocation written."""
    token = make_user("chief", A)
    _age(session, token, last_seen_at=dt.timedelta(minutes=5))  # due for a touch
    seen = auth_session_of(session, token).last_seen_at
    assert auth.resolve(session, token, "bearer", settings, writable=False) is not None
    session.expire_all()
    assert auth_session_of(session, token).last_seen_at == seen
    _age(session, token, last_seen_at=dt.timedelta(minutes=31))
    assert auth.resolve(session, token, "bearer", settings, writable=False) is None
    session.expire_all()
    assert auth_session_of(session, token).revoked_at is None
    # The primary's check, for comparison, revokes it.
    assert auth.resolve(session, token, "bearer", settings) is None
    session.expire_all()
    assert auth_session_of(session, token).revoked_at is not None


def test_logout_ends_the_token_on_the_server(app, session, make_user, world):
    token = make_user("chief", A)
    client = client_for(app, token)
    assert client.get(f"/api/v1/grids/{A}").status_code == 200
    assert client.post("/api/v1/auth/logout").status_code == 200
    for url in ("/api/v1/auth/me", f"/api/v1/grids/{A}"):
        assert client.get(url).status_code == 401
    assert client.post("/api/v1/reveal", json=REVEAL_PHONE).status_code == 401
    session.expire_all()
    assert auth_session_of(session, token).revoked_at is not None


def test_web_session_needs_the_csrf_token_on_every_write(anonymous, session, chief):
    before_login = csrf_token(anonymous)
    response = web_login(anonymous, chief, PASSWORD, before_login)
    assert response.status_code == 302 and response.location == "/"
    cookie = response.headers["Set-Cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert anonymous.get("/api/v1/auth/me").get_json()["username"] == chief
    token = csrf_token(anonymous, "/")  # the page of the signed-in user carries its token

    without = anonymous.post("/api/v1/reveal", json=REVEAL_PHONE)
    assert without.status_code == 400
    assert A_PEOPLE[1][1] not in without.get_data(as_text=True)
    for stale in ("x", before_login):  # a forged token, and the one from before the login
        forged = anonymous.post("/api/v1/reveal", json=REVEAL_PHONE, headers={"X-CSRFToken": stale})
        assert forged.status_code == 400
    ok = anonymous.post("/api/v1/reveal", json=REVEAL_PHONE, headers={"X-CSRFToken": token})
    assert ok.status_code == 200 and ok.get_json()["value"] == A_PEOPLE[1][1]

    assert anonymous.post("/logout").status_code == 400
    assert anonymous.post("/logout", data={"csrf_token": token}).status_code == 302
    assert anonymous.get("/api/v1/auth/me").status_code == 401


def test_login_form_needs_its_csrf_token(anonymous, session, chief):
    csrf_token(anonymous)  # a session with a token exists, but the form does not send it
    response = web_login(anonymous, chief, PASSWORD)
    assert response.status_code == 400
    assert SESSION_COOKIE not in response.headers.get("Set-Cookie", "")
    assert web_login(anonymous, chief, PASSWORD, "forged").status_code == 400
    rows = session.scalars(select(AuthSession).join(User).where(User.username == chief))
    assert list(rows) == []


def test_a_cookie_is_not_a_bearer_token_nor_the_reverse(app, anonymous, make_user, chief):
    web_login(anonymous, chief, PASSWORD, csrf_token(anonymous))
    cookie = anonymous.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    assert client_for(app, cookie.value).get("/api/v1/auth/me").status_code == 401
    bearer = make_user("chief", A)
    browser = app.test_client()
    browser.set_cookie(SESSION_COOKIE, bearer)
    assert browser.get("/api/v1/auth/me").status_code == 401
