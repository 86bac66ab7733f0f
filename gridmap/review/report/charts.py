"""The report's charts and maps, drawn by matplotlib as inline SVG whose text stays text."""

from __future__ import annotations

import bisect
import functools
import io
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from markupsafe import Markup, escape
from matplotlib import font_manager, patheffects
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from gridmap.core import glossary
from gridmap.review.report.data import (
    BIN_COLOURS,
    CHART_CATEGORIES,
    Line,
    TrendMonth,
)
from gridmap.storage import review as store


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


def _svg(figure: Figure, chart: str) -> Markup:
    """The figure as an ``<svg>`` element to inline in HTML (no XML prolog, no metadata),
    named for screen readers by the glossary's title of ``chart`` (an image needs a name)."""
    out = io.StringIO()
    metadata = {"Creator": None, "Date": None, "Format": None, "Type": None}
    figure.savefig(out, format="svg", bbox_inches="tight", metadata=metadata)
    text = out.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], flags=re.S)
    # Inline in HTML the SVG needs no namespace declarations (nor their URLs).
    text = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", text)
    # matplotlib escapes every text it writes: the SVG is markup, not data.
    name = escape(glossary.REPORT_CHARTS[chart])
    return Markup(text.replace("<svg ", f'<svg role="img" aria-label="{name}" ', 1))


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
        return _svg(figure, "categories")


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
        return _svg(figure, "trend")


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
        return _svg(figure, "choropleth")


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
        axes.set_title("热点分析（Getis-Ord Gi*，错误发现率校正）")
        return _svg(figure, "hot_spots")
