"""The report as one self-contained HTML page (inline CSS and SVG, no script)."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from gridmap.core import clock, glossary
from gridmap.requests import rates
from gridmap.review.report.charts import (
    category_chart,
    choropleth_map,
    hot_spot_map,
    trend_chart,
)
from gridmap.review.report.data import (
    PAGE_ROWS,
    MonthlyReport,
)


def _percent(value: float | None, digits: int = 1) -> str:
    """A share as ``85.0%`` (``—`` when there is none)."""
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def _change(ratio: float | None) -> str:
    """环比/同比 as ``+12.5%`` (``—`` without a base to compare with)."""
    return "—" if ratio is None else f"{100 * ratio:+.1f}%"


def _signed(value: int) -> str:
    return f"{value:+d}" if value else "0"


def _local(moment: dt.datetime | None) -> str:
    return clock.local_text(moment)


@functools.cache
def _templates() -> Environment:
    """The report's own Jinja environment: it renders without an app (the CLI's files)."""
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parents[2] / "web" / "templates"),
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
            unranked_names=glossary.UNRANKED,
            tie_label=glossary.TIE,
            page_rows=PAGE_ROWS,
        )
    )
