"""The monthly review report (一月一研判报告): one month of one area's residents' requests as a
self-contained HTML page with static maps and charts, and as an Excel workbook of its tables.

:func:`monthly` gathers the figures once: counts from the request tally
(:mod:`gridmap.storage.review`, so the work grows with the number of grids, not of requests),
the Gi* hot spots and their six-month trend (:func:`gridmap.review.service.hot_spots`), the 三率 of
the area's communities, zones or micro-grids (:func:`gridmap.requests.rates.ranking`) and today's
grid polygons of the area. :func:`to_html` and :func:`to_xlsx` only lay them out; the charts and
maps are drawn by matplotlib as inline SVG whose text stays text (the browser draws the Chinese
with its own fonts), so the page needs no asset, no script and prints on A4.

The area is the caller's scope narrowed to the chosen grid: nothing outside it is counted,
listed or drawn. Nothing personal goes in either: a request appears by id, category, state,
micro-grid and deadline; people not at all.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import io
import math
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from matplotlib import font_manager, patheffects
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core import clock, glossary
from gridmap.core.clock import BEIJING
from gridmap.core.errors import InvalidInput, NotFound
from gridmap.requests import rates
from gridmap.review import service as review
from gridmap.storage import requests as request_store
from gridmap.storage import review as store
from gridmap.storage.models import Grid

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_GRID_CODE = re.compile(r"^(\d{6}|\d{9}|\d{12}|\d{14}|\d{17})$")
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
) -> MonthlyReport:
    """The report of ``month`` (``YYYY-MM``) for the grid ``grid_code`` (default: the whole
    scope), as of ``now``.

    Raises ``InvalidInput`` for a malformed month or a scope without grids (a member's: there
    is nothing to review), and ``NotFound`` for a grid outside the scope or that does not
    exist today (the same answer, so a report never confirms what lies outside).
    """
    now = now or clock.now()
    if not _MONTH.match(month or "") or review.parse_period(month)[0] != "M":
        raise InvalidInput(f"month must be YYYY-MM (2000-01 to 2100-12), not {month!r}")
    wanted = _filter(session, scope, month, grid_code, now)
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
        rates=_area_rates(ranking.rows, weights),
        weights=weights,
    )


def _filter(
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
    if not code.isdigit():
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


def _area_rates(rows: Sequence[dict[str, Any]], weights: Sequence[float]) -> dict[str, Any]:
    """The area's 三率 from the counts of its rows (each request counts in exactly one)."""
    tally = rates.Tally(**{key: sum(r[key] for r in rows) for key in _TALLY_FIELDS})
    response, resolution, satisfaction = tally.rates()
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


# ------------------------------------------------------------------------------------ charts


@functools.cache
def cjk_font() -> str | None:
    """The family of a CJK font matplotlib can measure Chinese with (Debian's fonts-noto-cjk),
    registered with matplotlib when its font cache was built before the font was installed;
    None when the machine has none (the SVG text is still Chinese: the browser draws it)."""
    wanted = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "Noto Sans CJK JP")

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in wanted if name in names), None)

    if (found := known()) is not None:
        return found
    for path in font_manager.findSystemFonts():
        if re.search(r"(SansCJK|SourceHanSans|wqy-zenhei)", Path(path).name, re.IGNORECASE):
            font_manager.fontManager.addfont(path)
    return known()


@contextmanager
def _drawing(salt: str) -> Iterator[None]:
    """matplotlib settings of every chart: text kept as SVG text (``svg.fonttype`` none), a
    CJK font to measure it, no mathtext (a ``$`` in a grid's name is just a dollar), and ids
    salted per chart so that several SVGs inline in one page never share an id."""
    family = cjk_font()
    settings: dict[Any, Any] = {
        "svg.fonttype": "none",
        "svg.hashsalt": f"gridmap-{salt}",
        "text.parse_math": False,
        "font.family": "sans-serif",
        "font.sans-serif": [f for f in (family, "DejaVu Sans") if f],
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with matplotlib.rc_context(settings), warnings.catch_warnings():
        # Without a CJK font the layout is measured with boxes; the browser still draws text.
        warnings.filterwarnings("ignore", "Glyph .* missing from", UserWarning)
        yield


def _svg(figure: Figure) -> Markup:
    """The figure as an ``<svg>`` element to inline in HTML (no XML prolog, no metadata)."""
    out = io.StringIO()
    metadata = {"Creator": None, "Date": None, "Format": None, "Type": None}
    figure.savefig(out, format="svg", bbox_inches="tight", metadata=metadata)
    text = out.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], flags=re.S)
    # Inline in HTML the SVG needs no namespace declarations (nor their URLs).
    text = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", text)
    # matplotlib escapes every text it writes: the SVG is markup, not data.
    return Markup(text.replace("<svg ", '<svg role="img" ', 1))


def category_chart(lines: Sequence[Line]) -> Markup | None:
    """Bars of this month's and last month's counts of the largest categories."""
    shown = [line for line in lines[:CHART_CATEGORIES] if line.count or line.previous][::-1]
    if not shown:
        return None
    with _drawing("categories"):
        figure = Figure(figsize=(7.2, 0.32 * len(shown) + 1.0))
        axes = figure.add_subplot()
        rows = range(len(shown))
        bars = axes.barh(
            [r + 0.2 for r in rows], [x.count for x in shown], 0.4, color="#c0392b", label="本月"
        )
        axes.barh(
            [r - 0.2 for r in rows], [x.previous for x in shown], 0.4, color="#b8b8b8", label="上月"
        )
        axes.bar_label(bars, padding=2, fontsize=7)
        axes.set_yticks(list(rows), [x.name or x.code for x in shown])
        axes.set_xlabel("诉求数")
        axes.legend(loc="lower right", frameon=False)
        return _svg(figure)


def trend_chart(trend: Sequence[TrendMonth]) -> Markup:
    """The monthly counts of the last twelve months, and the year before's where known."""
    with _drawing("trend"):
        figure = Figure(figsize=(7.2, 2.8))
        axes = figure.add_subplot()
        x = list(range(len(trend)))
        axes.plot(x, [t.count for t in trend], marker="o", color="#c0392b", label="诉求数")
        if any(t.last_year is not None for t in trend):
            last = [math.nan if t.last_year is None else t.last_year for t in trend]
            axes.plot(x, last, linestyle="--", marker=".", color="#888888", label="去年同月")
        for i, t in enumerate(trend):
            axes.annotate(
                str(t.count),
                (i, t.count),
                textcoords="offset points",
                xytext=(0, 5),
                ha="center",
                fontsize=7,
            )
        axes.set_xticks(x, [t.month for t in trend], rotation=45, ha="right")
        axes.set_ylim(bottom=0, top=max([t.count for t in trend] + [1]) * 1.2)
        axes.set_ylabel("诉求数")
        axes.legend(loc="upper left", frameon=False)
        return _svg(figure)


def _map_axes() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(7.2, 6.0))
    axes = figure.add_subplot()
    axes.set_axis_off()
    return figure, axes


def count_classes(counts: Sequence[int], classes: int = 5) -> tuple[list[int], list[str]]:
    """Equal-interval classes of the counts for the choropleth's legend: class 0 holds the
    grids without requests, classes 1…k (k ≤ ``classes``) split 1…max; returns each count's
    class and each class's label (``0``, ``1–4``, ``5–8`` …)."""
    top = max(counts, default=0)
    k = min(classes, top)
    uppers = [math.ceil(top * (i + 1) / k) for i in range(k)]
    lowers = [1, *(upper + 1 for upper in uppers[:-1])][:k]
    labels = [
        "0",
        *(f"{lo}" if lo == hi else f"{lo}–{hi}" for lo, hi in zip(lowers, uppers, strict=True)),
    ]
    return [0 if n <= 0 else 1 + bisect.bisect_left(uppers, n) for n in counts], labels


def choropleth_map(shapes: Any, level: store.Level) -> Markup | None:
    """The month's count per grid of ``level`` in equal-interval classes, light to dark red
    (vector patches: a continuous colour bar would be embedded as a bitmap); names written in
    when there are few grids."""
    if shapes.empty:
        return None
    classes, labels = count_classes([int(n) for n in shapes["count"]])
    reds = matplotlib.colormaps["OrRd"](np.linspace(0.3, 1.0, len(labels) - 1))
    colours = ["#f2f2f2", *(to_hex(c) for c in reds)]
    with _drawing("choropleth"):
        figure, axes = _map_axes()
        shapes.plot(
            ax=axes, color=[colours[c] for c in classes], edgecolor="#ffffff", linewidth=0.5
        )
        if len(shapes) <= 16:
            for _, row in shapes.iterrows():
                point = row.geometry.representative_point()
                axes.annotate(
                    f"{row['name']}\n{row['count']}",
                    (point.x, point.y),
                    ha="center",
                    va="center",
                    fontsize=7,
                    path_effects=[patheffects.withStroke(linewidth=2, foreground="#ffffff")],
                )
        handles = [
            Patch(facecolor=c, edgecolor="#cccccc", label=t)
            for c, t in zip(colours, labels, strict=True)
        ]
        axes.legend(
            handles=handles,
            title="诉求数",
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            frameon=False,
        )
        axes.set_title(f"各{glossary.LEVELS[level]}诉求数")
        return _svg(figure)


def hot_spot_map(micro: Any, outline: Any) -> Markup | None:
    """Gi* bins of the micro-grids (hot red, cold blue, by confidence), 未诉先办 candidates
    outlined in black, over the outline of the choropleth's grids."""
    if micro.empty:
        return None
    with _drawing("hot-spots"):
        figure, axes = _map_axes()
        colours = [BIN_COLOURS[int(b)] for b in micro["bin"]]
        micro.plot(ax=axes, color=colours, edgecolor="#ffffff", linewidth=0.3)
        if outline is not micro and not outline.empty:
            outline.boundary.plot(ax=axes, color="#666666", linewidth=0.6)
        handles = [
            Patch(facecolor=BIN_COLOURS[b], label=glossary.HOT_SPOT_BINS[b]) for b in BIN_COLOURS
        ]
        chosen = micro[micro["candidate"]]
        if not chosen.empty:
            chosen.boundary.plot(ax=axes, color="#000000", linewidth=1.4)
            handles.append(Patch(facecolor="none", edgecolor="#000000", label="未诉先办候选"))
        axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        axes.set_title("热点分析（Getis-Ord Gi*，FDR 校正）")
        return _svg(figure)


# -------------------------------------------------------------------------------------- HTML


def _percent(value: float | None, digits: int = 1) -> str:
    """A share as ``85.0%`` (``—`` when there is none)."""
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def _change(ratio: float | None) -> str:
    """环比/同比 as ``+12.5%`` (``—`` without a base to compare with)."""
    return "—" if ratio is None else f"{100 * ratio:+.1f}%"


def _signed(value: int) -> str:
    return f"{value:+d}" if value else "0"


def _local(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


@functools.cache
def _templates() -> Environment:
    """The report's own Jinja environment: it renders without an app (the CLI's files)."""
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parents[1] / "web" / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(percent=_percent, change=_change, signed=_signed, local=_local)
    return environment


def charts(report: MonthlyReport) -> dict[str, Markup | None]:
    """The report's charts and maps as inline SVG (None: nothing to draw)."""
    return {
        "categories": category_chart(report.categories),
        "trend": trend_chart(report.trend),
        "choropleth": choropleth_map(report.map_shapes, report.map_level),
        "hot_spots": hot_spot_map(report.micro_shapes, report.map_shapes),
    }


def to_html(report: MonthlyReport, *, nonce: str | None = None) -> str:
    """The report as one self-contained HTML page: inline CSS (carrying ``nonce`` when the
    app serves it) and inline SVG; no script, no external resource."""
    return (
        _templates()
        .get_template("review_report.html")
        .render(
            report=report,
            charts=charts(report),
            nonce=nonce,
            level_names=glossary.LEVELS,
            state_names=glossary.STATES,
            bin_names=glossary.HOT_SPOT_BINS,
            trend_names=glossary.HOT_SPOT_TRENDS,
            rate_columns=rates.COLUMNS,
            board_names=rates.BOARD_NAMES,
            page_rows=PAGE_ROWS,
        )
    )


# ---------------------------------------------------------------------------------- workbook

PERCENT = "0.0%"
RATE = "0.00%"
WHEN = "yyyy-mm-dd hh:mm"
#: (heading, width, number format) of a column.
Column = tuple[str, float, str | None]
_CHANGE_COLUMNS: tuple[Column, ...] = (
    ("本月", 10, None),
    ("上月", 10, None),
    ("增减", 10, None),
    ("环比", 10, PERCENT),
)


def _excel_time(moment: dt.datetime | None) -> dt.datetime | None:
    """Beijing time without a zone: Excel has no time zones."""
    return None if moment is None else moment.astimezone(BEIJING).replace(tzinfo=None)


def _table(book: Workbook, title: str, columns: Sequence[Column], rows: Iterable[Any]) -> None:
    """A sheet of headings (frozen, bold) and rows, with column widths and number formats."""
    sheet = book.create_sheet(title)
    sheet.append([heading for heading, _, _ in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row in rows:
        sheet.append(list(row))
    for index, (_, width, number_format) in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = width
        if number_format:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = number_format


def _summary_rows(report: MonthlyReport) -> list[tuple[str, Any, str | None]]:
    month, area = report.this_month, report.rates
    return [
        ("报告", report.title, None),
        ("区域", report.area.name, None),
        ("区域编码", report.area.code, None),
        ("统计范围（网格编码前缀）", ", ".join(report.area.prefixes), None),
        ("月份", report.month, None),
        ("生成时间（北京时间）", _excel_time(report.generated_at), WHEN),
        ("本月诉求数", month.count, None),
        ("上月诉求数", month.previous, None),
        ("环比增减", month.change, None),
        ("环比", month.ratio, PERCENT),
        ("去年同月诉求数", month.last_year, None),
        ("同比", month.year_ratio, PERCENT),
        ("本月诉求中超期未办", report.overdue, None),
        ("响应率", area["response_rate"], RATE),
        ("解决率", area["resolution_rate"], RATE),
        ("满意率", area["satisfaction_rate"], RATE),
        ("综合得分", area["score"], "0.00"),
    ]


def _summary_sheet(book: Workbook, report: MonthlyReport) -> None:
    rows = _summary_rows(report)
    _table(book, "概况", [("指标", 26, None), ("数值", 48, None)], ((k, v) for k, v, _ in rows))
    sheet = book["概况"]
    for index, (_, _, number_format) in enumerate(rows, start=2):
        if number_format:
            sheet.cell(index, 2).number_format = number_format


def _line_cells(line: Line) -> list[Any]:
    return [line.code, line.name, line.count, line.previous, line.change, line.ratio]


def _hot_spot_cells(report: MonthlyReport) -> Iterator[list[Any]]:
    candidates = set(report.hot_spots["candidates"])
    for cell in sorted(report.hot_spots["cells"], key=lambda c: (-c["z"], c["code"])):
        yield [
            cell["code"],
            cell["name"],
            cell["count"],
            cell["z"],
            cell["p"],
            glossary.HOT_SPOT_BINS[cell["bin"]],
            glossary.HOT_SPOT_TRENDS.get(cell["trend"], cell["trend"]),
            "是" if cell["worsening"] else "否",
            "是" if cell["code"] in candidates else "否",
        ]


def _overdue_cells(report: MonthlyReport) -> Iterator[list[Any]]:
    for row in report.overdue_requests:
        yield [
            row["id"],
            row["category"],
            row["category_name"],
            glossary.STATES.get(row["state"], row["state"]),
            row["micro_grid"],
            row["micro_grid_name"],
            _excel_time(row["created_at"]),
            _excel_time(row["deadline"]),
        ]


def _trend_cells(report: MonthlyReport) -> Iterator[list[Any]]:
    for t in report.trend:
        yield [t.month, t.count, t.previous, t.change, t.ratio, t.last_year, t.year_ratio]


def _rate_format(key: str) -> str | None:
    return RATE if key.endswith("_rate") else "0.00" if key == "score" else None


def to_xlsx(report: MonthlyReport) -> bytes:
    """The report's tables as an Excel workbook: 概况, 分类统计, 网格统计, 热点, 超期诉求,
    三率 and 环比, headings in row 1 (frozen), numbers as numbers."""
    book = Workbook()
    book.remove(book.worksheets[0])
    _summary_sheet(book, report)
    _table(
        book,
        "分类统计",
        (("分类编码", 24, None), ("分类名称", 24, None), *_CHANGE_COLUMNS),
        (_line_cells(line) for line in report.categories),
    )
    level = glossary.LEVELS[report.grid_level]
    _table(
        book,
        "网格统计",
        (("分组", 14, None), ("网格编码", 20, None), ("网格名称", 24, None), *_CHANGE_COLUMNS),
        [
            *([level, *_line_cells(line)] for line in report.grids),
            *([f"微网格前{TOP_MICRO_GRIDS}", *_line_cells(line)] for line in report.micro_top),
        ],
    )
    _table(
        book,
        "热点",
        (
            ("微网格编码", 20, None),
            ("微网格名称", 20, None),
            ("本月诉求数", 12, None),
            ("Gi* z 值", 10, "0.000"),
            ("p 值", 10, "0.0000"),
            ("热点分级", 14, None),
            (f"近{HOT_SPOT_MONTHS}个月趋势", 14, None),
            ("趋势恶化", 10, None),
            ("未诉先办候选", 14, None),
        ),
        _hot_spot_cells(report),
    )
    _table(
        book,
        "超期诉求",
        (
            ("诉求编号", 12, None),
            ("分类编码", 24, None),
            ("分类名称", 20, None),
            ("状态", 12, None),
            ("微网格编码", 20, None),
            ("微网格名称", 16, None),
            ("上报时间", 18, WHEN),
            ("当前环节期限", 18, WHEN),
        ),
        _overdue_cells(report),
    )
    _table(
        book,
        "三率",
        [
            (heading, 12 if key not in ("code", "name") else 20, _rate_format(key))
            for key, heading in rates.COLUMNS
        ],
        ([rates.cell(row, key) for key, _ in rates.COLUMNS] for row in report.rate_rows),
    )
    _table(
        book,
        "环比",
        (
            ("月份", 10, None),
            ("诉求数", 10, None),
            ("上月", 10, None),
            ("环比增减", 10, None),
            ("环比", 10, PERCENT),
            ("去年同月", 10, None),
            ("同比", 10, PERCENT),
        ),
        _trend_cells(report),
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
