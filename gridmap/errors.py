"""Error hierarchy and the one handler that renders it as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from gridmap.spatial.crs import SpatialInputError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class GridmapError(Exception):
    """Base of every error with a public message.

    ``status`` is the HTTP status, ``code`` a stable machine-readable name, ``detail`` the
    message shown to people, and ``errors`` an optional list saying what is wrong where.
    """

    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class InvalidInput(GridmapError):
    """The input is malformed or breaks a rule (bad coordinates, geometry, CRS, code...)."""

    status = 400
    code = "invalid-input"
    title = "Invalid input"


class Unprocessable(GridmapError):
    """The input is well formed but cannot be applied (a constraint of the data)."""

    status = 422
    code = "unprocessable"
    title = "Unprocessable input"


class NotFound(GridmapError):
    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(GridmapError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unavailable(GridmapError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"


# PostgreSQL SQLSTATE classes mapped to our errors: the database constraints are the last
# line of defence, so a violation that slipped past validation is still the caller's fault.
_SQLSTATE: dict[str, type[GridmapError]] = {
    "23514": Unprocessable,  # check_violation
    "23P01": Conflict,  # exclusion_violation (code reused within a validity period)
    "23505": Conflict,  # unique_violation
    "23503": Unprocessable,  # foreign_key_violation
    "22023": InvalidInput,  # invalid_parameter_value (e.g. bad geometry)
    "XX000": InvalidInput,  # PostGIS internal error, raised for unparsable geometry
    "40001": Conflict,  # serialization_failure
    "40P01": Conflict,  # deadlock_detected
}


def from_database(exc: DBAPIError) -> GridmapError:
    """Translate a database error into a public error without leaking SQL."""
    if isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", None) is None:
        return Unavailable("The database is unreachable; try again shortly.")
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    cls = _SQLSTATE.get(sqlstate)
    if cls is None:
        if sqlstate.startswith("08") or sqlstate.startswith("57"):
            return Unavailable("The database is unreachable; try again shortly.")
        raise exc
    diag = getattr(exc.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    detail = (
        f"The data breaks the rule {constraint!r}." if constraint else "The data breaks a rule."
    )
    return cls(detail)


def problem(
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, Any]] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"https://gridmap.example/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)


def init_app(app: Flask) -> None:
    """Register the one handler that turns every error into problem+json."""

    @app.errorhandler(GridmapError)
    def _gridmap_error(exc: GridmapError) -> Response:
        return problem(exc.status, exc.title, exc.detail, exc.code, exc.errors)

    @app.errorhandler(SpatialInputError)
    def _spatial_input(exc: SpatialInputError) -> Response:
        where = [{"field": exc.where, "message": str(exc)}] if exc.where else None
        return problem(400, InvalidInput.title, str(exc), InvalidInput.code, where)

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> Response:
        return _gridmap_error(from_database(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        name = (exc.name or "error").lower().replace(" ", "-")
        return problem(status, exc.name or "Error", exc.description or "", name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal error", "Something went wrong on our side.", "internal")
