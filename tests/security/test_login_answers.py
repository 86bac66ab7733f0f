"""Logins tell nothing about which usernames exist (ASVS 2.2, issue 13's username oracle):
an unknown name, a wrong password and a throttled name answer with the same status, body and
headers after the same work (one password hash, or none while throttled); throttling is per
typed name and client address with a doubling wait; and the client address comes from the
socket unless GRIDMAP_TRUSTED_PROXIES says how many proxies to believe."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Literal

import pytest
from argon2 import PasswordHasher
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from sqlalchemy import select, update

from gridmap import create_app
from gridmap.access import accounts, auth
from gridmap.core import db
from gridmap.storage.models import LoginThrottle
from tests.conftest import PASSWORD

WRONG = "not-the-password"


@pytest.fixture
def roomy_app(settings, session_factory) -> OpenAPI:
    """The app with a per-address login limit high enough for the attempts below."""
    app = create_app(settings.model_copy(update={"login_rate_limit": "1000 per minute"}))
    app.config["TESTING"] = True
    db.use_sessions(app, session_factory)
    return app


@pytest.fixture
def known(session) -> str:
    user = accounts.create_user(session, "real-account", PASSWORD)
    accounts.grant_role(session, user.id, "auditor", scope_code="110101")
    session.commit()
    return user.username


def _login(client: FlaskClient, username: str, password: str = WRONG):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def _seen(response) -> tuple[int, str, bool]:
    """Status, body, and whether it says when to retry (the value also counts down the
    per-address rate limit's window, so the wait is compared through the body's words)."""
    return response.status_code, response.get_data(as_text=True), "Retry-After" in response.headers


def _wait_over(session, username: str) -> None:
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.username == username)
        .values(blocked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    session.commit()


def _run(client: FlaskClient, session, username: str) -> list[tuple[int, str, bool]]:
    """Ten wrong logins, each throttled answer followed by the end of its wait."""
    answers = []
    for _ in range(10):
        answer = _seen(_login(client, username))
        answers.append(answer)
        if answer[0] == 429:
            _wait_over(session, username)
    return answers


def test_an_account_and_a_made_up_name_answer_alike_throughout(roomy_app, session, known):
    """Same status, body and Retry-After at every step: no oracle, not even after five."""
    real = _run(roomy_app.test_client(), session, known)
    made_up = _run(roomy_app.test_client(), session, "no-such-account")
    assert real == made_up
    assert [status for status, _, _ in real[:6]] == [401] * 6
    assert {(status, retry) for status, _, retry in real if status == 429} == {(429, True)}
    assert {body for status, body, _ in real if status == 401} == {
        _seen(_login(roomy_app.test_client(), "fresh-name"))[1]
    }


def test_the_wait_doubles_after_the_free_failures(roomy_app, session, known):
    client = roomy_app.test_client()
    waits = []
    for _ in range(12):
        response = _login(client, known)
        if response.status_code == 401:
            continue
        found = re.search(r"try again in (\d+) s", response.get_json()["detail"])
        assert found is not None
        waits.append(int(found[1]))
        _wait_over(session, known)
    assert waits[:3] == [1, 2, 4]
    assert waits == sorted(waits)


def test_a_waiting_pair_is_refused_even_with_the_right_password(roomy_app, session, known):
    client = roomy_app.test_client()
    for _ in range(6):
        _login(client, known)
    assert _login(client, known, PASSWORD).status_code == 429
    other = roomy_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    assert _login(other, known, PASSWORD).status_code == 200


class _Counting(PasswordHasher):
    verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        type(self).verified += 1
        return super().verify(hash, password)


@pytest.fixture
def counting() -> Iterator[type[_Counting]]:
    before = auth._hasher
    auth.use_hasher(_Counting(time_cost=1, memory_cost=1024, parallelism=1))
    _Counting.verified = 0
    yield _Counting
    auth.use_hasher(before)


def test_every_answer_costs_the_same_work(roomy_app, session, known, counting):
    """One hash for an unknown name as for a wrong password (so the same time), none for a
    throttled pair whatever the name."""
    client = roomy_app.test_client()
    for name in (known, "no-such-account"):
        for _ in range(6):
            before = counting.verified
            assert _login(client, name).status_code == 401
            assert counting.verified == before + 1, name
        before = counting.verified
        assert _login(client, name).status_code == 429
        assert counting.verified == before, name


@pytest.mark.parametrize(("hops", "separate"), [(0, False), (1, True)])
def test_addresses_come_from_trusted_proxies_only(
    settings, session_factory, session, hops, separate
):
    app = create_app(
        settings.model_copy(update={"trusted_proxies": hops, "login_rate_limit": "3 per minute"})
    )
    app.config["TESTING"] = True
    db.use_sessions(app, session_factory)
    statuses = []
    for n in range(4):
        client = app.test_client()
        forwarded = {"X-Forwarded-For": f"203.0.113.{n}"}
        statuses.append(
            client.post(
                "/api/v1/auth/token",
                json={"username": "xff-test", "password": WRONG},
                headers=forwarded,
            ).status_code
        )
    ips = set(session.scalars(select(LoginThrottle.ip).where(LoginThrottle.username == "xff-test")))
    if separate:  # each forwarded address has its own rate-limit bucket and throttle row
        assert statuses == [401] * 4 and ips == {f"203.0.113.{n}" for n in range(4)}
    else:  # the header is ignored: one bucket (the 4th is over 3 a minute), the socket's address
        assert statuses == [401, 401, 401, 429] and ips == {"127.0.0.1"}
