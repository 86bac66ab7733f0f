"""Background jobs (后台任务): their state for the pages that poll them, and the grid
import page's uploads and confirmations, which start jobs."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap import jobs
from gridmap.access.auth import IMPORT, SIGNED_IN
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.core.db import get_session
from gridmap.core.settings import Settings
from gridmap.grid import import_jobs

#: Room for the multipart framing and the other fields beside the file itself.
_FORM_OVERHEAD = 64 * 1024

bp = APIBlueprint(
    "jobs",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="jobs")],
    abp_security=params.BEARER,
)


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An upload may be larger than other requests (``GRIDMAP_MAX_UPLOAD_BYTES``). Set here,
    before any ``before_request`` hook (the CSRF check reads the form) parses the body."""
    if endpoint == "jobs.upload_grid_file":
        settings: Settings = current_app.extensions["gridmap.settings"]
        request.max_content_length = settings.max_upload_bytes + _FORM_OVERHEAD


class JobPath(BaseModel):
    job_id: int = Field(ge=1, le=2**63 - 1)


def job_owner() -> jobs.Owner:
    who = caller()
    return jobs.Owner.of(who.user_id, who.username, who.scope.prefixes)


def accepted(job_id: int) -> Response:
    """202 with the new job's state and where to poll it."""
    response = jsonify(jobs.status(get_session(), job_id, user_id=caller().user_id, admin=False))
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.job_status", job_id=job_id)
    return response


@bp.get("/jobs/<int:job_id>", summary="A job's state, progress, result or error (its owner)")
@requires(SIGNED_IN)
def job_status(path: JobPath) -> dict[str, Any]:
    who = caller()
    admin = who.role == "system_admin"
    return jobs.status(get_session(), path.job_id, user_id=who.user_id, admin=admin)


@bp.get("/jobs/<int:job_id>/file", summary="The file a finished job made (its owner)")
@requires(SIGNED_IN)
def job_file(path: JobPath) -> Response:
    # Its owner's only: the system administrator sees every job's state, but the files are
    # exports of resident data (masked), which no administrator reads.
    name, media_type, body = jobs.result_file(
        get_session(), path.job_id, user_id=caller().user_id, admin=False
    )
    disposition = {"Content-Disposition": f"attachment; filename={name}"}
    return Response(body, mimetype=media_type, headers=disposition)


@bp.post(
    "/grid-imports",
    summary="Upload a grid file (multipart: file, crs[, layer, encoding]); starts its "
    "validation job (nothing written)",
)
@requires(IMPORT)
def upload_grid_file() -> Response:
    settings: Settings = current_app.extensions["gridmap.settings"]
    file, form = params.upload_form(request.files, request.form, field="file")
    session = get_session()
    job_id = import_jobs.submit(
        session,
        job_owner(),
        file.filename or "",
        file.read(),
        crs=form["crs"],
        layer=form.get("layer"),
        encoding=form.get("encoding"),
        max_bytes=settings.max_upload_bytes,
    )
    audit_write("grid_import.upload", "job", job_id, {"file": file.filename, "crs": form["crs"]})
    return accepted(job_id)


@bp.post(
    "/grid-imports/<int:job_id>/confirm",
    summary="Import a validated grid file (all or nothing, audited): starts the import job",
)
@requires(IMPORT)
def confirm_grid_import(path: JobPath) -> Response:
    session = get_session()
    admin = caller().role == "system_admin"
    job_id = import_jobs.confirm(session, job_owner(), path.job_id, admin=admin)
    audit_write("grid_import.confirm", "job", job_id, {"validation_job": path.job_id})
    return accepted(job_id)
