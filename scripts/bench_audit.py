"""Benchmark: what the audit log's hash chain costs an audited transaction.

Every audited write ends with one audit row and its commit. Since migration 0014 the row's
trigger locks the chain head until the transaction ends, so audited transactions commit one
after the other (their WAL flushes included), where before they only contended for the
sequence. 1,000 transactions from 8 threads, each inserting one audit row as the
application's role and committing, into ``audit_log`` (the trigger) and, as the baseline in
the same run, into ``audit_plain``: the same table without trigger or chain. Rounds
alternate; the best round of each is printed with the per-transaction p50/p95.

Run it through ./scripts/bench (which sets up the database): ``./scripts/bench audit``.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from sqlalchemy import Engine, create_engine, text

from tests.conftest import create_test_database, drop_test_database

DATABASE = "gridmap_bench_audit"
ROW = (
    "(username, action, object_type, object_id, outcome, ip, user_agent, detail)"
    " VALUES ('bench-user', 'request.create', 'request', '123456', 'ok', '10.0.0.1',"
    " 'Mozilla/5.0 (Linux; Android 14) gridmap-bench', '{\"status\": 201}')"
)
PLAIN = """
CREATE TABLE audit_plain (LIKE audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE audit_plain ALTER COLUMN chain_seq DROP NOT NULL,
  ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL,
  ADD PRIMARY KEY (id);
CREATE SEQUENCE audit_plain_id_seq OWNED BY audit_plain.id;
ALTER TABLE audit_plain ALTER COLUMN id SET DEFAULT nextval('audit_plain_id_seq');
CREATE INDEX ON audit_plain (at);
GRANT SELECT, INSERT ON audit_plain TO gridmap_app;
GRANT USAGE ON SEQUENCE audit_plain_id_seq TO gridmap_app;
"""


def one_round(engine: Engine, table: str, threads: int, total: int) -> tuple[float, list[float]]:
    """Wall time of ``total`` one-row transactions from ``threads`` threads; each latency."""
    per_thread = total // threads
    barrier = threading.Barrier(threads + 1)
    latencies: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        mine = []
        with engine.connect() as conn:
            barrier.wait()
            for _ in range(per_thread):
                start = time.perf_counter()
                with conn.begin():
                    conn.execute(text(f"INSERT INTO {table} {ROW}"))
                mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return time.perf_counter() - start, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    owner_url, app_url = create_test_database(DATABASE)
    owner = create_engine(owner_url)
    with owner.begin() as conn:
        conn.execute(text(PLAIN))
    owner.dispose()
    engine = create_engine(app_url, pool_size=args.threads)
    best: dict[str, tuple[float, list[float]]] = {}
    try:
        for _ in range(args.rounds):
            for table in ("audit_plain", "audit_log"):
                wall, latencies = one_round(engine, table, args.threads, args.transactions)
                if table not in best or wall < best[table][0]:
                    best[table] = (wall, latencies)
        with engine.connect() as conn:
            verdict = conn.execute(text("SELECT * FROM gridmap_verify_audit()")).one()
    finally:
        engine.dispose()
        drop_test_database(DATABASE)
    n, threads = args.transactions, args.threads
    print(
        f"{n:,} audited transactions (one row, commit) from {threads} threads, best of"
        f" {args.rounds}"
    )
    for table, label in (("audit_plain", "baseline: no trigger"), ("audit_log", "hash chain")):
        wall, lat = best[table]
        q = statistics.quantiles(lat, n=20)
        print(
            f"  {label:22s} {wall:6.2f} s  {n / wall:7.0f} tx/s"
            f"  p50 {q[9] * 1000:6.1f} ms  p95 {q[18] * 1000:6.1f} ms"
        )
    ratio = best["audit_log"][0] / best["audit_plain"][0]
    print(f"  ratio hash chain / baseline: {ratio:.2f}x; verify afterwards: {tuple(verdict)}")
    intact = verdict[1] is None  # (checked, broken_id, problem, detail)
    print(f"  the chain verifies after the run: {'yes (meets)' if intact else 'NO (MISSES)'}")


if __name__ == "__main__":
    main()
