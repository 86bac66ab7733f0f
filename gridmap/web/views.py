"""Page views: thin adapters from a request to a map builder and a template."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from gridmap import auth
from gridmap.auth import READ, SIGNED_IN
from gridmap.db import get_session
from gridmap.errors import GridmapError
from gridmap.security import SESSION_COOKIE, caller, limiter, origin, public, requires
from gridmap.settings import Settings
from gridmap.web.maps import build_grid_map, render_parts

# The web package owns every asset (Leaflet under vendor/, the page's own under js/ and css/).
# They are served at /assets because Flask always claims /static for the app's own static
# route, which would shadow a blueprint's route at the same path.
bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)


def _asset_url(path: str) -> str:
    return url_for("web.static", filename=path)


@bp.get("/")
@requires(READ)
def grid_map_page() -> str:
    """网格地图: the grid chief's map page (communities, zones, micro-grids, households)."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    grid_map = build_grid_map(
        settings, asset_url=_asset_url, api_root=f"{request.script_root}/api/v1"
    )
    return render_template("map.html", map=render_parts(grid_map))


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never send a user on to another host after login."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or urlsplit(target).netloc
    ):
        return url_for("web.grid_map_page")
    return target


@bp.get("/login")
@public
def login_form() -> str:
    return render_template("login.html", next=request.args.get("next"), error=None)


@bp.post("/login")
@limiter.limit(lambda: str(current_app.extensions["gridmap.settings"].login_rate_limit))
@public
def login() -> Response | tuple[str, int]:
    """Check the password; on success set the session cookie and go where the user was going."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    username = request.form.get("username", "")
    try:
        _, token = auth.login(
            get_session(),
            username,
            request.form.get("password", ""),
            kind="web",
            settings=settings,
            origin=origin(),
        )
    except GridmapError as exc:
        page = render_template(
            "login.html", next=request.args.get("next"), error=exc.detail, username=username
        )
        return page, exc.status
    response = redirect(_safe_next(request.args.get("next")))
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="Lax", secure=request.is_secure, path="/"
    )
    return response  # type: ignore[return-value]


@bp.post("/logout")
@requires(SIGNED_IN)
def logout() -> Response:
    auth.logout(get_session(), caller(), origin())
    response = redirect(url_for("web.login_form"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response  # type: ignore[return-value]
