"""一张网 as background jobs: a department's grid file imported as a foreign layer and
overlaid with ours (``onenet.import``), and an overlay computed again (``onenet.overlay``).

An upload is checked as the grid import page checks its files (kind, size, zip, CRS) and
the layer's name, department and level before anything is stored; the job reads the file
with the grid importers' readers, checks the layer (a problem refuses it, nothing written),
stores it apart from our grid with the importer's scope, audits the import and computes the
overlay, all in one transaction. A street administrator's layer is seen by the street's
staff; whoever's grids it meets sees its overlay there.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.access.auth import Scope, job_scope
from gridmap.core.errors import NotFound
from gridmap.core.settings import Settings
from gridmap.grid.import_jobs import check_upload, upload_path
from gridmap.jobs import Handler, Owner, Report, enqueue
from gridmap.onenet import layers, overlay
from gridmap.storage import jobs as job_store
from gridmap.storage import onenet as store
from gridmap.storage.jobs import JobRecord

IMPORT = "onenet.import"
OVERLAY = "onenet.overlay"


def submit_layer(
    session: Session,
    owner: Owner,
    filename: str,
    content: bytes,
    spec: layers.LayerSpec,
    *,
    crs: str,
    layer: str | None,
    encoding: str | None,
    max_bytes: int,
) -> int:
    """Store a department's grid file and queue its import; returns the job's id."""
    spec = spec.checked()
    name = check_upload(filename, content, crs=crs, max_bytes=max_bytes)
    upload_id = job_store.add_upload(session, owner.user_id, name, content)
    params = {
        "crs": crs,
        "layer": layer,
        "encoding": encoding,
        "filename": name,
        "name": spec.name,
        "department": spec.department,
        "compare_level": spec.compare_level,
    }
    return enqueue(session, IMPORT, owner, params=params, upload_id=upload_id)


def submit_overlay(session: Session, owner: Owner, scope: Scope, layer_id: int) -> int:
    """Queue the layer's overlay computed again (404 when the caller cannot see it)."""
    if store.layer(session, scope, layer_id) is None:
        raise NotFound(f"no foreign layer {layer_id}")
    return enqueue(session, OVERLAY, owner, params={"layer": layer_id}, lock=f"onenet-{layer_id}")


def handlers(settings: Settings) -> dict[str, Handler]:
    """The worker's handlers of the 一张网 jobs."""
    return {
        IMPORT: functools.partial(import_layer, settings=settings),
        OVERLAY: functools.partial(recompute, settings=settings),
    }


def import_layer(
    session: Session, job: JobRecord, report: Report, *, settings: Settings
) -> dict[str, Any]:
    """Read, check and store the layer, audit it, compute its overlay."""
    params = job.params
    spec = layers.LayerSpec(params["name"], params["department"], params["compare_level"])
    report(5, "读取文件")
    with upload_path(session, job) as path:
        frame = layers.read_cells(
            path, layer=params.get("layer") or None, encoding=params.get("encoding")
        )
    report(30, "检查外部门网格")
    layer_id, checked = layers.import_layer(
        session,
        frame,
        str(params["crs"]),
        spec,
        settings,
        filename=str(params["filename"]),
        scope_code=job.scope_code,
        user_id=job.user_id,
    )
    audit.record(
        session,
        "import.foreign_layer",
        username=job.username,
        object_type="foreign_layer",
        object_id=layer_id,
        detail={"cells": len(frame), "file": params["filename"], "department": spec.department},
    )
    report(60, "比对网格")
    computed = overlay.compute(session, layer_id, overlay.Rule.of(settings))
    return computed | {"report": checked.as_geojson()}


def recompute(
    session: Session, job: JobRecord, report: Report, *, settings: Settings
) -> dict[str, Any]:
    """The layer's overlay, computed again with both layers as they are now."""
    layer_id = int(job.params["layer"])
    if store.layer(session, job_scope(job.scope_code), layer_id) is None:
        raise NotFound(f"no foreign layer {layer_id}")
    report(10, "比对网格")
    return overlay.compute(session, layer_id, overlay.Rule.of(settings))
