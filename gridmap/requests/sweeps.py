"""The scheduler's sweep: the time-driven work on residents' requests, as of ``clock.now()``.

``flask gridmap worker`` runs :func:`sweep` every ``GRIDMAP_SWEEP_MINUTES`` minutes (default
1) on the job queue. In one run, in this order:

1. **红黄牌**: a request whose running stage shows a yellow or red card
   (:func:`gridmap.requests.rates.card`) gets it recorded (``request_card``) with a timeline
   event ``card`` and a reminder to its owner in the ``outbox`` (``due_soon`` with the yellow
   card, ``overdue`` with the red one), all in one transaction: once per stage run and colour.
   A stage already past its deadline when first swept gets the red card only.
2. **Escalation on lapse**: an open request whose stage ran out, and whose category version
   lists that stage in ``escalate_on_lapse``, climbs one level (micro → zone → community →
   street) with the reason in its event; never beyond the street (summoning a department,
   街乡吹哨, stays a human act). Its new owner's response clock starts, so a new lapse climbs
   again.
3. **Archive**: a completed request the resident has not rated is archived
   ``GRIDMAP_ARCHIVE_UNRATED_DAYS`` days (default 7) after completion, and not before its
   category's 回访 deadline when it has one, with the reason in its event's detail.

Every event names the ``system`` account. Exactly once, however many sweeps run at once (two
workers, two app hosts): each request is handled under its row lock, taken with ``FOR UPDATE
SKIP LOCKED`` (a request another sweep or a user holds is left to the next run) and the
condition is checked again under it; cards and reminders have unique keys as well. Nothing is
kept in memory: a restarted worker reads what is left to do from the database. The sweep
commits after each batch, so that a user's action never waits long on its locks.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from typing import Any, Final, cast

from sqlalchemy.orm import Session

from gridmap.access.auth import Caller, Scope
from gridmap.core import clock, glossary
from gridmap.requests import deadlines, lifecycle, rates, service
from gridmap.storage import notifications as outbox
from gridmap.storage import requests as request_store
from gridmap.storage import sweeps as store
from gridmap.storage.models import ResidentRequest

#: Requests handled per transaction.
BATCH: Final = 200
#: Where an escalation by rule may start: below the street.
CLIMBING: Final = tuple(level for level in service.CLIMB if level != "street")
#: The reminder that goes with each card.
REMINDER_OF: Final = {"yellow": "due_soon", "red": "overdue"}


def sweep(session: Session, *, archive_unrated_days: int = 7, batch: int = BATCH) -> dict[str, int]:
    """Do what is due at ``clock.now()``; returns how many cards, reminders, escalations and
    archives this run made (committed batch by batch)."""
    now = clock.now()
    system = _system(session)
    done: Counter[str] = Counter()
    done.update(_cards(session, system, now, batch))
    done["escalated"] += _escalations(session, system, now, batch)
    done["archived"] += _archives(session, system, now, archive_unrated_days, batch)
    session.commit()
    return {key: done[key] for key in ("cards", "reminders", "escalated", "archived")}


def _system(session: Session) -> Caller:
    user_id = store.system_user_id(session)
    return Caller(user_id, store.SYSTEM_USERNAME, "system", Scope(), 0, "system")


# ------------------------------------------------------------------------------------ 红黄牌


def _cards(session: Session, system: Caller, now: dt.datetime, batch: int) -> Counter[str]:
    done: Counter[str] = Counter()
    after = 0
    while seen := store.card_candidates(session, now, after, batch):
        after = seen[-1].id
        # Read without locks; those due are locked and judged again as they are now.
        due = [row.id for row in seen if _may_have_a_card(row, now)]
        for row in store.lock_for_card(session, due) if due else []:
            colour = rates.card(row, now)
            if colour is not None:
                done += raise_card(session, row, colour, system, now)
        session.commit()
    return done


@functools.lru_cache(maxsize=65_536)
def _yellow_at(started: dt.datetime, deadline: dt.datetime, basis: str) -> dt.datetime:
    """:func:`~gridmap.requests.deadlines.yellow_at`, remembered: a stage run is judged every
    minute until its yellow card, and working time costs about a millisecond a time."""
    return deadlines.yellow_at(started, deadline, basis=cast("deadlines.Basis", basis))


def _may_have_a_card(row: ResidentRequest, now: dt.datetime) -> bool:
    """What :func:`gridmap.requests.rates.card` says, from the remembered yellow moments."""
    if row.stage_deadline is None:
        return False
    deadline, started = row.stage_deadline, row.stage_started_at
    return now > deadline or now >= _yellow_at(started, deadline, row.stage_basis)


def raise_card(
    session: Session, row: ResidentRequest, colour: str, system: Caller, now: dt.datetime
) -> Counter[str]:
    """Record ``colour`` on ``row``'s running stage (locked by the caller) with its timeline
    event and the owner's reminder, unless this stage run has it already."""
    stage = lifecycle.STAGE_OF[cast("lifecycle.State", row.state)]
    assert stage is not None and row.stage_deadline is not None
    run = {"request_id": row.id, "stage": stage, "stage_started_at": row.stage_started_at}
    if not store.add_card(
        session, run | {"colour": colour, "deadline": row.stage_deadline, "raised_at": now}
    ):
        return Counter()
    deadline = row.stage_deadline.isoformat()
    _event(
        session, row, system, now, "card", {"card": colour, "stage": stage, "deadline": deadline}
    )
    kind = REMINDER_OF[colour]
    sent = outbox.add_message(
        session,
        run
        | {
            "kind": kind,
            "recipient_user_id": row.owner_user_id,
            "recipient_person_id": row.owner_person_id,
            "payload": _reminder(session, row, kind, stage),
            "created_at": now,
            "next_attempt_at": now,
            # An overdue request is told at night too (quiet hours hold the rest).
            "urgent": kind == "overdue",
        },
    )
    return Counter(cards=1, reminders=int(sent))


def _reminder(session: Session, row: ResidentRequest, kind: str, stage: str) -> dict[str, Any]:
    category = request_store.category_version(session, row.category_id)
    text = glossary.REMINDERS[kind].format(
        id=row.id,
        category=category.name,
        stage=glossary.STAGES[stage],
        deadline=clock.local_text(row.stage_deadline),
    )
    return {
        "text": text,
        "request_id": row.id,
        "category": category.code,
        "stage": stage,
        "deadline": row.stage_deadline.isoformat() if row.stage_deadline else None,
        "level": row.level,
        "department_id": row.department_id,
    }


def _event(
    session: Session,
    row: ResidentRequest,
    system: Caller,
    now: dt.datetime,
    action: str,
    detail: dict[str, Any],
) -> None:
    """A timeline event that moves nothing (the request's state and owner stay)."""
    owner = service.current_owner(session, row)
    request_store.append_event(
        session,
        {
            "request_id": row.id,
            "at": now,
            "actor_user_id": system.user_id,
            "actor": system.username,
            "action": action,
            "from_state": row.state,
            "to_state": row.state,
            "level": row.level,
            "owner_person_id": row.owner_person_id,
            "detail": detail | {"owner": service.owner_detail(owner)},
        },
    )


# -------------------------------------------------------------------------------- escalation


def _escalations(session: Session, system: Caller, now: dt.datetime, batch: int) -> int:
    done = 0
    after = 0
    while rows := store.lock_lapsed(session, now, CLIMBING, after, batch):
        after = rows[-1].id
        for row in rows:
            raise_card(session, row, "red", system, now)  # the lapse is on record first
            done += _escalate(session, row, system, now)
        session.commit()
    return done


def _escalate(session: Session, row: ResidentRequest, system: Caller, now: dt.datetime) -> int:
    stage = lifecycle.STAGE_OF[cast("lifecycle.State", row.state)]
    assert stage is not None and row.stage_deadline is not None
    higher = lifecycle.LEVELS[lifecycle.LEVELS.index(cast("lifecycle.Level", row.level)) + 1]
    reason = glossary.SWEEP_REASONS["escalate"].format(
        stage=glossary.STAGES[stage],
        deadline=clock.local_text(row.stage_deadline),
        level=glossary.LEVELS[higher],
    )
    lapsed = {"by_rule": "escalate_on_lapse", "lapsed_stage": stage}
    lapsed["lapsed_deadline"] = row.stage_deadline.isoformat()
    service.apply(session, row, service.Change("escalate", reason=reason), system, detail=lapsed)
    return 1


# ---------------------------------------------------------------------------------- archive


def _archives(session: Session, system: Caller, now: dt.datetime, days: int, batch: int) -> int:
    done = 0
    after = 0
    while rows := store.lock_unrated(session, now, days, after, batch):
        after = rows[-1].id
        for row in rows:
            why = {
                "reason": glossary.SWEEP_REASONS["archive"].format(days=days),
                "unrated_days": days,
                "completed_at": row.stage_started_at.isoformat(),
            }
            service.apply(session, row, service.Change("archive"), system, detail=why)
            done += 1
        session.commit()
    return done
