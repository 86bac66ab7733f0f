"""通知: a staff member's own messages (the pages' bell), their opt-out, and the log of what
the sender delivered (or, in the demo, would have)."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from gridmap.access.auth import ACCOUNTS, SIGNED_IN
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.common import Strict
from gridmap.core import privacy
from gridmap.core.db import get_session
from gridmap.core.errors import InvalidInput, NotFound
from gridmap.storage import notifications as store

bp = APIBlueprint(
    "notifications",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="notifications")],
    abp_security=params.BEARER,
)


class ListQuery(params.Query):
    limit: int = Field(50, ge=1, le=500)


class OptOutBody(Strict):
    out: bool = Field(description="true: receive nothing but the page's own list")


class RecipientOptOutBody(Strict):
    """A resident's phone (退订, e.g. after a reply to an SMS) or a department's robot."""

    phone: str | None = Field(None, pattern=r"^[0-9+\-]{5,20}$")
    department_id: int | None = Field(None, ge=1)
    out: bool


@bp.get("/notifications", summary="My notifications, newest first (the pages' bell)")
@requires(SIGNED_IN)
def mine(query: ListQuery) -> dict[str, Any]:
    session, who = get_session(), caller()
    person = who.scope.person_id or store.person_of(session, who.user_id)
    rows = store.for_recipient(session, who.user_id, person, who.scope.department_id, query.limit)
    return {
        "items": [
            {
                "id": r.id,
                "kind": r.kind,
                "request_id": r.request_id,
                "text": r.text,
                "urgent": r.urgent,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ],
        "opted_out": store.is_set_optout(session, "user_id", who.user_id),
    }


@bp.put("/notifications/opt-out", summary="Opt my account out of notifications, or back in")
@requires(SIGNED_IN)
def opt_out(body: OptOutBody) -> dict[str, Any]:
    who = caller()
    store.set_optout(get_session(), "user_id", who.user_id, body.out)
    audit_write("user.notifications_optout", "user", who.user_id, {"out": body.out})
    return {"opted_out": body.out}


@bp.put(
    "/notifications/opt-outs",
    summary="Opt a phone or a department out of notifications, or back in",
)
@requires(ACCOUNTS)
def opt_out_recipient(body: RecipientOptOutBody) -> dict[str, Any]:
    named = {"phone": body.phone, "department_id": body.department_id}
    given = {column: value for column, value in named.items() if value is not None}
    if len(given) != 1:
        raise InvalidInput("name one recipient: phone or department_id")
    [(column, value)] = given.items()
    session = get_session()
    if column == "department_id" and store.department_name(session, int(value)) is None:
        raise NotFound(f"There is no department {value}.")
    store.set_optout(session, column, value, body.out)
    if column == "phone":
        audit_write(
            "notification.optout", "phone", privacy.mask_phone(str(value)), {"out": body.out}
        )
    else:
        audit_write("notification.optout", "department", value, {"out": body.out})
    return {"opted_out": body.out}


@bp.get("/notifications/sent", summary="What was sent (or, in the demo, would have been)")
@requires(ACCOUNTS)
def sent(query: ListQuery) -> dict[str, Any]:
    rows = store.deliveries(get_session(), query.limit)
    return {
        "items": [
            {
                "id": r.id,
                "outbox_id": r.outbox_id,
                "kind": r.kind,
                "channel": r.channel,
                "recipient": r.recipient,
                "text": r.text,
                "dry_run": r.dry_run,
                "delivered_at": r.delivered_at.isoformat(),
            }
            for r in rows
        ]
    }
