"""The 三率 facts kept per request on transitions (``request_rate_fact``, migration 0035).

The rates of a grid read these facts instead of replaying timelines; these tests hold them
to the replay (:func:`gridmap.requests.rates.facts` over every candidate's timeline) on the
hand-built table of ``desk``, and the backfill (:func:`gridmap.storage.rate_facts.fill`) to
what the transitions kept.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import delete, select, text

from gridmap.access.auth import Scope
from gridmap.requests import deadlines, rates
from gridmap.requests.service import stage_deadline
from gridmap.storage import rate_facts
from gridmap.storage import rates as queries
from gridmap.storage.models import RequestRateFact
from tests.conftest import COMMUNITY
from tests.requests.timelines import SH, nov

STREET = Scope((COMMUNITY[:9],))
AS_OF = dt.datetime(2024, 12, 10, 10, 0, tzinfo=SH)
FIRST_WEEK = rates.period(None, dt.date(2024, 11, 1), dt.date(2024, 11, 7))


@pytest.fixture
def desk(desk: list[int], session) -> list[int]:
    """The table, each request last changed by its last event (the desk files and moves
    them on a simulated clock, but the database stamps ``updated_at`` with the real time,
    which would leave every request to the replay)."""
    session.execute(
        text(
            "UPDATE resident_request r SET updated_at = e.last FROM"
            " (SELECT request_id, max(at) AS last FROM request_event GROUP BY 1) e"
            " WHERE e.request_id = r.id AND r.id = ANY(:ids)"
        ),
        {"ids": desk},
    )
    return desk


def _kept(session) -> dict[int, tuple[object, ...]]:
    rows = session.execute(select(RequestRateFact).order_by(RequestRateFact.request_id))
    return {
        f.request_id: (
            f.accepted_at,
            f.response_deadline,
            f.first_answer_at,
            f.last_answer_at,
            f.answer_rating,
            f.answer_resolved,
        )
        for (f,) in rows
    }


def _replayed(session, when: rates.Period, now: dt.datetime, cut: int) -> dict[str, rates.Tally]:
    """Every candidate's timeline replayed, as the rates were counted before 0035."""
    span = (session, STREET, None, when.start, when.end)
    requests = queries.period_requests(*span)
    found = rates._tallies(
        requests,
        queries.period_events(session, requests),
        lambda r: r.micro_grid_code[:cut],
        when,
        now,
    )
    return {code: tally for code, tally in found.items() if tally != rates.Tally()}


@pytest.mark.parametrize(
    ("when", "now"),
    [
        (rates.period("2024-11"), AS_OF),
        (FIRST_WEEK, AS_OF),  # answers after the week: those requests are replayed
        (rates.period("2024-11"), nov(18, 10)),  # changed after the moment judged: replayed
        (rates.period("2024-10"), AS_OF),
    ],
)
@pytest.mark.parametrize("cut", [17, 14, 12])
def test_the_kept_facts_count_as_the_replayed_timelines(session, desk, when, now, cut):
    kept = rates._grid_tallies(session, STREET, None, when, now, cut)
    assert {c: t for c, t in kept.items() if t != rates.Tally()} == _replayed(
        session, when, now, cut
    )


def test_most_requests_are_counted_from_their_facts(session, desk):
    """November as of 12-10: the facts hold for most of the table, so the comparison above
    compares the fact path, not only the replay."""
    month = rates.period("2024-11")
    span = (session, STREET, None, month.start, month.end)
    replayed = queries.period_requests(*span, replayed=AS_OF)
    every = queries.period_requests(*span)
    counted = queries.fact_tallies(*span, AS_OF, 17)
    assert sum(row[1] for row in counted) >= 4
    assert len(replayed) < len(every)


def test_the_backfill_finds_what_the_transitions_kept(session, desk):
    kept = _kept(session)
    assert len(kept) >= len(desk) - 1 and any(v[2] is not None for v in kept.values())
    session.execute(delete(RequestRateFact))
    assert _kept(session) == {}
    rate_facts.fill(session.connection(), min(desk), max(desk), batch=3)
    assert _kept(session) == kept


def test_array_deadlines_match_the_scalar_rule_to_the_microsecond():
    limits = [(4, "hours", "working"), (2, "days", "working"), (3, "hours", "clock")]
    starts = [
        dt.datetime(2024, 11, 4, 9, 0, 0, 250_000, tzinfo=SH),  # inside working time
        dt.datetime(2024, 11, 4, 11, 59, 59, 999_999, tzinfo=SH),  # the last second before lunch
        dt.datetime(2024, 11, 2, 22, 30, 0, 123_456, tzinfo=SH),  # a Saturday night
        dt.datetime(2024, 11, 5, 17, 59, 59, 500_000, tzinfo=SH),
    ]
    cases = [(s, limit) for s in starts for limit in limits]
    seconds = np.array([int(s.replace(microsecond=0).timestamp()) for s, _ in cases])
    micros = np.array([s.microsecond for s, _ in cases])
    found, kept = rate_facts.limit_deadlines(
        seconds,
        micros,
        np.array([a for _, (a, _, _) in cases]),
        [u for _, (_, u, _) in cases],
        [b for _, (_, _, b) in cases],
    )
    for i, (start, (amount, unit, basis)) in enumerate(cases):
        expected = stage_deadline(start, {"amount": amount, "unit": unit, "basis": basis})
        assert expected is not None and found[i] < deadlines.NEVER
        got = dt.datetime.fromtimestamp(int(found[i]), dt.UTC) + dt.timedelta(
            microseconds=int(kept[i])
        )
        assert got == expected, (start, amount, unit, basis)
