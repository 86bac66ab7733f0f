"""The outbox's queries: putting a message in, claiming the next one due (``FOR UPDATE SKIP
LOCKED``), recording its delivery with its outcome, opt-outs, and the lists of the page
(a staff member's messages) and of the demo's log (what was, or would have been, sent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from gridmap.storage.models import (
    Department,
    NotificationDelivery,
    NotificationOptout,
    Outbox,
    Person,
    ResidentRequest,
    User,
)

#: The recipient columns an opt-out may name.
OPTOUT_COLUMNS = ("phone", "user_id", "person_id", "department_id")


def add_message(session: Session, values: dict[str, Any]) -> bool:
    """Put a message in the outbox unless this stage run already has one of its kind."""
    stmt = (
        pg_insert(Outbox)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_outbox_stage_run_kind")
        .returning(Outbox.id)
    )
    return session.execute(stmt).first() is not None


def tracking_number(session: Session, request_id: int) -> str | None:
    """The 查询码 of a request filed on the public channel (公众上报), else None."""
    return session.scalar(
        select(ResidentRequest.tracking_number).where(ResidentRequest.id == request_id)
    )


def department_name(session: Session, department_id: int | None) -> str | None:
    return session.scalar(select(Department.name).where(Department.id == department_id))


def claim_next(session: Session, now: dt.datetime) -> Outbox | None:
    """The oldest message due at ``now``, locked until the transaction ends; messages other
    senders hold are skipped, not waited for."""
    stmt = (
        select(Outbox)
        .where(Outbox.outcome.is_(None), Outbox.next_attempt_at <= now)
        .order_by(Outbox.next_attempt_at, Outbox.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.scalar(stmt)


def contacts(session: Session, message: Outbox) -> dict[str, str | None]:
    """Where a message can go: the recipient's phone (a person's or the resident's), its
    department's WeCom group robot."""
    phone = message.recipient_phone
    if phone is None and message.recipient_person_id is not None:
        phone = session.scalar(select(Person.phone).where(Person.id == message.recipient_person_id))
    robot = None
    if message.recipient_department_id is not None:
        robot = session.scalar(
            select(Department.wecom_webhook).where(Department.id == message.recipient_department_id)
        )
    return {"phone": phone, "wecom": robot}


def opted_out(session: Session, message: Outbox) -> bool:
    """Whether the message's recipient asked to receive nothing."""
    named = {
        "phone": message.recipient_phone,
        "user_id": message.recipient_user_id,
        "person_id": message.recipient_person_id,
        "department_id": message.recipient_department_id,
    }
    tests = [
        getattr(NotificationOptout, column) == value
        for column, value in named.items()
        if value is not None
    ]
    if not tests:
        return False
    return bool(session.scalar(select(select(NotificationOptout.id).where(or_(*tests)).exists())))


def record_delivery(session: Session, values: dict[str, Any]) -> None:
    """What was delivered on one channel (once per message and channel)."""
    stmt = (
        pg_insert(NotificationDelivery)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_notification_delivery_message_channel")
    )
    session.execute(stmt)


def delivered_channels(session: Session, outbox_id: int) -> set[str]:
    """The channels a message was already delivered on (a retry skips them)."""
    stmt = select(NotificationDelivery.channel).where(NotificationDelivery.outbox_id == outbox_id)
    return set(session.scalars(stmt))


def finish(session: Session, outbox_id: int, outcome: str, now: dt.datetime) -> None:
    sent_at = now if outcome == "sent" else None
    session.execute(
        update(Outbox).where(Outbox.id == outbox_id).values(outcome=outcome, sent_at=sent_at)
    )


def retry_later(
    session: Session,
    outbox_id: int,
    *,
    at: dt.datetime,
    error: str | None,
    attempted: bool,
    refused: bool,
) -> None:
    """Try the message again at ``at``; ``attempted``: a try was made (counts towards the
    maximum); ``refused``: the provider answered no, so the next try needs a new key."""
    session.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id)
        .values(
            next_attempt_at=at,
            last_error=error,
            attempts=Outbox.attempts + int(attempted),
            key_round=Outbox.key_round + int(refused),
        )
    )


def prune(session: Session, keep_days: int) -> int:
    """Delete the messages done with (sent, refused or given up) written more than
    ``keep_days`` ago (never fewer than 30), with their deliveries; returns the messages
    removed (``gridmap_prune_outbox``, migration 0040). A message still due is kept whatever its
    age. Nothing puts a pruned message in again: the outbox's key only stops a second copy
    while the first is there, and each writer runs once per cause (a transition's notices in
    its transaction, a card's reminder only when its card is new)."""
    return int(session.scalar(select(func.gridmap_prune_outbox(keep_days))) or 0)


def set_optout(session: Session, column: str, value: object, out: bool) -> None:
    """Opt a recipient out (``out``) or back in."""
    if column not in OPTOUT_COLUMNS:
        raise ValueError(f"column must be one of {', '.join(OPTOUT_COLUMNS)}, not {column!r}")
    if out:
        stmt = pg_insert(NotificationOptout).values({column: value}).on_conflict_do_nothing()
        session.execute(stmt)
    else:
        session.execute(
            delete(NotificationOptout).where(getattr(NotificationOptout, column) == value)
        )


def is_set_optout(session: Session, column: str, value: object) -> bool:
    found = select(NotificationOptout.id).where(getattr(NotificationOptout, column) == value)
    return bool(session.scalar(select(found.exists())))


def for_recipient(
    session: Session,
    user_id: int,
    person_id: int | None,
    department_id: int | None,
    limit: int,
) -> list[Row[Any]]:
    """A staff member's messages, newest first: to the account, its person or its
    department."""
    mine = [Outbox.recipient_user_id == user_id]
    if person_id is not None:
        mine.append(Outbox.recipient_person_id == person_id)
    if department_id is not None:
        mine.append(Outbox.recipient_department_id == department_id)
    stmt = (
        select(
            Outbox.id,
            Outbox.kind,
            Outbox.request_id,
            Outbox.payload["text"].astext.label("text"),
            Outbox.urgent,
            Outbox.created_at,
        )
        .where(or_(*mine))
        .order_by(Outbox.created_at.desc(), Outbox.id.desc())
        .limit(limit)
    )
    return list(session.execute(stmt))


def person_of(session: Session, user_id: int) -> int | None:
    return session.scalar(select(User.person_id).where(User.id == user_id))


def deliveries(session: Session, limit: int) -> list[Row[Any]]:
    """The log of what was sent or would have been, newest first, with the message's kind."""
    stmt = (
        select(
            NotificationDelivery.id,
            NotificationDelivery.outbox_id,
            Outbox.kind,
            NotificationDelivery.channel,
            NotificationDelivery.recipient,
            NotificationDelivery.text,
            NotificationDelivery.dry_run,
            NotificationDelivery.delivered_at,
        )
        .join(Outbox, Outbox.id == NotificationDelivery.outbox_id)
        .order_by(NotificationDelivery.delivered_at.desc(), NotificationDelivery.id.desc())
        .limit(limit)
    )
    return list(session.execute(stmt))


def unfinished(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(Outbox.outcome.is_(None))) or 0)
