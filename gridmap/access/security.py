"""Who is calling, and may they: authentication, deny-by-default access, CSRF, rate limits
and security headers, registered on the app in one place.

Every view declares what it needs with ``@requires(capability)`` or ``@public``; a view that
declares nothing is refused (fail closed). Pages and the API share one rule: an object outside
the caller's scope answers 404, never revealing that it exists.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from contextvars import Token
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from flask import Flask, Response, current_app, g, redirect, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import DBAPIError

from gridmap.access import api_keys, audit, auth, rate_limits
from gridmap.core import db, storable
from gridmap.core.db import get_session
from gridmap.core.engine import ALONGSIDE, Alongside
from gridmap.core.errors import InvalidInput, unreachable
from gridmap.core.problems import problem
from gridmap.storage import change_counts as storage_change_counts

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

SESSION_COOKIE = "gridmap_session"
_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
# Endpoints of the libraries that serve assets and API documentation.
_PUBLIC_ENDPOINTS = ("static", "web.static", "openapi.", "swagger.")

csrf = CSRFProtect()


def _write_limit() -> str:
    return str(current_app.extensions["gridmap.settings"].write_rate_limit)


# Limits are read from the app serving the request, so several apps in one process (tests)
# each keep their own settings (the store is the last app's). A store that fails (Redis gone)
# is never a 500: the limiter counts in the process until it answers again (see rate_limits).
limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[_write_limit],
    default_limits_exempt_when=lambda: request.method not in _UNSAFE,
    in_memory_fallback_enabled=True,
    swallow_errors=True,
)


def unlimited(view: F) -> F:
    """Declare a read that no rate limit applies to (no limit of its own, and the default
    limits count writes only), so that the limiter is not even consulted: a map asks for
    dozens of vector tiles at once."""
    view.unlimited = True  # type: ignore[attr-defined]
    return view


@limiter.request_filter
def _unlimited_read() -> bool:
    if request.method not in ("GET", "HEAD") or request.endpoint is None:
        return False
    view = current_app.view_functions.get(request.endpoint)
    return bool(getattr(view, "unlimited", False))


def requires(*capabilities: str) -> Callable[[F], F]:
    """Declare the capabilities that let a caller use a view (any one of them suffices; see
    ``gridmap.access.auth.CAPABILITIES``)."""

    def mark(view: F) -> F:
        view.capabilities = frozenset(capabilities)  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Declare a view open to anyone (login, health)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def password_change_step(view: F) -> F:
    """Declare a view open to a caller who logged in with a one-time password and has not
    chosen a new one yet: changing the password, logging out, who am I. Every other view
    answers such a caller 403 (pages send them to the change-password page)."""
    view.password_change_step = True  # type: ignore[attr-defined]
    return view


def caller() -> auth.Caller:
    """The authenticated caller of the current request (set before every protected view)."""
    found: auth.Caller = g.caller
    return found


def origin() -> auth.Origin:
    return auth.Origin(request.remote_addr, request.headers.get("User-Agent"))


def audit_write(
    action: str, object_type: str, object_id: object, detail: dict[str, Any] | None = None
) -> None:
    """Record the caller's successful write in the audit log and commit it with the write."""
    session = get_session()
    audit.record(
        session,
        action,
        caller=caller(),
        object_type=object_type,
        object_id=object_id,
        origin=origin(),
        detail=detail,
    )
    session.commit()


#: Paths where a bearer token may also come as the ``access_token`` query parameter (RFC 6750
#: section 2.3): GIS clients (QGIS's vector tile and OGC API connections, GDAL) that are given
#: a URL and cannot always add a header. It may land in access logs: prefer the header.
_TOKEN_IN_QUERY = ("/api/v1/ogc", "/api/v1/tiles/")


def public_when(setting: str) -> Callable[[F], F]:
    """Declare a view open to anyone when the deployment's boolean setting ``setting`` is on
    (Open311's reads with ``open311_public_read``); a caller who sends credentials is still
    identified and served in their scope. Off, the view needs its capabilities."""

    def mark(view: F) -> F:
        view.public_when = setting  # type: ignore[attr-defined]
        return view

    return mark


def _open_by_setting(view: Any) -> bool:
    setting = getattr(view, "public_when", None)
    settings = current_app.extensions["gridmap.settings"]
    return setting is not None and request.method == "GET" and bool(getattr(settings, setting))


def _api_key() -> str | None:
    """Open311's ``api_key``: a query parameter, or a field of the form a POST sends."""
    key = request.args.get("api_key")
    if key is None and request.method in _UNSAFE:
        if request.mimetype == "application/x-www-form-urlencoded":
            # Read from the cached body, which the view parses again (strictly) itself.
            body = request.get_data(cache=True).decode("utf-8", "replace")
            key = next((v for k, v in parse_qsl(body) if k == "api_key"), None)
        elif request.mimetype == "multipart/form-data":
            key = request.form.get("api_key")
    return key.strip() if key and key.strip() else None


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if request.path.startswith(_TOKEN_IN_QUERY):
        return request.args.get("access_token") or None
    return None


_RECENT_LOGINS = "gridmap.recent_logins"


def one_statement(view: F) -> F:
    """Declare a view that reads with one statement (:func:`gridmap.core.db.one_statement`)
    and whose login that statement confirms, so that a request is one round trip.

    A token this process checked a moment ago is taken on trust until the view's statement,
    which the ``login`` change count goes with in the same round trip (read just before it,
    as the login check would). The count unchanged, the answer stands; moved (a logout, a
    lockout, a change of role or scope anywhere), the answer is dropped, the token checked
    afresh and the view run again for the caller it now is. Nothing the view computed for
    a caller taken on trust leaves the process unless the count confirms that caller; a
    refusal is never given on trust (see :func:`_authorize`)."""

    @functools.wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            answer = view(*args, **kwargs)
        except DBAPIError as error:
            # A pooled connection the server dropped (a restart) fails at the request's
            # first statement, here the view's: tried again on a new one, as in _resolve.
            if not (error.connection_invalidated and _distrust()):
                raise
            get_session().rollback()
        except Exception:
            if _confirmed():
                raise
        else:
            if _confirmed():
                return answer
        refusal = _authorize()
        return refusal if refusal is not None else view(*args, **kwargs)

    run.confirms_login = True  # type: ignore[attr-defined]
    return db.one_statement(run)  # type: ignore[return-value]


@dataclass(frozen=True)
class _Trusted:
    """A caller taken on trust from the recent logins: the ``login`` count its token was
    checked under, and the count's statement sent alongside the view's."""

    count: int
    alongside: Alongside
    reset: Token[Alongside | None]


def _trust(token: str, kind: str) -> auth.Caller | None:
    """The caller of a token checked a moment ago, taken on trust for a view whose
    statement confirms it (:func:`one_statement`); None when it must be checked now."""
    view = current_app.view_functions[request.endpoint or ""]
    if not getattr(view, "confirms_login", False) or g.get("distrusted"):
        return None
    found = auth.recently_checked(token, kind, current_app.extensions[_RECENT_LOGINS])
    if found is None:
        return None
    caller, count = found
    alongside = Alongside(storage_change_counts.SQL)
    g.trusted = _Trusted(count, alongside, ALONGSIDE.set(alongside))
    return caller


def _distrust() -> bool:
    """Drop the trust in this request's caller, if it was taken on trust (True then): the
    token is checked the usual way from now on."""
    trusted: _Trusted | None = g.pop("trusted", None)
    if trusted is None:
        return False
    ALONGSIDE.reset(trusted.reset)
    g.distrusted = True
    return True


def _confirmed() -> bool:
    """Whether the caller is confirmed: not taken on trust, or by the ``login`` count read
    alongside the view's statement (read now when no statement ran), unchanged since its
    token was checked. When not, the trust is dropped."""
    trusted: _Trusted | None = g.get("trusted")
    if trusted is None:
        return True
    rows = trusted.alongside.rows
    _distrust()
    if rows is None:
        counts = storage_change_counts.read(get_session())
    else:
        counts = storage_change_counts.of_rows(rows)
    return counts.login == trusted.count


def _resolve(token: str, kind: str) -> auth.Caller | None:
    """The login check, the first statement of a request: a pooled connection the server
    dropped (a restart) fails here before anything was done, so it is tried once more on a
    new connection instead of every pooled connection being tested before use."""
    settings = current_app.extensions["gridmap.settings"]
    recent = current_app.extensions[_RECENT_LOGINS]
    trusted = _trust(token, kind)
    if trusted is not None:
        return trusted
    try:
        try:
            return _check_login(token, kind, settings, recent)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            get_session().rollback()
            return _check_login(token, kind, settings, recent)
    except DBAPIError as error:
        if not (db.replica_may_serve() and unreachable(error)):
            raise
        # The primary is away and the view only reads: its replica checks the login.
        get_session().rollback()
        db.mark_primary_away()
        return auth.resolve(db.get_read_session(), token, kind, settings, writable=False)


def _check_login(
    token: str, kind: str, settings: Any, recent: auth.RecentLogins
) -> auth.Caller | None:
    """The login check on the primary, after every change count is read in one statement:
    the login's, and what a view may keep derived data under (see :func:`change_counts`)."""
    session = get_session()
    g.change_counts = storage_change_counts.read(session)
    return auth.resolve(session, token, kind, settings, recent, counts=g.change_counts)


def change_counts() -> storage_change_counts.ChangeCounts:
    """The change counts as this request's login check read them (no statement of its own),
    else as they are now: from the primary, or from the replica when the primary is away."""
    if "change_counts" not in g:
        away = g.get("primary_away", False)
        session = db.get_read_session() if away else get_session()
        g.change_counts = storage_change_counts.read(session)
    found: storage_change_counts.ChangeCounts = g.change_counts
    return found


def _identify() -> auth.Caller | None:
    token = _bearer_token()
    if token:
        return _resolve(token, "bearer")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return _resolve(cookie, "web")
    key = _api_key() if request.path.startswith("/open311/") else None
    if key:
        found = api_keys.resolve(get_session(), key)
        if found is None:  # GeoReport v2: an invalid api_key is a 403
            raise auth.Forbidden("The api_key is unknown or has been revoked.")
        return found
    return None


def _is_page() -> bool:
    return not request.path.startswith(("/api/", "/open311/"))


def _deny(status: int, detail: str, code: str | None = None) -> Response:
    if status == 401 and _is_page():
        return redirect(url_for("web.login_form", next=request.full_path.rstrip("?")))  # type: ignore[return-value]
    title = {401: "Unauthorized", 403: "Forbidden"}[status]
    return problem(status, title, detail, code or title.lower())


#: The problem code of a call made before the one-time password was replaced.
PASSWORD_CHANGE_REQUIRED = "password-change-required"


def _password_change_first() -> Response:
    """A caller logged in with a one-time password may do nothing else before choosing a
    new password: pages go to the change-password page, the API answers 403."""
    if _is_page() and request.method == "GET":
        return redirect(url_for("web.password_page"))  # type: ignore[return-value]
    return _deny(
        403,
        "Choose a new password first: this login used a one-time password "
        "(POST /api/v1/auth/password with current_password and new_password).",
        PASSWORD_CHANGE_REQUIRED,
    )


def _authorize() -> Response | None:
    """Before every request: identify the caller and apply the view's declaration. A
    caller taken on trust (:func:`one_statement`) who would be refused is checked afresh
    first: a refusal is never given on trust."""
    refusal = _decide()
    if refusal is not None and _distrust():
        refusal = _decide()
    return refusal


def _confirm_before_answering(response: Response) -> Response:
    """After a request whose view never ran (its parameters refused): a caller taken on
    trust is confirmed before anything is answered, or checked afresh and refused."""
    if "trusted" not in g or _confirmed():
        return response
    refusal = _authorize()
    return response if refusal is None else refusal


def _end_trust(exc: BaseException | None = None) -> None:
    """At the end of every request: nothing is left to go alongside a later statement."""
    _distrust()


def _decide() -> Response | None:
    if request.endpoint is None:
        return None  # no such route: the 404 handler answers
    g.caller = None
    g.caller = _identify()
    view = current_app.view_functions[request.endpoint]
    if getattr(view, "public", False) or request.endpoint.startswith(_PUBLIC_ENDPOINTS):
        # Public pages (the login form) use cookies, so they need the CSRF token; the public
        # API (token, health) sets no cookie and answers only what the body proves.
        if request.method in _UNSAFE and _is_page():
            csrf.protect()
        return None
    if g.caller is None and _open_by_setting(view):
        return None
    if g.caller is None:
        return _deny(401, "Log in first: a session cookie or an Authorization: Bearer token.")
    if g.caller.must_change_password and not getattr(view, "password_change_step", False):
        return _password_change_first()
    needed: frozenset[str] = getattr(view, "capabilities", frozenset())
    if not needed & g.caller.capabilities:
        return _deny(403, "Your role may not do this.")
    if g.caller.kind == "web" and request.method in _UNSAFE:
        csrf.protect()
    return None


def _refuse_unstorable() -> None:
    """Before every view (after the caller is known): text PostgreSQL cannot store is a 400
    wherever it comes, so no field can carry a NUL to the database (see
    :mod:`gridmap.core.storable`). Query parameters, path arguments, form fields (raw
    ``application/x-www-form-urlencoded`` bodies are read as sent, so a view that parses its
    own form, like Open311's, still can) and JSON bodies, member names included."""
    if request.endpoint is None:
        return
    where = storable.first_unstorable(request.args.items(multi=True), "query parameter")
    where = where or storable.first_unstorable((request.view_args or {}).items(), "path")
    where = where or _unstorable_body()
    if where is not None:
        raise InvalidInput(
            f"{where}: {storable.MESSAGE}", errors=[{"field": where, "message": storable.MESSAGE}]
        )


def _unstorable_body() -> str | None:
    if request.mimetype == "application/x-www-form-urlencoded":
        # Cached, so the view (or werkzeug's form parser) reads the same bytes again.
        raw = request.get_data(cache=True).decode("latin-1")
        pairs = parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="replace")
        return storable.first_unstorable(pairs, "form field")
    if request.mimetype == "multipart/form-data":
        return storable.first_unstorable(request.form.items(multi=True), "form field")
    if request.is_json:
        found = storable.unstorable_text(request.get_json(silent=True))
        return None if found is None else f"body member {found}"
    return None


def csp_nonce() -> str:
    """The nonce that lets this response's own inline scripts run."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    nonce: str = g.csp_nonce
    return nonce


def _basemap_source() -> str:
    settings = current_app.extensions["gridmap.settings"]
    if settings.basemap_crs == "none":
        return ""
    parts = urlsplit(settings.basemap_url.replace("{s}", "*"))
    return f" {parts.scheme}://{parts.netloc}" if parts.netloc else ""


#: Refusals of reads that are audited too: access-control failures (ASVS 7.2).
_AUDITED_READ_REFUSALS = (401, 403)
#: Views that audit their own refusals (a failed login names the account and the reason).
_SELF_AUDITED = {("auth.token", 401), ("web.login", 401)}


def _is_audited_refusal(response: Response) -> bool:
    """Whether this answer is a refusal the audit log records: every refused write, reveal
    or login (4xx, signed in or not) and every 401/403 of a read. A 404 on a read is not (a
    missing page is not a refusal), nor a 429: a flood must not become a flood of audit
    writes (flask-limiter logs it); nor a 503, when the database is away."""
    status = response.status_code
    if status < 400 or status in (429, 503) or request.endpoint is None:
        return False
    if (request.endpoint, status) in _SELF_AUDITED:
        return False
    return request.method in _UNSAFE or status in _AUDITED_READ_REFUSALS


def _audit_refusal(response: Response) -> None:
    """A refusal is audited with its outcome and reason (see :func:`_is_audited_refusal`)."""
    if not _is_audited_refusal(response):
        return
    who = getattr(g, "caller", None)
    session = get_session()
    try:
        _record_refusal(session, who, response)
    except DBAPIError:
        log.exception("could not audit a refused write")
        session.rollback()


def _record_refusal(session: Any, who: auth.Caller | None, response: Response) -> None:
    session.rollback()
    args = request.view_args or {}
    detail: dict[str, Any] = {"status": response.status_code, "path": request.path}
    if response.mimetype == "application/problem+json" and not response.is_streamed:
        body = response.get_json(silent=True) or {}
        # The public reason (a rule's name, never the value that broke it).
        detail |= {"code": body.get("code"), "reason": str(body.get("detail", ""))[:300]}
    audit.record(
        session,
        request.endpoint or request.path,
        caller=who,
        object_id=next(iter(args.values()), None),
        outcome="denied" if response.status_code in (401, 403, 404) else "failed",
        origin=origin(),
        detail=detail,
    )
    session.commit()


def _headers(response: Response) -> Response:
    """After every request: audit a refused write, then the security headers."""
    _audit_refusal(response)
    scripts = f"'self' 'nonce-{csp_nonce()}'"
    if request.endpoint and request.endpoint.startswith("swagger."):
        scripts = "'self' 'unsafe-inline'"  # the bundled Swagger UI page inlines its start-up
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:{_basemap_source()}; connect-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    # A signed-in caller's answers are not stored, unless the view marked its answer private
    # (a vector tile a browser may keep for a minute).
    if getattr(g, "caller", None) is not None and not response.cache_control.private:
        response.headers["Cache-Control"] = "no-store"
    return response


#: The challenge of every 401 (RFC 9110 11.6.1): the API takes a bearer token.
WWW_AUTHENTICATE = 'Bearer realm="gridmap"'
#: The statuses whose answers may say when to try again (RFC 9110 10.2.3).
_RETRY_STATUSES = (429, 503)


def _http_semantics(response: Response) -> Response:
    """Last of all hooks: a 401 names its challenge, and ``Retry-After`` stays only on 429
    and 503 (flask-limiter adds it to every answer of a rate-limited request, refusals of
    other kinds included, where it would tell a client to retry what cannot succeed)."""
    if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    if response.status_code not in _RETRY_STATUSES:
        response.headers.pop("Retry-After", None)
    return response


def init_app(app: Flask) -> None:
    """Register authentication, CSRF, rate limits and headers on the app."""
    settings = app.extensions["gridmap.settings"]
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in _authorize, only where a cookie authenticates
        WTF_CSRF_TIME_LIMIT=None,  # the login session's own timeouts bound the token
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_STORAGE_OPTIONS=rate_limits.storage_options(settings.ratelimit_storage_uri),
        RATELIMIT_HEADERS_ENABLED=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions[_RECENT_LOGINS] = auth.RecentLogins()
    csrf.init_app(app)
    limiter.init_app(app)
    rate_limits.init_app(app, settings.ratelimit_storage_uri)
    app.before_request(_authorize)
    app.before_request(_refuse_unstorable)
    app.after_request(_headers)
    # After-request hooks run last-registered first: this one before _headers audits.
    app.after_request(_confirm_before_answering)
    app.teardown_request(_end_trust)
    # After-request hooks run last-registered first: at the front of the list, this one runs
    # after every other (flask-limiter's and those registered later by the app).
    app.after_request_funcs.setdefault(None, []).insert(0, _http_semantics)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
