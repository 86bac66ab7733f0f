"""JSON/GeoJSON API under ``/api/v1``: one blueprint per resource."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, OpenAPI

from gridmap.access.security import public
from gridmap.api import (
    admin,
    assignment,
    auth,
    categories,
    grids,
    households,
    jobs,
    locate,
    open311,
    patrols,
    personal,
    rates,
    reports,
    requests,
    review,
    tiles,
)

health_bp = APIBlueprint("health", __name__, url_prefix="/api/v1")


@health_bp.get("/health", summary="Liveness: answers without touching the database")
@public
def health() -> dict[str, str]:
    return {"status": "ok"}


def init_app(app: OpenAPI) -> None:
    blueprints = (
        health_bp,
        auth.bp,
        categories.bp,
        grids.bp,
        households.bp,
        locate.bp,
        personal.bp,
        assignment.bp,
        reports.bp,
        rates.bp,
        requests.bp,
        patrols.bp,
        review.bp,
        tiles.bp,
        open311.bp,
        admin.bp,
        jobs.bp,
    )
    for bp in blueprints:
        app.register_api(bp)
