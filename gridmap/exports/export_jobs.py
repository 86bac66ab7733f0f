"""The GIS export as a background job (``exports.gis``): any layer, any format, every row.

A GeoPackage is a database file built on disk (pyogrio writes it to a temporary file), so it
is always a job; GeoJSON and CSV may be jobs too when they are too large to stream inside a
request. The job is refused at once for what the export would refuse (:func:`layers.check`),
checked again as of when it runs, its file stored with the job for its owner only, and
audited as an export.
"""

from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.access.auth import Scope, job_disclosure, job_scope
from gridmap.core import clock
from gridmap.core.errors import InvalidInput, TooLargeForRequest, Unprocessable
from gridmap.core.replica import Replica
from gridmap.core.settings import Settings
from gridmap.exports import writers
from gridmap.exports.layers import (
    ExportRequest,
    check,
    check_layer,
    count,
    review_filter,
    rows,
)
from gridmap.jobs import Handler, Owner, Report, enqueue
from gridmap.requests import sync_limit
from gridmap.storage import jobs as job_store
from gridmap.storage.jobs import JobRecord

KIND = "exports.gis"
#: Where the job is asked for (named by the streamed export's refusal of a large one).
ROUTE = "/api/v1/exports"
#: The most rows one export job writes: a district's households (the demo's 212,490) with room
#: to spare; larger areas are exported a grid at a time.
MAX_ROWS = 1_000_000
MEDIA_TYPES: dict[str, str] = {
    "geojson": writers.GEOJSON_MEDIA_TYPE,
    "csv": writers.CSV_MEDIA_TYPE,
    "gpkg": writers.GPKG_MEDIA_TYPE,
}
#: The most rows a GeoJSON or CSV export streams inside a request (as ``households.csv``):
#: memory stays flat however many (a server-side cursor), the cap bounds the request's time.
STREAM_ROWS = 200_000
EXTENSIONS = {"geojson": "geojson", "csv": "csv", "gpkg": "gpkg"}


def submit(session: Session, owner: Owner, wanted: ExportRequest) -> int:
    """Queue the export; refused at once (400, 404) where the export would be."""
    check(job_scope(owner.scope_code), wanted)
    check_layer(session, job_scope(owner.scope_code), wanted)
    return enqueue(session, KIND, owner, params=wanted.params())


def check_streamable(session: Session, scope: Scope, wanted: ExportRequest) -> None:
    """Refuse (as :func:`layers.check` does) an export that cannot be streamed in a request:
    a GeoPackage (a file: ask for the job), more than :data:`STREAM_ROWS` rows, or a review of
    more micro-grids than the monthly report and the 三率 download build in a request (422,
    :mod:`gridmap.requests.sync_limit`)."""
    check(scope, wanted)
    check_layer(session, scope, wanted)
    if wanted.format == "gpkg":
        raise InvalidInput(f"a GeoPackage is built as a job: POST {ROUTE}")
    if wanted.layer == "review":
        sync_limit.check(session, review_filter(scope, wanted).prefixes, job=ROUTE)
    found = count(session, scope, wanted, STREAM_ROWS)
    if found > STREAM_ROWS:
        raise TooLargeForRequest(
            f"导出超过 {STREAM_ROWS} 行，超过直接下载的上限，请用后台任务生成（POST {ROUTE}）。"
            f" More than {STREAM_ROWS} rows, more than a download in one request may hold: "
            f"ask for it as a job (POST {ROUTE})."
        )


def handlers(settings: Settings) -> dict[str, Handler]:
    return {KIND: functools.partial(build, replica=Replica(settings))}


def file_name(wanted: ExportRequest) -> str:
    """``households-110101001001-20261203.gpkg``: the layer, the area and the day."""
    area = wanted.grid or (f"layer{wanted.foreign_layer}" if wanted.foreign_layer else "all")
    day = clock.today().strftime("%Y%m%d")
    return f"{wanted.layer}-{area}-{day}.{EXTENSIONS[wanted.format]}"


def build(session: Session, job: JobRecord, report: Report, *, replica: Replica) -> dict[str, Any]:
    """Write the export's file (read from the replica when there is one), store it with the
    job, audit the export."""
    wanted = ExportRequest.from_params(job.params)
    scope = job_scope(job.scope_code)
    check(scope, wanted)
    with replica.reads(session) as reads:
        check_layer(reads, scope, wanted)
        report(5, "统计导出范围")
        total = count(reads, scope, wanted, MAX_ROWS)
        if total > MAX_ROWS:
            raise Unprocessable(
                f"导出超过 {MAX_ROWS} 行，请按网格分批导出（more than {MAX_ROWS} rows: "
                "export one grid at a time）"
            )
        report(10, "生成文件")
        body = _content(reads, job, wanted, total, report)
    name = file_name(wanted)
    file_id = job_store.add_upload(session, job.user_id, name, body)
    audit.record(
        session,
        "export",
        username=job.username,
        object_type=wanted.layer,
        object_id=wanted.grid,
        detail={"format": wanted.format, "rows": total, "job": job.id} | wanted.filters(),
    )
    media = MEDIA_TYPES[wanted.format]
    return {
        "rows": total,
        "file": {"id": file_id, "name": name, "media_type": media, "size": len(body)},
    }


def _content(
    session: Session, job: JobRecord, wanted: ExportRequest, total: int, report: Report
) -> bytes:
    scope = job_scope(job.scope_code)
    disclosure = job_disclosure(session, job.user_id)
    if wanted.format == "gpkg":

        def progress(done: int) -> None:
            report(10 + 85 * done // max(total, 1), f"已写入 {done}/{total} 行")

        with tempfile.TemporaryDirectory(prefix="gridmap-export-") as folder:
            path = Path(folder) / f"{wanted.layer}.gpkg"
            found = rows(session, scope, wanted, "wkb")
            writers.write_gpkg(path, wanted.layer, found, disclosure, progress)
            return path.read_bytes()
    if wanted.format == "geojson":
        found = rows(session, scope, wanted, "geojson")
        chunks = writers.geojson_chunks(wanted.layer, found, disclosure)
    else:
        found = rows(session, scope, wanted, wanted.csv_geometry)
        chunks = writers.csv_chunks(
            wanted.layer, found, wanted.csv_geometry, wanted.csv_header, disclosure
        )
    out = io.BytesIO()
    for chunk in chunks:
        out.write(chunk.encode())
    return out.getvalue()
