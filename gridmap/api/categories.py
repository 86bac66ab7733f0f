"""The request category catalogue: read by everyone signed in, revised by the system
administrator. A revision is a new version; requests keep the rules they were filed under."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import CATALOGUE, SIGNED_IN
from gridmap.access.security import audit_write, requires
from gridmap.api import params
from gridmap.api.common import Strict
from gridmap.core.db import get_session
from gridmap.requests import deadlines
from gridmap.requests import service as domain
from gridmap.requests.lifecycle import Level
from gridmap.storage import requests as store

bp = APIBlueprint(
    "categories",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="categories")],
    abp_security=params.BEARER,
)


class CategoryPath(BaseModel):
    code: str = Field(pattern=r"^[a-z0-9._-]{1,40}$")


_STAGE_LIMIT: dict[str, Any] = {
    "type": "object",
    "required": ["amount", "unit"],
    "additionalProperties": False,
    "properties": {
        "amount": {"type": "integer", "minimum": 0, "maximum": deadlines.MAX_AMOUNT},
        "unit": {"enum": ["hours", "days"]},
        "basis": {"enum": list(deadlines.BASES), "default": "working"},
    },
}


class CategoryChange(Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    event_class: str | None = Field(None, min_length=1, max_length=10)
    description: str | None = Field(None, max_length=2000)
    default_level: Level | None = None
    time_limits: dict[str, Any] | None = Field(
        None,
        description='Per stage: {"response": {"amount": 1, "unit": "hours", "basis": "clock"}, '
        "…}; unit hours or days, basis clock (elapsed time: emergencies, utilities) or working "
        "(working time, the default when left out); checked stage by stage (400 naming it)",
        json_schema_extra={"additionalProperties": _STAGE_LIMIT},
    )
    escalate_on_lapse: list[str] | None = Field(
        None,
        description="Stages (response, handling) whose lapse climbs the request one level by "
        "itself, never beyond the street",
    )
    requires_check: bool | None = Field(
        None, description="核查: a verifier's on-site check with a photo is needed to close"
    )
    requires_after_photo: bool | None = Field(
        None, description="处置后照片: completing needs an uploaded 'after' photo of the result"
    )
    open_to_public: bool | None = Field(
        None, description="公众上报: residents may choose it on the public channel"
    )


def _describe(category: Any) -> dict[str, Any]:
    return {
        "code": category.code,
        "name": category.name,
        "event_class": category.event_class,
        "description": category.description,
        "default_level": category.default_level,
        "time_limits": {
            stage: limit | {"basis": domain.basis_of(limit)} if isinstance(limit, dict) else limit
            for stage, limit in category.time_limits.items()
        },
        "escalate_on_lapse": category.escalate_on_lapse,
        "requires_check": category.requires_check,
        "requires_after_photo": category.requires_after_photo,
        "open_to_public": category.open_to_public,
        "version": category.version,
    }


@bp.get("/categories", summary="The current request categories with their time limits")
@requires(SIGNED_IN)
def list_categories() -> dict[str, Any]:
    return {"categories": [_describe(c) for c in store.current_categories(get_session())]}


@bp.put("/categories/<code>", summary="Revise a category: a new version (system administrator)")
@requires(CATALOGUE)
def revise_category(path: CategoryPath, body: CategoryChange) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    revised = domain.revise_category(get_session(), path.code, **changes)
    audit_write("category.revise", "category", path.code, changes | {"version": revised.version})
    return _describe(revised)
