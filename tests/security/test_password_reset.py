"""An administrator's password reset cannot be used to take over an account.

The reset gives a one-time password made by the server: a login with it may only choose the
account's new password (every other call answers 403, pages go to the change-password page),
it expires, it ends the account's logins, and the user finds a notice of it at their next
login. An administrator who uses it to act as the user must first replace the user's
password, so the user's own password stops working; the reset is audited under the
administrator's name, the change under the account's.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from gridmap.access import accounts, auth
from gridmap.access.security import PASSWORD_CHANGE_REQUIRED
from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.storage.models import AuditEntry, User, UserNotice
from tests.conftest import PASSWORD, ClientFor, client_for
from tests.helpers import assert_problem, clock_at
from tests.security.conftest import A_PEOPLE, A

TARGET = "zone-a-leader"
ADMINS_CHOICE = "admin-chosen-pass-7"
USERS_OWN = "users-own-pass-8"
REVEAL = {"object": "person", "id": 2, "field": "phone"}
ONE_TIME_SHAPE = re.compile(r"^[A-HJKMNP-Z2-9]{4}(-[A-HJKMNP-Z2-9]{4}){3}$")

#: Calls a zone leader may make; each refused after a one-time password's login.
BLOCKED = [
    ("POST", "/api/v1/reveal", REVEAL),
    ("GET", "/api/v1/households.csv", None),
    ("GET", f"/api/v1/reports/coverage.csv?grid={A}01", None),
    ("GET", f"/api/v1/grids/{A}01", None),
    ("GET", "/api/v1/households", None),
    ("GET", "/api/v1/requests", None),
    ("GET", f"/api/v1/grids/{A}01/coverage", None),
]


@pytest.fixture
def target(session: Session, world: object) -> User:
    """A zone leader of community A, with the password ``PASSWORD``."""
    user = accounts.create_user(session, TARGET, PASSWORD)
    accounts.grant_role(session, user.id, "zone_leader", scope_code=A + "01")
    session.commit()
    return user


@pytest.fixture
def system(login_as: ClientFor) -> FlaskClient:
    return login_as("system_admin")


def _username(client: FlaskClient) -> str:
    name: str = client.get("/api/v1/auth/me").get_json()["username"]
    return name


def _token(client: FlaskClient, username: str, password: str) -> tuple[int, dict]:
    answer = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    return answer.status_code, answer.get_json()


def _login(app, anonymous: FlaskClient, username: str, password: str) -> FlaskClient:
    status, body = _token(anonymous, username, password)
    assert status == 200, body
    return client_for(app, body["token"])


def _reset(system: FlaskClient, user_id: int) -> str:
    answer = system.post(f"/api/v1/admin/users/{user_id}/password")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    password: str = answer.get_json()["one_time_password"]
    return password


def _change(client: FlaskClient, current: str, new: str):
    body = {"current_password": current, "new_password": new}
    return client.post("/api/v1/auth/password", json=body)


def test_the_takeover_path_is_closed(app, session, anonymous, system, target, caplog):
    admin = _username(system)
    users_session = _login(app, anonymous, TARGET, PASSWORD)
    assert users_session.post("/api/v1/reveal", json=REVEAL).status_code == 200

    with caplog.at_level(logging.DEBUG):
        one_time = _reset(system, target.id)
    assert ONE_TIME_SHAPE.match(one_time)
    # The user's logins ended and their password stopped working at the reset.
    assert users_session.get("/api/v1/auth/me").status_code == 401
    assert _token(anonymous, TARGET, PASSWORD)[0] == 401

    # The administrator logs in with the one-time password: nothing but the change works.
    status, body = _token(anonymous, TARGET, one_time)
    assert status == 200 and body["user"]["must_change_password"] is True
    as_user = client_for(app, body["token"])
    for method, url, data in BLOCKED:
        refused = as_user.open(url, method=method, json=data)
        problem = assert_problem(refused, 403, "new password")
        assert problem["code"] == PASSWORD_CHANGE_REQUIRED, url
        assert A_PEOPLE[2][1] not in refused.get_data(as_text=True)
    page = as_user.get("/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/password")
    reveals = select(AuditEntry).where(
        AuditEntry.action == "reveal", AuditEntry.user_id == target.id
    )
    assert len(session.scalars(reveals).all()) == 1  # the user's own, before the reset
    me = as_user.get("/api/v1/auth/me").get_json()
    assert me["must_change_password"] is True
    assert [n["text"] for n in me["notices"]] == [
        f"您的密码已于 {_beijing(session, target.id)} 由系统管理员 {admin} 重置"
    ]

    # The one-time password cannot be kept as the password.
    assert_problem(_change(as_user, one_time, one_time), 400, "must differ")
    assert as_user.post("/api/v1/reveal", json=REVEAL).status_code == 403

    # To act as the user, the administrator must choose the user's password...
    assert _change(as_user, one_time, ADMINS_CHOICE).status_code == 200
    assert as_user.post("/api/v1/reveal", json=REVEAL).status_code == 200
    # ...so the user's own password, and the one-time password, no longer log in.
    assert _token(anonymous, TARGET, PASSWORD)[0] == 401
    assert _token(anonymous, TARGET, one_time)[0] == 401

    # The audit names the administrator for the reset, the account for the change, and
    # holds the one-time password nowhere; nor does any log line.
    [reset_row] = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.password_reset")
    ).all()
    assert (reset_row.username, reset_row.object_type) == (admin, "user")
    assert reset_row.object_id == str(target.id) and reset_row.user_id != target.id
    [change_row] = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.password_change")
    ).all()
    assert (change_row.username, change_row.user_id) == (TARGET, target.id)
    leaked = select(AuditEntry.id).where(cast(AuditEntry.detail, String).contains(one_time[:9]))
    assert session.scalars(leaked).all() == []
    assert one_time not in caplog.text and one_time[:9] not in caplog.text


def test_the_user_notices_and_takes_the_account_back(app, session, anonymous, system, target):
    """After a takeover the user cannot log in; a new reset brings them a one-time password
    and the notices of both resets."""
    admin = _username(system)
    first = _reset(system, target.id)
    taken = _login(app, anonymous, TARGET, first)
    assert _change(taken, first, ADMINS_CHOICE).status_code == 200
    assert _token(anonymous, TARGET, PASSWORD)[0] == 401  # the user sees something is wrong

    second = _reset(system, target.id)
    assert taken.get("/api/v1/auth/me").status_code == 401  # the taker's login ended
    mine = _login(app, anonymous, TARGET, second)
    notices = mine.get("/api/v1/auth/me").get_json()["notices"]
    assert len(notices) == 2
    assert all(n["text"].endswith(f"由系统管理员 {admin} 重置") for n in notices)
    assert notices[0]["at"] >= notices[1]["at"]  # newest first
    assert _change(mine, second, USERS_OWN).status_code == 200
    assert mine.post("/api/v1/auth/notices/read").get_json() == {"read": 2}
    assert mine.get("/api/v1/auth/me").get_json()["notices"] == []
    assert mine.post("/api/v1/reveal", json=REVEAL).status_code == 200
    assert _token(anonymous, TARGET, USERS_OWN)[0] == 200
    assert _token(anonymous, TARGET, ADMINS_CHOICE)[0] == 401


def test_the_one_time_password_expires(app, session, anonymous, system, target, settings):
    assert Settings().one_time_password_hours == 24
    reset = system.post(f"/api/v1/admin/users/{target.id}/password").get_json()
    one_time = reset["one_time_password"]
    expires = dt.datetime.fromisoformat(reset["expires_at"])
    assert dt.timedelta(hours=23) < expires - clock.now() <= dt.timedelta(hours=24)
    with clock_at(expires + dt.timedelta(seconds=1)):
        late = anonymous.post("/api/v1/auth/token", json={"username": TARGET, "password": one_time})
        assert_problem(late, 401, "expired")
        assert late.get_json()["code"] == "one-time-password-expired"
    with clock_at(expires - dt.timedelta(minutes=1)):
        assert _token(anonymous, TARGET, one_time)[0] == 200


def test_the_expiry_is_a_setting(session, target):
    reset = accounts.reset_password(
        session, target.id, admin="someone", valid_for=dt.timedelta(hours=2)
    )
    assert dt.timedelta(hours=1, minutes=59) < reset.expires_at - clock.now()
    assert reset.expires_at - clock.now() <= dt.timedelta(hours=2)
    assert "password=" not in repr(reset) and reset.password not in repr(reset)
    longer = Settings.from_env({"GRIDMAP_ONE_TIME_PASSWORD_HOURS": "48"})
    assert longer.one_time_password_hours == 48


def test_the_reset_takes_no_password(session, anonymous, system, target):
    """The old body (an administrator's chosen password) is refused, and changes nothing."""
    url = f"/api/v1/admin/users/{target.id}/password"
    assert_problem(system.post(url, json={"password": "chosen-by-admin-1"}), 400, "no body")
    assert _token(anonymous, TARGET, PASSWORD)[0] == 200
    assert session.scalars(select(UserNotice)).all() == []


def test_a_user_changes_their_own_password(app, session, anonymous, target):
    here = _login(app, anonymous, TARGET, PASSWORD)
    elsewhere = _login(app, anonymous, TARGET, PASSWORD)
    assert_problem(_change(here, "not-my-password", USERS_OWN), 400, "current_password")
    assert_problem(_change(here, PASSWORD, PASSWORD), 400, "must differ")
    assert_problem(_change(here, PASSWORD, "password1234"), 400, "new_password", "common")
    assert _change(here, PASSWORD, USERS_OWN).status_code == 200
    assert here.get("/api/v1/auth/me").status_code == 200  # this login goes on
    assert elsewhere.get("/api/v1/auth/me").status_code == 401  # the others end
    assert _token(anonymous, TARGET, PASSWORD)[0] == 401
    assert _token(anonymous, TARGET, USERS_OWN)[0] == 200
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.password_change")
    ).all()
    assert [(r.username, r.outcome, r.object_id) for r in rows] == [(TARGET, "ok", str(target.id))]


def test_logout_works_before_the_change(app, anonymous, system, target):
    one_time = _reset(system, target.id)
    client = _login(app, anonymous, TARGET, one_time)
    assert client.post("/api/v1/auth/logout").status_code == 200
    assert client.get("/api/v1/auth/me").status_code == 401


def test_one_time_passwords_are_readable_and_random():
    made = {accounts.one_time_password() for _ in range(200)}
    assert len(made) == 200
    assert all(ONE_TIME_SHAPE.match(p) for p in made)
    letters = set("".join(made).replace("-", ""))
    assert letters <= set(accounts.ONE_TIME_ALPHABET) and not letters & set("01ILO")


def _beijing(session: Session, user_id: int) -> str:
    at = session.scalar(select(UserNotice.at).where(UserNotice.user_id == user_id))
    assert at is not None
    return at.astimezone(clock.BEIJING).strftime("%Y-%m-%d %H:%M")


def test_login_refusal_of_an_expired_password_is_audited(session, settings, target):
    reset = accounts.reset_password(session, target.id, admin="x", valid_for=dt.timedelta(hours=1))
    session.commit()
    with clock_at(reset.expires_at), pytest.raises(auth.OneTimePasswordExpired):
        auth.login(
            session, TARGET, reset.password, kind="bearer", settings=settings, origin=auth.Origin()
        )
    row = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "login").order_by(AuditEntry.id.desc())
    ).first()
    assert row is not None and row.detail["reason"] == "one-time password expired"
