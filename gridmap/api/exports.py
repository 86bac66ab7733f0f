"""GIS exports (导出): households, grids, requests and the review of a period (its figures per
micro-grid) in scope as one GeoJSON file, a CSV with lon/lat or WKT (streamed inside the
request while small enough), or any of them and a GeoPackage as a background job. The layers,
formats and checks are :mod:`gridmap.exports`'."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from flask import Response
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field

from gridmap.access.auth import EXPORT
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.common import CATEGORY_CODE, Strict
from gridmap.api.jobs import accepted, job_owner
from gridmap.core.db import get_session, streamed
from gridmap.exports import export_jobs, writers
from gridmap.exports.layers import CsvGeometry, ExportRequest, Format, Header, Layer, rows

bp = APIBlueprint(
    "exports",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="exports")],
    abp_security=params.BEARER,
)


class ExportPath(BaseModel):
    layer: Layer = Field(description="households, grids, requests, review or onenet")
    fmt: Literal["geojson", "csv"] = Field(description="geojson or csv (a GeoPackage is a job)")


class ExportQuery(params.BBoxQuery):
    """The filters of an export (each layer takes its own: grids ``level``/``at``, requests
    ``state``/``category``/``overdue``/``from``/``to`` days, the review the same with ``from``
    and ``to`` months or weeks) and the CSV's options."""

    model_config = ConfigDict(populate_by_name=True)

    grid: str | None = Field(None, pattern=r"^[0-9]{6,17}$", description="Only this subtree")
    level: params.GridLevel | None = Field(None, description="grids: only this level")
    at: params.Day | None = Field(None, description="grids: those valid on this day (today's)")
    state: str | None = Field(
        None, max_length=200, description="requests, review: state(s), commas (review: or groups)"
    )
    category: str | None = Field(
        None, pattern=CATEGORY_CODE, description="requests, review: category"
    )
    overdue: bool = Field(
        False, description="requests, review: only those past their stage deadline"
    )
    first: params.Day | params.Period | None = Field(
        None,
        alias="from",
        description="requests: filed from this day; review: the first month or ISO week",
    )
    last: params.Day | params.Period | None = Field(
        None,
        alias="to",
        description="requests: filed up to this day (incl.); review: the last month or week",
    )
    geometry: CsvGeometry | None = Field(None, description="csv: lonlat (default) or wkt columns")
    header: Header | None = Field(None, description="csv: zh (default, Chinese) or en headings")
    foreign_layer: int | None = Field(
        None, ge=1, le=2**31 - 1, description="onenet: the foreign layer's id (一张网)"
    )


class ExportBody(Strict, ExportQuery):
    """An export asked for as a job: a layer, a format and the export's parameters."""

    layer: Layer = Field(description="households, grids, requests, review or onenet")
    format: Format = Field("gpkg", description="gpkg (default), geojson or csv")


def _wanted(layer: Layer, fmt: Format, query: ExportQuery) -> ExportRequest:
    return ExportRequest(
        layer=layer,
        format=fmt,
        geometry=query.geometry,
        header=query.header,
        grid=query.grid,
        bbox=params.parse_bbox(query.bbox),
        level=query.level,
        at=query.at,
        states=tuple(s.strip() for s in (query.state or "").split(",") if s.strip()),
        category=query.category,
        overdue=query.overdue,
        first=_day(query.first),
        last=_day(query.last),
        first_period=_period(query.first),
        last_period=_period(query.last),
        foreign_layer=query.foreign_layer,
    )


def _day(given: dt.date | str | None) -> dt.date | None:
    return given if isinstance(given, dt.date) else None


def _period(given: dt.date | str | None) -> str | None:
    return given if isinstance(given, str) else None


@bp.get(
    "/exports/<layer>.<fmt>",
    summary="A layer in scope as one GeoJSON file (RFC 7946, every feature) or a CSV with "
    "lon/lat or WKT, streamed; masked, audited; at most 200,000 rows (422: ask for the job)",
)
@requires(EXPORT)
def stream_export(path: ExportPath, query: ExportQuery) -> Response:
    session, who = get_session(), caller()
    wanted = _wanted(path.layer, path.fmt, query)
    export_jobs.check_streamable(session, who.scope, wanted)
    audit_write("export", wanted.layer, wanted.grid, {"format": wanted.format} | wanted.filters())
    if wanted.format == "geojson":
        found = rows(session, who.scope, wanted, "geojson")
        chunks = writers.geojson_chunks(wanted.layer, found, who.disclosure)
        media = writers.GEOJSON_MEDIA_TYPE
    else:
        found = rows(session, who.scope, wanted, wanted.csv_geometry)
        chunks = writers.csv_chunks(
            wanted.layer, found, wanted.csv_geometry, wanted.csv_header, who.disclosure
        )
        media = writers.CSV_MEDIA_TYPE
    disposition = f"attachment; filename={export_jobs.file_name(wanted)}"
    return Response(
        streamed(chunks),
        content_type=media,
        headers={"Content-Disposition": disposition},
    )


@bp.post(
    "/exports",
    summary="Build an export (GeoPackage, GeoJSON or CSV of households, grids, requests or the "
    "review) in the background: 202 and the job to poll; its file is at /api/v1/jobs/<id>/file",
)
@requires(EXPORT)
def export_job(body: ExportBody) -> Response:
    wanted = _wanted(body.layer, body.format, body)
    job_id = export_jobs.submit(get_session(), job_owner(), wanted)
    audit_write("export.request", "job", job_id, body.model_dump(mode="json", by_alias=True))
    return accepted(job_id)
