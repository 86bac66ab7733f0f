"""Time limits (限时办理) in working hours and working days, and timeliness cards (红黄牌).

Convention
----------
- **Working day**: a day the official schedule says people work, make-up workdays (调休) on a
  weekend included and public holidays excluded, as the ``chinese-calendar`` package encodes
  the State Council's yearly notice; local additions come from a :class:`WorkCalendar`.
- **Working hours**: 09:00–12:00 and 13:30–17:30 in ``tz`` (Asia/Shanghai), 7 hours a day; a
  different ``work_hours`` may be passed.
- **Start**: a request arriving outside working hours (night, lunch break, weekend, holiday)
  starts counting at the next working moment; one arriving exactly at the end of a period
  (12:00, 17:30) counts as arriving outside it.
- **Hours**: the deadline is the moment the N-th working hour is used up, which may be the end
  of a period (12:00) rather than the start of the next one.
- **Days**: like a statutory period (民法典 第二百零一条: the first day is not counted), the
  deadline is the end of working hours (17:30) of the N-th working day after the day counting
  starts; 0 days means the end of that same working day (当日办结).

Years the package does not know
-------------------------------
``chinese-calendar`` ships each year's schedule once the State Council publishes it (usually
in November for the next year; the pinned version knows 2004–2026). For a day in another year
that no :class:`WorkCalendar` covers, a working day is estimated as Monday–Friday and a warning
is logged once per year. The estimate counts holidays as working days, so an estimated deadline
errs early, strict for staff and never late for residents; :func:`is_estimated` tells which
deadlines to store with a flag and recompute once the schedule is known (upgrade the package,
or give the published days to a :class:`WorkCalendar`).

Everything takes and returns timezone-aware datetimes; results are in UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

from gridmap.core.clock import BEIJING

log = logging.getLogger(__name__)

Unit = Literal["hours", "days"]
Card = Literal["green", "yellow", "red"]
#: ((start hour, minute), (end hour, minute)) of each working period in a day, in order.
WorkHours = Sequence[tuple[tuple[int, int], tuple[int, int]]]

DEFAULT_TZ: Final = BEIJING.key
WORK_HOURS: Final[tuple[tuple[tuple[int, int], tuple[int, int]], ...]] = (
    ((9, 0), (12, 0)),
    ((13, 30), (17, 30)),
)
#: The longest limit accepted: far beyond any real one, short enough to bound the day loops.
MAX_AMOUNT: Final = 10_000
_UTC: Final = dt.UTC


@dataclass(frozen=True)
class WorkCalendar:
    """Local additions to the package's schedule.

    Parameters
    ----------
    holidays, workdays
        Days off and make-up workdays that override everything else (e.g. a year's schedule
        published before the package knows it, or a local day off).
    years
        Years whose schedule these additions complete: their other days follow the weekday
        rule without a warning and without being reported as estimated.
    """

    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    years: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"days both holiday and workday: {sorted(both)}")

    def covers(self, day: dt.date) -> bool:
        """Whether ``day``'s status is known rather than estimated."""
        return day.year in self.years or _package_knows(day.year)

    def is_working_day(self, day: dt.date) -> bool:
        """Whether people work on ``day`` (调休 included)."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if _package_knows(day.year):
            return bool(chinese_calendar.is_workday(day))
        if day.year not in self.years:
            _warn_estimated(day.year)
        return day.weekday() < 5


DEFAULT_CALENDAR: Final = WorkCalendar()


def known_years() -> range:
    """The years the installed ``chinese-calendar`` knows (2004–2026 for version 1.11.0)."""
    years = [year for year in range(1990, 2200) if _package_knows(year)]
    return range(years[0], years[-1] + 1) if years else range(0)


def is_working_day(day: dt.date, calendar: WorkCalendar = DEFAULT_CALENDAR) -> bool:
    """Whether people work on ``day``; see the module notes for unknown years."""
    return calendar.is_working_day(day)


def add_working_time(
    start: dt.datetime,
    amount: int,
    unit: Unit,
    *,
    tz: str = DEFAULT_TZ,
    work_hours: WorkHours = WORK_HOURS,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> dt.datetime:
    """The deadline ``amount`` working ``unit`` after ``start``.

    Parameters
    ----------
    start
        When the clock starts (aware; any zone).
    amount
        A whole number of hours or days, 0 to :data:`MAX_AMOUNT`.
    unit
        ``"hours"`` or ``"days"``; see the module notes for how each is counted.
    tz, work_hours, calendar
        The zone the working hours are in, the periods, and local schedule additions.

    Returns
    -------
    datetime
        The deadline, in UTC.
    """
    _check_aware(start, "start")
    if type(amount) is not int or not 0 <= amount <= MAX_AMOUNT:
        raise ValueError(f"amount must be an integer from 0 to {MAX_AMOUNT}; got {amount!r}")
    clock = _Clock(_zone(tz), _periods(work_hours), calendar)
    if unit == "hours":
        return clock.add(start, dt.timedelta(hours=amount))
    if unit == "days":
        return clock.add_days(start, amount)
    raise ValueError(f"unit must be 'hours' or 'days'; got {unit!r}")


def working_time_between(
    start: dt.datetime,
    end: dt.datetime,
    *,
    tz: str = DEFAULT_TZ,
    work_hours: WorkHours = WORK_HOURS,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> dt.timedelta:
    """The working time from ``start`` to ``end`` (zero if ``end`` is not after ``start``)."""
    _check_aware(start, "start")
    _check_aware(end, "end")
    return _Clock(_zone(tz), _periods(work_hours), calendar).between(start, end)


def yellow_at(
    started: dt.datetime,
    deadline: dt.datetime,
    *,
    yellow_share: float = 0.2,
    tz: str = DEFAULT_TZ,
    work_hours: WorkHours = WORK_HOURS,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> dt.datetime:
    """When the yellow card shows: the last ``yellow_share`` of the allowed working time begins.

    Storing it beside the deadline lets "due soon" and "overdue" lists be plain SQL comparisons.
    """
    _check_aware(started, "started")
    _check_aware(deadline, "deadline")
    if deadline < started:
        raise ValueError(f"deadline {deadline} is before started {started}")
    if not 0.0 <= yellow_share <= 1.0:
        raise ValueError(f"yellow_share must be between 0 and 1; got {yellow_share!r}")
    clock = _Clock(_zone(tz), _periods(work_hours), calendar)
    allowed = clock.between(started, deadline)
    green = allowed * (1 - yellow_share)
    return min(clock.add(started, green), deadline.astimezone(_UTC))


def warning_level(
    now: dt.datetime,
    deadline: dt.datetime,
    started: dt.datetime,
    *,
    yellow_share: float = 0.2,
    tz: str = DEFAULT_TZ,
    work_hours: WorkHours = WORK_HOURS,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> Card:
    """红黄牌: ``"red"`` after the deadline, ``"yellow"`` in the last ``yellow_share`` of the
    allowed working time (the deadline itself included), ``"green"`` before."""
    _check_aware(now, "now")
    _check_aware(deadline, "deadline")
    if now > deadline:
        return "red"
    turns = yellow_at(
        started,
        deadline,
        yellow_share=yellow_share,
        tz=tz,
        work_hours=work_hours,
        calendar=calendar,
    )
    return "yellow" if now >= turns else "green"


def is_estimated(
    start: dt.datetime,
    deadline: dt.datetime,
    *,
    tz: str = DEFAULT_TZ,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> bool:
    """Whether a day from ``start`` to ``deadline`` (local dates) lies outside the known years."""
    _check_aware(start, "start")
    _check_aware(deadline, "deadline")
    zone = _zone(tz)
    first, last = start.astimezone(zone).year, deadline.astimezone(zone).year
    return not all(calendar.covers(dt.date(year, 1, 1)) for year in range(first, last + 1))


@dataclass(frozen=True)
class _Clock:
    """Working periods of a zone and calendar, as UTC intervals day by day."""

    zone: ZoneInfo
    periods: tuple[tuple[dt.time, dt.time], ...]
    calendar: WorkCalendar

    def day_periods(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        if not self.calendar.is_working_day(day):
            return []
        # Converted to UTC at once: arithmetic between aware datetimes sharing a ZoneInfo is
        # wall-clock arithmetic, wrong across a DST change in zones that have one.
        return [(self._utc(day, begin), self._utc(day, end)) for begin, end in self.periods]

    def _utc(self, day: dt.date, time: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, time, tzinfo=self.zone).astimezone(_UTC)

    def days_from(self, moment: dt.datetime) -> Iterator[dt.date]:
        day = moment.astimezone(self.zone).date()
        for offset in range(_MAX_DAYS):
            yield day + dt.timedelta(days=offset)
        raise ValueError(f"no working time within {_MAX_DAYS} days of {moment}")

    def add(self, start: dt.datetime, remaining: dt.timedelta) -> dt.datetime:
        """``start`` plus ``remaining`` working time; with zero, the next working moment."""
        start = start.astimezone(_UTC)
        for day in self.days_from(start):
            for begin, end in self.day_periods(day):
                if end <= start:
                    continue  # a period already over, or ending exactly now
                begin = max(begin, start)
                if remaining <= end - begin:
                    return begin + remaining
                remaining -= end - begin
        raise AssertionError("unreachable: days_from raises first")

    def add_days(self, start: dt.datetime, days: int) -> dt.datetime:
        first = self.add(start, dt.timedelta(0)).astimezone(self.zone).date()
        counted = 0
        for day in self.days_from(start):
            if day < first or not self.calendar.is_working_day(day):
                continue
            if counted == days:
                return self.day_periods(day)[-1][1]
            counted += 1
        raise AssertionError("unreachable: days_from raises first")

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        start, end = start.astimezone(_UTC), end.astimezone(_UTC)
        total = dt.timedelta(0)
        if end <= start:
            return total
        last = end.astimezone(self.zone).date()
        for day in self.days_from(start):
            if day > last:
                return total
            for begin, finish in self.day_periods(day):
                overlap = min(finish, end) - max(begin, start)
                total += max(overlap, dt.timedelta(0))
        raise AssertionError("unreachable: days_from raises first")


# MAX_AMOUNT working days plus every weekend and holiday between them, with room to spare.
_MAX_DAYS: Final = MAX_AMOUNT * 3


@functools.cache
def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@functools.cache
def _warn_estimated(year: int) -> None:
    # Cached so that a busy worker logs each unknown year once, not once per request.
    log.warning(
        "chinese-calendar knows no schedule for %d: working days estimated as Monday-Friday "
        "(holidays counted as working days); upgrade chinese-calendar or add the year to a "
        "WorkCalendar",
        year,
    )


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {tz!r}") from error


def _check_aware(value: dt.datetime, what: str) -> None:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime; got {value!r}")


def _periods(work_hours: WorkHours) -> tuple[tuple[dt.time, dt.time], ...]:
    try:
        # A hashable copy, so the parsed periods are cached across the many calls per request.
        key = tuple((_clock_time(begin), _clock_time(end)) for begin, end in work_hours)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"work_hours must be ((hour, minute), (hour, minute)) pairs; got {work_hours!r}"
        ) from error
    return _parse_periods(key)


def _clock_time(value: Sequence[int]) -> tuple[int, int]:
    if len(value) != 2:
        raise ValueError(f"not (hour, minute): {value!r}")
    hour, minute = value[0], value[1]
    dt.time(hour, minute)  # checks the type and range
    return hour, minute


@functools.cache
def _parse_periods(
    work_hours: tuple[tuple[tuple[int, int], tuple[int, int]], ...],
) -> tuple[tuple[dt.time, dt.time], ...]:
    periods = tuple((dt.time(*begin), dt.time(*end)) for begin, end in work_hours)
    bounds = [moment for period in periods for moment in period]
    if not periods or any(a >= b for a, b in itertools.pairwise(bounds)):
        raise ValueError(f"work_hours must be non-empty, ordered, not overlapping: {work_hours!r}")
    return periods
