"""Time limits (限时办理) in clock or working time, and timeliness cards (红黄牌).

Each stage limit says how it is counted (its ``basis``): emergencies and utilities in clock
time, as 12345 and 数字城管 count them (a flooding report filed on Saturday at 20:00 with one
hour is due at 21:00), other work in working time (the default).

Clock time
----------
- **Hours**: plain elapsed hours from the start, night, weekend and holiday alike.
- **Days**: N × 24 hours from the start (not the end of a calendar day): a 1-day limit begun
  at 20:00 runs out at 20:00 the next day; 0 days is no time at all.

Working time
------------
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

Shortened limits
----------------
An urgent request (紧急, 特急) has its limits multiplied by a factor 0 < f <= 1
(:func:`add_time`): hours, and clock days, become f × the allowed time rounded to the
minute; working days stay whole days, ⌊f × N⌋ of them (so 1 working day halved is the end
of the day counting starts on, 当日办结).

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

Arrays
------
:class:`WorkingTimeTable` and :func:`add_working_time_many` count the same working (and
clock) time for whole arrays of moments at once (Unix seconds), from a minute table of a run
of days: the request generator computes millions of deadlines with them. They follow the rules above
exactly; ``tests/domain/test_deadlines.py`` checks them against the scalar functions.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import numpy as np
from numpy.typing import NDArray

from gridmap.core.clock import BEIJING

log = logging.getLogger(__name__)

Unit = Literal["hours", "days"]
#: How a limit is counted: elapsed ``"clock"`` time or ``"working"`` time (see the notes).
Basis = Literal["working", "clock"]
Card = Literal["green", "yellow", "red"]
#: Moments as Unix seconds, and whole numbers, in the array entry points.
Seconds = NDArray[np.int64]
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
#: "Never" in the array entry points: no limit, no deadline, a moment beyond the table.
NEVER: Final = np.int64(2**62)
#: Codes of the units in the array entry points (0: the stage has no limit).
UNIT_CODES: Final[Mapping[Unit, int]] = {"hours": 1, "days": 2}
BASES: Final[tuple[Basis, ...]] = ("working", "clock")
#: Codes of the bases in the array entry points (working, the default, is 0).
BASIS_CODES: Final[Mapping[Basis, int]] = {"working": 0, "clock": 1}
_UNIT_SECONDS: Final[Mapping[Unit, int]] = {"hours": 3600, "days": 86_400}


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
    _check_amount(amount)
    clock = _Clock(_zone(tz), _periods(work_hours), calendar)
    if unit == "hours":
        return clock.add(start, dt.timedelta(hours=amount))
    if unit == "days":
        return clock.add_days(start, amount)
    raise ValueError(f"unit must be 'hours' or 'days'; got {unit!r}")


def add_time(
    start: dt.datetime,
    amount: int,
    unit: Unit,
    basis: Basis = "working",
    *,
    factor: float = 1.0,
    tz: str = DEFAULT_TZ,
    work_hours: WorkHours = WORK_HOURS,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> dt.datetime:
    """The deadline of a stage limit of ``amount`` ``unit`` counted in ``basis`` time.

    Parameters
    ----------
    start, amount, unit, tz, work_hours, calendar
        As for :func:`add_working_time`.
    basis
        ``"working"`` (:func:`add_working_time`) or ``"clock"`` (elapsed time; see the notes).
    factor
        0 < factor <= 1: the share of the limit allowed (an urgent request's, see the notes).

    Returns
    -------
    datetime
        The deadline, in UTC.
    """
    _check_aware(start, "start")
    _check_amount(amount)
    if unit not in UNIT_CODES:
        raise ValueError(f"unit must be 'hours' or 'days'; got {unit!r}")
    if basis not in BASES:
        raise ValueError(f"basis must be 'working' or 'clock'; got {basis!r}")
    if not (isinstance(factor, int | float) and 0 < factor <= 1):
        raise ValueError(f"factor must be above 0 and at most 1; got {factor!r}")
    allowed = _scaled(amount * _UNIT_SECONDS[unit], factor)
    if basis == "clock":
        return start.astimezone(_UTC) + allowed
    if unit == "days":
        # The tiny margin keeps 3 × 0.7 = 2.0999… from losing a whole day to rounding.
        days = math.floor(amount * factor + 1e-9)
        return add_working_time(
            start, days, "days", tz=tz, work_hours=work_hours, calendar=calendar
        )
    return _Clock(_zone(tz), _periods(work_hours), calendar).add(
        start, _scaled(amount * 3600, factor)
    )


def _scaled(seconds: int, factor: float) -> dt.timedelta:
    return dt.timedelta(minutes=round(seconds * factor / 60))


def _check_amount(amount: int) -> None:
    if type(amount) is not int or not 0 <= amount <= MAX_AMOUNT:
        raise ValueError(f"amount must be an integer from 0 to {MAX_AMOUNT}; got {amount!r}")


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
    basis: Basis = "working",
    yellow_share: float = 0.2,
    tz: str = DEFAULT_TZ,
    work_hours: WorkHours = WORK_HOURS,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> dt.datetime:
    """When the yellow card shows: the last ``yellow_share`` of the allowed time begins,
    counted in the stage's ``basis`` (working time, or elapsed time for a clock-time stage).

    Storing it beside the deadline lets "due soon" and "overdue" lists be plain SQL comparisons.
    """
    _check_aware(started, "started")
    _check_aware(deadline, "deadline")
    if deadline < started:
        raise ValueError(f"deadline {deadline} is before started {started}")
    if not 0.0 <= yellow_share <= 1.0:
        raise ValueError(f"yellow_share must be between 0 and 1; got {yellow_share!r}")
    if basis not in BASES:
        raise ValueError(f"basis must be 'working' or 'clock'; got {basis!r}")
    if basis == "clock":
        return (started + (deadline - started) * (1 - yellow_share)).astimezone(_UTC)
    clock = _Clock(_zone(tz), _periods(work_hours), calendar)
    allowed = clock.between(started, deadline)
    green = allowed * (1 - yellow_share)
    return min(clock.add(started, green), deadline.astimezone(_UTC))


def warning_level(
    now: dt.datetime,
    deadline: dt.datetime,
    started: dt.datetime,
    *,
    basis: Basis = "working",
    yellow_share: float = 0.2,
    tz: str = DEFAULT_TZ,
    work_hours: WorkHours = WORK_HOURS,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> Card:
    """红黄牌: ``"red"`` after the deadline, ``"yellow"`` in the last ``yellow_share`` of the
    allowed time in ``basis`` (the deadline itself included), ``"green"`` before."""
    _check_aware(now, "now")
    _check_aware(deadline, "deadline")
    if now > deadline:
        return "red"
    turns = yellow_at(
        started,
        deadline,
        basis=basis,
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


class WorkingTimeTable:
    """Working time of a run of days as a minute table, for whole arrays of moments at once.

    The array twin of :func:`add_working_time` and :func:`working_time_between`: moments are
    Unix seconds (``int64``), counted as the module notes say. ``worked(t)`` is the working
    time from the table's start to ``t``; deadlines and delays are found by inverting it. A
    result beyond the table is :data:`NEVER`, and :data:`NEVER` given stays :data:`NEVER`.

    Parameters
    ----------
    first, days
        The first local day of the table and how many days it holds.
    tz, work_hours, calendar
        As for :func:`add_working_time`.
    exact_until
        Days after it are taken as Monday–Friday without asking the calendar (nor warning
        about years it does not know): for callers that need exact answers only up to a day.
    """

    def __init__(
        self,
        first: dt.date,
        days: int,
        *,
        tz: str = DEFAULT_TZ,
        work_hours: WorkHours = WORK_HOURS,
        calendar: WorkCalendar = DEFAULT_CALENDAR,
        exact_until: dt.date | None = None,
    ) -> None:
        self.zone, periods = _zone(tz), _periods(work_hours)
        dates = [first + dt.timedelta(days=i) for i in range(days + 1)]
        self.day_start = np.array([self._epoch(d, dt.time()) for d in dates], dtype=np.int64)
        self.origin = int(self.day_start[0])
        self.working_day = np.array(
            [_works(d, calendar, exact_until) for d in dates[:-1]], dtype=bool
        )
        flag = np.zeros(int(self.day_start[-1] - self.origin) // 60, dtype=bool)
        self.day_end = np.full(days, NEVER, dtype=np.int64)
        for i in np.flatnonzero(self.working_day).tolist():
            for begin, finish in periods:
                a, b = self._minute(dates[i], begin), self._minute(dates[i], finish)
                flag[a:b] = True
            self.day_end[i] = self.origin + 60 * b
        self.flag = flag
        self.cumulative = np.concatenate(([0], np.cumsum(flag, dtype=np.int64)))
        self.working_minutes = np.flatnonzero(flag).astype(np.int64)
        self.working_days = np.flatnonzero(self.working_day).astype(np.int64)

    def _epoch(self, day: dt.date, time: dt.time) -> int:
        return int(dt.datetime.combine(day, time, self.zone).timestamp())

    def _minute(self, day: dt.date, time: dt.time) -> int:
        return (self._epoch(day, time) - self.origin) // 60

    def _minute_of(self, t: Seconds) -> tuple[Seconds, Seconds]:
        rel = np.clip(t - self.origin, 0, 60 * self.flag.size - 1)
        return rel // 60, rel % 60

    def worked(self, t: Seconds) -> Seconds:
        """Working seconds from the table's start to ``t``."""
        minute, second = self._minute_of(t)
        return self.cumulative[minute] * 60 + self.flag[minute] * second

    def moment(self, worked: Seconds) -> Seconds:
        """The first moment by which ``worked`` working seconds are used up (NEVER beyond)."""
        whole, rest = np.divmod(worked, 60)
        index = np.where(rest > 0, whole, whole - 1)
        inside = (index >= 0) & (index < self.working_minutes.size)
        minute = self.working_minutes[np.clip(index, 0, self.working_minutes.size - 1)]
        found = self.origin + 60 * minute + np.where(rest > 0, rest, 60)
        return np.where(inside, found, NEVER)

    def next_working(self, t: Seconds) -> Seconds:
        """``t`` if it lies in working hours, else the start of the next working period."""
        minute, _ = self._minute_of(t)
        j = np.searchsorted(self.working_minutes, minute)
        inside = j < self.working_minutes.size
        start = (
            self.origin + 60 * self.working_minutes[np.clip(j, 0, self.working_minutes.size - 1)]
        )
        return np.where(self.flag[minute] & (t < NEVER), t, np.where(inside, start, NEVER))

    def after(self, t: Seconds, seconds: Seconds | NDArray[np.float64]) -> Seconds:
        """The moment ``seconds`` (> 0, rounded) of working time after ``t`` are used up."""
        later = self.moment(self.worked(t) + np.rint(seconds).astype(np.int64))
        return np.where(t < NEVER, later, NEVER)

    def between(self, start: Seconds, end: Seconds) -> Seconds:
        """:func:`working_time_between` in seconds, element-wise."""
        worked: Seconds = np.maximum(self.worked(end) - self.worked(start), 0)
        return worked

    def add_hours(self, t: Seconds, hours: Seconds) -> Seconds:
        """:func:`add_working_time` in hours, element-wise."""
        later = self.moment(self.worked(t) + 3600 * hours)
        return np.where(hours > 0, later, self.next_working(t))

    def add_days(self, t: Seconds, days: Seconds) -> Seconds:
        """:func:`add_working_time` in days: the end of the ``days``-th working day after the
        one counting starts on."""
        first = self.next_working(t)
        day = np.searchsorted(self.day_start, first, side="right") - 1
        j = np.searchsorted(self.working_days, day) + days
        inside = (first < NEVER) & (j < self.working_days.size)
        last = self.working_days[np.clip(j, 0, self.working_days.size - 1)]
        return np.where(inside, self.day_end[last], NEVER)

    def add_working_time(
        self, t: Seconds, amounts: Seconds, units: Seconds, bases: Seconds | None = None
    ) -> Seconds:
        """:func:`add_time` element-wise (no factor); ``units`` are :data:`UNIT_CODES` (0: no
        limit, NEVER) and ``bases`` :data:`BASIS_CODES` (default: all working time)."""
        out = np.full(t.shape, NEVER, dtype=np.int64)
        running = t < NEVER
        clocked = running & (bases == BASIS_CODES["clock"]) if bases is not None else None
        if clocked is not None:
            seconds = np.select(
                [units == code for code in UNIT_CODES.values()], list(_UNIT_SECONDS.values()), 0
            )
            pick = clocked & (units > 0)
            out[pick] = t[pick] + amounts[pick] * seconds[pick]
            running &= ~clocked
        for code, add in (
            (UNIT_CODES["hours"], self.add_hours),
            (UNIT_CODES["days"], self.add_days),
        ):
            pick = running & (units == code)
            out[pick] = add(t[pick], amounts[pick])
        return out


def _works(day: dt.date, calendar: WorkCalendar, exact_until: dt.date | None) -> bool:
    if exact_until is None or day <= exact_until:
        return calendar.is_working_day(day)
    return day.weekday() < 5


def add_working_time_many(
    starts: Seconds,
    amounts: Seconds,
    units: Seconds,
    bases: Seconds | None = None,
    *,
    tz: str = DEFAULT_TZ,
    work_hours: WorkHours = WORK_HOURS,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> Seconds:
    """:func:`add_time` for arrays (no factor): the deadlines (Unix seconds) ``amounts``
    ``units`` (:data:`UNIT_CODES`; 0: no limit, :data:`NEVER`) after ``starts`` (Unix seconds),
    counted in the ``bases`` (:data:`BASIS_CODES`; default: all working time).

    Builds one :class:`WorkingTimeTable` over the days needed; to count many batches over
    the same span, build the table once and call its ``add_working_time``.
    """
    starts, amounts, units = (np.asarray(a, dtype=np.int64) for a in (starts, amounts, units))
    if not starts.shape == amounts.shape == units.shape:
        raise ValueError("starts, amounts and units must have the same shape")
    if amounts.size and not (amounts.min() >= 0 and amounts.max() <= MAX_AMOUNT):
        raise ValueError(f"amounts must be integers from 0 to {MAX_AMOUNT}")
    if not np.isin(units, (0, *UNIT_CODES.values())).all():
        raise ValueError(f"units must be 0 (no limit) or one of {dict(UNIT_CODES)}")
    if bases is not None:
        bases = np.asarray(bases, dtype=np.int64)
        if bases.shape != starts.shape or not np.isin(bases, tuple(BASIS_CODES.values())).all():
            raise ValueError(f"bases must have the starts' shape and be in {dict(BASIS_CODES)}")
    wanted = units > 0
    if not wanted.any():
        return np.full(starts.shape, NEVER, dtype=np.int64)
    zone = _zone(tz)
    first = dt.datetime.fromtimestamp(int(starts[wanted].min()), zone).date()
    last = dt.datetime.fromtimestamp(int(starts[wanted].max()), zone).date()
    days = (last - first).days + 2 * int(amounts[wanted].max()) + 31
    while True:  # longer until every deadline lies inside the table
        table = WorkingTimeTable(first, days, tz=tz, work_hours=work_hours, calendar=calendar)
        found = table.add_working_time(starts, amounts, units, bases)
        if not (found[wanted] >= NEVER).any():
            return found
        if days > (last - first).days + _MAX_DAYS:
            raise ValueError(f"no working time within {_MAX_DAYS} days of a start")
        days *= 2


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
