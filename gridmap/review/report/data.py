"""The report's figures: one month of one area gathered once (counts from the request tally,
hot spots and their trend, 三率, today's grid shapes); see :mod:`gridmap.review.report`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core import clock, glossary
from gridmap.core.errors import InvalidInput, NotFound
from gridmap.requests import rates
from gridmap.review import service as review
from gridmap.storage import requests as request_store
from gridmap.storage import review as store
from gridmap.storage.models import Grid

_GRID_CODE = re.compile(r"^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{14}|[0-9]{17})$")
#: Months of the trend chart, micro-grids in the top list, months of the hot-spot trend.
TREND_MONTHS = 12
TOP_MICRO_GRIDS = 20
HOT_SPOT_MONTHS = 6
#: Overdue requests listed at most (in the workbook; the page shows the first ``PAGE_ROWS``).
OVERDUE_ROWS = 1000
PAGE_ROWS = 30
#: Categories drawn in the bar chart (the table lists them all).
CHART_CATEGORIES = 15

#: Hot red, cold blue, by confidence (the usual Gi* palette).
BIN_COLOURS = {
    3: "#d62f27",
    2: "#ed7551",
    1: "#fab984",
    0: "#eeeeee",
    -1: "#c6dbef",
    -2: "#6baed6",
    -3: "#2171b5",
}
#: Counts of a 三率 row, summed over the rows into the area's figures.
_TALLY_FIELDS = (
    "filed",
    "response_counted",
    "responded_on_time",
    "due",
    "resolved",
    "answered",
    "answered_resolved",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
)


# ------------------------------------------------------------------------------------ figures


@dataclass(frozen=True)
class Line:
    """One row of a count table: this month against the month before (环比)."""

    code: str
    name: str
    count: int
    previous: int

    @property
    def change(self) -> int:
        return self.count - self.previous

    @property
    def ratio(self) -> float | None:
        """环比: the change as a share of last month's count (None when that was 0)."""
        return _ratio(self.count, self.previous)


@dataclass(frozen=True)
class TrendMonth:
    """One month of the trend: its count, the month before's and the same month a year
    before (None when the area had no requests then: no 同比 without data)."""

    month: str
    count: int
    previous: int
    last_year: int | None

    @property
    def change(self) -> int:
        return self.count - self.previous

    @property
    def ratio(self) -> float | None:
        return _ratio(self.count, self.previous)

    @property
    def year_ratio(self) -> float | None:
        """同比."""
        return None if self.last_year is None else _ratio(self.count, self.last_year)


def _ratio(count: int, base: int | None) -> float | None:
    return round((count - base) / base, 4) if base else None


@dataclass(frozen=True)
class Area:
    """The reviewed area: one grid-code prefix (a county, street, community, zone or
    micro-grid), or several (``code`` is then ``all``)."""

    code: str
    name: str
    prefixes: tuple[str, ...]

    @property
    def kind(self) -> str:
        """区县, 街道, 社区, 片区, 微网格, or 辖区 for several."""
        return (
            glossary.LEVELS_BY_CODE_LENGTH.get(len(self.code), "辖区")
            if len(self.prefixes) == 1
            else "辖区"
        )


@dataclass(frozen=True, eq=False)
class MonthlyReport:
    """Everything the report shows, gathered once by :func:`monthly`."""

    month: str
    area: Area
    generated_at: dt.datetime
    #: The last ``TREND_MONTHS`` months, oldest first: the last is the reviewed month.
    trend: list[TrendMonth]
    #: Requests filed in the month whose stage clock ran past its deadline at ``generated_at``.
    overdue: int
    overdue_requests: list[dict[str, Any]]
    categories: list[Line]
    #: The level of the grid table and of the 三率 rows: the area's children.
    grid_level: store.Level
    grids: list[Line]
    micro_top: list[Line]
    #: The level of the choropleth, and its polygons with ``count``.
    map_level: store.Level
    map_shapes: Any
    #: Today's micro-grids with their Gi* ``bin`` and ``candidate`` (未诉先办) flag.
    micro_shapes: Any
    hot_spots: dict[str, Any]
    rate_rows: list[dict[str, Any]]
    #: The area's own 三率 (the rows' counts summed), same keys as a row.
    rates: dict[str, Any]
    weights: tuple[float, float, float] = (0.1, 0.5, 0.4)
    notes: list[str] = field(default_factory=list)
    #: How the 三率 rows were ranked (:func:`gridmap.requests.rates.notes`): label, text.
    rate_notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def this_month(self) -> TrendMonth:
        return self.trend[-1]

    @property
    def month_label(self) -> str:
        """``2026年10月``."""
        year, month = self.month.split("-")
        return f"{year}年{int(month)}月"

    @property
    def title(self) -> str:
        return f"{self.area.name} {self.month_label} 诉求研判报告"

    @property
    def file_stem(self) -> str:
        """``review-<area>-<month>``: the name of the downloads."""
        return f"review-{self.area.code}-{self.month}"

    @property
    def hot(self) -> list[dict[str, Any]]:
        """Hot spots (Gi* bin > 0), hottest first."""
        cells = [c for c in self.hot_spots["cells"] if c["bin"] > 0]
        return sorted(cells, key=lambda c: (-c["z"], c["code"]))

    @property
    def cold(self) -> list[dict[str, Any]]:
        cells = [c for c in self.hot_spots["cells"] if c["bin"] < 0]
        return sorted(cells, key=lambda c: (c["z"], c["code"]))

    @property
    def candidates(self) -> list[dict[str, Any]]:
        """未诉先办 candidates: micro-grids getting significantly hotter, hottest first."""
        by_code = {c["code"]: c for c in self.hot_spots["cells"]}
        return [by_code[code] for code in self.hot_spots["candidates"]]


# ----------------------------------------------------------------------------- gathering


def every_county(session: Session) -> Scope:
    """A scope of every county (6-digit prefix) holding a grid today: the whole city (CLI)."""
    county = func.substr(Grid.code, 1, 6)
    stmt = select(county).where(Grid.valid_to.is_(None)).group_by(county).order_by(county)
    return Scope(prefixes=tuple(session.scalars(stmt)))


def monthly(
    session: Session,
    scope: Scope,
    month: str,
    grid_code: str | None,
    *,
    now: dt.datetime | None = None,
    weights: tuple[float, float, float] = (0.1, 0.5, 0.4),
    board_size: float = 3,
    min_filed: int = rates.MIN_FILED,
    formula: rates.Formula | None = None,
) -> MonthlyReport:
    """The report of ``month`` (``YYYY-MM``) for the grid ``grid_code`` (default: the whole
    scope), as of ``now``.

    Raises ``InvalidInput`` for a malformed month or a scope without grids (a member's: there
    is nothing to review), and ``NotFound`` for a grid outside the scope or that does not
    exist today (the same answer, so a report never confirms what lies outside).
    """
    now = now or clock.now()
    review.check_month(month)
    wanted = area_filter(session, scope, month, grid_code, now)
    area = _area(session, wanted.prefixes)
    grid_level, map_level = _levels(area)
    micro = _shapes(session, wanted.prefixes, "micro")
    micro_names = dict(zip(micro["code"], micro["name"], strict=True))
    # 三率 of the area's grids only: a scope's person (a worker's own requests) is left out.
    ranking = rates.ranking(
        session,
        Scope(prefixes=wanted.prefixes),
        rates.period(month),
        level=grid_level,
        now=now,
        weights=weights,
        size=board_size,
        min_filed=min_filed,
        formula=formula,
    )
    spots = review.hot_spots(session, wanted, trend_periods=HOT_SPOT_MONTHS)
    counts = _Counts(session, wanted)
    map_shapes = micro if map_level == "micro" else _shapes(session, wanted.prefixes, map_level)
    return MonthlyReport(
        month=month,
        area=area,
        generated_at=now,
        trend=_trend(session, wanted),
        overdue=sum(store.by_category(session, replace(wanted, overdue=True)).values()),
        overdue_requests=_overdue(session, wanted, micro_names),
        categories=counts.categories(_category_names(session)),
        grid_level=grid_level,
        grids=counts.grids(grid_level, {r["code"]: r["name"] for r in ranking.rows}, every=True),
        micro_top=counts.grids("micro", micro_names)[:TOP_MICRO_GRIDS],
        map_level=map_level,
        map_shapes=_with_counts(map_shapes, counts.by_grid(map_level)),
        micro_shapes=_with_bins(micro, spots),
        hot_spots=spots,
        rate_rows=ranking.rows,
        rate_notes=rates.notes(ranking),
        rates=_area_rates(ranking.rows, weights, ranking.formula),
        weights=weights,
    )


def area_filter(
    session: Session, scope: Scope, month: str, grid_code: str | None, now: dt.datetime
) -> store.ReviewFilter:
    """The month's review filter inside the scope (narrowed to ``grid_code``)."""
    if grid_code is not None and not _GRID_CODE.match(grid_code):
        raise InvalidInput(
            f"grid must be a grid code of 6, 9, 12, 14 or 17 digits, not {grid_code!r}"
        )
    wanted = review.build_filter(
        scope, review.Query(first=month, last=month, grid=grid_code), now=now
    )
    if grid_code is not None and not _exists(session, grid_code):
        raise NotFound(f"grid {grid_code} is not in your area")
    if not wanted.prefixes:
        raise InvalidInput("this account's scope holds no grids: there is nothing to review")
    return wanted


def _exists(session: Session, code: str) -> bool:
    """Whether ``code`` is a grid of today, or a county or street (6 or 9 digits) holding one."""
    if not (code.isascii() and code.isdigit()):
        return False
    if len(code) in (6, 9):
        return store.grid_count(session, (code,), "community") > 0
    return len(code) in (12, 14, 17) and store.current_grid(session, code) is not None


def _area(session: Session, prefixes: tuple[str, ...]) -> Area:
    if len(prefixes) != 1:
        return Area("all", "全部辖区", prefixes)
    code = prefixes[0]
    grid = store.current_grid(session, code)
    if grid is not None:
        return Area(code, grid.name, prefixes)
    return Area(code, f"{glossary.LEVELS_BY_CODE_LENGTH.get(len(code), '辖区')} {code}", prefixes)


def _levels(area: Area) -> tuple[store.Level, store.Level]:
    """The level of the area's grid table and 三率 rows (its children), and of its
    choropleth: communities and zones for a street, zones and micro-grids for a community,
    micro-grids for a zone."""
    if area.code == "all" or len(area.code) <= 9:
        return "community", "zone"
    if len(area.code) == 12:
        return "zone", "micro"
    return "micro", "micro"


class _Counts:
    """The tally's counts of the month and of the month before (环比)."""

    def __init__(self, session: Session, wanted: store.ReviewFilter) -> None:
        before = review.previous_start("M", wanted.first)
        self.session = session
        self.months = (wanted, replace(wanted, first=before, last=before))
        self._by_grid: dict[str, tuple[dict[str, int], dict[str, int]]] = {}

    def by_grid(self, level: store.Level) -> dict[str, int]:
        return self._grid_pair(level)[0]

    def _grid_pair(self, level: store.Level) -> tuple[dict[str, int], dict[str, int]]:
        if level not in self._by_grid:
            now, before = (store.by_grid(self.session, m, level) for m in self.months)
            self._by_grid[level] = (now, before)
        return self._by_grid[level]

    def categories(self, names: dict[str, str]) -> list[Line]:
        now, before = (store.by_category(self.session, m) for m in self.months)
        return _lines(now, before, names, every=False)

    def grids(
        self, level: store.Level, names: dict[str, str], *, every: bool = False
    ) -> list[Line]:
        """Per grid of ``level``, most requests first; ``every``: today's grids without
        requests too."""
        now, before = self._grid_pair(level)
        return _lines(now, before, names, every=every)


def _lines(
    now: dict[str, int], before: dict[str, int], names: dict[str, str], *, every: bool
) -> list[Line]:
    codes = set(now) | set(before) | (set(names) if every else set())
    lines = [Line(c, names.get(c, ""), now.get(c, 0), before.get(c, 0)) for c in codes]
    return sorted(lines, key=lambda line: (-line.count, -line.previous, line.code))


def _category_names(session: Session) -> dict[str, str]:
    return {c.code: c.name for c in request_store.current_categories(session)}


def _trend(session: Session, wanted: store.ReviewFilter) -> list[TrendMonth]:
    """The last ``TREND_MONTHS`` months up to the reviewed one, each with the month before
    and the same month a year before (24 months of the tally in one query)."""
    first = review.previous_start("M", wanted.first, TREND_MONTHS + 11)
    counts = store.by_period(session, replace(wanted, first=first))
    months = review.starts(
        "M", review.previous_start("M", wanted.first, TREND_MONTHS - 1), wanted.first
    )
    return [
        TrendMonth(
            review.period_label("M", start),
            counts.get(start, 0),
            counts.get(review.previous_start("M", start), 0),
            counts.get(review.previous_start("M", start, 12)) or None,
        )
        for start in months
    ]


def _overdue(
    session: Session, wanted: store.ReviewFilter, micro_names: dict[str, str]
) -> list[dict[str, Any]]:
    """The month's overdue requests, most overdue first: id, category, state, micro-grid
    and deadline only."""
    rows = store.overdue_requests(session, wanted, limit=OVERDUE_ROWS)
    return [
        {
            "id": row["id"],
            "category": row["category"],
            "category_name": row["category_name"],
            "state": row["state"],
            "micro_grid": row["micro_grid"],
            "micro_grid_name": micro_names.get(row["micro_grid"], ""),
            "created_at": row["created_at"],
            "deadline": row["stage_deadline"],
        }
        for row in rows
    ]


def _area_rates(
    rows: Sequence[dict[str, Any]], weights: Sequence[float], formula: rates.Formula
) -> dict[str, Any]:
    """The area's 三率 from the counts of its rows (each request counts in exactly one)."""
    tally = rates.Tally(**{key: sum(r[key] for r in rows) for key in _TALLY_FIELDS})
    response, resolution, satisfaction = tally.rates(formula)
    return {
        **{key: getattr(tally, key) for key in _TALLY_FIELDS},
        "rated": tally.rated,
        "response_rate": response,
        "resolution_rate": resolution,
        "satisfaction_rate": satisfaction,
        "score": rates.score((response, resolution, satisfaction), weights),
    }


def _shapes(session: Session, prefixes: Sequence[str], level: store.Level) -> Any:
    """Today's grids of ``level`` in the subtrees as a GeoDataFrame ``code, name, geometry``
    (EPSG:4490), ordered by code."""
    stmt = (
        select(Grid.code, Grid.name, func.ST_AsBinary(Grid.geom).label("geometry"))
        .where(
            Grid.level == level,
            Grid.valid_to.is_(None),
            or_(*[Grid.code.startswith(p, autoescape=True) for p in prefixes]),
        )
        .order_by(Grid.code)
    )
    return gpd.read_postgis(stmt, session.connection(), geom_col="geometry", crs=4490)


def _with_counts(shapes: Any, counts: dict[str, int]) -> Any:
    return shapes.assign(count=[counts.get(code, 0) for code in shapes["code"]])


def _with_bins(shapes: Any, spots: dict[str, Any]) -> Any:
    bins = {c["code"]: c["bin"] for c in spots["cells"]}
    candidates = set(spots["candidates"])
    return shapes.assign(
        bin=[bins.get(code, 0) for code in shapes["code"]],
        candidate=[code in candidates for code in shapes["code"]],
    )
