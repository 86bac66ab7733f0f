"""Retention: idempotency keys and ended logins go after their window; the rest is kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from gridmap.access import accounts, retention
from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.storage.models import AuthSession, IdempotencyKey

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=clock.BEIJING)


def _user(session) -> int:
    user_id: int = accounts.create_user(session, "retention-user", "a long enough phrase").id
    return user_id


def _key(session, user_id: int, name: str, age: dt.timedelta) -> None:
    session.add(
        IdempotencyKey(
            user_id=user_id,
            key=name,
            body_hash="0" * 64,
            response_status=201,
            response_body='{"description": "楼道里堆满杂物"}',
            created_at=NOW - age,
        )
    )


def _login(session, user_id: int, name: str, **times: dt.datetime) -> None:
    session.add(AuthSession(token_hash=name.ljust(64, "0"), user_id=user_id, kind="web", **times))


def test_keys_go_after_their_window_and_fresh_ones_stay(session):
    user_id = _user(session)
    _key(session, user_id, "fresh", dt.timedelta(hours=1))
    _key(session, user_id, "yesterday", dt.timedelta(hours=47))
    _key(session, user_id, "stale", dt.timedelta(hours=49))
    session.flush()
    removed = retention.purge(session, Settings(), NOW)
    left = set(session.scalars(select(IdempotencyKey.key).where(IdempotencyKey.user_id == user_id)))
    assert left == {"fresh", "yesterday"}
    assert removed["idempotency_key"] == 1


def test_ended_logins_go_a_day_after_they_ended(session):
    user_id = _user(session)
    hour = dt.timedelta(hours=1)
    _login(session, user_id, "active", created_at=NOW - hour, last_seen_at=NOW)
    _login(
        session,
        user_id,
        "out-today",
        created_at=NOW - hour,
        last_seen_at=NOW,
        revoked_at=NOW - hour,
    )
    _login(
        session,
        user_id,
        "out-long-ago",
        created_at=NOW - 50 * hour,
        last_seen_at=NOW - 49 * hour,
        revoked_at=NOW - 49 * hour,
    )
    # Idle since two days: ended by the 30-minute idle timeout long ago.
    _login(session, user_id, "idle", created_at=NOW - 48 * hour, last_seen_at=NOW - 48 * hour)
    session.flush()
    retention.purge(session, Settings(), NOW)
    left = session.scalars(select(AuthSession.token_hash).where(AuthSession.user_id == user_id))
    assert {t.rstrip("0") for t in left} == {"active", "out-today"}


def test_every_rule_names_its_table_once():
    tables = [t.strip() for rule in retention.RULES for t in rule.table.split(",")]
    assert len(tables) == len(set(tables))


def test_the_prune_command_reports_what_it_removed(runner, session):
    user_id = _user(session)
    _key(session, user_id, "stale", dt.timedelta(days=30))
    session.commit()
    result = runner.invoke(args=["gridmap", "prune"])
    assert result.exit_code == 0, result.output
    assert "idempotency_key: 1 rows removed" in result.output
