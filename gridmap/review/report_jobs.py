"""The monthly review report (一月一研判报告) as a background job: its workbook, or its HTML page.

A district's report takes longer than a web request may (and hundreds of MB while it is
built), so the page asks for it, polls the job, and downloads (or shows) the file the job
stored. The synchronous ``report.xlsx`` is kept for small areas (:mod:`gridmap.requests.
sync_limit`); both read their parameters through :func:`check`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.access.auth import Scope, job_scope
from gridmap.core import clock
from gridmap.core.replica import Replica
from gridmap.core.settings import Settings
from gridmap.jobs import Handler, Owner, Report, enqueue
from gridmap.requests import rates, sync_limit
from gridmap.review import service as review
from gridmap.storage import jobs as job_store
from gridmap.storage.jobs import JobRecord

KIND = "review.report"
#: Where the job is asked for (named by the synchronous export's refusal).
ROUTE = "/api/v1/review/report-jobs"
Format = Literal["xlsx", "html"]
MEDIA_TYPES: dict[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}


def check(session: Session, scope: Scope, month: str, grid: str | None) -> Sequence[str]:
    """Refuse a bad month (400) or an area outside the scope (404); the grid subtrees the
    report covers."""
    from gridmap.review.report import data  # matplotlib: only for reports

    review.check_month(month)
    return data.area_filter(session, scope, month, grid, clock.now()).prefixes


def check_in_request(session: Session, scope: Scope, month: str, grid: str | None) -> None:
    """:func:`check`, and refuse (422) an area too large to build inside a web request."""
    sync_limit.check(session, check(session, scope, month, grid), job=ROUTE)


def submit(
    session: Session, owner: Owner, month: str, grid: str | None, fmt: Format = "xlsx"
) -> int:
    """Queue the report of ``month`` for ``grid`` (default: the owner's scope) as a workbook or
    an HTML page; what can be refused now is, as the synchronous export does."""
    check(session, job_scope(owner.scope_code), month, grid)
    return enqueue(session, KIND, owner, params={"month": month, "grid": grid, "format": fmt})


def handlers(settings: Settings) -> dict[str, Handler]:
    return {KIND: functools.partial(build, settings=settings, replica=Replica(settings))}


def build(
    session: Session, job: JobRecord, report: Report, *, settings: Settings, replica: Replica
) -> dict[str, Any]:
    """Compute the report (from the replica when there is one), store its workbook or page
    with the job, audit the export."""
    from gridmap.review import report as review_report  # matplotlib: only for reports

    fmt: Format = "html" if job.params.get("format") == "html" else "xlsx"
    report(10, "汇总诉求数据")
    with replica.reads(session) as reads:
        monthly = review_report.monthly(
            reads,
            job_scope(job.scope_code),
            str(job.params["month"]),
            job.params.get("grid"),
            weights=settings.weights,
            board_size=settings.rate_board_size,
            min_filed=settings.rate_board_min_filed,
            formula=rates.Formula.of(settings),
        )
    if fmt == "html":
        report(70, "生成网页报告")
        # No nonce: the page is served later, under a policy that allows its inline style.
        body = review_report.to_html(monthly).encode()
    else:
        report(70, "生成工作簿")
        body = review_report.to_xlsx(monthly)
    filename = f"{monthly.file_stem}.{fmt}"
    file_id = job_store.add_upload(session, job.user_id, filename, body)
    detail = {"month": monthly.month, "area": monthly.area.code, "format": fmt, "job": job.id}
    audit.record(
        session,
        "export",
        username=job.username,
        object_type="review_report",
        object_id=monthly.file_stem,
        detail=detail,
    )
    media = MEDIA_TYPES[fmt]
    return {"file": {"id": file_id, "name": filename, "media_type": media, "size": len(body)}}
