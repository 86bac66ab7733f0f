"""JSON/GeoJSON API under ``/api/v1``: one blueprint per resource."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, OpenAPI

from gridmap.api import grids, households, locate

health_bp = APIBlueprint("health", __name__, url_prefix="/api/v1")


@health_bp.get("/health", summary="Liveness: answers without touching the database")
def health() -> dict[str, str]:
    return {"status": "ok"}


def init_app(app: OpenAPI) -> None:
    for bp in (health_bp, grids.bp, households.bp, locate.bp):
        app.register_api(bp)
