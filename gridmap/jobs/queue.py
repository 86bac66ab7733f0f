"""Recording jobs, queueing them, and running one with its outcome recorded."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from gridmap.core import glossary
from gridmap.core.errors import GridmapError, NotFound, problem_body
from gridmap.spatial.crs import SpatialInputError
from gridmap.storage import jobs as store
from gridmap.storage.jobs import JobRecord

log = logging.getLogger(__name__)

#: procrastinate's queue and the one task that runs every gridmap job.
QUEUE = "gridmap"
TASK = "gridmap.run_job"

#: ``report(percent, message)``: a handler says how far it got (0–100, Chinese).
Report = Callable[[int, str], None]


class Handler(Protocol):
    """The work of one job kind: returns the JSON result kept on the job.

    It runs in ``session``'s transaction, which the runner commits together with the job's
    success, or rolls back when it raises (a dry run rolls back its own writes itself).
    """

    def __call__(self, session: Session, job: JobRecord, report: Report) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Owner:
    """Who a job belongs to: only they (and a system administrator) may see it."""

    user_id: int
    username: str
    scope_code: str | None

    @classmethod
    def of(cls, user_id: int, username: str, prefixes: Iterable[str]) -> Owner:
        """The owner of a job asked for by an account whose scope has ``prefixes`` (the
        roles that start jobs have one)."""
        return cls(user_id, username, next(iter(prefixes), None))


def enqueue(
    session: Session,
    kind: str,
    owner: Owner,
    *,
    params: dict[str, Any],
    upload_id: int | None = None,
    parent_id: int | None = None,
    lock: str | None = None,
) -> int:
    """Record a job and queue it in the session's transaction (the caller commits); returns
    its id. Jobs sharing ``lock`` run one after another, never together."""
    job_id = store.add_job(
        session,
        kind=kind,
        user_id=owner.user_id,
        username=owner.username,
        scope_code=owner.scope_code,
        params=params,
        message="排队中",
        upload_id=upload_id,
        parent_id=parent_id,
    )
    store.defer(session, job_id, queue=QUEUE, task=TASK, lock=lock)
    return job_id


def _reporter(sessions: sessionmaker[Session], job_id: int) -> Report:
    """Progress is written in a short transaction of its own, so pages see it while the
    job's own transaction is still open."""

    def report(percent: int, message: str) -> None:
        with sessions() as session:
            store.set_progress(session, job_id, percent, message)
            session.commit()

    return report


def _problem(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, GridmapError):
        return problem_body(exc.status, exc.title, exc.detail, exc.code, exc.errors)
    if isinstance(exc, SpatialInputError):
        return problem_body(400, "Invalid input", str(exc), "invalid-input")
    return problem_body(
        500, "Internal error", "任务运行出错，请稍后重试或联系系统管理员。", "internal-error"
    )


def run_one(
    sessions: sessionmaker[Session], handlers: Mapping[str, Handler], job_id: int
) -> str | None:
    """Run job ``job_id`` with the handler of its kind and record the outcome; returns the
    state it ended in, or None when it had already finished (a duplicate delivery)."""
    with sessions() as session:
        job = store.start(session, job_id)
        session.commit()
    if job is None:
        return None
    handler = handlers.get(job.kind)
    with sessions() as session:
        try:
            if handler is None:
                raise GridmapError(f"没有处理此类任务的程序（no handler of job kind {job.kind!r}）")
            result = handler(session, job, _reporter(sessions, job_id))
            store.succeed(session, job_id, result, "已完成")
            session.commit()
            return "succeeded"
        except Exception as exc:
            session.rollback()
            if not isinstance(exc, GridmapError | SpatialInputError):
                log.exception("job %s (%s) failed", job_id, job.kind)
            store.fail(session, job_id, _problem(exc), "失败")
            session.commit()
            return "failed"


def status(session: Session, job_id: int, *, user_id: int, admin: bool) -> dict[str, Any]:
    """A job as its owner (or an administrator) sees it, with the Chinese labels of its state
    and kind; anyone else's job is not found, as if it did not exist."""
    found = store.status(session, job_id)
    if found is None or not (admin or found["user_id"] == user_id):
        raise NotFound("没有这个任务（no such job）")
    return found | {
        "state_label": glossary.label(glossary.JOB_STATES, found["state"]),
        "kind_label": glossary.label(glossary.JOB_KINDS, found["kind"]),
    }


def result_file(
    session: Session, job_id: int, *, user_id: int, admin: bool
) -> tuple[str, str, bytes]:
    """The name, media type and content of the file a succeeded job stored."""
    found = status(session, job_id, user_id=user_id, admin=admin)
    file = (found.get("result") or {}).get("file")
    if found["state"] != "succeeded" or not file:
        raise NotFound("这个任务还没有生成文件（the job has no file yet）")
    name, content = store.upload(session, int(file["id"]))
    return name, str(file["media_type"]), content
