"""一张网 (多网合一): other departments' grid layers, their overlay with ours, and the jobs
that import a layer and compute its overlay again. What each answer holds is
:mod:`gridmap.onenet.reading`'s, within the caller's scope; its export is the GIS export's
``onenet`` layer (``POST /api/v1/exports``)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import IMPORT, READ, REVIEW
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.jobs import accepted, job_owner
from gridmap.core.db import get_session
from gridmap.core.settings import Settings
from gridmap.onenet import jobs, reading
from gridmap.onenet.layers import LayerSpec
from gridmap.onenet.overlay import Rule

bp = APIBlueprint(
    "onenet",
    __name__,
    url_prefix="/api/v1/onenet",
    abp_tags=[Tag(name="onenet")],
    abp_security=params.BEARER,
)
#: Room for the multipart framing and the other fields beside the file itself.
_FORM_OVERHEAD = 64 * 1024


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A layer's file may be as large as a grid file (``GRIDMAP_MAX_UPLOAD_BYTES``)."""
    if endpoint == "onenet.upload_layer":
        settings: Settings = current_app.extensions["gridmap.settings"]
        request.max_content_length = settings.max_upload_bytes + _FORM_OVERHEAD


class LayerPath(BaseModel):
    layer_id: int = Field(ge=1, le=2**31 - 1)


def _rule() -> Rule:
    return Rule.of(current_app.extensions["gridmap.settings"])


@bp.get("/layers", summary="The foreign grid layers the caller may see, newest first")
@requires(READ)
def list_layers() -> dict[str, Any]:
    return reading.layer_list(get_session(), caller().scope)


@bp.get(
    "/layers/<int:layer_id>",
    summary="A foreign layer: its validity report, whether its overlay is stale, and each "
    "community in scope's distance from 一张网",
)
@requires(READ)
def get_layer(path: LayerPath) -> dict[str, Any]:
    return reading.layer_detail(get_session(), caller().scope, path.layer_id, _rule())


@bp.get(
    "/layers/<int:layer_id>/cells",
    summary="A foreign layer's cells on grids in scope (GeoJSON): each one's verdict and the "
    "units of ours it cuts, with their shares",
)
@requires(READ)
def layer_cells(path: LayerPath) -> dict[str, Any]:
    return reading.cells_collection(get_session(), caller().scope, path.layer_id)


@bp.get(
    "/layers/<int:layer_id>/units",
    summary="Our zones or micro-grids in scope that a foreign layer reaches (GeoJSON), each "
    "aligned, split or whole",
)
@requires(READ)
def layer_units(path: LayerPath) -> dict[str, Any]:
    return reading.units_collection(get_session(), caller().scope, path.layer_id)


@bp.get(
    "/layers/<int:layer_id>/draft",
    summary="A proposed unified boundary set: our grids in scope snapped onto the layer's "
    "aligned cells, as a grid file (GeoJSON) for the import page's redraw",
)
@requires(READ)
def layer_draft(path: LayerPath) -> dict[str, Any]:
    return reading.draft_collection(get_session(), caller().scope, path.layer_id, _rule())


@bp.post(
    "/layers",
    summary="Upload a department's grid file (multipart: file, crs, name, department"
    "[, compare_level, layer, encoding]); starts the job that checks, stores and overlays it",
)
@requires(IMPORT)
def upload_layer() -> Response:
    settings: Settings = current_app.extensions["gridmap.settings"]
    file, form = params.upload_form(
        request.files, request.form, field="file", fields=params.FOREIGN_LAYER_FIELDS
    )
    spec = LayerSpec(form["name"], form["department"], form.get("compare_level") or "micro")
    job_id = jobs.submit_layer(
        get_session(),
        job_owner(),
        file.filename or "",
        file.read(),
        spec,
        crs=form["crs"],
        layer=form.get("layer"),
        encoding=form.get("encoding"),
        max_bytes=settings.max_upload_bytes,
    )
    audit_write("onenet.upload", "job", job_id, {"file": file.filename, "crs": form["crs"]})
    return accepted(job_id)


@bp.post(
    "/layers/<int:layer_id>/overlay",
    summary="Compute a foreign layer's overlay again with both layers as they are now: 202 "
    "and the job to poll",
)
@requires(REVIEW)
def recompute_overlay(path: LayerPath) -> Response:
    who = caller()
    job_id = jobs.submit_overlay(get_session(), job_owner(), who.scope, path.layer_id)
    audit_write("onenet.overlay", "foreign_layer", path.layer_id, {"job": job_id})
    return accepted(job_id)
