"""The one handler that renders every error as RFC 9457 problem+json.

A browser asking for a page (a path outside the API that accepts text/html) gets a small
Chinese HTML page with the same status instead: no detail, no stack trace, nothing about the
data it asked for.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, has_request_context, json, render_template, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from gridmap.core.errors import (
    PROBLEM_JSON,
    GridmapError,
    InvalidInput,
    from_database,
    problem_body,
)
from gridmap.spatial.crs import SpatialInputError

log = logging.getLogger(__name__)

_API_PREFIXES = ("/api/", "/open311/")

#: (title, message) of the HTML error page, by status.
_PAGE_TEXT: dict[int, tuple[str, str]] = {
    400: ("请求有误", "请求的内容不正确或页面已过期，请返回上一页刷新后重试。"),
    401: ("请先登录", "登录已失效，请重新登录。"),
    403: ("无权访问", "您的角色无权使用此页面。"),
    404: ("页面不存在", "您访问的页面不存在，或不在您的管辖范围内。"),
    405: ("请求方式不支持", "此页面不支持这种访问方式。"),
    409: ("操作冲突", "数据已被他人修改，请刷新后重试。"),
    413: ("内容过大", "提交的内容超过了允许的大小。"),
    422: ("无法处理", "提交的数据不符合规则。"),
    429: ("操作过于频繁", "请稍后再试。"),
    500: ("服务器内部错误", "服务器出了问题，请稍后再试；如果问题持续，请联系系统管理员。"),
    503: ("服务暂不可用", "服务暂时不可用，请稍后再试。"),
}


def problem(
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, Any]] | None = None,
) -> Response:
    """The error response: problem+json, or the HTML error page for a browser's page request.

    Every error goes through here (the handlers below and the access checks in
    ``gridmap.access.security``), so a page never shows a browser raw JSON.
    """
    if _wants_page():
        page = _error_page(status)
        if page is not None:
            return page
    return problem_json(status, title, detail, code, errors)


def problem_json(
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, Any]] | None = None,
) -> Response:
    """An RFC 9457 problem+json response."""
    body = problem_body(status, title, detail, code, errors)
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)


def _wants_page() -> bool:
    """A request for a page (not the API) from a client that prefers HTML over JSON."""
    if not has_request_context() or request.path.startswith(_API_PREFIXES):
        return False
    # A browser's navigation asks for text/html first; fetch() and curl send */*.
    best = request.accept_mimetypes.best_match([PROBLEM_JSON, "application/json", "text/html"])
    return best == "text/html"


def _error_page(status: int) -> Response | None:
    """The HTML error page, or None when it cannot be rendered (then problem+json answers)."""
    fallback = 500 if status >= 500 else 400
    title, message = _PAGE_TEXT.get(status, _PAGE_TEXT[fallback])
    try:
        html = render_template("error.html", status=status, title=title, message=message)
    except Exception:  # an error page must never fail: JSON is still an answer
        log.exception("the error page could not be rendered")
        return None
    return Response(html, status=status, mimetype="text/html")


def init_app(app: Flask) -> None:
    """Register the one handler that turns every error into problem+json."""

    @app.errorhandler(GridmapError)
    def _gridmap_error(exc: GridmapError) -> Response:
        response = problem(exc.status, exc.title, exc.detail, exc.code, exc.errors)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:  # a throttled login: when to try again
            response.headers["Retry-After"] = str(retry_after)
        return response

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
        detail = exc.description or ""
        if status == 413:  # a body over the limit: say so to the person who sent it
            detail = f"{_PAGE_TEXT[413][1]}（{detail}）"
        response = problem(status, exc.name or "Error", detail, name)
        # The exception's own headers: a 405's Allow (the methods the route has), a 401's
        # WWW-Authenticate; never its Content-Type (the problem document has its own).
        for header, value in exc.get_headers():
            if header.lower() != "content-type":
                response.headers[header] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal error", "Something went wrong on our side.", "internal")
