"""Queries of background jobs (``job``) and their uploaded files (``job_upload``).

Putting a job on procrastinate's queue is an INSERT through the queue's own SQL function,
``procrastinate_defer_jobs_v1``, in the caller's transaction: the ``job`` row and its queue
entry are committed together or not at all, so no job waits for a worker that will never come
and no worker picks up a job nobody recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from gridmap.storage.models import Job, JobUpload

_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
    ":queue, :task, 0, :lock, NULL, CAST(:args AS jsonb), NULL"
    ")::procrastinate_job_to_defer_v1]))"
)
#: Columns a status answer shows (everything but the queue's id and the params).
STATUS_COLUMNS = (
    "id",
    "kind",
    "user_id",
    "username",
    "scope_code",
    "state",
    "progress",
    "message",
    "parent_id",
    "result",
    "error",
    "created_at",
    "started_at",
    "finished_at",
)


@dataclass(frozen=True)
class JobRecord:
    """What a job handler gets to know about its job."""

    id: int
    kind: str
    user_id: int
    username: str
    scope_code: str | None
    params: dict[str, Any]
    upload_id: int | None
    parent_id: int | None


#: The columns of a :class:`JobRecord`, in its order.
_RECORD = (
    Job.id,
    Job.kind,
    Job.user_id,
    Job.username,
    Job.scope_code,
    Job.params,
    Job.upload_id,
    Job.parent_id,
)


def add_upload(session: Session, user_id: int, filename: str, content: bytes) -> int:
    """Store a job's file (an upload, or a file a job made); returns its id."""
    return int(
        session.scalars(
            insert(JobUpload)
            .values(user_id=user_id, filename=filename, size=len(content), content=content)
            .returning(JobUpload.id)
        ).one()
    )


def upload(session: Session, upload_id: int) -> tuple[str, bytes]:
    """An uploaded file's name and content."""
    row = session.execute(
        select(JobUpload.filename, JobUpload.content).where(JobUpload.id == upload_id)
    ).one()
    return str(row.filename), bytes(row.content)


def add_job(
    session: Session,
    *,
    kind: str,
    user_id: int,
    username: str,
    scope_code: str | None,
    params: dict[str, Any],
    message: str,
    upload_id: int | None = None,
    parent_id: int | None = None,
) -> int:
    """Insert a queued job; returns its id (not yet on the queue: see :func:`defer`)."""
    values = {
        "kind": kind,
        "user_id": user_id,
        "username": username,
        "scope_code": scope_code,
        "params": params,
        "message": message,
        "upload_id": upload_id,
        "parent_id": parent_id,
    }
    return int(session.scalars(insert(Job).values(**values).returning(Job.id)).one())


def defer(session: Session, job_id: int, *, queue: str, task: str, lock: str | None = None) -> int:
    """Put job ``job_id`` on procrastinate's queue in the session's transaction; jobs sharing a
    ``lock`` never run at the same time. Returns the queue's id of it."""
    args = json.dumps({"job_id": job_id})
    queue_id = int(
        session.scalars(_DEFER, {"queue": queue, "task": task, "lock": lock, "args": args}).one()
    )
    session.execute(update(Job).where(Job.id == job_id).values(queue_id=queue_id))
    return queue_id


def status(session: Session, job_id: int) -> dict[str, Any] | None:
    """A job as the status API shows it, or None."""
    row = session.execute(
        select(*(getattr(Job, c) for c in STATUS_COLUMNS)).where(Job.id == job_id)
    ).one_or_none()
    return None if row is None else dict(row._mapping)


def start(session: Session, job_id: int) -> JobRecord | None:
    """Mark a job running (a queued one, or a running one whose worker died and whose queue
    entry was retried); None when it has already finished."""
    row = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state.in_(("queued", "running")))
        .values(state="running", started_at=func.now(), progress=0)
        .returning(*_RECORD)
    ).one_or_none()
    return None if row is None else JobRecord(*row)


def set_progress(session: Session, job_id: int, percent: int, message: str) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == "running")
        .values(progress=max(0, min(100, percent)), message=message)
    )


def succeed(session: Session, job_id: int, result: dict[str, Any], message: str) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            state="succeeded", progress=100, message=message, result=result, finished_at=func.now()
        )
    )


def fail(session: Session, job_id: int, error: dict[str, Any], message: str) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(state="failed", message=message, error=error, finished_at=func.now())
    )


def children(session: Session, parent_id: int, kind: str) -> list[int]:
    """Ids of the jobs of ``kind`` that follow from job ``parent_id``, oldest first."""
    return list(
        session.scalars(
            select(Job.id).where(Job.parent_id == parent_id, Job.kind == kind).order_by(Job.id)
        )
    )


def record(session: Session, job_id: int) -> JobRecord | None:
    """A job's record (without its outcome), or None."""
    row = session.execute(select(*_RECORD).where(Job.id == job_id)).one_or_none()
    return None if row is None else JobRecord(*row)
