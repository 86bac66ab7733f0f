"""Working-time deadlines against hand-checked tables (Beijing time), the fallback for years the
calendar package does not know, local schedule additions, and the 红黄牌 warning levels."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmap.requests import deadlines
from gridmap.requests.deadlines import (
    WorkCalendar,
    add_time,
    add_working_time,
    is_estimated,
    is_working_day,
    known_years,
    warning_level,
    working_time_between,
    yellow_at,
)

BEIJING = dt.timezone(dt.timedelta(hours=8))


def bj(text: str) -> dt.datetime:
    """'2024-10-08 09:00' in Beijing time, as an aware datetime."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING)


# The official schedules the package encodes (State Council notices), checked day by day:
# 2024 National Day: Oct 1-7 off; Sun Sep 29 and Sat Oct 12 are make-up workdays.
# 2025 Spring Festival: Jan 28-Feb 4 off; Sun Jan 26 and Sat Feb 8 are make-up workdays.
# 2025 National Day + Mid-Autumn: Oct 1-8 off; Sun Sep 28 and Sat Oct 11 are make-up workdays.
# 2026 Spring Festival: Feb 15-23 off; Sat Feb 14 and Sat Feb 28 are make-up workdays.
@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2024-09-28", False),  # Saturday
        ("2024-09-29", True),  # Sunday, make-up workday
        ("2024-09-30", True),
        ("2024-10-01", False),
        ("2024-10-07", False),  # Monday, holiday
        ("2024-10-08", True),
        ("2024-10-12", True),  # Saturday, make-up workday
        ("2024-10-13", False),
        ("2025-01-26", True),  # Sunday, make-up workday
        ("2025-02-04", False),
        ("2025-02-08", True),  # Saturday, make-up workday
        ("2025-10-08", False),  # Wednesday, holiday
        ("2025-10-11", True),  # Saturday, make-up workday
        ("2026-02-14", True),  # Saturday, make-up workday
        ("2026-02-23", False),  # Monday, holiday
    ],
)
def test_official_schedule(day: str, working: bool) -> None:
    assert is_working_day(dt.date.fromisoformat(day)) is working


@pytest.mark.parametrize(
    ("start", "amount", "unit", "deadline", "why"),
    [
        # -- National Day 2024 and its make-up workdays
        ("2024-09-27 16:30", 2, "hours", "2024-09-29 10:00", "Fri -> make-up Sunday"),
        ("2024-09-28 10:00", 1, "hours", "2024-09-29 10:00", "Sat arrival -> make-up Sunday"),
        ("2024-09-30 16:00", 4, "hours", "2024-10-08 11:30", "1.5 h, holiday week, 2.5 h"),
        ("2024-09-30 10:00", 1, "days", "2024-10-08 17:30", "next working day is Oct 8"),
        ("2024-09-30 10:00", 5, "days", "2024-10-12 17:30", "5th is make-up Saturday"),
        ("2024-10-03 10:00", 1, "days", "2024-10-09 17:30", "holiday arrival counts from Oct 8"),
        ("2024-10-05 10:00", 0, "hours", "2024-10-08 09:00", "0 h: next working moment"),
        ("2024-10-11 17:00", 1, "hours", "2024-10-12 09:30", "Fri -> make-up Saturday"),
        ("2024-10-12 16:00", 1, "days", "2024-10-14 17:30", "make-up Sat, then Sun off"),
        # -- working hours, lunch break, arrivals outside hours (Tue 2024-10-08)
        ("2024-10-08 11:30", 1, "hours", "2024-10-08 14:00", "across lunch"),
        ("2024-10-08 12:15", 1, "hours", "2024-10-08 14:30", "arrives in lunch break"),
        ("2024-10-08 07:00", 3, "hours", "2024-10-08 12:00", "ends at the period's end"),
        ("2024-10-08 19:00", 2, "hours", "2024-10-09 11:00", "after hours"),
        ("2024-10-08 17:30", 1, "days", "2024-10-10 17:30", "17:30 is after hours"),
        ("2024-10-08 08:00", 1, "days", "2024-10-09 17:30", "before hours: same start day"),
        ("2024-10-08 10:00", 0, "days", "2024-10-08 17:30", "0 days: end of the same day"),
        ("2024-10-08 09:00", 7, "hours", "2024-10-08 17:30", "a whole working day"),
        ("2024-10-08 09:00", 8, "hours", "2024-10-09 10:00", "one hour into the next"),
        # -- ordinary weekend
        ("2024-10-18 10:00", 1, "days", "2024-10-21 17:30", "Fri -> Mon"),
        ("2024-10-19 23:59", 2, "hours", "2024-10-21 11:00", "Sat night -> Mon"),
        # -- Spring Festival 2025 and 2026
        ("2025-01-24 15:00", 1, "days", "2025-01-26 17:30", "make-up Sunday before"),
        ("2025-01-27 10:00", 1, "days", "2025-02-05 17:30", "over the holiday"),
        ("2025-01-27 16:00", 8, "hours", "2025-02-05 17:00", "1.5 h + 6.5 h"),
        ("2025-02-07 10:00", 1, "days", "2025-02-08 17:30", "make-up Saturday after"),
        ("2026-02-13 10:00", 1, "days", "2026-02-14 17:30", "make-up Saturday before"),
        ("2026-02-13 10:00", 2, "days", "2026-02-24 17:30", "nine days off"),
        # -- National Day 2025 (eight days with Mid-Autumn)
        ("2025-09-30 10:00", 1, "days", "2025-10-09 17:30", "Oct 1-8 off"),
        ("2025-09-26 17:00", 1, "hours", "2025-09-28 09:30", "make-up Sunday Sep 28"),
    ],
)
def test_deadline_table(start: str, amount: int, unit: str, deadline: str, why: str) -> None:
    result = add_working_time(bj(start), amount, unit)  # type: ignore[arg-type]
    assert result == bj(deadline), why
    assert result.tzinfo is dt.UTC
    assert not is_estimated(bj(start), result)


def test_start_in_any_zone_gives_the_same_instant() -> None:
    start = bj("2024-09-30 16:00")
    assert add_working_time(start.astimezone(dt.UTC), 4, "hours") == bj("2024-10-08 11:30")


def test_custom_working_hours() -> None:
    one_period = (((8, 30), (17, 0)),)
    result = add_working_time(bj("2024-10-08 16:00"), 2, "hours", work_hours=one_period)
    assert result == bj("2024-10-09 09:30")


def test_known_years_of_the_pinned_package() -> None:
    assert known_years() == range(2004, 2027)


class TestYearsThePackageDoesNotKnow:
    def test_monday_to_friday_estimate_with_one_warning_per_year(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        deadlines._warn_estimated.cache_clear()
        with caplog.at_level(logging.WARNING, logger="gridmap.requests.deadlines"):
            # 2027-01-01 is a Friday (and surely New Year's Day): estimated as a working day.
            assert is_working_day(dt.date(2027, 1, 1))
            assert not is_working_day(dt.date(2027, 1, 2))
            assert is_working_day(dt.date(2030, 6, 3))
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == 2
        assert "2027" in warnings[0] and "Monday-Friday" in warnings[0]

    def test_deadline_across_the_end_of_the_known_years(self) -> None:
        start = bj("2026-12-31 16:30")
        result = add_working_time(start, 2, "hours")
        assert result == bj("2027-01-01 10:00")
        assert is_estimated(start, result)
        assert not is_estimated(start, bj("2026-12-31 17:30"))

    def test_years_before_2004_also_fall_back(self) -> None:
        assert add_working_time(bj("2003-10-03 10:00"), 1, "days") == bj("2003-10-06 17:30")
        assert is_estimated(bj("2003-10-03 10:00"), bj("2003-10-06 17:30"))

    def test_a_work_calendar_completes_an_unknown_year(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        # What an administrator would enter from the State Council's notice for 2027.
        calendar = WorkCalendar(
            holidays=frozenset({dt.date(2027, 1, 1)}),
            workdays=frozenset({dt.date(2027, 1, 2)}),
            years=frozenset({2027}),
        )
        deadlines._warn_estimated.cache_clear()
        with caplog.at_level(logging.WARNING, logger="gridmap.requests.deadlines"):
            result = add_working_time(bj("2026-12-31 16:30"), 2, "hours", calendar=calendar)
        assert result == bj("2027-01-02 10:00")  # New Year off, then a make-up Saturday
        assert not is_estimated(bj("2026-12-31 16:30"), result, calendar=calendar)
        assert caplog.records == []

    def test_local_additions_override_the_package(self) -> None:
        calendar = WorkCalendar(holidays=frozenset({dt.date(2024, 10, 8)}))
        result = add_working_time(bj("2024-09-30 16:00"), 4, "hours", calendar=calendar)
        assert result == bj("2024-10-09 11:30")


@pytest.mark.parametrize(
    ("now", "card"),
    [
        ("2024-10-08 08:00", "green"),  # before the start
        ("2024-10-08 16:00", "green"),
        ("2024-10-09 10:47", "green"),
        ("2024-10-09 10:48", "yellow"),  # 8.8 of 11 working hours used
        ("2024-10-09 12:30", "yellow"),  # lunch: no time passes, still yellow
        ("2024-10-09 14:30", "yellow"),  # the deadline itself
        ("2024-10-09 14:31", "red"),
        ("2024-10-12 10:00", "red"),
    ],
)
def test_warning_levels(now: str, card: str) -> None:
    started = bj("2024-10-08 09:00")
    deadline = add_working_time(started, 11, "hours")
    assert deadline == bj("2024-10-09 14:30")
    assert warning_level(bj(now), deadline, started) == card


def test_yellow_counts_working_time_not_wall_clock() -> None:
    # One working day from Friday 17:00: 30 min on Friday, then all of the next Monday.
    started = bj("2024-10-18 17:00")
    deadline = add_working_time(started, 1, "days")
    assert deadline == bj("2024-10-21 17:30")
    assert working_time_between(started, deadline) == dt.timedelta(hours=7, minutes=30)
    assert yellow_at(started, deadline) == bj("2024-10-21 16:00")  # last 1.5 h of 7.5 h
    assert warning_level(bj("2024-10-21 08:00"), deadline, started) == "green"


def test_yellow_share_bounds() -> None:
    started, deadline = bj("2024-10-08 09:00"), bj("2024-10-08 17:30")
    assert yellow_at(started, deadline, yellow_share=0.0) == deadline
    assert yellow_at(started, deadline, yellow_share=1.0) == started
    assert warning_level(started, started, started) == "yellow"  # no time allowed at all


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: add_working_time(dt.datetime(2024, 10, 8, 9), 1, "hours"), "timezone-aware"),
        (lambda: add_working_time(bj("2024-10-08 09:00"), -1, "hours"), "amount must be"),
        (lambda: add_working_time(bj("2024-10-08 09:00"), True, "hours"), "amount must be"),
        (lambda: add_working_time(bj("2024-10-08 09:00"), 10**6, "days"), "amount must be"),
        (lambda: add_working_time(bj("2024-10-08 09:00"), 1, "weeks"), "unit must be"),  # type: ignore[arg-type]
        (lambda: add_working_time(bj("2024-10-08 09:00"), 1, "days", tz="Mars/Base"), "zone"),
        (
            lambda: add_working_time(
                bj("2024-10-08 09:00"), 1, "hours", work_hours=(((13, 0), (12, 0)),)
            ),
            "ordered",
        ),
        (
            lambda: add_working_time(
                bj("2024-10-08 09:00"), 1, "hours", work_hours=(((25, 0), (26, 0)),)
            ),
            "work_hours must be",
        ),
        (lambda: add_working_time(bj("2024-10-08 09:00"), 1, "hours", work_hours=()), "non-empty"),
        (lambda: yellow_at(bj("2024-10-09 09:00"), bj("2024-10-08 09:00")), "before started"),
        (
            lambda: yellow_at(bj("2024-10-08 09:00"), bj("2024-10-09 09:00"), yellow_share=1.5),
            "yellow_share",
        ),
        (
            lambda: WorkCalendar(
                holidays=frozenset({dt.date(2027, 1, 1)}), workdays=frozenset({dt.date(2027, 1, 1)})
            ),
            "both holiday and workday",
        ),
    ],
)
def test_bad_input_is_a_value_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


# ------------------------------------------------------------------------------ the array twin

# No example database: it would write .hypothesis/ into the work tree.
ARRAYS = settings(database=None, deadline=None, max_examples=60)
#: 2024-09-01 .. 2026-10-31 in Beijing: National Day, Spring Festival and their make-up days.
FIRST_START = int(bj("2024-09-01 00:00").timestamp())
LAST_START = int(bj("2026-10-31 23:59").timestamp())
#: Starts that fall exactly on the edges of a working period, or just beside them.
EDGES = [
    int(bj(f"2026-02-13 {hm}").timestamp()) + offset
    for hm in ("09:00", "12:00", "13:30", "17:30")
    for offset in (-1, 0, 1)
]
starts_strategy = st.lists(
    st.one_of(st.integers(FIRST_START, LAST_START), st.sampled_from(EDGES)),
    min_size=1,
    max_size=25,
)


def utc(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


@ARRAYS
@given(
    starts=starts_strategy,
    amount=st.integers(0, 12),
    unit=st.sampled_from(["hours", "days"]),
)
def test_the_array_deadlines_are_those_of_add_working_time(starts, amount, unit):
    n = len(starts)
    got = deadlines.add_working_time_many(
        np.array(starts), np.full(n, amount), np.full(n, deadlines.UNIT_CODES[unit])
    )
    expected = [int(add_working_time(utc(s), amount, unit).timestamp()) for s in starts]
    assert got.tolist() == expected


@ARRAYS
@given(
    starts=starts_strategy,
    amounts=st.lists(st.integers(0, 12), min_size=25),
    units=st.lists(st.sampled_from(["hours", "days"]), min_size=25),
    bases=st.lists(st.sampled_from(["working", "clock"]), min_size=25),
)
def test_the_array_deadlines_are_those_of_add_time_on_both_bases(starts, amounts, units, bases):
    n = len(starts)
    got = deadlines.add_working_time_many(
        np.array(starts),
        np.array(amounts[:n]),
        np.array([deadlines.UNIT_CODES[u] for u in units[:n]]),
        np.array([deadlines.BASIS_CODES[b] for b in bases[:n]]),
    )
    expected = [
        int(add_time(utc(s), a, u, b).timestamp())
        for s, a, u, b in zip(starts, amounts, units, bases, strict=False)
    ]
    assert got.tolist() == expected


@ARRAYS
@given(starts=starts_strategy, lengths=st.lists(st.integers(0, 40 * 86400), min_size=25))
def test_the_tables_working_time_is_working_time_between(starts, lengths):
    begin = np.array(starts)
    end = begin + np.array(lengths[: begin.size])
    first = utc(int(begin.min())).astimezone(BEIJING).date()
    table = deadlines.WorkingTimeTable(first - dt.timedelta(days=1), 800 + 60)
    got = table.between(begin, end)
    expected = [
        working_time_between(utc(a), utc(b)).total_seconds()
        for a, b in zip(begin.tolist(), end.tolist(), strict=True)
    ]
    assert got.tolist() == expected


def test_no_limit_is_never_and_bad_arrays_are_value_errors():
    start = np.array([FIRST_START, FIRST_START])
    got = deadlines.add_working_time_many(start, np.array([3, 3]), np.array([0, 1]))
    assert got[0] == deadlines.NEVER and got[1] < deadlines.NEVER
    with pytest.raises(ValueError, match="units"):
        deadlines.add_working_time_many(start, np.array([1, 1]), np.array([3, 1]))
    with pytest.raises(ValueError, match="amounts"):
        deadlines.add_working_time_many(start, np.array([-1, 1]), np.array([1, 1]))
    with pytest.raises(ValueError, match="bases"):
        deadlines.add_working_time_many(start, np.array([1, 1]), np.array([1, 1]), np.array([2, 0]))


# Clock time (emergencies, utilities): plain elapsed hours, days as N x 24 h, over nights,
# weekends and the 2026 Spring Festival (Feb 15-23 off; Sat Feb 14 and Sat Feb 28 make-up
# workdays). The working-time column is the same limit in working time, for contrast.
@pytest.mark.parametrize(
    ("start", "amount", "unit", "clock", "working"),
    [
        # Saturday 20:00, flooding: 1 hour is 21:00 the same night, not Monday 10:00.
        ("2026-12-05 20:00", 1, "hours", "2026-12-05 21:00", "2026-12-07 10:00"),
        # A weeknight: 7 hours run through the night.
        ("2026-12-02 22:30", 7, "hours", "2026-12-03 05:30", "2026-12-03 17:30"),
        # Friday evening, 2 days: Sunday evening.
        ("2026-12-04 18:00", 2, "days", "2026-12-06 18:00", "2026-12-09 17:30"),
        # 除夕 (Feb 16) evening, no heating: 4 hours that night, not on Feb 24.
        ("2026-02-16 19:00", 4, "hours", "2026-02-16 23:00", "2026-02-24 14:30"),
        # 2 days over the holiday, and 0 days: no time at all.
        ("2026-02-16 19:00", 2, "days", "2026-02-18 19:00", "2026-02-26 17:30"),
        ("2026-02-18 03:15", 0, "days", "2026-02-18 03:15", "2026-02-24 17:30"),
        # Lunch break and a make-up workday count like any other time.
        ("2026-02-14 12:10", 1, "hours", "2026-02-14 13:10", "2026-02-14 14:30"),
    ],
)
def test_clock_time_deadlines(start, amount, unit, clock, working):
    assert add_time(bj(start), amount, unit, "clock") == bj(clock)
    assert add_time(bj(start), amount, unit, "working") == bj(working)
    assert add_time(bj(start), amount, unit) == add_working_time(bj(start), amount, unit)


@pytest.mark.parametrize(
    ("start", "amount", "unit", "basis", "factor", "deadline"),
    [
        ("2026-12-05 20:00", 1, "hours", "clock", 0.5, "2026-12-05 20:30"),
        ("2026-12-04 18:00", 2, "days", "clock", 0.25, "2026-12-05 06:00"),
        ("2026-12-07 09:00", 7, "hours", "working", 0.5, "2026-12-07 14:00"),
        # Working days stay whole: floor(3 x 0.5) = 1, floor(1 x 0.5) = 0 (end of that day).
        ("2026-12-07 10:00", 3, "days", "working", 0.5, "2026-12-08 17:30"),
        ("2026-12-07 10:00", 1, "days", "working", 0.5, "2026-12-07 17:30"),
        ("2026-12-07 10:00", 3, "days", "working", 0.7, "2026-12-09 17:30"),
    ],
)
def test_an_urgency_factor_shortens_the_limit(start, amount, unit, basis, factor, deadline):
    assert add_time(bj(start), amount, unit, basis, factor=factor) == bj(deadline)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: add_time(bj("2026-12-05 20:00"), 1, "hours", "wall"), "basis must be"),  # type: ignore[arg-type]
        (lambda: add_time(bj("2026-12-05 20:00"), 1, "weeks", "clock"), "unit must be"),  # type: ignore[arg-type]
        (lambda: add_time(bj("2026-12-05 20:00"), -1, "hours", "clock"), "amount must be"),
        (lambda: add_time(bj("2026-12-05 20:00"), 1, "hours", factor=0), "factor must be"),
        (lambda: add_time(bj("2026-12-05 20:00"), 1, "hours", factor=1.5), "factor must be"),
        (lambda: add_time(dt.datetime(2026, 12, 5, 20), 1, "hours", "clock"), "aware"),
    ],
)
def test_bad_add_time_arguments_are_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_yellow_card_of_a_clock_time_stage_is_its_last_fifth_of_elapsed_time():
    started = bj("2026-12-05 20:00")  # Saturday night
    deadline = add_time(started, 1, "hours", "clock")
    assert yellow_at(started, deadline, basis="clock") == bj("2026-12-05 20:48")
    assert warning_level(bj("2026-12-05 20:47"), deadline, started, basis="clock") == "green"
    assert warning_level(bj("2026-12-05 20:48"), deadline, started, basis="clock") == "yellow"
    assert warning_level(bj("2026-12-05 21:01"), deadline, started, basis="clock") == "red"
    # Counted in working time, a Saturday night's hour holds no working time: no card
    # before the deadline itself.
    assert yellow_at(started, deadline) == deadline
    holiday = bj("2026-02-16 19:00")
    two_days = add_time(holiday, 2, "days", "clock")
    assert yellow_at(holiday, two_days, basis="clock") == bj("2026-02-18 09:24")
    with pytest.raises(ValueError, match="basis must be"):
        yellow_at(started, deadline, basis="wall")  # type: ignore[arg-type]
