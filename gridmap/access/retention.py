"""How long the growing tables keep their rows, and the purge that applies it.

Every table that grows with use is in ``RULES``: either a window after which rows go, or the
reason they stay. ``flask gridmap prune`` applies the windows (daily, from the job runner
where it runs, or cron). The tables partitioned by month (:mod:`gridmap.storage.partitions`)
lose whole months at once where their window allows.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.core.settings import Settings
from gridmap.storage import notifications
from gridmap.storage.models import AuthSession, IdempotencyKey

#: A login that ended stays a day, so "signed out at …" can still be shown and audited.
ENDED_SESSION_GRACE = dt.timedelta(days=1)


class Rule(NamedTuple):
    table: str
    kept: str


RULES = (
    Rule("idempotency_key", "GRIDMAP_IDEMPOTENCY_KEEP_HOURS (48 h), then deleted"),
    Rule("auth_session", "a day after the login ended (logout, idle or absolute timeout)"),
    Rule(
        "audit_log",
        "GRIDMAP_AUDIT_RETENTION_DAYS (≥ 180 days), then deleted: whole months by dropping "
        "their partition, the rest row by row, the chain's anchor moved to the last row gone",
    ),
    Rule(
        "patrol_point",
        "kept: the raw fixes are the evidence behind each cleaned track (a partition per "
        "month of the patrols' start, so a window could drop whole months)",
    ),
    Rule("patrol, patrol_check_in, patrol_reach", "kept: the record of the work done"),
    Rule(
        "resident_request, request_event",
        "kept: the case file of every request (request_event has a partition per month)",
    ),
    Rule(
        "public_code, public_captcha",
        "a day after they expired, unused, with the photos of the filing never made "
        "(gridmap.public.service.forget); a code that filed a request is kept with it",
    ),
    Rule(
        "outbox, notification_delivery",
        "GRIDMAP_OUTBOX_KEEP_DAYS (180 days) after a message was written, once it is done "
        "with (sent, refused, given up), then deleted with its deliveries",
    ),
    Rule("grid, household, person, assignment, coverage", "kept: validity history (at=)"),
)


def purge(session: Session, settings: Settings, now: dt.datetime) -> dict[str, int]:
    """Delete what is past its window; returns the rows removed per table. The caller
    commits."""
    keys = session.scalars(
        delete(IdempotencyKey)
        .where(
            IdempotencyKey.created_at < now - dt.timedelta(hours=settings.idempotency_keep_hours)
        )
        .returning(IdempotencyKey.key)
    ).all()
    ended_before = now - ENDED_SESSION_GRACE
    sessions = session.scalars(
        delete(AuthSession)
        .where(
            or_(
                AuthSession.revoked_at < ended_before,
                AuthSession.last_seen_at
                < ended_before - dt.timedelta(minutes=settings.idle_timeout_minutes),
                AuthSession.created_at
                < ended_before - dt.timedelta(hours=settings.absolute_timeout_hours),
            )
        )
        .returning(AuthSession.id)
    ).all()
    return {
        "idempotency_key": len(keys),
        "auth_session": len(sessions),
        "audit_log": audit.prune(session, settings.audit_retention_days),
        "outbox": notifications.prune(session, settings.outbox_keep_days),
    }
