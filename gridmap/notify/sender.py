"""The sender: delivers the outbox, one message per transaction, exactly once.

Each message is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (two senders never hold the
same one), delivered on its channels, and marked sent in the same transaction that records
the provider's answer (``notification_delivery``). A sender killed between the provider's
answer and the commit leaves the message unsent: the next try sends it again with the same
idempotency key (``gridmap-<id>-<key_round>``), which the SMS gateway refuses as seen, so
the resident gets it once. A refused message (the provider answered no) waits with
exponential backoff (``GRIDMAP_NOTIFY_BACKOFF_SECONDS`` doubling up to
``GRIDMAP_NOTIFY_BACKOFF_MAX_SECONDS``) and a new key, and is given up after
``GRIDMAP_NOTIFY_MAX_ATTEMPTS`` tries. Non-urgent SMS and WeCom messages wait out quiet hours
(Beijing time); a recipient who opted out gets nothing (its staff list still shows it) but
what they asked for just now (a public filing's code, ``OUTBOX_ASKED_FOR``).

Where a message goes: the resident's phone by SMS; a department's group robot (when it has
one) and its accounts' list; a staff member's list (``GET /api/v1/notifications``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Final

from sqlalchemy.orm import Session

from gridmap.core import clock, privacy
from gridmap.core.settings import Settings
from gridmap.notify import channels
from gridmap.notify.channels import Answer, Channel, Letter
from gridmap.storage import notifications as store
from gridmap.storage.models import OUTBOX_ASKED_FOR, Outbox

#: Channels that reach a person's phone or group: these keep quiet hours.
LOUD: Final = frozenset({"sms", "wecom"})


@dataclass(frozen=True)
class Policy:
    """Quiet hours (Beijing time; equal ends: none), retries and their backoff."""

    quiet_from: dt.time | None = None
    quiet_until: dt.time | None = None
    backoff: dt.timedelta = dt.timedelta(minutes=1)
    backoff_max: dt.timedelta = dt.timedelta(hours=1)
    max_attempts: int = 8

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        quiet = settings.notify_quiet_hours
        start, end = quiet.split("-") if quiet else (None, None)
        return cls(
            dt.time.fromisoformat(start) if start else None,
            dt.time.fromisoformat(end) if end else None,
            dt.timedelta(seconds=settings.notify_backoff_seconds),
            dt.timedelta(seconds=settings.notify_backoff_max_seconds),
            settings.notify_max_attempts,
        )

    def quiet_end(self, now: dt.datetime) -> dt.datetime | None:
        """When the quiet hours ``now`` falls in end, or None when it is not quiet."""
        if (
            self.quiet_from is None
            or self.quiet_until is None
            or self.quiet_from == self.quiet_until
        ):
            return None
        local = now.astimezone(clock.BEIJING)
        t = local.time()
        if self.quiet_from < self.quiet_until:
            quiet = self.quiet_from <= t < self.quiet_until
        else:
            quiet = t >= self.quiet_from or t < self.quiet_until
        if not quiet:
            return None
        end = local.replace(
            hour=self.quiet_until.hour, minute=self.quiet_until.minute, second=0, microsecond=0
        )
        return end if end > local else end + dt.timedelta(days=1)

    def retry_at(self, now: dt.datetime, attempts: int) -> dt.datetime:
        """When try number ``attempts + 1`` is due, ``attempts`` tries having failed."""
        wait: dt.timedelta = min(self.backoff * 2 ** max(attempts - 1, 0), self.backoff_max)
        return now + wait


@dataclass(frozen=True)
class Outlet:
    """The channels by name: ``sms``, ``wecom``, ``page``."""

    by_name: dict[str, Channel]

    @classmethod
    def of(cls, settings: Settings) -> Outlet:
        if settings.notify_mode == "log":
            recorder = channels.Recorder()
            return cls({"sms": recorder, "wecom": recorder, "page": channels.Page()})
        sms = channels.AliyunSms(
            settings.sms_endpoint,
            settings.sms_access_key_id,
            settings.sms_access_key_secret,
            settings.sms_sign_name,
            settings.sms_template,
            settings.notify_timeout_seconds,
        )
        robot = channels.WeComRobot(settings.notify_timeout_seconds)
        return cls({"sms": sms, "wecom": robot, "page": channels.Page()})


def send_due(
    session: Session, outlet: Outlet, policy: Policy, *, batch: int = 500
) -> dict[str, int]:
    """Deliver up to ``batch`` messages due now, committing after each; returns how many were
    sent, deferred (quiet hours), retried, given up or not sent (opted out)."""
    done: Counter[str] = Counter()
    for _ in range(batch):
        now = clock.now()
        message = store.claim_next(session, now)
        if message is None:
            break
        done[deliver(session, message, outlet, policy, now)] += 1
        session.commit()
    return dict(done)


def routes(session: Session, message: Outbox) -> list[tuple[str, str, str]]:
    """(channel, address, address as logged) of a message, the page's list last."""
    found = store.contacts(session, message)
    out: list[tuple[str, str, str]] = []
    if message.recipient_phone and found["phone"]:
        phone = found["phone"]
        out.append(("sms", phone, privacy.mask_phone(phone) or ""))
    if found["wecom"]:
        out.append(("wecom", found["wecom"], f"department {message.recipient_department_id}"))
    for column in ("recipient_user_id", "recipient_person_id", "recipient_department_id"):
        if getattr(message, column) is not None:
            who = column.removeprefix("recipient_").removesuffix("_id")
            out.append(("page", "", f"{who} {getattr(message, column)}"))
            break
    return out


def deliver(
    session: Session, message: Outbox, outlet: Outlet, policy: Policy, now: dt.datetime
) -> str:
    """Deliver one claimed message (not committed); returns what became of it."""
    if message.kind not in OUTBOX_ASKED_FOR and store.opted_out(session, message):
        store.finish(session, message.id, "opted_out", now)
        return "opted_out"
    ways = routes(session, message)
    quiet_end = None if message.urgent else policy.quiet_end(now)
    if quiet_end is not None and any(name in LOUD for name, _, _ in ways):
        store.retry_later(
            session, message.id, at=quiet_end, error=None, attempted=False, refused=False
        )
        return "deferred"
    done = store.delivered_channels(session, message.id)
    text = str(message.payload.get("text", ""))
    key = f"gridmap-{message.id}-{message.key_round}"
    for name, address, shown in ways:
        if name in done:
            continue
        channel = outlet.by_name[name]
        answer = channel.send(Letter(address, text, key, message.id, message.request_id))
        if not answer.ok:
            return _failed(session, message, answer, policy, now)
        store.record_delivery(
            session,
            {
                "outbox_id": message.id,
                "channel": name,
                "recipient": shown,
                "text": text,
                "dry_run": channel.dry_run,
                "answer": answer.detail,
                "delivered_at": now,
            },
        )
    store.finish(session, message.id, "sent", now)
    return "sent"


def _failed(
    session: Session, message: Outbox, answer: Answer, policy: Policy, now: dt.datetime
) -> str:
    attempts = message.attempts + 1
    if attempts >= policy.max_attempts:
        store.retry_later(
            session, message.id, at=now, error=answer.error, attempted=True, refused=answer.refused
        )
        store.finish(session, message.id, "gave_up", now)
        return "gave_up"
    store.retry_later(
        session,
        message.id,
        at=policy.retry_at(now, attempts),
        error=answer.error,
        attempted=True,
        refused=answer.refused,
    )
    return "retried"
