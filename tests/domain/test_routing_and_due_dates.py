"""The routing rule (首接负责: climbing while a level has nobody on duty) and the due date, as
pure functions that intake, transitions and the request generator share; the due date's
array twin against the scalar rule."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmap.requests import deadlines
from gridmap.requests.service import (
    CLIMB,
    Owner,
    climb,
    due_at,
    due_at_many,
    on_duty,
    street_owner,
)

# No example database: it would write .hypothesis/ into the work tree.
PURE = settings(database=None, deadline=None)
MICRO = "11010100100100101"


def owners(staffed: set[str]) -> dict[str, Owner | None]:
    found: dict[str, Owner | None] = {
        level: on_duty(level, MICRO, 7) if level in staffed else None for level in CLIMB[:3]
    }
    return found | {"street": street_owner(MICRO, None)}


@pytest.mark.parametrize(
    ("start", "staffed", "level", "note"),
    [
        ("micro", {"micro", "zone"}, "micro", ""),
        ("micro", {"zone"}, "zone", "; nobody on duty as grid_worker"),
        ("micro", set(), "street", "; nobody on duty as grid_worker, zone_leader, chief"),
        ("zone", {"micro"}, "community", None),
        ("community", {"community"}, "community", ""),
        ("department", {"micro", "zone", "community"}, "street", ""),
    ],
)
def test_routing_climbs_from_the_category_level_while_nobody_is_on_duty(
    start, staffed, level, note
):
    found = owners(staffed | ({"community"} if note is None else set()))
    owner = climb(start, found.__getitem__)
    assert owner.level == level
    if note is not None:
        assert owner.why.endswith(note) and owner.person_id == (7 if level != "street" else None)


def test_the_street_always_answers():
    owner = climb("street", lambda level: street_owner(MICRO, 42) if level == "street" else None)
    assert (owner.level, owner.user_id) == ("street", 42)


BASE = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
moments = st.one_of(
    st.none(), st.integers(0, 90 * 86400).map(lambda s: BASE + dt.timedelta(seconds=s))
)


def seconds(value: dt.datetime | None) -> int:
    return int(deadlines.NEVER) if value is None else int(value.timestamp())


@PURE
@given(st.lists(st.tuples(moments, moments, moments), min_size=1, max_size=20))
def test_the_array_due_dates_are_those_of_the_rule(rows):
    filed = BASE
    expected = [
        seconds(due_at(filed, response, accepted, handling))
        for response, accepted, handling in rows
    ]
    response, accepted, handling = (
        np.array([seconds(r[i]) for r in rows], dtype=np.int64) for i in range(3)
    )
    got = due_at_many(np.full(len(rows), seconds(filed)), response, accepted, handling)
    assert got.tolist() == expected


def test_the_first_accept_fixes_the_due_date():
    accepted, handling = BASE + dt.timedelta(hours=3), BASE + dt.timedelta(days=5)
    assert due_at(BASE, BASE + dt.timedelta(days=1), accepted, handling) == handling
    assert due_at(BASE, BASE + dt.timedelta(days=1), accepted, None) == accepted
    assert due_at(BASE, BASE + dt.timedelta(days=1)) == BASE + dt.timedelta(days=1)
    assert due_at(BASE, None) == BASE
