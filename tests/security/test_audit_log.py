"""The audit log is append-only for the application's database role; pruning keeps 180 days."""

from __future__ import annotations

import psycopg.errors
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import ProgrammingError

from gridmap.access import audit
from gridmap.storage.models import AuditEntry


@pytest.fixture
def entry(session) -> int:
    """One audit row inserted by the application's role (INSERT is allowed)."""
    assert session.scalar(text("SELECT current_user")) == "gridmap_app"
    audit.record(session, "test.entry", username="tester", detail={"n": 1})
    session.commit()
    found = session.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.action == "test.entry"))
    assert found is not None
    return found


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET outcome = 'failed', detail = '{}' WHERE id = :id",
        "UPDATE audit_log SET at = at - interval '1 year'",
        "DELETE FROM audit_log WHERE id = :id",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DROP TABLE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    ],
)
def test_the_app_role_cannot_change_or_remove_audit_rows(session, entry, statement):
    with pytest.raises(ProgrammingError) as raised, session.begin_nested():
        session.execute(text(statement), {"id": entry})
    assert isinstance(raised.value.orig, psycopg.errors.InsufficientPrivilege)
    assert raised.value.orig.sqlstate == "42501"
    row = session.get(AuditEntry, entry, populate_existing=True)
    assert row is not None and row.outcome == "ok" and row.detail == {"n": 1}


def _aged(session, days: str) -> int:
    """An audit row dated ``days`` ago (an SQL interval), inserted by the app's role."""
    return session.scalar(
        text(
            "INSERT INTO audit_log (at, action, outcome, detail) "
            "VALUES (now() - CAST(:age AS interval), 'test.aged', 'ok', '{}') RETURNING id"
        ),
        {"age": days},
    )


@pytest.mark.parametrize("keep_days", [None, -1000, 0, 1, 179, 180])
def test_pruning_never_removes_rows_younger_than_180_days(session, keep_days):
    young = [_aged(session, age) for age in ("0 days", "1 day", "179 days", "179 days 23 hours")]
    old = [_aged(session, age) for age in ("180 days 1 hour", "400 days")]
    removed = session.scalar(select(func.gridmap_prune_audit(keep_days)))
    ids = set(session.scalars(select(AuditEntry.id).where(AuditEntry.action == "test.aged")))
    assert set(young) <= ids
    assert not set(old) & ids and removed >= len(old)


def test_pruning_honours_a_longer_retention(session):
    kept = _aged(session, "200 days")
    gone = _aged(session, "400 days")
    assert audit.prune(session, 365) >= 1
    ids = set(session.scalars(select(AuditEntry.id).where(AuditEntry.action == "test.aged")))
    assert kept in ids and gone not in ids
