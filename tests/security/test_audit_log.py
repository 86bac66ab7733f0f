"""Tampering with the audit log as the application's database role: every attempt is either
refused (42501) or overridden by the database (its time, its user name, its place in the
chain). The hash chain itself, pruning and concurrent writers: ``test_audit_chain``."""

from __future__ import annotations

import psycopg.errors
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError

from gridmap.access import accounts, audit
from gridmap.storage.models import AuditEntry

PASSWORD = "a long enough phrase"


@pytest.fixture
def entry(session) -> int:
    """One audit row inserted by the application's role (INSERT is allowed)."""
    assert session.scalar(text("SELECT current_user")) == "gridmap_app"
    audit.record(session, "test.entry", username="tester", detail={"n": 1})
    session.commit()
    found = session.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.action == "test.entry"))
    assert found is not None
    return found


def _insert(session, **values: object) -> AuditEntry:
    """A raw INSERT as the app role, with whatever columns it likes; the stored row."""
    values = {"action": "test.forged", "outcome": "ok", "detail": "{}"} | values
    columns = ", ".join(values)
    params = ", ".join(f"CAST(:{c} AS {_TYPES.get(c, 'text')})" for c in values)
    session.execute(text(f"INSERT INTO audit_log ({columns}) VALUES ({params})"), values)
    # Not RETURNING: a row sent with a time in another month than its sealed one is put into
    # its month's partition by a second insert (migration 0034), and the first returns nothing.
    # Ids grow in chain order: the newest is this one.
    new_id = session.scalar(select(func.max(AuditEntry.id)))
    row = session.get(AuditEntry, new_id, populate_existing=True)
    assert row is not None
    return row


_TYPES = {
    "at": "timestamptz",
    "id": "bigint",
    "chain_seq": "bigint",
    "user_id": "integer",
    "detail": "jsonb",
}


def test_a_forged_time_is_replaced_by_the_database_clock(session):
    row = _insert(session, at="2000-01-01 00:00:00+08")
    # The test runs in one transaction: now() is its start, clock_timestamp() the present.
    start, present = session.execute(text("SELECT now(), clock_timestamp()")).one()
    assert start <= row.at <= present


def test_a_user_id_carries_its_own_name_whatever_name_is_sent(session):
    alice = accounts.create_user(session, "audit-alice", PASSWORD)
    bob = accounts.create_user(session, "audit-bob", PASSWORD)
    row = _insert(session, user_id=alice.id, username=bob.username)
    assert (row.user_id, row.username) == (alice.id, "audit-alice")
    unnamed = _insert(session, user_id=bob.id)
    assert unnamed.username == "audit-bob"


def test_a_user_id_of_no_account_is_refused(session):
    with pytest.raises(IntegrityError) as raised, session.begin_nested():
        _insert(session, user_id=987_654, username="ghost")
    assert isinstance(raised.value.orig, psycopg.errors.ForeignKeyViolation)


def test_an_anonymous_row_keeps_the_name_that_was_tried(session):
    row = _insert(session, username="someone-typed-this", outcome="denied")
    assert row.user_id is None and row.username == "someone-typed-this"


def test_forged_ids_and_chain_columns_are_overridden(session, entry):
    before = session.get(AuditEntry, entry)
    assert before is not None
    row = _insert(
        session, id=1, chain_seq=1, prev_hash="0" * 64, hash="f" * 64, detail='{"forged": true}'
    )
    assert row.id > entry and row.chain_seq == before.chain_seq + 1
    assert row.prev_hash == before.hash and row.hash != "f" * 64
    head = session.execute(text("SELECT seq, hash FROM audit_chain_head")).one()
    assert tuple(head) == (row.chain_seq, row.hash)


REFUSED = [
    "UPDATE audit_log SET outcome = 'failed', detail = '{}' WHERE id = :id",
    "UPDATE audit_log SET at = at - interval '1 year'",
    "DELETE FROM audit_log WHERE id = :id",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
    "DROP TABLE audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_seal",
    "DROP TRIGGER audit_log_seal ON audit_log",
    "CREATE OR REPLACE FUNCTION gridmap_audit_seal() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN RETURN NEW; END $$",
    "SELECT setval('audit_log_id_seq', 1)",
    "SELECT nextval('audit_log_id_seq')",
    "SELECT setval('household_id_seq', 1)",
    "SELECT setval('resident_request_id_seq', 1, false)",
    "UPDATE audit_chain_head SET seq = 0",
    "INSERT INTO audit_chain_head (one, seq, hash) VALUES (true, 0, '')",
    "DELETE FROM audit_chain_head",
    "TRUNCATE audit_chain_head",
    "UPDATE audit_chain_anchor SET seq = seq + 1",
    "DELETE FROM audit_chain_anchor",
    "SELECT gridmap_sync_sequence('audit_log')",
    "SELECT gridmap_reserve_ids('audit_log', 10)",
    "DELETE FROM app_user",
    "DELETE FROM resident_request",
    "SELECT version_num FROM alembic_version",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_the_app_role_cannot_change_remove_or_reorder_audit_rows(session, entry, statement):
    head = session.execute(text("SELECT seq, hash FROM audit_chain_head")).one()
    with pytest.raises(ProgrammingError) as raised, session.begin_nested():
        session.execute(text(statement), {"id": entry})
    assert isinstance(raised.value.orig, psycopg.errors.InsufficientPrivilege)
    assert raised.value.orig.sqlstate == "42501"
    row = session.get(AuditEntry, entry, populate_existing=True)
    assert row is not None and row.outcome == "ok" and row.detail == {"n": 1}
    assert session.execute(text("SELECT seq, hash FROM audit_chain_head")).one() == head


def test_the_app_role_holds_only_usage_on_sequences(session):
    found = session.execute(
        text(
            "SELECT c.relname, has_sequence_privilege(c.oid, 'USAGE'),"
            " has_sequence_privilege(c.oid, 'SELECT'), has_sequence_privilege(c.oid, 'UPDATE')"
            " FROM pg_class c WHERE c.relkind = 'S'"
            " AND c.relnamespace = 'public'::regnamespace"
        )
    ).all()
    assert len(found) > 10
    for name, usage, select_, update in found:
        assert (usage, select_, update) == (name != "audit_log_id_seq", False, False), name


def test_the_app_role_holds_no_truncate_references_or_trigger_anywhere(session):
    excess = session.scalars(
        text(
            "SELECT c.relname || ' ' || p.priv FROM pg_class c"
            " CROSS JOIN unnest(ARRAY['TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(priv)"
            " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v')"
            " AND has_table_privilege(c.oid, p.priv)"
        )
    ).all()
    assert excess == []
    # Reading the chain's tables is allowed (the verify runs as the app); writing is not.
    assert session.scalar(text("SELECT seq FROM audit_chain_head")) >= 0


def test_the_app_role_moves_import_sequences_forward_only(session):
    first = session.scalar(text("SELECT gridmap_reserve_ids('resident_request', 5)"))
    assert session.scalar(text("SELECT nextval('resident_request_id_seq')")) == first + 5
    # Syncing moves the sequence past the largest id, never back to it.
    assert session.scalar(text("SELECT gridmap_sync_sequence('resident_request')")) >= first + 5
    assert session.scalar(text("SELECT nextval('resident_request_id_seq')")) == first + 6
    with pytest.raises(DBAPIError) as raised, session.begin_nested():
        session.execute(text("SELECT gridmap_reserve_ids('resident_request', 0)"))
    assert isinstance(raised.value.orig, psycopg.errors.InvalidParameterValue)
