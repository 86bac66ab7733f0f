"""Administration, split three ways (三员分立): accounts, roles, and the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, current_app
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access import accounts, api_keys, audit
from gridmap.access.auth import ACCOUNTS, AUDIT, ROLES
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.common import Password, Strict, csv_response, no_body
from gridmap.core.db import get_session

bp = APIBlueprint(
    "admin",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="administration")],
    abp_security=params.BEARER,
)


class NewUser(Strict):
    username: str = Field(min_length=3, max_length=40)
    password: Password = Field(description="At least 12 characters, not a common password")


class Grant(Strict):
    role: str
    scope_code: str | None = None
    person_id: int | None = None
    department_id: int | None = Field(None, ge=1, description="role department: its department")
    party_unit_id: int | None = Field(
        None, ge=1, le=2**31 - 1, description="role unit: its unit's party organisation"
    )


class UserPath(BaseModel):
    user_id: int = Field(ge=1)


class NewApiKey(Strict):
    name: str = Field(min_length=1, max_length=100, description="The client application")
    role: str = Field(description="A data role: street_admin, chief, zone_leader, …")
    scope_code: str | None = Field(None, description="A grid code or its 6/9-digit prefix")
    person_id: int | None = Field(None, ge=1, description="A member's person (role member)")


class KeyPath(BaseModel):
    key_id: int = Field(ge=1)


class AuditQuery(params.Query):
    username: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: params.Moment | None = None
    until: params.Moment | None = None
    limit: int = Field(200, ge=1, le=5000)
    before_id: int | None = Field(None, ge=1)


@bp.get("/admin/users", summary="Accounts (system and security administrators)")
@requires(ACCOUNTS, ROLES)
def list_users() -> dict[str, Any]:
    return {"users": accounts.list_users(get_session())}


@bp.post("/admin/users", summary="Create an account; it has no role until one is granted")
@requires(ACCOUNTS)
def create_user(body: NewUser) -> tuple[dict[str, Any], int]:
    user = accounts.create_user(get_session(), body.username, body.password)
    audit_write("user.create", "user", user.id, {"username": user.username})
    return {"id": user.id, "username": user.username}, 201


@bp.post(
    "/admin/users/<int:user_id>/password",
    summary="Reset a password: a one-time password, shown once, that only lets its holder "
    "choose the account's new password (no body; ends the account's logins)",
)
@requires(ACCOUNTS)
def reset_password(path: UserPath) -> dict[str, Any]:
    no_body("the server makes the one-time password (an administrator no longer chooses it)")
    settings = current_app.extensions["gridmap.settings"]
    who = caller()
    reset = accounts.reset_password(
        get_session(),
        path.user_id,
        admin=who.username,
        valid_for=dt.timedelta(hours=settings.one_time_password_hours),
    )
    expires = reset.expires_at.isoformat()
    audit_write("user.password_reset", "user", path.user_id, {"expires_at": expires})
    return {
        "one_time_password": reset.password,
        "expires_at": expires,
        "must_change_password": True,
    }


@bp.put("/admin/users/<int:user_id>/role", summary="Grant a role and scope (ends its sessions)")
@requires(ROLES)
def grant_role(path: UserPath, body: Grant) -> dict[str, str]:
    accounts.grant_role(
        get_session(),
        path.user_id,
        body.role,
        scope_code=body.scope_code,
        person_id=body.person_id,
        department_id=body.department_id,
        party_unit_id=body.party_unit_id,
    )
    audit_write("user.role", "user", path.user_id, body.model_dump())
    return {"status": "role granted"}


@bp.post(
    "/admin/users/<int:user_id>/unlock",
    summary="Lift the login throttling of an account (every address)",
)
@requires(ROLES)
def unlock(path: UserPath) -> dict[str, str]:
    accounts.unlock(get_session(), path.user_id)
    audit_write("user.unlock", "user", path.user_id)
    return {"status": "unlocked"}


@bp.post(
    "/admin/open311-keys",
    summary="Issue an Open311 API key to a client application (system administrator); the "
    "key is shown once",
)
@requires(ACCOUNTS)
def issue_api_key(body: NewApiKey) -> tuple[dict[str, Any], int]:
    issued = api_keys.issue(
        get_session(),
        body.name,
        body.role,
        scope_code=body.scope_code,
        person_id=body.person_id,
        created_by=caller().user_id,
    )
    grant = body.model_dump(exclude={"name"})
    audit_write("api_key.issue", "api_key", issued.id, {"name": issued.name} | grant)
    shown = {"id": issued.id, "name": issued.name, "key_prefix": issued.key_prefix}
    return shown | grant | {"key": issued.key}, 201


@bp.get("/admin/open311-keys", summary="The Open311 API keys, without their secrets")
@requires(ACCOUNTS)
def list_api_keys() -> dict[str, Any]:
    rows = api_keys.list_keys(get_session())
    for r in rows:
        for name in ("created_at", "revoked_at"):
            r[name] = r[name].isoformat() if r[name] else None
    return {"keys": rows}


@bp.post(
    "/admin/open311-keys/<int:key_id>/revoke",
    summary="Revoke an Open311 API key: it authenticates nothing from now on (no body)",
)
@requires(ACCOUNTS)
def revoke_api_key(path: KeyPath) -> dict[str, str]:
    api_keys.revoke(get_session(), path.key_id, by=caller().user_id)
    audit_write("api_key.revoke", "api_key", path.key_id)
    return {"status": "revoked"}


def _search(query: AuditQuery) -> list[dict[str, Any]]:
    return audit.search(get_session(), **query.model_dump())


@bp.get("/audit", summary="Search the audit log (audit administrator)")
@requires(AUDIT)
def search_audit(query: AuditQuery) -> dict[str, Any]:
    rows = _search(query)
    for r in rows:
        r["at"] = r["at"].isoformat()
    return {"entries": rows, "next_before_id": rows[-1]["id"] if len(rows) == query.limit else None}


@bp.get("/audit.csv", summary="Export the audit log as CSV (audit administrator), streamed")
@requires(AUDIT)
def export_audit(query: AuditQuery) -> Response:
    session, filters = get_session(), query.model_dump()
    count, newest = audit.export_extent(session, **filters)
    audit_write("export", "audit", None, {"rows": count})
    found = audit.stream(session, newest or 0, **filters)
    cells = ([r[c] for c in audit.COLUMNS] for r in found)
    return csv_response(list(audit.COLUMNS), cells, "audit.csv")
