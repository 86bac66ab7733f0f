"""gridmap: geospatial grid management for community governance (网格化服务管理)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response
from flask.json.provider import DefaultJSONProvider
from flask_compress import Compress
from flask_openapi3 import Info, OpenAPI
from pydantic import ValidationError
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from gridmap.access import security
from gridmap.core import db, problems
from gridmap.core.settings import Settings

__all__ = ["create_app"]


def _validation_problem(exc: ValidationError) -> Response:
    """Render a request-parameter validation failure as a 400 problem saying where."""
    where = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    detail = "; ".join(f"{w['field']}: {w['message']}" for w in where)
    return problems.problem(400, "Invalid input", detail, "invalid-input", where)


class _JSONProvider(DefaultJSONProvider):
    """JSON with ISO 8601 dates (Flask's default writes HTTP dates) and Chinese unescaped."""

    ensure_ascii = False
    sort_keys = False  # keep the order the code gives (report columns, GeoJSON members)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        # Deep nesting exhausts the parser's recursion: that is bad input, not a crash.
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

    @staticmethod
    def default(o: object) -> object:
        if isinstance(o, dt.date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


class _AsciiInteger(IntegerConverter):
    """``<int:…>`` in every route: werkzeug's ``\\d+`` also matches full-width and other
    Unicode digits (``/requests/２１５２`` would be request 2152); they match here only to be
    refused with a 400 saying why, rather than an unexplained 404."""

    def to_python(self, value: str) -> int:
        if not value.isascii():
            raise BadRequest(f"an id in a path is ASCII digits 0-9, not {value!r}")
        return int(super().to_python(value))


def _read_files(response: Response) -> Response:
    if response.direct_passthrough:
        response.direct_passthrough = False
        response.make_sequence()
    return response


def create_app(settings: Settings | None = None) -> OpenAPI:
    """Build the Flask application; the only entry point, nothing is built at import."""
    from gridmap.api.contract import ContractOpenAPI

    settings = settings or Settings.from_env()
    app = ContractOpenAPI(
        __name__,
        info=Info(title="gridmap API", version="1.0.0"),
        security_schemes={
            "bearer": {"type": "http", "scheme": "bearer"},
            "api_key": {
                "type": "apiKey",
                "in": "query",
                "name": "api_key",
                "description": "Open311 only: a key issued to a client application (in a "
                "POST, a field of its form works too)",
            },
        },
        doc_prefix="/api",
        doc_url="/openapi.json",
        validation_error_status=400,
        validation_error_callback=_validation_problem,
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_AS_ASCII=False,
        # Layers, tiles and scripts are compressed for the bandwidth of a street office.
        COMPRESS_MIMETYPES=[
            "application/json",
            "application/geo+json",
            "application/problem+json",
            "application/vnd.mapbox-vector-tile",
            "application/javascript",
            "text/javascript",
            "text/css",
            "text/html",
            "text/csv",
        ],
        COMPRESS_ALGORITHM=["br", "gzip"],
        # Streams (exports) stay as they are; static files are read into memory first (below).
        COMPRESS_STREAMS=False,
    )
    # Before any route is added: the rules bind their converters when they are added.
    app.url_map.converters["int"] = _AsciiInteger
    app.json = _JSONProvider(app)
    # ``|tojson`` as well: Jinja's default sorts the keys, which reorders the glossary's tables
    # (a report's columns) for the page scripts.
    app.jinja_env.policies["json.dumps_kwargs"] = {}
    app.extensions["gridmap.settings"] = settings
    if settings.trusted_proxies:
        # The client's address (rate limits, login throttling, the audit log) and scheme from
        # the trusted proxies' X-Forwarded-For/-Proto; with none trusted those headers are
        # ignored, so a client cannot choose its own address.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    problems.init_app(app)
    db.init_app(app, settings)
    security.init_app(app)
    Compress(app)
    # Runs before flask-compress's hook (hooks run in reverse order): a static file is sent as
    # a stream, which would go out uncompressed; as a sequence its file is closed on close.
    app.after_request(_read_files)

    from gridmap import api, cli, web

    api.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    return app
