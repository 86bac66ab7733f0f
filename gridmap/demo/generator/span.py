"""The calendar months covered, day by day, and the calendar's weight of each day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import chinese_calendar
import numpy as np

from gridmap.demo.generator.model import TZ, Bools, Floats, Ints
from gridmap.requests import deadlines


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


@dataclass(frozen=True)
class Span:
    """The calendar months covered, day by day, up to ``end``."""

    start: dt.datetime
    end_time: dt.datetime
    days: list[dt.date]
    day_start: Ints  # Unix seconds of each local midnight, and of the day after the last
    end: int

    @classmethod
    def ending(cls, end: dt.datetime, months: int) -> Span:
        local = end.astimezone(TZ).replace(microsecond=0)
        index = local.year * 12 + local.month - 1 - (months - 1)
        first = dt.date(index // 12, index % 12 + 1, 1)
        days = [first + dt.timedelta(days=i) for i in range((local.date() - first).days + 1)]
        after = [*days, days[-1] + dt.timedelta(days=1)]
        starts = [_epoch(dt.datetime.combine(d, dt.time(), TZ)) for d in after]
        return cls(
            start=dt.datetime.combine(first, dt.time(), TZ),
            end_time=local,
            days=days,
            day_start=np.array(starts, dtype=np.int64),
            end=_epoch(local),
        )

    @property
    def last_day_seconds(self) -> int:
        """Seconds of the last day up to ``end``."""
        return self.end - int(self.day_start[-2])


def day_factors(span: Span) -> tuple[Floats, Bools]:
    """The calendar's weight of each day, and the days just after the Spring Festival."""
    festival = np.array([_spring_festival(d) for d in span.days])
    working = np.array([deadlines.is_working_day(d) for d in span.days])
    monday = np.array([d.weekday() == 0 for d in span.days])
    growth = 0.92 + 0.16 * np.linspace(0.0, 1.0, len(span.days))
    factor = np.where(working, np.where(monday, 1.08, 1.0), 0.7) * growth
    factor = np.where(festival, 0.55 * growth, factor)
    since = np.full(len(span.days), 10_000)
    last = -10_000
    for i, f in enumerate(festival.tolist()):
        last = i if f else last
        since[i] = i - last
    return factor, (since >= 1) & (since <= 12)


def _spring_festival(day: dt.date) -> bool:
    try:
        holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # a year the package does not know
        return False
    return bool(holiday) and name == chinese_calendar.Holiday.spring_festival.value
