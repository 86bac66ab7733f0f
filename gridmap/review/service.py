"""The monthly review of where residents' requests concentrate (一月一研判).

Periods are ISO weeks (``YYYY-Www``, Monday to Sunday) or months (``YYYY-MM``) in
Asia/Shanghai; a review covers the periods ``from``..``to`` of one kind, by filing date. The
layers a page draws are aggregates, so their size depends on the number of grids, never on
the number of requests:

- **heat**: the count of each micro-grid as one weighted point at its label point; beyond
  ``HEAT_POINT_CAP`` micro-grids (a whole city) the zones' counts are drawn instead;
- **choropleth**: the count, or the count per 100 households, of each grid of a level;
- **hot spots**: Getis-Ord Gi* over today's micro-grids of the reviewed area, with binary
  distance-band weights and false-discovery-rate correction (:mod:`gridmap.spatial.hotspots`);
  every micro-grid counts, those without requests as 0;
- **trend**: Gi* of each of the last ``trend_periods`` periods and a Mann-Kendall test of
  each cell's z-scores: cells hot now and getting significantly hotter, and new or
  intensifying hot spots, are the 未诉先办 candidates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core import clock
from gridmap.core.clock import BEIJING
from gridmap.core.errors import InvalidInput, NotFound
from gridmap.requests import rates
from gridmap.requests.lifecycle import STATE_GROUPS
from gridmap.requests.lifecycle import STATES as REQUEST_STATES
from gridmap.storage import review as store

#: A page never receives more weighted points than this (the issue's ~50 k).
HEAT_POINT_CAP = 50_000
MAX_PERIODS = {"W": 106, "M": 60}
Measure = Literal["count", "per_100_households"]
_WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


# ------------------------------------------------------------------------------------ periods


def parse_period(text: str) -> tuple[store.Kind, dt.date]:
    """``YYYY-MM`` → ("M", first day); ``YYYY-Www`` → ("W", its Monday); in the years
    :func:`gridmap.core.clock.supported_year` accepts."""
    if (found := _MONTH.match(text)) and clock.supported_year(int(found[1])):
        year, month = int(found[1]), int(found[2])
        if 1 <= month <= 12:
            return "M", dt.date(year, month, 1)
    elif (found := _WEEK.match(text)) and clock.supported_year(int(found[1])):
        try:
            return "W", dt.date.fromisocalendar(int(found[1]), int(found[2]), 1)
        except ValueError:
            pass
    raise InvalidInput(
        f"a period is a month YYYY-MM or an ISO week YYYY-Www of {clock.FIRST_YEAR} to "
        f"{clock.LAST_YEAR}, not {text!r}"
    )


def check_month(text: str) -> None:
    """Refuse anything but a month ``YYYY-MM`` of the supported years."""
    try:
        kind = parse_period(text or "")[0]
    except InvalidInput:
        kind = "W"
    if kind != "M":
        raise InvalidInput(
            f"month must be YYYY-MM ({clock.FIRST_YEAR}-01 to {clock.LAST_YEAR}-12), not {text!r}"
        )


def period_label(kind: store.Kind, start: dt.date) -> str:
    if kind == "M":
        return start.strftime("%Y-%m")
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


def next_start(kind: store.Kind, start: dt.date) -> dt.date:
    if kind == "W":
        return start + dt.timedelta(days=7)
    return dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)


def previous_start(kind: store.Kind, start: dt.date, steps: int = 1) -> dt.date:
    for _ in range(steps):
        if kind == "W":
            start -= dt.timedelta(days=7)
        else:
            start = dt.date(start.year - (start.month == 1), (start.month - 2) % 12 + 1, 1)
    return start


def starts(kind: store.Kind, first: dt.date, last: dt.date) -> list[dt.date]:
    out = [first]
    while out[-1] < last:
        out.append(next_start(kind, out[-1]))
    return out


def recent_periods(
    today: dt.date | None = None, *, months: int = 12, weeks: int = 26
) -> dict[str, list[str]]:
    """The labels of the last ``months`` months and ``weeks`` weeks up to the current ones,
    oldest first: the stops of the page's time slider."""
    today = today or clock.today()
    month = today.replace(day=1)
    week = today - dt.timedelta(days=today.weekday())
    return {
        "M": [
            period_label("M", s) for s in starts("M", previous_start("M", month, months - 1), month)
        ],
        "W": [
            period_label("W", s) for s in starts("W", previous_start("W", week, weeks - 1), week)
        ],
    }


def last_month(today: dt.date | None = None) -> str:
    today = today or clock.today()
    return period_label("M", previous_start("M", today.replace(day=1)))


# ------------------------------------------------------------------------------------ filters


@dataclass(frozen=True)
class Query:
    """A review's parameters as given (period texts, codes), before they are checked."""

    first: str | None = None
    last: str | None = None
    categories: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    overdue: bool = False
    grid: str | None = None


def build_filter(
    scope: Scope, query: Query, *, now: dt.datetime | None = None
) -> store.ReviewFilter:
    """Check the parameters and confine them to the caller's scope."""
    first_text = query.first or query.last or last_month()
    kind, first = parse_period(first_text)
    last_kind, last = parse_period(query.last or first_text)
    if last_kind != kind:
        raise InvalidInput("from and to must both be months or both be weeks")
    if last < first:
        raise InvalidInput("to must not be before from")
    if len(starts(kind, first, last)) > MAX_PERIODS[kind]:
        raise InvalidInput(f"at most {MAX_PERIODS[kind]} periods in one review")
    states: list[str] = []
    for state in query.states or tuple(STATE_GROUPS):
        if state in STATE_GROUPS:
            states.extend(STATE_GROUPS[state])
        elif state in REQUEST_STATES:
            states.append(state)
        else:
            known = ", ".join((*STATE_GROUPS, *REQUEST_STATES))
            raise InvalidInput(f"state must be one of {known}, not {state!r}")
    prefixes = store.review_prefixes(scope, query.grid)
    if query.grid is not None and not prefixes:
        raise NotFound(f"grid {query.grid} is not in your area")
    return store.ReviewFilter(
        kind=kind,
        first=first,
        last=last,
        prefixes=prefixes,
        categories=tuple(sorted(set(query.categories))),
        states=tuple(dict.fromkeys(states)),
        overdue=query.overdue,
        now=now,
    )


def describe(wanted: store.ReviewFilter) -> dict[str, Any]:
    """The filter as the answers echo it."""
    return {
        "from": period_label(wanted.kind, wanted.first),
        "to": period_label(wanted.kind, wanted.last),
        "periods": [
            period_label(wanted.kind, s) for s in starts(wanted.kind, wanted.first, wanted.last)
        ],
        "categories": list(wanted.categories),
        "states": list(wanted.states),
        "overdue": wanted.overdue,
        "grids": list(wanted.prefixes),
    }


# ------------------------------------------------------------------------------------- layers


def summary(session: Session, wanted: store.ReviewFilter) -> dict[str, Any]:
    """Totals of the review: per category and per period, and the overdue count."""
    per_category = store.by_category(session, wanted)
    per_period = store.by_period(session, wanted)
    overdue = store.by_category(session, replace(wanted, overdue=True))
    return {
        "total": sum(per_category.values()),
        "overdue": sum(overdue.values()),
        "by_category": per_category,
        "by_period": {
            period_label(wanted.kind, s): per_period.get(s, 0)
            for s in starts(wanted.kind, wanted.first, wanted.last)
        },
    }


def heat(session: Session, wanted: store.ReviewFilter) -> dict[str, Any]:
    """Weighted points of the heat layer, at most ``HEAT_POINT_CAP``."""
    level: store.Level = "micro"
    if store.grid_count(session, wanted.prefixes, "micro") > HEAT_POINT_CAP:
        level = "zone"
    rows = store.heat(session, wanted, level)[:HEAT_POINT_CAP]
    points = [[round(lat, 6), round(lon, 6), int(n)] for lat, lon, n in rows]
    return {"level": level, "max": max((p[2] for p in points), default=0), "points": points}


def choropleth(
    session: Session, wanted: store.ReviewFilter, level: store.Level, measure: Measure
) -> dict[str, Any]:
    """The value of each grid of ``level`` that has requests."""
    counts = store.by_grid(session, wanted, level)
    values: dict[str, float] = dict(counts)
    if measure == "per_100_households":
        households = store.households_by_grid(session, wanted.prefixes, level)
        values = {
            code: rate
            for code, n in counts.items()
            if (rate := per_100_households(n, households.get(code, 0))) is not None
        }
    return {
        "level": level,
        "measure": measure,
        "max": max(values.values(), default=0),
        "values": values,
    }


def per_100_households(requests: int, households: int) -> float | None:
    """Requests per 100 households, to 2 decimals; None for a grid without households."""
    return round(100 * requests / households, 2) if households else None


def _matrix(
    session: Session,
    wanted: store.ReviewFilter,
    cells: list[store.MicroGridRow],
    periods: list[dt.date],
) -> np.ndarray:
    """Counts per cell (rows, in ``cells`` order) and period (columns)."""
    codes, found_starts, found = store.by_micro_and_period(session, wanted)
    row = {cell.code: i for i, cell in enumerate(cells)}
    column = {start: j for j, start in enumerate(periods)}
    i = np.fromiter((row.get(c, -1) for c in codes), dtype=np.int64, count=len(codes))
    j = np.fromiter((column.get(s, -1) for s in found_starts), dtype=np.int64, count=len(codes))
    kept = (i >= 0) & (j >= 0)
    counts = np.zeros((len(cells), len(periods)))
    np.add.at(counts, (i[kept], j[kept]), np.asarray(found, dtype=np.float64)[kept])
    return counts


@dataclass(frozen=True)
class GiStar:
    """Gi* of the review's counts over today's micro-grids of the area (``cells``, by code),
    and of each of the trend's periods: each array has a value per cell, in ``cells`` order."""

    cells: list[store.MicroGridRow]
    threshold_m: float
    trend_starts: list[dt.date]
    #: The reviewed periods' count of each cell.
    counts: np.ndarray
    z: np.ndarray
    p: np.ndarray
    bins: np.ndarray
    #: The emerging-hot-spot kind of each cell's trend (:func:`gridmap.spatial.hotspots.emerging`).
    trends: list[str]
    #: Getting significantly hotter and hot in the last period.
    worsening: np.ndarray

    def listed(self, i: int) -> bool:
        """Whether cell ``i`` is a hot or cold spot, or getting worse: what the page lists."""
        return bool(self.bins[i] != 0 or self.worsening[i])

    def candidate(self, i: int) -> bool:
        """未诉先办: listed, and getting worse or a new or intensifying hot spot."""
        return self.listed(i) and bool(
            self.worsening[i] or self.trends[i] in ("new", "intensifying")
        )


#: Distance-band weights per grid revision (the ``grid`` change count) and set of cells:
#: 110 ms at the demo's 5 949 micro-grids, the same until a grid is written.
_BANDS: dict[tuple[int, tuple[str, ...]], tuple[float, Any]] = {}
_BANDS_KEPT = 16


def _band(session: Session, cells: list[store.MicroGridRow]) -> tuple[float, Any]:
    """The neighbour threshold and binary distance-band weights of ``cells``, kept per grid
    revision and cells."""
    from gridmap.spatial import hotspots as stats

    codes = tuple(c.code for c in cells)
    key = (store.grid_revision(session), codes)
    if (found := _BANDS.get(key)) is not None:
        return found
    xy = stats.local_metres(
        np.array([c.lon for c in cells], dtype=float), np.array([c.lat for c in cells], dtype=float)
    )
    threshold = stats.neighbour_threshold(xy)
    found = (threshold, stats.distance_band(xy, threshold))
    while len(_BANDS) >= _BANDS_KEPT:
        _BANDS.pop(next(iter(_BANDS)))
    _BANDS[key] = found
    return found


def gi_star(
    session: Session,
    wanted: store.ReviewFilter,
    cells: list[store.MicroGridRow],
    trend_periods: int,
) -> GiStar | None:
    """Gi* of the review's counts over ``cells`` (today's micro-grids of the reviewed area,
    :func:`gridmap.storage.review.micro_grids`), and the trend of each cell's z-score over the
    last ``trend_periods`` periods up to ``to``; None for fewer than 3 cells."""
    if len(cells) < 3:
        return None
    # esda/libpysal (and scikit-learn under them) load only when hot spots are asked for.
    from gridmap.spatial import hotspots as stats

    threshold, weights = _band(session, cells)
    # One read of the tally covers the reviewed periods and the trend's window.
    trend_first = previous_start(wanted.kind, wanted.last, trend_periods - 1)
    every = starts(wanted.kind, min(wanted.first, trend_first), wanted.last)
    counts = _matrix(session, replace(wanted, first=every[0]), cells, every)
    reviewed = [i for i, s in enumerate(every) if s >= wanted.first]
    columns = np.column_stack([counts[:, reviewed].sum(axis=1), counts[:, -trend_periods:]])
    found, *per_period = stats.gi_star_columns(columns, weights, threshold)
    z_by_period = np.column_stack([p.z for p in per_period])
    bins_by_period = np.column_stack([p.bins for p in per_period])
    # Getting significantly hotter and hot in the last period: a trend test per cell is not
    # corrected for the number of cells, so a rising trend alone would flag noise.
    worse = stats.worsening(z_by_period) & (bins_by_period[:, -1] > 0)
    return GiStar(
        cells=cells,
        threshold_m=threshold,
        trend_starts=every[-trend_periods:],
        counts=columns[:, 0],
        z=found.z,
        p=found.p,
        bins=found.bins,
        trends=stats.emerging(z_by_period, bins_by_period),
        worsening=worse,
    )


def hot_spots(
    session: Session,
    wanted: store.ReviewFilter,
    *,
    trend_periods: int = 6,
    keep: Session | None = None,
) -> dict[str, Any]:
    """Gi* hot and cold spots of the review's counts over today's micro-grids, and the trend
    of each micro-grid's z-score over the last ``trend_periods`` periods up to ``to``
    (:func:`gi_star`): the cells listed, and the 未诉先办 candidates hottest first.

    The answer of periods that are over (the overdue filter aside, a property of the moment)
    is stored (through ``keep``, a writable session the caller commits) and served again
    while the grids and the tally of the periods it read are unchanged
    (:func:`gridmap.storage.review.hot_spot_stamp`)."""
    key = _stored_key(wanted, trend_periods)
    if key is not None:
        trend_first = previous_start(wanted.kind, wanted.last, trend_periods - 1)
        first = min(wanted.first, trend_first)
        stamp = store.hot_spot_stamp(session, wanted.kind, first, wanted.last)
        if (stored := store.stored_hot_spots(session, key, stamp)) is not None:
            return stored
    answer = _hot_spots(session, wanted, trend_periods)
    if key is not None and keep is not None:
        store.keep_hot_spots(keep, key, stamp, answer)
    return answer


def _stored_key(wanted: store.ReviewFilter, trend_periods: int) -> str | None:
    """The key a hot-spot answer is stored under; None while its last period runs, or for
    the overdue filter."""
    if wanted.overdue or next_start(wanted.kind, wanted.last) > clock.today():
        return None
    text = json.dumps(
        [
            wanted.kind,
            wanted.first.isoformat(),
            wanted.last.isoformat(),
            wanted.prefixes,
            wanted.categories,
            wanted.states,
            trend_periods,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _hot_spots(session: Session, wanted: store.ReviewFilter, trend_periods: int) -> dict[str, Any]:
    cells = store.micro_grids(session, wanted.prefixes)
    found = gi_star(session, wanted, cells, trend_periods)
    base: dict[str, Any] = {"cells": [], "candidates": [], "threshold_m": None}
    if found is None:
        return base | {"micro_grids": len(cells)}
    listed = [i for i in range(len(cells)) if found.listed(i)]
    communities = store.community_names(session, wanted.prefixes)
    candidates = sorted(
        (i for i in listed if found.candidate(i)),
        key=lambda i: (-round(float(found.z[i]), 3), cells[i].code),
    )
    return {
        "cells": [_spot(found, i, communities) for i in listed],
        "candidates": [cells[i].code for i in candidates],
        "threshold_m": round(found.threshold_m, 1),
        "micro_grids": len(cells),
        "trend_periods": [period_label(wanted.kind, s) for s in found.trend_starts],
    }


def _spot(found: GiStar, i: int, communities: dict[str, str]) -> dict[str, Any]:
    cell = found.cells[i]
    return {
        "code": cell.code,
        "name": cell.name,
        "community": communities.get(cell.code[:12]),
        "lat": round(cell.lat, 6),
        "lon": round(cell.lon, 6),
        "count": int(found.counts[i]),
        "z": round(float(found.z[i]), 3),
        "p": float(found.p[i]),
        "bin": int(found.bins[i]),
        "trend": found.trends[i],
        "worsening": bool(found.worsening[i]),
    }


# --------------------------------------------------------------------------------- one grid


def grid_detail(
    session: Session, scope: Scope, wanted: store.ReviewFilter, code: str, *, trend: int = 12
) -> dict[str, Any]:
    """What a click on a grid shows: top categories, overdue requests, 三率 and the trend."""
    inside = store.review_prefixes(Scope(prefixes=wanted.prefixes), code)
    grid = store.current_grid(session, code)
    if grid is None or not inside:
        raise NotFound(f"grid {code} is not in the reviewed area")
    mine = replace(wanted, prefixes=inside)
    window = replace(mine, first=previous_start(mine.kind, mine.last, trend - 1))
    per_period = store.by_period(session, window)
    ranking = rates.ranking(session, scope, rate_period(mine), level=grid.level, grid_code=code)
    per_category = store.by_category(session, mine)
    row = next((r for r in ranking.rows if r["code"] == code), None)
    return {
        "code": grid.code,
        "name": grid.name,
        "level": grid.level,
        "total": sum(per_category.values()),
        "top_categories": list(per_category.items())[:5],
        "overdue": store.overdue_requests(session, mine, limit=20),
        "rates": row,
        "trend": {
            period_label(mine.kind, s): per_period.get(s, 0)
            for s in starts(mine.kind, window.first, window.last)
        },
    }


def rate_period(wanted: store.ReviewFilter) -> rates.Period:
    """The review's periods as the period of the 三率 (filed ``from`` up to the end of ``to``)."""
    return rates.Period(
        dt.datetime.combine(wanted.first, dt.time(), tzinfo=BEIJING),
        dt.datetime.combine(next_start(wanted.kind, wanted.last), dt.time(), tzinfo=BEIJING),
        f"{period_label(wanted.kind, wanted.first)}..{period_label(wanted.kind, wanted.last)}",
    )


# ------------------------------------------------------------------------- each micro-grid


def check_rate_span(wanted: store.ReviewFilter) -> None:
    """Refuse periods longer than the 三率 of a ranking cover (``rates.MAX_DAYS``, a year)."""
    start, end = store.filed_window(wanted)
    if (end - start).days > rates.MAX_DAYS:
        raise InvalidInput(
            f"from and to may span at most {rates.MAX_DAYS} days here (12 months or 52 weeks), "
            f"as the 三率 do, not {(end - start).days}"
        )


_HOT_SPOT_FIGURES = (
    "hot_spot_z",
    "hot_spot_p",
    "hot_spot_bin",
    "hot_spot_trend",
    "worsening",
    "candidate",
)
_RATES = ("response_rate", "resolution_rate", "satisfaction_rate")
#: The figures :func:`micro_grid_review` gives each micro-grid, in order.
MICRO_GRID_FIGURES = (
    "households",
    "requests",
    "overdue",
    "per_100_households",
    *_HOT_SPOT_FIGURES,
    *_RATES,
)


def micro_grid_review(
    session: Session, wanted: store.ReviewFilter, *, trend_periods: int = 6
) -> dict[str, dict[str, Any]]:
    """The review of each of today's micro-grids of the reviewed area, by code: its
    households, its requests (the choropleth's count, every micro-grid, 0 included), those past
    their stage deadline now, requests per 100 households, its Gi* z, p, bin, trend, whether it
    is getting worse and a 未诉先办 candidate (as :func:`hot_spots`; null for fewer than 3
    micro-grids) and its 三率 of the period (as the review's grid figures, of every request
    filed, due or rated in it, whatever the filter's categories and states).

    The 三率 read the timelines of the period's requests (:func:`gridmap.requests.rates.ranking`,
    one pass for every micro-grid), so the periods span at most what a ranking covers
    (:func:`check_rate_span`); the rest reads the tallies.
    """
    check_rate_span(wanted)
    cells = store.micro_grids(session, wanted.prefixes)
    counts = store.by_grid(session, wanted, "micro")
    overdue = store.by_grid(session, replace(wanted, overdue=True), "micro")
    households = store.households_by_grid(session, wanted.prefixes, "micro")
    spots = gi_star(session, wanted, cells, trend_periods)
    ranking = rates.ranking(
        session, Scope(prefixes=wanted.prefixes), rate_period(wanted), level="micro"
    )
    rate_rows = {row["code"]: row for row in ranking.rows}
    found: dict[str, dict[str, Any]] = {}
    for i, cell in enumerate(cells):
        n, homes = counts.get(cell.code, 0), households.get(cell.code, 0)
        rated = rate_rows.get(cell.code, {})
        found[cell.code] = {
            "households": homes,
            "requests": n,
            "overdue": overdue.get(cell.code, 0),
            "per_100_households": per_100_households(n, homes),
            **_hot_spot_figures(spots, i),
            **{name: rated.get(name) for name in _RATES},
        }
    return found


def _hot_spot_figures(spots: GiStar | None, i: int) -> dict[str, Any]:
    if spots is None:
        return dict.fromkeys(_HOT_SPOT_FIGURES)
    return {
        "hot_spot_z": round(float(spots.z[i]), 3),
        "hot_spot_p": float(spots.p[i]),
        "hot_spot_bin": int(spots.bins[i]),
        "hot_spot_trend": spots.trends[i],
        "worsening": bool(spots.worsening[i]),
        "candidate": spots.candidate(i),
    }
