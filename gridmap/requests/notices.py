"""通知: the messages a request's events put in the outbox, in the transaction of the event.

One place decides who is told what (:func:`after_intake`, :func:`after_move`, called by
:mod:`gridmap.requests.service`): a new owner (an account or a person) is told the request
was assigned (派单) or returned (退单) to them; a summoned department (街乡吹哨) is told
through its accounts' list and its WeCom group robot; the resident, at the request's contact
phone, is told it was accepted, completed, and asked to rate it (by its tracking number,
查询码, when it was filed on the public channel). The texts are the
glossary's (``MESSAGES``). The scheduler's reminders (due soon, overdue) are the sweep's
(:mod:`gridmap.requests.sweeps`). Delivery is :mod:`gridmap.notify.sender`'s.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy.orm import Session

from gridmap.core import glossary
from gridmap.requests import lifecycle
from gridmap.storage import notifications as store
from gridmap.storage.models import Category

#: What the resident is told after each action (at the request's contact phone).
TO_RESIDENT: Final[dict[str, tuple[str, ...]]] = {
    "accept": ("accepted",),
    "complete": ("completed", "please_rate"),
}


@dataclass(frozen=True)
class Subject:
    """A request as its event leaves it: what the messages need to know."""

    id: int
    state: str
    level: str
    urgency: str
    contact_phone: str | None
    owner_user_id: int | None
    owner_person_id: int | None
    department_id: int | None


def after_intake(session: Session, row: Subject, category: Category, now: dt.datetime) -> int:
    """Tell the first owner of a new request (not committed); returns the messages added."""
    return _to_owner(session, row, category, "assigned", now)


def after_move(
    session: Session,
    row: Subject,
    action: str,
    handed_over: bool,
    category: Category,
    now: dt.datetime,
) -> int:
    """Tell whom ``action`` concerns, ``row`` as it is after it (not committed); returns the
    messages added. ``handed_over``: the request has a new owner (escalate, return,
    reassign)."""
    added = 0
    if handed_over and row.department_id is not None and row.level == "department":
        added += _to_department(session, row, category, now)
    elif handed_over:
        kind = "returned" if action == "return" else "assigned"
        added += _to_owner(session, row, category, kind, now)
    for kind in TO_RESIDENT.get(action, ()):
        added += _to_resident(session, row, category, kind, now)
    return added


def _text(kind: str, row: Subject, category: Category, **more: str) -> str:
    return glossary.MESSAGES[kind].format(id=row.id, category=category.name, **more)


def _message(
    row: Subject, category: Category, kind: str, now: dt.datetime, text: str
) -> dict[str, Any]:
    return {
        "kind": kind,
        "request_id": row.id,
        "stage": lifecycle.STAGE_OF[cast("lifecycle.State", row.state)],
        "stage_started_at": now,
        "created_at": now,
        "next_attempt_at": now,
        "payload": {
            "text": text,
            "request_id": row.id,
            "category": category.code,
            "level": row.level,
            "department_id": row.department_id,
        },
    }


def _to_owner(
    session: Session, row: Subject, category: Category, kind: str, now: dt.datetime
) -> int:
    if row.owner_user_id is None and row.owner_person_id is None:
        return 0  # a level's whole scope: its list shows the request itself
    values = _message(row, category, kind, now, _text(kind, row, category))
    values |= {
        "recipient_user_id": row.owner_user_id,
        "recipient_person_id": row.owner_person_id,
        "urgent": row.urgency != "normal",
    }
    return int(store.add_message(session, values))


def _to_department(session: Session, row: Subject, category: Category, now: dt.datetime) -> int:
    name = store.department_name(session, row.department_id) or ""
    values = _message(
        row, category, "summoned", now, _text("summoned", row, category, department=name)
    )
    values |= {"recipient_department_id": row.department_id, "urgent": row.urgency != "normal"}
    return int(store.add_message(session, values))


def _to_resident(
    session: Session, row: Subject, category: Category, kind: str, now: dt.datetime
) -> int:
    if not row.contact_phone:
        return 0
    # A request filed on the public channel is known to its resident by its 查询码.
    number = store.tracking_number(session, row.id)
    text = glossary.MESSAGES[kind].format(id=number or row.id, category=category.name)
    values = _message(row, category, kind, now, text)
    values |= {"recipient_phone": row.contact_phone, "urgent": False}
    return int(store.add_message(session, values))
