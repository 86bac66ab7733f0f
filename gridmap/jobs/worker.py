"""The worker process: procrastinate's worker running gridmap's jobs.

One procrastinate task (:data:`~gridmap.jobs.queue.TASK`) runs every gridmap job by its id;
what it does is the handler of the job's kind. A periodic task puts back on the queue the jobs
of a worker that stopped sending its heartbeat (killed, or its host lost), so a job never
stays "running" for ever; a retried job starts again from the beginning, which is safe since
a handler's writes commit together with the job's success. Scheduled work (``daily``, and
``scheduled`` on a cron of its own, e.g. the requests' sweep every minute) is handed in by the
command that starts the worker, like the handlers: this package knows no domain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import procrastinate
from sqlalchemy import make_url
from sqlalchemy.orm import Session, sessionmaker

from gridmap.core.engine import make_engine
from gridmap.core.settings import Settings
from gridmap.jobs.queue import QUEUE, TASK, Handler, run_one

log = logging.getLogger(__name__)


def conninfo(database_url: str) -> str:
    """The libpq connection string of a SQLAlchemy URL (``postgresql+psycopg://…``)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def queue_app(settings: Settings) -> procrastinate.App:
    """procrastinate's app on the application's database (as the application's role)."""
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(settings.database_url))
    return procrastinate.App(connector=connector)


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(make_engine(settings, pool_size=2), expire_on_commit=False)


#: When the daily tasks run: 03:00 in Beijing (procrastinate reads cron in UTC).
DAILY_CRON = "0 19 * * *"

#: Scheduled work: a function of a session, committed after it returns (it may commit on
#: the way, e.g. after each batch, so that its row locks are held briefly).
Work = Callable[[Session], object]


def every_minutes(minutes: int) -> str:
    """The cron expression of a task run every ``minutes`` (1 to 60) minutes."""
    if not 1 <= minutes <= 60:
        raise ValueError(f"minutes must be 1 to 60, not {minutes!r}")
    return {1: "* * * * *", 60: "0 * * * *"}.get(minutes, f"*/{minutes} * * * *")


def build(
    settings: Settings,
    handlers: Mapping[str, Handler],
    daily: Mapping[str, Work] | None = None,
    scheduled: Mapping[str, tuple[str, Work]] | None = None,
) -> procrastinate.App:
    """The queue app with gridmap's task, the periodic retry of stalled jobs, ``daily`` (name
    → work) once a day and ``scheduled`` (name → cron, work) on its own schedule."""
    app = queue_app(settings)
    sessions = _sessions(settings)
    for name, work in (daily or {}).items():
        _every_day(app, sessions, name, work)
    for name, (cron, work) in (scheduled or {}).items():
        _on_schedule(app, sessions, name, cron, work)

    @app.task(name=TASK, queue=QUEUE)
    def run_job(job_id: int) -> None:
        state = run_one(sessions, handlers, job_id)
        log.info("job %s: %s", job_id, state or "already finished")

    @app.periodic(cron="* * * * *", periodic_id="retry-stalled")
    @app.task(name="gridmap.retry_stalled", queue=QUEUE, queueing_lock="retry-stalled")
    async def retry_stalled(timestamp: int) -> None:
        for job in await app.job_manager.get_stalled_jobs(queue=QUEUE, task_name=TASK):
            log.warning("job %s: its worker stopped; queued again", job.task_kwargs)
            await app.job_manager.retry_job(job)

    return app


def _every_day(
    app: procrastinate.App,
    sessions: sessionmaker[Session],
    name: str,
    work: Callable[[Session], object],
) -> None:
    # The queueing lock and the periodic id make it once a day however many workers run.
    @app.periodic(cron=DAILY_CRON, periodic_id=name)
    @app.task(name=f"gridmap.daily.{name}", queue=QUEUE, queueing_lock=f"daily-{name}")
    def daily_task(timestamp: int) -> None:
        with sessions() as session:
            log.info("daily %s: %s", name, work(session))
            session.commit()


def _on_schedule(
    app: procrastinate.App, sessions: sessionmaker[Session], name: str, cron: str, work: Work
) -> None:
    # The periodic id and the queueing lock make one run per moment however many workers
    # run; the lock makes a run that outlasts its period finish before the next one starts.
    # The work itself must still be safe to run twice at once (row locks, unique keys): a
    # worker killed mid-run leaves its lock to the stalled-job retry.
    @app.periodic(cron=cron, periodic_id=name)
    @app.task(
        name=f"gridmap.scheduled.{name}",
        queue=QUEUE,
        queueing_lock=f"scheduled-{name}",
        lock=f"scheduled-{name}",
    )
    def scheduled_task(timestamp: int) -> None:
        with sessions() as session:
            log.info("scheduled %s: %s", name, work(session))
            session.commit()


def run(
    settings: Settings,
    handlers: Mapping[str, Handler],
    daily: Mapping[str, Work] | None = None,
    scheduled: Mapping[str, tuple[str, Work]] | None = None,
    *,
    concurrency: int = 1,
) -> None:
    """Run a worker until SIGINT/SIGTERM (it finishes the job in hand first)."""
    app = build(settings, handlers, daily, scheduled)
    app.run_worker(
        queues=[QUEUE],
        concurrency=concurrency,
        install_signal_handlers=True,
        delete_jobs="successful",
    )
