"""JSON/GeoJSON API under ``/api/v1``: one blueprint per resource."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, OpenAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gridmap.access import rate_limits
from gridmap.access.security import public
from gridmap.api import (
    admin,
    assignment,
    auth,
    buildings,
    categories,
    departments,
    exports,
    features,
    files,
    grids,
    households,
    jobs,
    lists,
    locate,
    notifications,
    onenet,
    open311,
    party,
    patrols,
    personal,
    public_channel,
    rates,
    reports,
    requests,
    review,
    service_map,
    tilejson,
    tiles,
    visits,
    wishes,
)
from gridmap.core import db
from gridmap.core.db import get_session
from gridmap.core.errors import Unavailable

health_bp = APIBlueprint("health", __name__, url_prefix="/api/v1")


@health_bp.get("/health", summary="Liveness: answers without touching the database")
@public
def health() -> dict[str, str]:
    return {"status": "ok"}


@health_bp.get(
    "/ready",
    summary="Readiness: answers 200 only when the database answers within a second; with a "
    "read replica configured, also its state and how far its replay lags (seconds)",
    description="A Redis of the rate limits is reported, not required: without it each"
    " process counts its own requests.",
    responses={503: {"description": "The database is unreachable or too slow"}},
)
@public
def ready() -> dict[str, object]:
    session = get_session()
    try:
        # SET LOCAL ends with the transaction the session's teardown rolls back.
        session.execute(text("SET LOCAL statement_timeout = '1s'"))
        session.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise Unavailable("The database is unreachable; try again shortly.") from exc
    answer: dict[str, object] = {"status": "ok", "database": "ok", **db.replica_status()}
    store = rate_limits.store_state()
    if store is not None:
        answer["rate_limit_store"] = store
    if store not in (None, "ok") or answer.get("replica") in ("disconnected", "unreachable"):
        answer["status"] = "degraded"
    return answer


def init_app(app: OpenAPI) -> None:
    blueprints = (
        health_bp,
        auth.bp,
        categories.bp,
        departments.bp,
        grids.bp,
        households.bp,
        buildings.bp,
        locate.bp,
        personal.bp,
        notifications.bp,
        assignment.bp,
        reports.bp,
        rates.bp,
        requests.bp,
        patrols.bp,
        visits.bp,
        party.bp,
        lists.bp,
        wishes.bp,
        review.bp,
        tiles.bp,
        tilejson.bp,
        features.bp,
        open311.bp,
        admin.bp,
        jobs.bp,
        files.bp,
        public_channel.bp,
        exports.bp,
        service_map.bp,
        onenet.bp,
    )
    for bp in blueprints:
        app.register_api(bp)
    tiles.init_app(app)
