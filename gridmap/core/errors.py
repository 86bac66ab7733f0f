"""The error hierarchy: each error carries its HTTP status, a machine code and a public
message; database errors are translated into it (:func:`from_database`). Rendering them as
problem+json or an error page is :mod:`gridmap.core.problems`' job, so domains raise these
without depending on Flask."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

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


def problem_body(
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An RFC 9457 problem document: what an error answers over HTTP, and what a failed
    background job keeps as its ``error``."""
    body: dict[str, Any] = {
        "type": f"https://gridmap.example/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return body


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


class TooLargeForRequest(Unprocessable):
    """Well formed, but too much work for one web request: ask for it as a background job."""

    code = "too-large-for-request"
    title = "Too large for one request"


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
    #: Seconds a client should wait before trying again (the Retry-After of a 503).
    retry_after = 5


# PostgreSQL SQLSTATE classes mapped to our errors: the database constraints are the last
# line of defence, so a violation that slipped past validation is still the caller's fault.
_SQLSTATE: dict[str, type[GridmapError]] = {
    "23514": Unprocessable,  # check_violation
    "23P01": Conflict,  # exclusion_violation (code reused within a validity period)
    "23505": Conflict,  # unique_violation
    "23503": Unprocessable,  # foreign_key_violation
    "22023": InvalidInput,  # invalid_parameter_value (e.g. bad geometry)
    "22003": InvalidInput,  # numeric_value_out_of_range (an id past the column's range)
    "22001": InvalidInput,  # string_data_right_truncation
    "XX000": InvalidInput,  # PostGIS internal error, raised for unparsable geometry
    "40001": Conflict,  # serialization_failure
    "40P01": Conflict,  # deadlock_detected
}


def unreachable(exc: DBAPIError) -> bool:
    """Whether ``exc`` says the server cannot be reached or cut the statement off: a
    connection error without a SQLSTATE, or one of the classes 08 (connection) and 57
    (operator intervention: shut down, cancelled, timed out)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is None:
        return isinstance(exc, OperationalError)
    return str(sqlstate).startswith(("08", "57"))


def from_database(exc: DBAPIError) -> GridmapError:
    """Translate a database error into a public error without leaking SQL."""
    if unreachable(exc):
        return Unavailable("The database is unreachable; try again shortly.")
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if not sqlstate and "NUL (0x00)" in str(exc.orig):
        # Refused by the driver before the server sees it (PostgreSQL text has no NUL).
        return InvalidInput("Text must not contain NUL (0x00) characters.")
    cls = _SQLSTATE.get(sqlstate)
    if cls is None:
        raise exc
    diag = getattr(exc.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    detail = (
        f"The data breaks the rule {constraint!r}." if constraint else "The data breaks a rule."
    )
    return cls(detail)
