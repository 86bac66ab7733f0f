"""Background jobs as pages see them, and the files they work on.

The queue itself (which process runs what, locks, retries) is procrastinate's, in its own
``procrastinate_*`` tables (migration 0011); ``job`` is gridmap's record of each job: whose it
is, how far it got, what it produced or why it failed. ``job_upload`` keeps an uploaded file in
the database, where the web process that received it and the worker that reads it both reach
it, whatever host each runs on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import Base, in_list

#: A job's states, in the order it goes through them.
JOB_STATES = ("queued", "running", "succeeded", "failed")
#: Tables the queue library owns; the models do not describe them (see ``include_object``).
QUEUE_TABLE_PREFIX = "procrastinate_"


class JobUpload(Base):
    """An uploaded file waiting for (or kept by) the jobs that read it."""

    __tablename__ = "job_upload"
    __table_args__ = (CheckConstraint("size = octet_length(content)", name="size_matches"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    filename: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Job(Base):
    """后台任务: one piece of long work (a grid file's validation, its import), its owner and
    scope, its progress and its outcome (``result`` when it succeeded, a problem+json
    ``error`` when it failed)."""

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(in_list("state", JOB_STATES), name="state_known"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
        CheckConstraint(
            "(state = 'succeeded') = (result IS NOT NULL)", name="result_when_succeeded"
        ),
        CheckConstraint("(state = 'failed') = (error IS NOT NULL)", name="error_when_failed"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    username: Mapped[str] = mapped_column(String(40))
    #: The owner's grid-code prefix when the job was made (None: no subtree scope).
    scope_code: Mapped[str | None] = mapped_column(String(17))
    state: Mapped[str] = mapped_column(String(10), server_default="queued")
    progress: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    message: Mapped[str] = mapped_column(Text, server_default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("job_upload.id"), index=True)
    #: The job this one follows from (an import follows its validation).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"), index=True)
    #: procrastinate's job id, for operators looking at the queue.
    queue_id: Mapped[int | None] = mapped_column(BigInteger)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
