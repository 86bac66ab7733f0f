"""Tokens for scripts and phones: ``POST /api/v1/auth/token``, logout, who am I (with the
account's unread notices), and changing one's own password."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from gridmap.access import accounts, auth
from gridmap.access.security import (
    audit_write,
    caller,
    limiter,
    origin,
    password_change_step,
    public,
    requires,
)
from gridmap.api import params
from gridmap.api.common import Password, Strict
from gridmap.core.db import get_session

bp = APIBlueprint("auth", __name__, url_prefix="/api/v1/auth", abp_tags=[Tag(name="auth")])


class Credentials(Strict):
    username: str = Field(min_length=1, max_length=40)
    password: Password


class PasswordChange(Strict):
    current_password: Password = Field(description="The password now, or the one-time password")
    new_password: Password = Field(
        description="At least 12 characters, not a common password, not the current one"
    )


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
@password_change_step
def logout() -> dict[str, str]:
    auth.logout(get_session(), caller(), origin())
    return {"status": "logged out"}


@bp.get(
    "/me", summary="Who is calling: username, role, scope and capabilities", security=params.BEARER
)
@requires(auth.SIGNED_IN)
@password_change_step
def me() -> dict[str, Any]:
    who = caller()
    unread = accounts.notices(get_session(), who.user_id, unread_only=True)
    return _describe(who) | {"notices": unread}


@bp.post(
    "/password",
    summary="Change your own password (the one step open after a login with a one-time "
    "password); ends your other logins",
    security=params.BEARER,
)
@requires(auth.SIGNED_IN)
@password_change_step
def change_password(body: PasswordChange) -> dict[str, str]:
    who = caller()
    accounts.change_password(
        get_session(),
        who.user_id,
        body.current_password,
        body.new_password,
        keep_session=who.session_id,
    )
    audit_write("user.password_change", "user", who.user_id)
    return {"status": "password changed"}


@bp.post(
    "/notices/read",
    summary="Mark your unread notices (GET /api/v1/auth/me) read",
    security=params.BEARER,
)
@requires(auth.SIGNED_IN)
@password_change_step
def read_notices() -> dict[str, int]:
    marked = accounts.mark_notices_read(get_session(), caller().user_id)
    audit_write("user.notices_read", "user", caller().user_id, {"notices": marked})
    return {"read": marked}


def _describe(who: auth.Caller) -> dict[str, Any]:
    return {
        "username": who.username,
        "role": who.role,
        "scope": list(who.scope.prefixes),
        "capabilities": sorted(who.capabilities),
        "must_change_password": who.must_change_password,
    }
