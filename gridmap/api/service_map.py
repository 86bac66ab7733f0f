"""The service map (15分钟便民服务圈): service sites, the walking circles, the candidate sites
and the households outside every circle per community and micro-grid; uploads of sites and
of the walking network, and the refresh of the circles, as jobs.

Sites and circles are public facilities and the streets: the same for every scope. The gaps
and the candidate sites are read in the caller's scope (a candidate is shown where it lies).
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, current_app, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import IMPORT, REVIEW
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.common import no_body
from gridmap.api.jobs import accepted, job_owner
from gridmap.api.serializers import geojson_response
from gridmap.core.db import get_session
from gridmap.core.settings import Settings
from gridmap.services import circles
from gridmap.services import jobs as service_jobs
from gridmap.storage import service_map as store
from gridmap.storage.models import SITE_KINDS

_FORM_OVERHEAD = 64 * 1024

bp = APIBlueprint(
    "service_map",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="service map")],
    abp_security=params.BEARER,
)


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An upload may be as large as a grid file (``GRIDMAP_MAX_UPLOAD_BYTES``)."""
    if endpoint == "service_map.upload_service_file":
        settings: Settings = current_app.extensions["gridmap.settings"]
        request.max_content_length = settings.max_upload_bytes + _FORM_OVERHEAD


class SiteQuery(params.BBoxQuery):
    kind: Literal[SITE_KINDS] | None = Field(None, description="Only sites of this kind")  # type: ignore[valid-type]


class GridQuery(BaseModel):
    grid: str | None = Field(None, pattern=params.GRID_CODE, description="Only under this grid")


def _settings() -> Settings:
    settings: Settings = current_app.extensions["gridmap.settings"]
    return settings


def _collection(features: list[dict[str, Any]]) -> Response:
    return geojson_response({"type": "FeatureCollection", "features": features})


@bp.get("/service-sites", summary="Service sites (服务点位) as GeoJSON, in bbox and of a kind")
@requires(REVIEW)
def service_sites(query: SiteQuery) -> Response:
    kinds = (query.kind,) if query.kind else ()
    return _collection(store.site_features(get_session(), params.parse_bbox(query.bbox), kinds))


@bp.get("/service-map", summary="When the walking circles were computed, and the network")
@requires(REVIEW)
def service_map_state() -> dict[str, Any]:
    return circles.describe(get_session(), _settings())


@bp.get("/service-map/isochrones", summary="The walking circles of every site, by band")
@requires(REVIEW)
def service_isochrones() -> Response:
    return _collection(store.isochrone_features(get_session()))


@bp.get("/service-map/candidates", summary="Candidate sites in scope, best first")
@requires(REVIEW)
def service_candidates(query: GridQuery) -> Response:
    return _collection(store.candidate_features(get_session(), caller().scope, query.grid))


@bp.get(
    "/service-map/gaps", summary="Households outside every circle, per micro-grid and community"
)
@requires(REVIEW)
def service_gaps(query: GridQuery) -> dict[str, Any]:
    found = circles.gaps(get_session(), caller().scope, _settings(), grid=query.grid)
    return {"rows": found.micro_grids, "communities": found.communities}


@bp.get("/service-map/gap-map", summary="The micro-grids in scope with their uncovered share")
@requires(REVIEW)
def service_gap_map(query: GridQuery) -> Response:
    found = circles.gaps(get_session(), caller().scope, _settings(), grid=query.grid, shapes=True)
    return _collection(circles.gap_features(found))


@bp.post(
    "/service-imports",
    summary="Upload service sites or the walking network (multipart: file, what, crs[, layer, "
    "encoding, replace]); starts the import job",
)
@requires(IMPORT)
def upload_service_file() -> Response:
    file, form = params.upload_form(request.files, request.form, field="file")
    what, replace = params.service_import_fields(request.form)
    job_id = service_jobs.submit_import(
        get_session(),
        job_owner(),
        what,
        file.filename or "",
        file.read(),
        crs=form["crs"],
        layer=form.get("layer"),
        encoding=form.get("encoding"),
        replace=replace,
        max_bytes=_settings().max_upload_bytes,
    )
    audit_write("service_import.upload", "job", job_id, {"file": file.filename, "what": what})
    return accepted(job_id)


@bp.post("/service-map/refresh", summary="Compute the walking circles anew (a job)")
@requires(IMPORT)
def refresh_service_map() -> Response:
    no_body("the circles are computed from the sites and the walking network already stored")
    job_id = service_jobs.submit_refresh(get_session(), job_owner())
    audit_write("service_map.refresh", "job", job_id, {})
    return accepted(job_id)
