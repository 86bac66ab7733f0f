"""职能部门: the departments a street may summon, read by staff and the administrators,
recorded by the system administrator."""

from __future__ import annotations

from typing import Any, Literal

from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import ACCOUNTS, READ, ROLES
from gridmap.access.security import audit_write, requires
from gridmap.api import params
from gridmap.api.common import Strict
from gridmap.core.db import get_session
from gridmap.requests import departments as domain
from gridmap.storage import departments as store
from gridmap.storage.models import DEPARTMENT_KINDS

bp = APIBlueprint(
    "departments",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="departments")],
    abp_security=params.BEARER,
)

Kind = Literal[DEPARTMENT_KINDS]  # type: ignore[valid-type]


class DepartmentQuery(Strict, params.Query):
    serving: str | None = Field(
        None, pattern=r"^[0-9]{6,17}$", description="Only active ones serving this grid code"
    )


class DepartmentPath(BaseModel):
    department_id: int = Field(ge=1, le=2_147_483_647)


class NewDepartment(Strict):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,39}$")
    name: str = Field(min_length=1, max_length=100, description="Its Chinese name")
    kind: Kind = Field(description="城管, 住建, 市场监管, 供热, 供水, 公安派出所…")
    scope_code: str = Field(
        pattern=r"^([0-9]{6}|[0-9]{9})$", description="The district or street it serves"
    )


class WeComRobot(Strict):
    url: str | None = Field(
        max_length=500,
        description="The group robot's webhook (https://qyapi.weixin.qq.com/cgi-bin/webhook/"
        "send?key=…), or null to remove it",
    )


def _shown(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "kind": row.kind,
        "scope_code": row.scope_code,
        "active": row.active,
    }


@bp.get("/departments", summary="Departments (职能部门), optionally those serving a place")
@requires(READ, ACCOUNTS, ROLES)
def list_departments(query: DepartmentQuery) -> dict[str, Any]:
    rows = store.list_departments(get_session(), query.serving)
    return {"departments": [_shown(r) for r in rows]}


@bp.post("/admin/departments", summary="Record a department (system administrator)")
@requires(ACCOUNTS)
def create_department(body: NewDepartment) -> tuple[dict[str, Any], int]:
    session = get_session()
    new_id = domain.create(session, body.code, body.name, body.kind, body.scope_code)
    audit_write("department.create", "department", new_id, body.model_dump())
    found = store.get_department(session, new_id)
    return _shown(found), 201


@bp.put(
    "/admin/departments/<int:department_id>/wecom-robot",
    summary="Set or remove a department's WeCom group robot (system administrator)",
)
@requires(ACCOUNTS)
def set_wecom_robot(path: DepartmentPath, body: WeComRobot) -> dict[str, Any]:
    host = domain.set_wecom_webhook(get_session(), path.department_id, body.url)
    # The webhook's key is a secret: the audit log keeps its host only.
    audit_write("department.wecom_robot", "department", path.department_id, {"host": host})
    return {"department_id": path.department_id, "host": host}
