"""Benchmark: the audit log's retention by month partition against deleting row by row.

``--rows`` audit rows ten months old are pruned by ``gridmap_prune_audit(180)`` twice in
the same run: once lying in their month's partition (migration 0034: the partition is
dropped), and, as the baseline, lying in the DEFAULT partition (no partition for that month:
deleted row by row, as every prune did before the partitions). A few fresh rows stay in
both. Rows are written as the owner with their chain columns given (the seal keeps an
owner's sealed rows), so loading is fast; the prune reads positions and hashes, not the
chain's validity. Prints each prune's time and their ratio, with the load before and after.

Run it through ./scripts/bench (which sets up the database): ``./scripts/bench partitions``.
"""

from __future__ import annotations

import argparse
import os
import time

from sqlalchemy import Engine, create_engine, text

from tests.conftest import create_test_database, drop_test_database

DATABASE = "gridmap_bench_partitions"

FILL = """
INSERT INTO audit_log (id, at, username, action, object_type, object_id, outcome, ip,
                       user_agent, detail, chain_seq, prev_hash, hash)
SELECT g, :at + g * interval '1 millisecond', 'bench-user', 'request.create', 'request',
       g::text, 'ok', '10.0.0.1', 'Mozilla/5.0 (Linux; Android 14) gridmap-bench',
       '{"status": 201}', g, md5(g::text) || md5(g::text), md5((g + 1)::text) || md5(g::text)
  FROM generate_series(1, :rows) AS g
"""

FRESH = """
INSERT INTO audit_log (id, at, username, action, outcome, detail, chain_seq, prev_hash, hash)
SELECT :rows + g, now(), 'bench-user', 'login', 'ok', '{}', :rows + g, md5(g::text), md5(g::text)
  FROM generate_series(1, 10) AS g
"""


def load() -> str:
    return os.getloadavg().__repr__()


def one_round(owner: Engine, app: Engine, rows: int, partitioned: bool) -> float:
    month = "date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') - interval '10 months'"
    with owner.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
        name = conn.scalar(text(f"SELECT 'audit_log_p' || to_char({month}, 'YYYYMM')"))
        conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
        if partitioned:
            conn.execute(text(f"SELECT gridmap_partition_month('audit_log', ({month})::date)"))
        at = conn.scalar(text(f"SELECT ({month})::timestamp AT TIME ZONE 'Asia/Shanghai'"))
        conn.execute(text(FILL), {"at": at, "rows": rows})
        conn.execute(text(FRESH), {"rows": rows})
        conn.execute(text("UPDATE audit_chain_anchor SET seq = 0, pruned_at = NULL"))
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE audit_log"))
    with app.begin() as conn:
        start = time.perf_counter()
        removed = conn.scalar(text("SELECT gridmap_prune_audit(180)"))
        elapsed = time.perf_counter() - start
    assert removed == rows, (removed, rows)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    owner_url, app_url = create_test_database(DATABASE)
    owner, app = create_engine(owner_url), create_engine(app_url)
    print(f"load at start: {load()}")
    try:
        best = {True: float("inf"), False: float("inf")}
        for _ in range(args.rounds):
            for partitioned in (True, False):
                elapsed = one_round(owner, app, args.rows, partitioned)
                best[partitioned] = min(best[partitioned], elapsed)
        print(f"prune of {args.rows:,} rows ten months old (best of {args.rounds}):")
        print(f"  month partition dropped: {best[True] * 1000:9.1f} ms")
        print(f"  deleted row by row:      {best[False] * 1000:9.1f} ms (baseline)")
        print(f"  ratio: {best[False] / best[True]:.0f}x faster by partition")
    finally:
        owner.dispose()
        app.dispose()
        drop_test_database(DATABASE)
        print(f"load at end: {load()}")


if __name__ == "__main__":
    main()
