"""Migration 0034 keeps the rows it moves: audit rows written before it are in their month's
partition afterwards with their ids, times and hashes, the chain verifies, and the downgrade
puts them back in a plain table, still verifying.
"""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from tests.storage.conftest import alembic_config

ROWS = "SELECT id, at, chain_seq, hash, tableoid::regclass::text FROM audit_log ORDER BY id"
WRITE = """
INSERT INTO audit_log (action, outcome, detail) VALUES
  ('test.before', 'ok', '{"n": 1}'), ('test.before', 'ok', '{"n": 2}');
INSERT INTO audit_log (action, outcome, detail) VALUES ('test.before', 'ok', '{"n": 3}');
"""


def test_audit_rows_move_into_their_month_and_back_keeping_the_chain(migrated_url):
    config = alembic_config(migrated_url)
    command.downgrade(config, "0033")
    engine = create_engine(migrated_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(WRITE))
        with engine.connect() as conn:
            before = conn.execute(text(ROWS)).all()
            month = conn.scalar(
                text("SELECT to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYYMM')")
            )
        command.upgrade(config, "head")
        with engine.connect() as conn:
            after = conn.execute(text(ROWS)).all()
            partitioned = conn.scalar(text("SELECT gridmap_verify_audit()"))
            kind = conn.scalar(text("SELECT relkind FROM pg_class WHERE relname = 'audit_log'"))
        command.downgrade(config, "0033")
        with engine.connect() as conn:
            back = conn.execute(text(ROWS)).all()
            plain = conn.scalar(text("SELECT gridmap_verify_audit()"))
    finally:
        engine.dispose()
    assert len(before) == 3 and {r[4] for r in before} == {"audit_log"}
    assert [r[:4] for r in after] == [r[:4] for r in before]
    assert {r[4] for r in after} == {f"audit_log_p{month}"} and kind == "p"
    assert [tuple(r) for r in back] == [tuple(r) for r in before]
    assert tuple(partitioned) == tuple(plain) == ("3", None, None, None)
