"""Background jobs (后台任务): long work that must not run inside a web request.

A page or API call records a job and puts it on the queue in one transaction
(:func:`enqueue`); a worker process (``flask gridmap worker``, started by ``./scripts/run``)
takes it, runs the handler of its kind and records the outcome (:func:`run_one`). The queue is
procrastinate's, in PostgreSQL: queued jobs survive restarts, and its row locks hand each job
to exactly one worker however many run. Pages poll ``GET /api/v1/jobs/<id>`` for the state,
progress, result or error.

This package knows no domain: the handlers are given to the worker by the command that
starts it (``gridmap.cli``), keyed by job kind.
"""

from gridmap.jobs.queue import Handler, Owner, Report, enqueue, result_file, run_one, status

__all__ = ["Handler", "Owner", "Report", "enqueue", "result_file", "run_one", "status"]
