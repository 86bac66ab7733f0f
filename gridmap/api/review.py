"""The monthly review (一月一研判): aggregates of residents' requests for the review page, the
hot spots and their trend, one grid's figures, and the monthly report's workbook.

Every answer is an aggregate of the caller's scope (grid subtrees); the formulas are in
:mod:`gridmap.review.service`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from flask import Response, current_app
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import EXPORT, REVIEW
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.common import Strict
from gridmap.api.jobs import accepted, job_owner
from gridmap.core.db import get_read_session, get_session, read_only
from gridmap.requests import rates
from gridmap.review import service as review
from gridmap.storage import review as store

bp = APIBlueprint(
    "review",
    __name__,
    url_prefix="/api/v1/review",
    abp_tags=[Tag(name="review")],
    abp_security=params.BEARER,
)

GRID_CODE = params.GRID_CODE
CODES = r"^[a-z0-9._,-]{1,800}$"


class ReviewQuery(params.Query):
    """The filters of the review page, shared by its layers and the request tiles."""

    period: params.Period | None = Field(None, description="One month YYYY-MM or ISO week YYYY-Www")
    first: params.Period | None = Field(None, alias="from", description="First period")
    last: params.Period | None = Field(None, alias="to", description="Last period")
    category: str | None = Field(None, pattern=CODES, description="Category codes, a,b,c")
    state: str | None = Field(
        None, pattern=r"^[a-z_,]{1,200}$", description="open, completed, archived or states"
    )
    overdue: bool = Field(False, description="Only requests past their stage deadline now")
    grid: str | None = Field(None, pattern=GRID_CODE, description="Only inside this grid")


def to_filter(query: ReviewQuery, now: dt.datetime | None = None) -> store.ReviewFilter:
    """The caller's review filter from the query (``period`` is short for from=to)."""
    first = query.first or query.period
    return review.build_filter(
        caller().scope,
        review.Query(
            first=first,
            last=query.last or query.period or first,
            categories=_split(query.category),
            states=_split(query.state),
            overdue=query.overdue,
            grid=query.grid,
        ),
        now=now,
    )


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part for part in (text or "").split(",") if part)


class ChoroplethQuery(ReviewQuery):
    level: params.GridLevel = Field("zone", description="One value per grid of this level")
    measure: review.Measure = Field("count", description="count or per_100_households")


class HotSpotQuery(ReviewQuery):
    trend_periods: int = Field(6, ge=3, le=24, description="Periods of the trend, up to `to`")


class GridDetailPath(BaseModel):
    code: str = Field(pattern=GRID_CODE)


def _answer(wanted: store.ReviewFilter, body: dict[str, Any]) -> dict[str, Any]:
    return {"filter": review.describe(wanted), **body}


@bp.get("/summary", summary="Totals per category and period, and the overdue count")
@requires(REVIEW)
@read_only
def summary(query: ReviewQuery) -> dict[str, Any]:
    wanted = to_filter(query)
    return _answer(wanted, review.summary(get_read_session(), wanted))


@bp.get("/heat", summary="The heat layer: one weighted point per micro-grid (or zone)")
@requires(REVIEW)
@read_only
def heat(query: ReviewQuery) -> dict[str, Any]:
    wanted = to_filter(query)
    return _answer(wanted, review.heat(get_read_session(), wanted))


@bp.get("/choropleth", summary="Count or rate per grid of a level")
@requires(REVIEW)
@read_only
def choropleth(query: ChoroplethQuery) -> dict[str, Any]:
    wanted = to_filter(query)
    body = review.choropleth(get_read_session(), wanted, query.level, query.measure)
    return _answer(wanted, body)


@bp.get("/hotspots", summary="Getis-Ord Gi* hot and cold spots and their trend (未诉先办)")
@requires(REVIEW)
@read_only
def hot_spots(query: HotSpotQuery) -> dict[str, Any]:
    wanted = to_filter(query)
    keep = get_session()
    body = review.hot_spots(
        get_read_session(), wanted, trend_periods=query.trend_periods, keep=keep
    )
    keep.commit()
    return _answer(wanted, body)


@bp.get("/grids/<code>", summary="One grid: top categories, overdue requests, 三率 and trend")
@requires(REVIEW)
@read_only
def grid_detail(path: GridDetailPath, query: ReviewQuery) -> dict[str, Any]:
    wanted = to_filter(query)
    body = review.grid_detail(get_read_session(), caller().scope, wanted, path.code)
    return _answer(wanted, body)


class ReportQuery(params.Query):
    month: params.Month | None = Field(None, description="The month YYYY-MM (default: last month)")
    grid: str | None = Field(None, pattern=GRID_CODE, description="The area (default: your scope)")


@bp.get(
    "/report.xlsx",
    summary="The monthly review report (一月一研判报告) as an Excel workbook, for an area of at "
    "most 500 micro-grids (422 beyond: ask for it with POST /api/v1/review/report-jobs)",
)
@requires(EXPORT)
def report_xlsx(query: ReportQuery) -> Response:
    settings = current_app.extensions["gridmap.settings"]
    from gridmap.review import report as review_report  # matplotlib: only for reports
    from gridmap.review import report_jobs

    session, scope, month = get_session(), caller().scope, query.month or review.last_month()
    report_jobs.check_in_request(session, scope, month, query.grid)
    report = review_report.monthly(
        session,
        scope,
        month,
        query.grid,
        weights=settings.weights,
        board_size=settings.rate_board_size,
        min_filed=settings.rate_board_min_filed,
        formula=rates.Formula.of(settings),
    )
    body = review_report.to_xlsx(report)
    detail = {"month": report.month, "area": report.area.code, "format": "xlsx"}
    audit_write("export", "review_report", report.file_stem, detail)
    disposition = {"Content-Disposition": f"attachment; filename={report.file_stem}.xlsx"}
    return Response(body, mimetype=params.XLSX, headers=disposition)


class ReportJobBody(Strict, ReportQuery):
    """The month and area of a report asked for as a job: those of ``report.xlsx``, and
    whether it is the workbook or the HTML page."""

    format: Literal["xlsx", "html"] = Field("xlsx", description="xlsx (workbook) or html (page)")


@bp.post(
    "/report-jobs",
    summary="Build the monthly review workbook (or HTML page) in the background: 202 and the "
    "job to poll; its file is at /api/v1/jobs/<id>/file",
)
@requires(EXPORT)
def report_job(body: ReportJobBody) -> Response:
    from gridmap.review import report_jobs

    session = get_session()
    month = body.month or review.last_month()
    job_id = report_jobs.submit(session, job_owner(), month, body.grid, body.format)
    audit_write("review_report.request", "job", job_id, body.model_dump(mode="json"))
    return accepted(job_id)
