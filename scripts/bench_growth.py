"""Benchmark: how much a street's patrols add to the database in a year, and what retention
takes back.

A worker's day is one two-hour patrol posted live through the API as a phone does: one fix
every 5 s, each fix its own batch with its own Idempotency-Key (1 440 requests), then the
patrol's end. The bytes each table grew by (``pg_total_relation_size``) are scaled to a
street of 100 000 households at the demo's staffing (one full-time grid worker per zone of
400 households: 250 workers, one patrol each a day, 365 days). Printed in the same run:
the growth with every idempotency key kept (the baseline: keys were never pruned before
``flask gridmap prune``) and with the 48-hour window.

Run it through ./scripts/bench (which sets up the database): ``./scripts/bench growth``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gridmap import create_app
from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.patrols import service as patrols
from tests.patrols.conftest import HOME
from tests.resilience.conftest import prepare

DATABASE = "gridmap_bench_growth"
FIXES = 1_440  # two hours at one fix every 5 s
STEP_S = 5
WORKERS_PER_100K = 250
TABLES = ("patrol_point", "patrol", "patrol_reach", "idempotency_key", "audit_log")


def sizes(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {
            t: int(conn.scalar(text(f"SELECT pg_total_relation_size('{t}')")) or 0) for t in TABLES
        }
    engine.dispose()
    return found


def one_day(client, token: str) -> None:
    """One worker's two-hour patrol, fix by fix, as the phone posts it."""
    auth = {"Authorization": f"Bearer {token}"}
    start = clock.now() - dt.timedelta(seconds=FIXES * STEP_S + 60)
    answer = client.post(
        "/api/v1/patrols",
        json={"work_list": "daily_patrol", "started_at": start.isoformat()},
        headers=auth,
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    patrol = answer.get_json()["id"]
    for seq in range(FIXES):
        at = start + dt.timedelta(seconds=30 + seq * STEP_S)
        fix = {
            "seq": seq,
            "t": at.isoformat(),
            "lon": HOME[0] + (seq % 200) * 1e-5,
            "lat": HOME[1] + 2e-4,
        }
        answer = client.post(
            f"/api/v1/patrols/{patrol}/points",
            json={"points": [fix]},
            headers=auth | {"Idempotency-Key": uuid.uuid4().hex},
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
    assert client.post(f"/api/v1/patrols/{patrol}/end", json={}, headers=auth).status_code == 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=2, help="worker-days posted (default 2)")
    args = parser.parse_args()
    from tests.conftest import create_test_database, drop_test_database

    owner, app_url = create_test_database(DATABASE)
    try:
        live = prepare(owner, app_url)
        engine = create_engine(app_url)
        with Session(engine) as session:
            patrols.seed_work_lists(session, specials=())
            session.commit()
        engine.dispose()
        app = create_app(Settings(database_url=app_url, write_rate_limit="1000000 per minute"))
        client = app.test_client()
        before = sizes(owner)
        started = time.perf_counter()
        for _ in range(args.days):
            one_day(client, live.tokens["worker"])
        seconds = time.perf_counter() - started
        after = sizes(owner)
        per_day = {t: (after[t] - before[t]) / args.days for t in TABLES}
        year = {t: b * WORKERS_PER_100K * 365 / 1e9 for t, b in per_day.items()}
        keys_kept_window = year["idempotency_key"] * 2 / 365  # 48 h of keys at any time
        rate = args.days * FIXES / seconds
        print(f"{args.days} worker-days posted in {seconds:.0f} s ({rate:.0f} fixes/s)")
        print("table              MB/worker-day   GB/year per 100 000 households")
        for t in TABLES:
            print(f"{t:18} {per_day[t] / 1e6:13.2f}   {year[t]:8.1f}")
        total = sum(year.values())
        print(f"baseline (every key kept):    {total:6.1f} GB/year")
        pruned = total - year["idempotency_key"] + keys_kept_window
        print(f"with the 48 h key window:     {pruned:6.1f} GB/year", end=" ")
        print(f"(keys: {keys_kept_window:.2f} GB at any time)")
    finally:
        drop_test_database(DATABASE)


if __name__ == "__main__":
    main()
