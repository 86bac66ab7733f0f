"""A resident's request as every list shows it: the one masking rule of the API's answers and
the GIS exports (``gridmap.exports``). Phone and ID numbers typed into the description and the
owner's phone are masked, the owner's name as the reader sees staff names
(:func:`gridmap.core.privacy.disclosure_for`); the timeline and contact are the detail
view's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gridmap.core import clock
from gridmap.core.privacy import Disclosure, mask_phone, mask_text
from gridmap.requests import deadlines, lifecycle


def iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment else None


def warning(row: Any, now: dt.datetime | None = None) -> str | None:
    """红黄牌 of the running stage: green, yellow (due soon) or red (overdue); None if no clock."""
    if row.stage_deadline is None or not lifecycle.clock_runs(row.state):
        return None
    now = now or clock.now()
    return deadlines.warning_level(
        now, row.stage_deadline, row.stage_started_at, basis=row.stage_basis
    )


def properties(row: Any, disclosure: Disclosure) -> dict[str, Any]:
    """A request as every list shows it to ``disclosure``'s reader: masked, no timeline."""
    return {
        "id": row.id,
        "state": row.state,
        "level": row.level,
        "category": {
            "code": row.category_code,
            "name": row.category_name,
            "class": row.event_class,
            "version": row.category_version,
        },
        "description": mask_text(row.description),
        "micro_grid_code": row.micro_grid_code,
        "household_id": row.household_id,
        "owner": {
            "person_id": row.owner_person_id,
            "name": disclosure.staff_name(row.owner_name),
            "phone": mask_phone(row.owner_phone),
            "user_id": row.owner_user_id,
            "department_id": row.department_id,
            "department": row.department,
        },
        "source": row.source,
        "reopen_count": row.reopen_count,
        "rating": row.rating,
        "duplicate_of": row.duplicate_of,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "stage": lifecycle.STAGE_OF[row.state],
        "stage_started_at": iso(row.stage_started_at),
        "stage_deadline": iso(row.stage_deadline),
        "stage_basis": row.stage_basis,
        "urgency": row.urgency,
        "warning": warning(row),
    }
