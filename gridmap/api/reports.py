"""Staffing and coverage reports as JSON, CSV or Excel, within the caller's scope."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import EXPORT, READ
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.core.cells import csv_lines
from gridmap.core.db import get_session
from gridmap.grid import reports

bp = APIBlueprint(
    "reports",
    __name__,
    url_prefix="/api/v1/reports",
    abp_tags=[Tag(name="reports")],
    abp_security=params.BEARER,
)

ReportName = Literal["unstaffed", "uncovered", "overloaded", "coverage"]


class ReportPath(BaseModel):
    name: ReportName


class ExportPath(ReportPath):
    fmt: Literal["csv", "xlsx"]


class ReportQuery(params.Query):
    grid: str | None = Field(None, pattern=params.GRID_CODE, description="Grid code")
    level: params.GridLevel = Field("micro", description="coverage: the level of its rows")
    max_load: float = Field(30, gt=0, description="overloaded: the capacity")
    care_weight: float = Field(2.0, ge=1, le=10, description="weight of a care household")


def _report(name: str, query: ReportQuery) -> reports.Report:
    who = caller()
    return reports.build(
        get_session(),
        name,
        who.scope,
        disclosure=who.disclosure,
        grid_code=query.grid,
        level=query.level,
        max_load=query.max_load,
        care_weight=query.care_weight,
    )


@bp.get("/<name>", summary="A report as JSON: unstaffed, uncovered, overloaded or coverage")
@requires(READ)
def report(path: ReportPath, query: ReportQuery) -> dict[str, Any]:
    found = _report(path.name, query)
    return {
        "name": found.name,
        "title": found.title,
        "columns": dict(found.columns),
        "rows": found.rows,
    }


@bp.get("/<name>.<fmt>", summary="A report as a CSV or Excel download")
@requires(EXPORT)
def export(path: ExportPath, query: ReportQuery) -> Response:
    found = _report(path.name, query)
    audit_write("export", "report", path.name, {"grid": query.grid, "rows": len(found.rows)})
    disposition = {"Content-Disposition": f"attachment; filename={path.name}.{path.fmt}"}
    if path.fmt == "xlsx":
        return Response(reports.to_xlsx(found), mimetype=params.XLSX, headers=disposition)
    lines = csv_lines([h for _, h in found.columns], found.cells())
    return Response("".join(lines), mimetype="text/csv", headers=disposition)
