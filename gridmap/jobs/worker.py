"""The worker process: procrastinate's worker running gridmap's jobs.

One procrastinate task (:data:`~gridmap.jobs.queue.TASK`) runs every gridmap job by its id;
what it does is the handler of the job's kind. A periodic task puts back on the queue the jobs
of a worker that stopped sending its heartbeat (killed, or its host lost), so a job never
stays "running" for ever; a retried job starts again from the beginning, which is safe since
a handler's writes commit together with the job's success.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import procrastinate
from sqlalchemy import create_engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from gridmap.core.clock import BEIJING
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
    # The options of gridmap.core.db.make_engine (Beijing dates, no server-side prepared
    # statements), which this Flask-free process cannot import.
    engine = create_engine(
        settings.database_url,
        pool_size=2,
        max_overflow=2,
        pool_pre_ping=True,
        connect_args={"options": f"-c timezone={BEIJING.key}", "prepare_threshold": None},
    )
    return sessionmaker(engine, expire_on_commit=False)


def build(settings: Settings, handlers: Mapping[str, Handler]) -> procrastinate.App:
    """The queue app with gridmap's task and the periodic retry of stalled jobs."""
    app = queue_app(settings)
    sessions = _sessions(settings)

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


def run(settings: Settings, handlers: Mapping[str, Handler], *, concurrency: int = 1) -> None:
    """Run a worker until SIGINT/SIGTERM (it finishes the job in hand first)."""
    app = build(settings, handlers)
    app.run_worker(
        queues=[QUEUE],
        concurrency=concurrency,
        install_signal_handlers=True,
        delete_jobs="successful",
    )
