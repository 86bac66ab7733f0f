"""The scheduler's sweep on real worker processes, a month ahead: unrated requests archived,
cards and reminders raised and lapsed stages escalated, each exactly once, with two
``flask gridmap worker`` processes running at once, and nothing redone after a restart.

The clock is advanced the honest way: each worker process runs under libfaketime
(``LD_PRELOAD``, ``FAKETIME=+30d``, as ``./scripts/test-year-ahead`` runs whole test runs), so
the worker and its sweep have no test hook at all; the requests are filed by this process at
the real time. PostgreSQL keeps the real time, as it would on another host. Before the
workers start, two sweeps run at once in threads of this process on requests of their own
(the row locks, not the queue, keep them apart).
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text, update
from sqlalchemy.orm import Session

from gridmap.access import accounts
from gridmap.access.auth import Caller, scope_of
from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.demo import loader as demo
from gridmap.grid import ingest
from gridmap.requests import service, sweeps
from gridmap.storage.models import Grid, User
from tests.conftest import (
    COMMUNITY,
    PASSWORD,
    create_test_database,
    drop_test_database,
    small_grid_frame,
)
from tests.helpers import clock_at
from tests.jobs.conftest import JobsDatabase
from tests.requests.conftest import IN_01001, load_staff
from tests.workers import start_worker, stop_worker

OFFSET = dt.timedelta(days=30)
#: Each kind of request, filed in threes.
N = 3


def _libfaketime() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        pytest.fail("libfaketime is missing: apt-get install faketime (scripts/test-year-ahead)")
    return found[0]


def _faked() -> dict[str, str]:
    """A worker's environment a month ahead of this process (monotonic time left real, as the
    year-ahead run does, so that waits and heartbeats keep their length). In the year-ahead
    run this process is faked too (``FAKETIME=+365d``): the workers go a month beyond it."""
    mine = os.environ.get("FAKETIME", "+0d")
    days = re.fullmatch(r"\+([0-9]+)d", mine)
    if days is None:
        pytest.fail(f"cannot set the workers a month ahead of FAKETIME={mine!r}: use +<days>d")
    return {
        "LD_PRELOAD": _libfaketime(),
        "FAKETIME": f"+{int(days[1]) + OFFSET.days}d",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_FORCE_MONOTONIC_FIX": "0",
    }


@pytest.fixture(scope="module")
def sweep_db() -> Iterator[JobsDatabase]:
    """A database of its own: the staffed small grid and the catalogue, ``sanitation.garbage``
    escalating a lapsed response stage."""
    name = f"gridmap_test_sweep_{os.getpid()}"
    owner, url = create_test_database(name)
    engine = create_engine(url)
    with Session(engine) as session:
        ingest.import_grids(session, small_grid_frame(), "EPSG:4490", Settings())
        session.execute(update(Grid).values(valid_from=clock.today() - dt.timedelta(days=30)))
        demo.seed_categories(session)
        session.commit()
        load_staff(session)
        service.revise_category(session, "sanitation.garbage", escalate_on_lapse=["response"])
        user = accounts.create_user(session, "j-sweep-worker", PASSWORD)
        accounts.grant_role(
            session, user.id, "grid_worker", scope_code=COMMUNITY + "01001", person_id=3
        )
        session.commit()
        ids = {"worker": user.id}
    yield JobsDatabase(owner, url, engine, user_ids=ids)
    engine.dispose()
    drop_test_database(name)


def _worker(session: Session) -> Caller:
    user = session.get(User, accounts.user_id(session, "j-sweep-worker"))
    assert user is not None
    return Caller(user.id, user.username, "grid_worker", scope_of(user), 0, "bearer")


def _file(db: JobsDatabase, category: str, *, complete: bool = False) -> list[int]:
    """``N`` requests of ``category`` in micro-grid 01001 filed now (grid worker 3 owns
    them), completed at once with ``complete``; committed."""
    ids = []
    with Session(db.engine) as session:
        worker = _worker(session)
        for _ in range(N):
            new = service.NewRequest(category, "测试诉求", "api", *IN_01001)
            rid = service.intake(session, new, worker)
            for action in ("accept", "start", "complete") if complete else ():
                service.act(session, rid, service.Change(action), worker, "*")
            ids.append(rid)
        session.commit()
    return ids


def _tally(db: JobsDatabase, ids: list[int]) -> dict[str, list[Any]]:
    """Per kind of record, how many each request has: events by action, cards, reminders."""
    query = text(
        """
        SELECT r.id, r.level, r.state,
               (SELECT count(*) FROM request_event e WHERE e.request_id = r.id
                  AND e.action = 'archive') AS archived,
               (SELECT count(*) FROM request_event e WHERE e.request_id = r.id
                  AND e.action = 'escalate') AS escalated,
               (SELECT count(*) FROM request_event e WHERE e.request_id = r.id
                  AND e.action = 'card') AS card_events,
               (SELECT count(*) FROM request_card c WHERE c.request_id = r.id) AS cards,
               (SELECT count(*) FROM outbox o WHERE o.request_id = r.id
                  AND o.kind IN ('due_soon', 'overdue')) AS reminders
        FROM resident_request r WHERE r.id = ANY(:ids) ORDER BY r.id
        """
    )
    with db.engine.connect() as conn:
        rows = conn.execute(query, {"ids": ids}).mappings().all()
    keys = ("level", "state", "archived", "escalated", "card_events", "cards", "reminders")
    return {key: [row[key] for row in rows] for key in keys}


def _expected(escalating: int, plain: int, unrated: int) -> dict[str, list[Any]]:
    """One red card (with its event and reminder) per request: the response stage's, or the
    回访 stage's of a completed one; one escalation or one archive where due."""
    return {
        "level": ["zone"] * escalating + ["micro"] * (plain + unrated),
        "state": ["reported"] * (escalating + plain) + ["archived"] * unrated,
        "archived": [0] * (escalating + plain) + [1] * unrated,
        "escalated": [1] * escalating + [0] * (plain + unrated),
        "card_events": [1] * (escalating + plain + unrated),
        "cards": [1] * (escalating + plain + unrated),
        "reminders": [1] * (escalating + plain + unrated),
    }


def _last_sweep(db: JobsDatabase) -> tuple[int, int]:
    """The moment (Unix seconds, faked) of the last sweep queued, and how many sweeps wait
    or run (a finished one is deleted)."""
    with db.engine.connect() as conn:
        last = conn.scalar(
            text(
                "SELECT max(defer_timestamp) FROM procrastinate_periodic_defers"
                " WHERE periodic_id = 'sweep'"
            )
        )
        busy = conn.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name ="
                " 'gridmap.scheduled.sweep' AND status IN ('todo', 'doing')"
            )
        )
    return int(last or 0), int(busy or 0)


def _wait(db: JobsDatabase, ids: list[int], want: dict[str, list[Any]], log: Path) -> None:
    deadline = time.monotonic() + 240
    while _tally(db, ids) != want:
        assert time.monotonic() < deadline, (_tally(db, ids), log.read_text(errors="replace"))
        time.sleep(1)


def _more_sweeps(db: JobsDatabase, log: Path, runs: int) -> None:
    """Until ``runs`` more sweeps (a minute apart) have been queued and have run."""
    start, _ = _last_sweep(db)
    deadline = time.monotonic() + 60 + 90 * runs
    while (found := _last_sweep(db)) and (found[0] < start + 60 * runs or found[1] > 0):
        assert time.monotonic() < deadline, (found, log.read_text(errors="replace"))
        time.sleep(1)


def test_two_sweeps_at_once_in_threads_share_the_work(sweep_db: JobsDatabase) -> None:
    ids = _file(sweep_db, "sanitation.garbage") + _file(sweep_db, "street.vendor")
    ids += _file(sweep_db, "street.vendor", complete=True)
    sessions = [Session(sweep_db.engine), Session(sweep_db.engine)]
    results: list[dict[str, int]] = []
    go = threading.Barrier(2)

    def run(session: Session) -> None:
        go.wait()
        results.append(sweeps.sweep(session, archive_unrated_days=7, batch=1))
        session.close()

    with clock_at(clock.now() + OFFSET):
        threads = [threading.Thread(target=run, args=(s,)) for s in sessions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert len(results) == 2
    assert sum(r["escalated"] for r in results) == N
    assert sum(r["archived"] for r in results) == N
    assert sum(r["cards"] for r in results) == 3 * N
    assert _tally(sweep_db, ids) == _expected(N, N, N)


def test_two_workers_a_month_ahead_do_each_thing_once_and_a_restart_redoes_nothing(
    sweep_db: JobsDatabase, tmp_path: Path
) -> None:
    escalating = _file(sweep_db, "sanitation.garbage")
    plain = _file(sweep_db, "street.vendor")
    unrated = _file(sweep_db, "street.vendor", complete=True)
    ids = escalating + plain + unrated
    log = tmp_path / "workers.log"
    faked = _faked()
    first = start_worker(sweep_db.app_url, log, extra_env=faked)
    second = start_worker(sweep_db.app_url, log, extra_env=faked)
    try:
        _wait(sweep_db, ids, _expected(N, N, N), log)
        _more_sweeps(sweep_db, log, 2)
        assert _tally(sweep_db, ids) == _expected(N, N, N)
    finally:
        stop_worker(first)
        stop_worker(second)
    later = _file(sweep_db, "street.vendor")  # filed while no worker runs
    again = start_worker(sweep_db.app_url, log, extra_env=faked)
    try:
        _wait(sweep_db, later, _expected(0, N, 0), log)
        _more_sweeps(sweep_db, log, 1)
    finally:
        stop_worker(again)
    assert _tally(sweep_db, ids) == _expected(N, N, N)
    assert _tally(sweep_db, later) == _expected(0, N, 0)
