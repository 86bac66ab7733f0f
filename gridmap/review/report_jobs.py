"""The monthly review report (一月一研判报告) as a background job.

A district's workbook takes longer than a web request may (and hundreds of MB while it is
built), so the page asks for it, polls the job, and downloads the file the job stored.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.access.auth import Scope
from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.jobs import Handler, Owner, Report, enqueue
from gridmap.review import service as review
from gridmap.storage import jobs as job_store
from gridmap.storage.jobs import JobRecord

KIND = "review.report"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def submit(session: Session, owner: Owner, month: str, grid: str | None) -> int:
    """Queue the workbook of ``month`` for ``grid`` (default: the owner's scope); what can be
    refused now (a bad month, an area outside the scope) is, as the synchronous export does."""
    from gridmap.review.report import data  # matplotlib: only for reports

    review.check_month(month)
    data.area_filter(session, _scope(owner.scope_code), month, grid, clock.now())
    return enqueue(session, KIND, owner, params={"month": month, "grid": grid})


def _scope(code: str | None) -> Scope:
    return Scope((code,) if code else ())


def handlers(settings: Settings) -> dict[str, Handler]:
    return {KIND: functools.partial(build, settings=settings)}


def build(
    session: Session, job: JobRecord, report: Report, *, settings: Settings
) -> dict[str, Any]:
    """Compute the report, store its workbook with the job, audit the export."""
    from gridmap.review import report as review_report  # matplotlib: only for reports

    report(10, "汇总诉求数据")
    monthly = review_report.monthly(
        session,
        _scope(job.scope_code),
        str(job.params["month"]),
        job.params.get("grid"),
        weights=settings.weights,
        board_size=settings.rate_board_size,
    )
    report(70, "生成工作簿")
    body = review_report.to_xlsx(monthly)
    filename = f"{monthly.file_stem}.xlsx"
    file_id = job_store.add_upload(session, job.user_id, filename, body)
    detail = {"month": monthly.month, "area": monthly.area.code, "format": "xlsx", "job": job.id}
    audit.record(
        session,
        "export",
        username=job.username,
        object_type="review_report",
        object_id=monthly.file_stem,
        detail=detail,
    )
    return {"file": {"id": file_id, "name": filename, "media_type": XLSX, "size": len(body)}}
