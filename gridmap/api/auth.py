"""Tokens for scripts and phones: ``POST /api/v1/auth/token``, logout, who am I."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from gridmap.access import auth
from gridmap.access.security import caller, limiter, origin, public, requires
from gridmap.api import params
from gridmap.api.common import Password, Strict
from gridmap.core.db import get_session

bp = APIBlueprint("auth", __name__, url_prefix="/api/v1/auth", abp_tags=[Tag(name="auth")])


class Credentials(Strict):
    username: str = Field(min_length=1, max_length=40)
    password: Password


def _login_limit() -> str:
    return str(current_app.extensions["gridmap.settings"].login_rate_limit)


@bp.post("/token", summary="Log in and get a bearer token (send it as Authorization: Bearer …)")
@limiter.limit(_login_limit)
@public
def token(body: Credentials) -> dict[str, Any]:
    settings = current_app.extensions["gridmap.settings"]
    who, secret = auth.login(
        get_session(),
        body.username,
        body.password,
        kind="bearer",
        settings=settings,
        origin=origin(),
    )
    return {
        "token": secret,
        "token_type": "Bearer",
        "idle_timeout_minutes": settings.idle_timeout_minutes,
        "absolute_timeout_hours": settings.absolute_timeout_hours,
        "user": _describe(who),
    }


@bp.post(
    "/logout",
    summary="End this token's or this browser's session on the server",
    security=params.BEARER,
)
@requires(auth.SIGNED_IN)
def logout() -> dict[str, str]:
    auth.logout(get_session(), caller(), origin())
    return {"status": "logged out"}


@bp.get(
    "/me", summary="Who is calling: username, role, scope and capabilities", security=params.BEARER
)
@requires(auth.SIGNED_IN)
def me() -> dict[str, Any]:
    return _describe(caller())


def _describe(who: auth.Caller) -> dict[str, Any]:
    return {
        "username": who.username,
        "role": who.role,
        "scope": list(who.scope.prefixes),
        "capabilities": sorted(who.capabilities),
    }
