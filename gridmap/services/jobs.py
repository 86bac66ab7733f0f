"""The service map's jobs (后台任务): importing service sites or the walking network from an
uploaded file, and refreshing the walking circles.

An import writes all or nothing, is audited, and queues a refresh in the same transaction, so
the cached circles follow every change of sites or network. Refreshes share one lock with the
imports: they run one after another, each on the data as the one before left it.

Who may: the walking network is the whole district's, so only an account without a grid scope
(the system administrator) replaces it; a street administrator imports sites inside the
street only (a site outside it refuses the file).
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.access.auth import Forbidden
from gridmap.core.settings import Settings
from gridmap.grid.import_jobs import check_upload, upload_path
from gridmap.grid.ingest import read_features
from gridmap.jobs import Handler, Owner, Report, enqueue
from gridmap.services import circles, network, sites
from gridmap.storage import jobs as job_store
from gridmap.storage.jobs import JobRecord

SITES = "services.sites"
NETWORK = "services.network"
REFRESH = "services.refresh"
LOCK = "service-map"
What = Literal["sites", "network"]
#: File name endings accepted: a Shapefile zipped, the single-file formats, and (network)
#: an OpenStreetMap extract.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "sites": (".zip", ".gpkg", ".kml", ".geojson", ".json"),
    "network": (".zip", ".gpkg", ".geojson", ".json", ".pbf"),
}


def submit_import(
    session: Session,
    owner: Owner,
    what: What,
    filename: str,
    content: bytes,
    *,
    crs: str,
    layer: str | None,
    encoding: str | None,
    replace: bool,
    max_bytes: int,
) -> int:
    """Store an uploaded site layer or network and queue its import; returns the job's id."""
    if (what == "network" or replace) and owner.scope_code:
        raise Forbidden(
            "步行路网和全部点位的替换涉及全区，只有系统管理员可以进行"
            "（only the system administrator replaces the network or every site）"
        )
    name = check_upload(
        filename,
        content,
        crs=crs,
        max_bytes=max_bytes,
        suffixes=SUFFIXES[what],
        accepted=f"只能上传 {'、'.join(SUFFIXES[what])} 文件",
    )
    upload_id = job_store.add_upload(session, owner.user_id, name, content)
    params: dict[str, Any] = {"crs": crs, "layer": layer, "encoding": encoding, "filename": name}
    params["replace"] = replace
    kind = SITES if what == "sites" else NETWORK
    return enqueue(session, kind, owner, params=params, upload_id=upload_id, lock=LOCK)


def submit_refresh(session: Session, owner: Owner) -> int:
    """Queue a refresh of the walking circles; returns the job's id."""
    return enqueue(session, REFRESH, owner, params={}, lock=LOCK)


def handlers(settings: Settings) -> dict[str, Handler]:
    """The worker's handlers of the service map's jobs."""
    return {
        SITES: import_sites,
        NETWORK: import_network,
        REFRESH: functools.partial(refresh, settings=settings),
    }


def import_sites(session: Session, job: JobRecord, report: Report) -> dict[str, Any]:
    report(5, "读取文件")
    with upload_path(session, job) as path:
        frame = read_features(
            path, layer=job.params.get("layer"), encoding=job.params.get("encoding")
        )
    report(40, "导入服务点位")
    written = sites.import_sites(
        session,
        frame,
        str(job.params["crs"]),
        replace=bool(job.params.get("replace")),
        scope_code=job.scope_code,
    )
    _audit(session, job, "import.service_sites", {"written": written.written})
    return {"written": written.written, "refresh_job": _queue_refresh(session, job)}


def import_network(session: Session, job: JobRecord, report: Report) -> dict[str, Any]:
    report(5, "读取文件")
    with upload_path(session, job) as path:
        report(20, "读取道路")
        if path.suffix.lower() == ".pbf":
            lines, origin = network.osm_lines(path), "osm"
        else:
            lines = network.layer_lines(
                path, str(job.params["crs"]), layer=job.params.get("layer"),
                encoding=job.params.get("encoding"),
            )  # fmt: skip
            origin = "file"
    report(50, "构建路网拓扑")
    check = network.import_network(session, lines, origin)
    _audit(session, job, "import.walk_network", check.as_dict())
    return check.as_dict() | {"refresh_job": _queue_refresh(session, job)}


def refresh(
    session: Session, job: JobRecord, report: Report, *, settings: Settings
) -> dict[str, Any]:
    report(10, "计算步行服务圈")
    return circles.refresh(session, settings)


def _audit(session: Session, job: JobRecord, action: str, detail: dict[str, Any]) -> None:
    audit.record(
        session,
        action,
        username=job.username,
        object_type="job",
        object_id=job.id,
        detail=detail | {"file": job.params.get("filename")},
    )


def _queue_refresh(session: Session, job: JobRecord) -> int:
    return submit_refresh(session, Owner(job.user_id, job.username, job.scope_code))
