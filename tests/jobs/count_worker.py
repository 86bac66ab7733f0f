"""A worker process with one test job kind, ``test.count``: it appends its job id and process
id to the file its params name, then waits a little, so that a job delivered twice would
show as two lines. Run as ``python -m tests.jobs.count_worker`` with GRIDMAP_DATABASE_URL."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gridmap.core.settings import Settings
from gridmap.jobs import Report, worker
from gridmap.storage.jobs import JobRecord

KIND = "test.count"


def count(session: Session, job: JobRecord, report: Report) -> dict[str, Any]:
    with Path(job.params["path"]).open("a") as out:
        out.write(f"{job.id} {os.getpid()}\n")
    report(50, "计数中")
    time.sleep(float(job.params.get("seconds", 0.2)))
    return {"pid": os.getpid()}


if __name__ == "__main__":
    worker.run(Settings.from_env(), {KIND: count}, concurrency=2)
