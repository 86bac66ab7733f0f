"""The job runner: jobs queued in the database run exactly once, however many workers take
from the queue, and a job queued while no worker runs waits for the next one."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gridmap import jobs
from gridmap.access import accounts, retention
from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.jobs import worker as job_worker
from gridmap.storage.models import IdempotencyKey
from tests.conftest import PASSWORD, create_test_database, drop_test_database
from tests.jobs.conftest import JobsDatabase
from tests.jobs.count_worker import KIND
from tests.workers import start_worker, stop_worker

JOBS = 16


@pytest.fixture(scope="module")
def runner_db() -> Iterator[JobsDatabase]:
    """A database of its own with one account: the jobs database's ``flask gridmap worker``
    (session-wide) would otherwise take these test jobs, whose kind it does not know."""
    name = f"gridmap_test_runner_{os.getpid()}"
    owner, url = create_test_database(name)
    engine = create_engine(url)
    with Session(engine) as session:
        user = accounts.create_user(session, "j-runner", PASSWORD)
        session.commit()
        ids = {"street": user.id}
    yield JobsDatabase(owner, url, engine, user_ids=ids)
    engine.dispose()
    drop_test_database(name)


def _enqueue(db: JobsDatabase, path: Path, n: int) -> list[int]:
    owner = jobs.Owner(db.user_ids["street"], "j-runner", None)
    with Session(db.engine) as session:
        ids = [
            jobs.enqueue(session, KIND, owner, params={"path": str(path), "seconds": 0.3})
            for _ in range(n)
        ]
        session.commit()
    return ids


def _states(db: JobsDatabase, ids: list[int]) -> dict[int, str]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, state FROM job WHERE id = ANY(:ids)"), {"ids": ids}
        ).all()
    return {int(i): str(s) for i, s in rows}


def test_queued_jobs_survive_until_a_worker_comes_and_each_runs_once_across_two_workers(
    runner_db: JobsDatabase, tmp_path: Path
) -> None:
    ran = tmp_path / "ran.txt"
    ran.touch()
    ids = _enqueue(runner_db, ran, 4)  # no worker yet: they wait in the queue
    assert set(_states(runner_db, ids).values()) == {"queued"}
    command = [sys.executable, "-m", "tests.jobs.count_worker"]
    log = tmp_path / "workers.log"
    first = start_worker(runner_db.app_url, log, command)
    second = start_worker(runner_db.app_url, log, command)
    try:
        ids += _enqueue(runner_db, ran, JOBS)  # both workers listening: they compete
        deadline = time.monotonic() + 180
        while set(_states(runner_db, ids).values()) != {"succeeded"}:
            assert time.monotonic() < deadline, _states(runner_db, ids)
            time.sleep(0.2)
    finally:
        stop_worker(first)
        stop_worker(second)
    lines = [line.split() for line in ran.read_text().splitlines()]
    assert sorted(int(job) for job, _ in lines) == sorted(ids)  # each exactly once
    assert len({pid for _, pid in lines}) == 2, "both workers should have taken jobs"


def test_the_job_of_a_worker_killed_mid_job_runs_again_on_another(
    runner_db: JobsDatabase, tmp_path: Path
) -> None:
    ran = tmp_path / "ran.txt"
    ran.touch()
    owner = jobs.Owner(runner_db.user_ids["street"], "j-runner", None)
    with Session(runner_db.engine) as session:
        job_id = jobs.enqueue(session, KIND, owner, params={"path": str(ran), "seconds": 5})
        session.commit()
    command = [sys.executable, "-m", "tests.jobs.count_worker"]
    log = tmp_path / "workers.log"
    first = start_worker(runner_db.app_url, log, command)
    deadline = time.monotonic() + 120
    while _states(runner_db, [job_id])[job_id] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    first.kill()  # no graceful stop: its heartbeat simply ends
    first.wait()
    second = start_worker(runner_db.app_url, log, command)
    try:
        # Stalled after 30 s without a heartbeat, retried by the minute's periodic task.
        deadline = time.monotonic() + 180
        while _states(runner_db, [job_id])[job_id] != "succeeded":
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
    finally:
        stop_worker(second)
    pids = [line.split()[1] for line in ran.read_text().splitlines()]
    assert len(pids) == 2 and pids[0] == str(first.pid) and pids[1] == str(second.pid)


def test_daily_work_is_scheduled_once_a_day_and_commits(runner_db: JobsDatabase) -> None:
    settings = Settings(database_url=runner_db.app_url)
    with Session(runner_db.engine) as session:
        session.add(
            IdempotencyKey(
                user_id=runner_db.user_ids["street"],
                key="stale",
                body_hash="0" * 64,
                created_at=clock.now() - dt.timedelta(days=3),
            )
        )
        session.commit()
    daily = {"prune": lambda session: retention.purge(session, settings, clock.now())}
    app = job_worker.build(settings, {}, daily)
    scheduled = {p.periodic_id: p.cron for p in app.periodic_registry.periodic_tasks.values()}
    assert scheduled["prune"] == job_worker.DAILY_CRON
    task = app.tasks["gridmap.daily.prune"]
    assert task.queueing_lock == "daily-prune"  # two workers never queue it twice
    task(timestamp=0)  # what the worker calls when the day's run comes
    with runner_db.engine.connect() as conn:
        left = conn.scalar(text("SELECT count(*) FROM idempotency_key WHERE key = 'stale'"))
    assert left == 0
