"""The audit log's hash chain: ``flask gridmap verify-audit`` finds a changed, a missing and
an out-of-chain row that the database's owner (a superuser here) slipped in, pruning keeps
the chain verifiable, and eight writers at once leave it intact without deadlock.

Rows are committed by separate connections (the app role writes, the owner tampers), so the
tests use a database of their own; each starts from an empty log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from gridmap import cli, create_app
from gridmap.access import audit
from gridmap.core import db
from gridmap.core.settings import Settings
from tests.conftest import create_test_database, drop_test_database

GENESIS = "0" * 64

#: Recompute every hash from the anchor on, as the owner: what a superuser who backdates rows
#: must do to keep the chain consistent (the tests use it to make old rows).
RESEAL = """
DO $$
DECLARE
  r audit_log;
  prev text;
BEGIN
  SELECT hash INTO prev FROM audit_chain_anchor;
  FOR r IN SELECT * FROM audit_log ORDER BY chain_seq LOOP
    r.prev_hash := prev;
    prev := gridmap_audit_hash(r);
    UPDATE audit_log SET prev_hash = r.prev_hash, hash = prev WHERE id = r.id;
  END LOOP;
  UPDATE audit_chain_head SET hash = prev;
END $$
"""


@dataclass
class ChainDatabase:
    owner: Engine
    app: Engine
    runner: FlaskCliRunner


@pytest.fixture(scope="module")
def chain_database() -> Iterator[ChainDatabase]:
    name = "gridmap_test_audit_chain"
    owner_url, app_url = create_test_database(name)
    owner, app = create_engine(owner_url), create_engine(app_url, pool_size=10)
    settings = Settings(database_url=app_url, migrate_database_url=owner_url, basemap_crs="none")
    flask_app = create_app(settings)
    db.use_sessions(flask_app, sessionmaker(app, expire_on_commit=False))
    yield ChainDatabase(owner, app, flask_app.test_cli_runner())
    owner.dispose()
    app.dispose()
    drop_test_database(name)


@pytest.fixture
def chain(chain_database: ChainDatabase) -> ChainDatabase:
    """The chain database with an empty audit log, its chain starting afresh."""
    owner_sql(
        chain_database,
        "TRUNCATE audit_log",
        f"UPDATE audit_chain_head SET seq = 0, hash = '{GENESIS}'",
        f"UPDATE audit_chain_anchor SET seq = 0, hash = '{GENESIS}', pruned_at = NULL",
    )
    return chain_database


def owner_sql(db: ChainDatabase, *statements: str) -> None:
    with db.owner.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def write(db: ChainDatabase, n: int, action: str = "test.row") -> list[int]:
    """``n`` audit rows written by the app role, each committed on its own; their ids."""
    ids = []
    for i in range(n):
        with Session(db.app) as session:
            audit.record(session, action, username="tester", detail={"i": i})
            session.commit()
            ids.append(session.scalar(text("SELECT max(id) FROM audit_log")))
    return ids


def verify(db: ChainDatabase) -> audit.Verdict:
    with Session(db.app) as session:
        return audit.verify(session)


def cli_verify(db: ChainDatabase) -> tuple[int, str]:
    result = db.runner.invoke(args=["gridmap", "verify-audit"])
    return result.exit_code, result.output


def test_an_untouched_chain_is_intact(chain):
    assert cli_verify(chain) == (0, "0 rows, chain intact\n")
    write(chain, 5)
    assert cli_verify(chain) == (0, "5 rows, chain intact\n")
    assert verify(chain) == audit.Verdict(5, None, None, None)


def test_a_changed_row_is_named(chain):
    ids = write(chain, 5)
    owner_sql(chain, f"UPDATE audit_log SET detail = '{{\"i\": 99}}' WHERE id = {ids[2]}")
    verdict = verify(chain)
    assert (verdict.broken_id, verdict.problem, verdict.checked) == (ids[2], "changed", 2)
    code, output = cli_verify(chain)
    assert code == 1
    assert f"audit chain broken at row id {ids[2]} (changed)" in output


@pytest.mark.parametrize("column", ["at = at - interval '1 day'", "username = 'someone-else'"])
def test_a_changed_row_that_was_re_hashed_breaks_the_next_link(chain, column):
    ids = write(chain, 4)
    owner_sql(
        chain,
        f"UPDATE audit_log SET {column} WHERE id = {ids[1]}",
        f"UPDATE audit_log a SET hash = gridmap_audit_hash(a) WHERE id = {ids[1]}",
    )
    verdict = verify(chain)
    assert (verdict.broken_id, verdict.problem) == (ids[2], "inserted")
    assert f"row before it (id {ids[1]})" in (verdict.detail or "")


def test_a_deleted_middle_row_is_reported_as_a_gap(chain):
    ids = write(chain, 5)
    owner_sql(chain, f"DELETE FROM audit_log WHERE id = {ids[2]}")
    verdict = verify(chain)
    assert (verdict.broken_id, verdict.problem) == (ids[3], "missing")
    assert verdict.detail == "1 row(s) missing before it (chain positions 3 to 3)"
    code, output = cli_verify(chain)
    assert code == 1 and f"row id {ids[3]} (missing)" in output


def test_deleted_last_rows_are_reported(chain):
    ids = write(chain, 5)
    owner_sql(chain, f"DELETE FROM audit_log WHERE id >= {ids[3]}")
    verdict = verify(chain)
    assert (verdict.broken_id, verdict.problem, verdict.checked) == (ids[2], "missing", 3)
    assert "2 row(s) missing after it" in (verdict.detail or "")


def test_a_row_slipped_in_past_the_trigger_is_reported(chain):
    ids = write(chain, 3)
    # A well-formed row at the next position, hashed like the others: only the head knows.
    owner_sql(
        chain,
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_seal",
        "INSERT INTO audit_log (id, at, action, outcome, detail, chain_seq, prev_hash, hash)"
        " SELECT max(id) + 1, clock_timestamp(), 'test.forged', 'ok', '{}', max(chain_seq) + 1,"
        " (array_agg(hash ORDER BY chain_seq DESC))[1], '' FROM audit_log",
        "UPDATE audit_log a SET hash = gridmap_audit_hash(a) WHERE action = 'test.forged'",
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_seal",
    )
    verdict = verify(chain)
    assert (verdict.broken_id, verdict.problem) == (ids[-1] + 1, "inserted")
    assert "beyond the chain head" in (verdict.detail or "")


def _age(chain: ChainDatabase, ages: dict[int, str]) -> None:
    """Date rows back (id → interval) and reseal the chain: as if written that long ago."""
    for row_id, age in ages.items():
        owner_sql(chain, f"UPDATE audit_log SET at = at - interval '{age}' WHERE id = {row_id}")
    owner_sql(chain, RESEAL)
    assert verify(chain).intact


def _prune(chain: ChainDatabase, keep_days: int | None) -> int:
    with Session(chain.app) as session:
        removed = session.scalar(text("SELECT gridmap_prune_audit(:d)"), {"d": keep_days})
        session.commit()
    return int(removed)


def _ids(chain: ChainDatabase) -> list[int]:
    with chain.app.connect() as conn:
        return list(conn.scalars(text("SELECT id FROM audit_log ORDER BY chain_seq")))


def test_pruning_the_oldest_rows_keeps_the_chain_verifiable(chain):
    ids = write(chain, 6)
    _age(chain, dict.fromkeys(ids[:3], "400 days"))
    assert _prune(chain, 180) == 3
    assert _ids(chain) == ids[3:]
    assert cli_verify(chain) == (0, "3 rows, chain intact\n")
    with chain.owner.connect() as conn:
        anchor = conn.execute(text("SELECT seq, pruned_at IS NOT NULL FROM audit_chain_anchor"))
        assert tuple(anchor.one()) == (3, True)
    # Rows removed behind the anchor's back are a gap at the start.
    owner_sql(chain, f"DELETE FROM audit_log WHERE id = {ids[3]}")
    verdict = verify(chain)
    assert (verdict.broken_id, verdict.problem) == (ids[4], "missing")


@pytest.mark.parametrize("keep_days", [None, -1000, 0, 1, 179, 180])
def test_pruning_never_removes_rows_younger_than_180_days(chain, keep_days):
    ages = ["400 days", "180 days 1 hour", "179 days 23 hours", "179 days", "1 day", "0 days"]
    ids = write(chain, len(ages))
    _age(chain, dict(zip(ids, ages, strict=True)))
    assert _prune(chain, keep_days) == 2
    assert _ids(chain) == ids[2:]
    assert verify(chain).intact


def test_pruning_honours_a_longer_retention(chain):
    ids = write(chain, 3)
    _age(chain, {ids[0]: "400 days", ids[1]: "200 days"})
    with Session(chain.app) as session:
        assert audit.prune(session, 365) == 1
        session.commit()
    assert _ids(chain) == ids[1:]
    assert verify(chain).intact


def test_pruning_removes_only_a_prefix_of_the_chain(chain):
    # Rows chained before migration 0014 kept the app's order of times: an old row after a
    # young one stays until the young one goes, so no hole opens in the chain.
    ids = write(chain, 4)
    _age(chain, {ids[0]: "400 days", ids[1]: "10 days", ids[2]: "400 days"})
    assert _prune(chain, 180) == 1
    assert _ids(chain) == ids[1:]
    assert verify(chain).intact


def test_pruning_everything_leaves_an_intact_empty_chain(chain):
    ids = write(chain, 2)
    _age(chain, dict.fromkeys(ids, "300 days"))
    assert _prune(chain, 180) == 2
    assert cli_verify(chain) == (0, "0 rows, chain intact\n")
    write(chain, 1)
    assert cli_verify(chain) == (0, "1 rows, chain intact\n")


WRITERS = 8
PER_WRITER = 125


def test_eight_writers_at_once_leave_the_chain_intact(chain):
    """1,000 audited transactions from 8 threads (every 10th rolled back, so ids skip), while
    a reader verifies over and over: no deadlock, no gap, every verdict intact."""
    barrier = threading.Barrier(WRITERS + 1)
    errors: list[BaseException] = []
    verdicts: list[audit.Verdict] = []
    done = threading.Event()

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(PER_WRITER):
                with Session(chain.app) as session:
                    audit.record(session, "test.concurrent", username=f"w{n}", detail={"i": i})
                    if i % 10 == 9:
                        session.rollback()
                    else:
                        session.commit()
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    def reader() -> None:
        barrier.wait()
        while not done.is_set():
            verdicts.append(verify(chain))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    checker = threading.Thread(target=reader)
    for thread in [*threads, checker]:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    done.set()
    checker.join(timeout=60)
    assert not any(t.is_alive() for t in [*threads, checker]), "a writer hung: deadlock?"
    assert errors == []
    written = WRITERS * (PER_WRITER - PER_WRITER // 10)
    assert verify(chain) == audit.Verdict(written, None, None, None)
    assert verdicts and all(v.intact for v in verdicts)
    with chain.app.connect() as conn:
        rows = conn.execute(text("SELECT id, chain_seq, at FROM audit_log ORDER BY chain_seq"))
        ids, positions, times = zip(*rows, strict=True)
    assert list(positions) == list(range(1, written + 1))
    assert list(ids) == sorted(ids) and list(times) == sorted(times)


def test_the_workers_daily_check_logs_a_broken_chain_as_an_error(chain, caplog):
    ids = write(chain, 3)
    with Session(chain.app) as session:
        assert cli._verify_daily(session) == "3 rows, chain intact"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    owner_sql(chain, f"UPDATE audit_log SET outcome = 'denied' WHERE id = {ids[0]}")
    with Session(chain.app) as session:
        cli._verify_daily(session)
    [error] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert f"row id {ids[0]} (changed)" in error.getMessage()
