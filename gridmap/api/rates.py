"""三率 ranking board (红黑榜) as JSON, CSV or Excel, and the overdue list (红黄牌), in scope.

The formulas are in :mod:`gridmap.requests.rates`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any, Literal

from flask import Response, current_app
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field

from gridmap.access.auth import EXPORT, READ
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.common import Strict
from gridmap.api.jobs import accepted, job_owner
from gridmap.api.requests import properties
from gridmap.core import clock
from gridmap.core.clock import BEIJING
from gridmap.core.db import get_session
from gridmap.core.privacy import Disclosure
from gridmap.requests import rate_jobs, rates, sync_limit

bp = APIBlueprint(
    "rates",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="rates")],
    abp_security=params.BEARER,
)

GRID_CODE = params.GRID_CODE


class RateQuery(params.Query):
    model_config = ConfigDict(populate_by_name=True)

    level: params.GridLevel = Field("micro", description="Rows per grid of this level")
    by: Literal["grid", "owner"] = Field("grid", description="grid, or owner (unit owning now)")
    period: params.Month | None = Field(None, description="A month YYYY-MM (default: this month)")
    first: params.Day | None = Field(None, alias="from", description="First day (with to)")
    last: params.Day | None = Field(None, alias="to", description="Last day, included (with from)")
    grid: str | None = Field(None, pattern=GRID_CODE, description="Only inside this grid")


class ExportPath(BaseModel):
    fmt: Literal["csv", "xlsx"]


class OverdueQuery(params.Query):
    grid: str | None = Field(None, pattern=GRID_CODE, description="Only inside this grid")
    warning: Literal["yellow", "red"] | None = Field(None, description="Only this card")
    limit: int = Field(1000, ge=1, description="Rows listed at most (counts cover all)")


def _wanted(query: RateQuery) -> rate_jobs.RateRequest:
    return rate_jobs.RateRequest(
        by=query.by,
        level=query.level,
        month=query.period,
        first=query.first,
        last=query.last,
        grid=query.grid,
    )


def _ranking(query: RateQuery) -> rates.Ranking:
    settings = current_app.extensions["gridmap.settings"]
    who = caller()
    return rate_jobs.table(get_session(), who.scope, _wanted(query), settings, who.disclosure)


def ranking_body(table: rates.Ranking) -> dict[str, Any]:
    """A ranking as JSON: how it was made (the settings, each peer group's boards, and the
    same in Chinese as ``notes``), the column headings, the rows best first."""
    response, resolution, satisfaction = table.weights
    return {
        "title": table.title,
        "by": table.by,
        "level": table.level,
        "period": {
            "label": table.period.label,
            "from": table.period.first_day.isoformat(),
            "to": table.period.last_day.isoformat(),
            "tz": BEIJING.key,
        },
        "as_of": table.as_of.astimezone(dt.UTC).isoformat(),
        "weights": {"response": response, "resolution": resolution, "satisfaction": satisfaction},
        "formula": {
            "resolution": table.formula.resolution,
            "basically_satisfied": table.formula.basically,
        },
        "board_size": table.board_size,
        "min_filed": table.min_filed,
        "boards": [asdict(group) for group in table.boards],
        "notes": [{"label": label, "text": text} for label, text in rates.notes(table)],
        "columns": dict(rates.COLUMNS),
        "rows": table.rows,
    }


@bp.get("/rates", summary="三率 per grid or owner unit for a period, ranked (红黑榜)")
@requires(READ)
def ranking(query: RateQuery) -> dict[str, Any]:
    return ranking_body(_ranking(query))


@bp.get(
    "/rates.<fmt>",
    summary="The ranking as a CSV or Excel download, for an area of at most 500 micro-grids "
    "(422 beyond: ask for it with POST /api/v1/rates-jobs)",
)
@requires(EXPORT)
def export(path: ExportPath, query: RateQuery) -> Response:
    session, who, wanted = get_session(), caller(), _wanted(query)
    sync_limit.check(session, rate_jobs.check(who.scope, wanted), job=rate_jobs.ROUTE)
    settings = current_app.extensions["gridmap.settings"]
    table = rate_jobs.table(session, who.scope, wanted, settings, who.disclosure)
    audit_write("export", "rates", table.period.label, rate_jobs.audit_detail(table))
    name, body = rate_jobs.export_file(table, path.fmt)
    disposition = {"Content-Disposition": f"attachment; filename={name}"}
    return Response(body, mimetype=rate_jobs.MEDIA_TYPES[path.fmt], headers=disposition)


def _given(*names: str) -> list[Any]:
    """JSON Schema: each of ``names`` given as text (not left out, not null)."""
    return [{"required": [n], "properties": {n: {"type": "string"}}} for n in names]


class RateJobBody(Strict, RateQuery):
    """A ranking download asked for as a job: the parameters of ``rates.<fmt>`` and its
    format. The period is a month (``period``, default this month) or the days ``from`` and
    ``to``, never both."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"not": {"anyOf": _given("from", "to")}},
                {"allOf": _given("from", "to"), "not": _given("period")[0]},
            ]
        }
    )

    format: Literal["csv", "xlsx"] = Field("xlsx", description="xlsx (default) or csv")


@bp.post(
    "/rates-jobs",
    summary="Build the ranking's download (三率, 红黑榜) in the background: 202 and the job to "
    "poll; its file is at /api/v1/jobs/<id>/file",
)
@requires(EXPORT)
def rates_job(body: RateJobBody) -> Response:
    wanted = _wanted(body)
    job_id = rate_jobs.submit(get_session(), job_owner(), wanted, body.format)
    audit_write("rates.request", "job", job_id, body.model_dump(mode="json", by_alias=True))
    return accepted(job_id)


@bp.get("/requests/overdue", summary="Requests with a yellow or red card (红黄牌), per owner")
@requires(READ)
def overdue(query: OverdueQuery) -> dict[str, Any]:
    now, who = clock.now(), caller()
    found = rates.warned(get_session(), who.scope, query.grid, now, who.disclosure)
    chosen = [w for w in found if query.warning in (None, w.card)]
    return {
        "as_of": now.isoformat(),
        "counts": {c: sum(w.card == c for w in found) for c in ("yellow", "red")},
        "by_owner": rates.per_owner(chosen),
        "rows": [_warned(w, who.disclosure) for w in chosen[: query.limit]],
    }


def _warned(w: rates.Warned, disclosure: Disclosure) -> dict[str, Any]:
    return properties(w.row, disclosure) | {
        "warning": w.card,
        "working_hours_late": w.working_hours_late,
        "working_hours_left": w.working_hours_left,
        "owner_unit": {"id": w.owner_key, "name": w.owner_name},
    }
