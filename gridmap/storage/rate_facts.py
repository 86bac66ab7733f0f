"""The 三率 facts of each request (``request_rate_fact``, migration 0035), kept on transitions.

What :func:`gridmap.requests.rates.facts` finds by replaying a timeline, kept as the timeline
grows, so that the rates of a period read one row per request:

- ``accepted_at``: the first ``accept`` (in the order ``at``, ``id``);
- ``response_deadline``: before that accept, the deadline of the last response stage opened
  (``report``, ``escalate``, ``return`` or ``reassign`` into ``reported``: the deadline the
  event recorded, for a ``report`` that recorded none its category's response limit from the
  filing; a ``set_urgency`` while reported: the deadline it recorded, possibly none);
- ``first_answer_at``, ``last_answer_at``: the first and the latest answer (``rate`` or
  ``callback``), with the latest one's ``rating`` and 已解决 (``resolved``, else not
  ``unsatisfied``).

:func:`record` runs where every event is appended (:func:`gridmap.storage.requests.
append_event`); :func:`fill` computes the facts of a range of requests from their timelines in
set-based SQL (the migration's backfill, the request generator), the limits of unrecorded
``report`` deadlines in arrays (:func:`gridmap.requests.deadlines.add_working_time_many`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import numpy as np
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from gridmap.requests import deadlines

#: Actions that open a response stage when they lead into ``reported``.
OPENS_RESPONSE: Final = ("report", "escalate", "return", "reassign")
#: Actions that answer a request (回访记录).
ANSWERS: Final = ("rate", "callback")
_UTC = dt.UTC

_RECORD = text(
    """
INSERT INTO request_rate_fact AS f
  (request_id, accepted_at, response_deadline, first_answer_at, last_answer_at,
   answer_rating, answer_resolved)
SELECT r.id, :accepted_at,
       CASE WHEN :from_row THEN r.stage_deadline ELSE :deadline END,
       :answer_at, :answer_at, :rating, :resolved
  FROM resident_request r WHERE r.id = :id
ON CONFLICT (request_id) DO UPDATE SET
  accepted_at = coalesce(f.accepted_at, excluded.accepted_at),
  response_deadline = CASE WHEN f.accepted_at IS NULL AND :opens
                           THEN excluded.response_deadline ELSE f.response_deadline END,
  first_answer_at = coalesce(f.first_answer_at, excluded.first_answer_at),
  last_answer_at = CASE WHEN :answer THEN excluded.last_answer_at ELSE f.last_answer_at END,
  answer_rating = CASE WHEN :answer THEN excluded.answer_rating ELSE f.answer_rating END,
  answer_resolved = CASE WHEN :answer THEN excluded.answer_resolved
                         ELSE f.answer_resolved END"""
)


def recorded_deadline(detail: dict[str, Any] | None) -> dt.datetime | None:
    """The deadline an event recorded (``detail.deadline``), if any."""
    found = (detail or {}).get("deadline")
    return dt.datetime.fromisoformat(found) if found else None


def answer_resolved(record: dict[str, Any]) -> bool:
    """An answer's 已解决: its own, or (a rating recorded before callbacks) unless the
    resident was unsatisfied, which reopened the request."""
    if "resolved" in record:
        return bool(record["resolved"] == "resolved")
    return record.get("rating") != "unsatisfied"


def record(session: Session, event: dict[str, Any]) -> None:
    """Keep the facts of ``event``'s request after it was appended (``event``: the values of
    the ``request_event`` row). A ``report`` that recorded no deadline takes the request's
    stage deadline, set for that report in the same transaction."""
    action, to_state = event["action"], event["to_state"]
    detail = event.get("detail") or {}
    opens = to_state == "reported" and (action in OPENS_RESPONSE or action == "set_urgency")
    answer = action in ANSWERS
    if not (opens or answer or action == "accept"):
        return
    deadline = recorded_deadline(detail) if opens else None
    session.execute(
        _RECORD,
        {
            "id": event["request_id"],
            "accepted_at": event["at"] if action == "accept" else None,
            "from_row": opens and action == "report" and deadline is None,
            "deadline": deadline,
            "opens": opens,
            "answer": answer,
            "answer_at": event["at"] if answer else None,
            "rating": detail.get("rating") if answer else None,
            "resolved": answer_resolved(detail) if answer else None,
        },
    )


# ------------------------------------------------------------------------------ the backfill

_FILL_STEPS: Final = (
    """
CREATE TEMPORARY TABLE rate_fact_event ON COMMIT DROP AS
SELECT request_id, id, at, action, to_state,
       nullif(detail->>'deadline', '')::timestamptz AS recorded,
       detail->>'rating' AS rating,
       CASE WHEN detail ? 'resolved' THEN detail->>'resolved' = 'resolved'
            ELSE (detail->>'rating') IS DISTINCT FROM 'unsatisfied' END AS resolved
  FROM request_event
 WHERE request_id BETWEEN :first AND :last
   AND (action IN ('accept', 'rate', 'callback')
        OR (to_state = 'reported'
            AND action IN ('report', 'escalate', 'return', 'reassign', 'set_urgency')))""",
    """
CREATE TEMPORARY TABLE rate_fact_new ON COMMIT DROP AS
WITH accepted AS (
  SELECT DISTINCT ON (request_id) request_id, at, id FROM rate_fact_event
   WHERE action = 'accept' ORDER BY request_id, at, id),
opened AS (
  SELECT DISTINCT ON (e.request_id) e.request_id, e.action, e.at, e.recorded
    FROM rate_fact_event e LEFT JOIN accepted a ON a.request_id = e.request_id
   WHERE e.action NOT IN ('accept', 'rate', 'callback')
     AND (a.request_id IS NULL OR (e.at, e.id) < (a.at, a.id))
   ORDER BY e.request_id, e.at DESC, e.id DESC),
answered AS (
  SELECT DISTINCT ON (request_id) request_id, at, rating, resolved,
         min(at) OVER (PARTITION BY request_id) AS first_at
    FROM rate_fact_event WHERE action IN ('rate', 'callback')
   ORDER BY request_id, at DESC, id DESC),
ids AS (
  SELECT request_id FROM accepted UNION SELECT request_id FROM opened
  UNION SELECT request_id FROM answered)
SELECT i.request_id, a.at AS accepted_at, o.recorded AS response_deadline,
       (o.action = 'report' AND o.recorded IS NULL) AS from_limit, o.at AS opened_at,
       n.first_at AS first_answer_at, n.at AS last_answer_at, n.rating AS answer_rating,
       n.resolved AS answer_resolved
  FROM ids i LEFT JOIN accepted a USING (request_id) LEFT JOIN opened o USING (request_id)
  LEFT JOIN answered n USING (request_id)""",
)

#: The reports that recorded no deadline: their category's response limit, from the report.
_LIMITS = """
SELECT f.request_id, extract(epoch FROM date_trunc('second', f.opened_at))::bigint,
       (extract(microseconds FROM f.opened_at)::bigint % 1000000),
       (c.time_limits->'response'->>'amount')::int, c.time_limits->'response'->>'unit',
       coalesce(c.time_limits->'response'->>'basis', 'working')
  FROM rate_fact_new f JOIN resident_request r ON r.id = f.request_id
  JOIN category c ON c.id = r.category_id
 WHERE r.id BETWEEN :first AND :last AND f.from_limit
   AND jsonb_typeof(c.time_limits->'response') = 'object'
   AND c.time_limits->'response' ? 'amount'
 ORDER BY f.request_id"""

_FILL_INSERT = """
INSERT INTO request_rate_fact
  (request_id, accepted_at, response_deadline, first_answer_at, last_answer_at,
   answer_rating, answer_resolved)
SELECT f.request_id, f.accepted_at,
       CASE WHEN f.from_limit
            THEN to_timestamp(l.seconds) + l.micros * interval '1 microsecond'
            ELSE f.response_deadline END,
       f.first_answer_at, f.last_answer_at, f.answer_rating, f.answer_resolved
  FROM rate_fact_new f LEFT JOIN rate_fact_limit l USING (request_id)
ON CONFLICT (request_id) DO UPDATE SET
  accepted_at = excluded.accepted_at, response_deadline = excluded.response_deadline,
  first_answer_at = excluded.first_answer_at, last_answer_at = excluded.last_answer_at,
  answer_rating = excluded.answer_rating, answer_resolved = excluded.answer_resolved"""


def limit_deadlines(
    seconds: np.ndarray, micros: np.ndarray, amounts: np.ndarray, units: list[str], bases: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Deadlines ``(Unix seconds, microseconds)`` of limits begun at ``seconds`` +
    ``micros``, as :func:`gridmap.requests.service.stage_deadline` finds them (factor 1):
    counted from the whole second, the microseconds added back where the clock runs there
    (the deadline of the next second is one second later), none where it does not (a start
    out of working time waits for the next working period); :data:`~gridmap.requests.
    deadlines.NEVER` seconds: no deadline."""
    unit_codes = np.array([deadlines.UNIT_CODES[u] for u in units], dtype=np.int64)  # type: ignore[index]
    base_codes = np.array([deadlines.BASIS_CODES[b] for b in bases], dtype=np.int64)  # type: ignore[index]
    amounts = amounts.astype(np.int64)
    found = deadlines.add_working_time_many(seconds, amounts, unit_codes, base_codes)
    after = deadlines.add_working_time_many(seconds + 1, amounts, unit_codes, base_codes)
    step = after - found
    kept = np.where(step == 1, micros, 0).astype(np.int64)
    for i in np.flatnonzero((step != 1) & (step != 0) & (found < deadlines.NEVER)):
        # The last second of a working period: the scalar rule, row by row.
        start = dt.datetime.fromtimestamp(int(seconds[i]), _UTC)
        start += dt.timedelta(microseconds=int(micros[i]))
        deadline = deadlines.add_time(start, int(amounts[i]), units[i], bases[i])  # type: ignore[arg-type]
        whole = deadline.replace(microsecond=0)
        found[i], kept[i] = int(whole.timestamp()), deadline.microsecond
    return found, kept


def fill(connection: Connection, first: int, last: int, *, batch: int = 1_000_000) -> int:
    """Compute the facts of the requests ``first``..``last`` from their timelines (in the
    caller's transaction); returns how many requests have facts."""
    done = 0
    for lo in range(first, last + 1, batch):
        hi = min(last, lo + batch - 1)
        for step in _FILL_STEPS:
            connection.execute(text(step), {"first": lo, "last": hi})
        connection.execute(text("ANALYZE pg_temp.rate_fact_new"))
        rows = connection.execute(text(_LIMITS), {"first": lo, "last": hi}).all()
        connection.execute(
            text(
                "CREATE TEMPORARY TABLE rate_fact_limit (request_id bigint PRIMARY KEY,"
                " seconds bigint, micros bigint) ON COMMIT DROP"
            )
        )
        if rows:
            seconds, micros = limit_deadlines(
                np.array([r[1] for r in rows], dtype=np.int64),
                np.array([r[2] for r in rows], dtype=np.int64),
                np.array([r[3] for r in rows], dtype=np.int64),
                [r[4] for r in rows],
                [r[5] for r in rows],
            )
            raw = connection.connection.driver_connection
            assert raw is not None
            with (
                raw.cursor() as cur,
                cur.copy("COPY pg_temp.rate_fact_limit FROM STDIN") as copy,
            ):
                for row, second, micro in zip(rows, seconds, micros, strict=True):
                    if second < deadlines.NEVER:
                        copy.write_row((int(row[0]), int(second), int(micro)))
        done += connection.execute(text(_FILL_INSERT)).rowcount
        for table in ("rate_fact_event", "rate_fact_new", "rate_fact_limit"):
            connection.execute(text(f"DROP TABLE pg_temp.{table}"))
    return done
