"""The report's tables as an Excel workbook."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from gridmap.core import clock, glossary
from gridmap.core.cells import safe_row
from gridmap.core.clock import BEIJING
from gridmap.requests import rates
from gridmap.review.report.data import (
    HOT_SPOT_MONTHS,
    TOP_MICRO_GRIDS,
    Line,
    MonthlyReport,
)

PERCENT = "0.0%"
RATE = "0.00%"
WHEN = clock.EXCEL_DATE_TIME
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
    sheet.append(safe_row(heading for heading, _, _ in columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row in rows:
        sheet.append(safe_row(row))
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
            cell["community"],
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
    三率, 三率说明 (how the rows were ranked) and 环比, headings in row 1 (frozen), numbers as
    numbers."""
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
            ("所属社区", 16, None),
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
    _table(book, "三率说明", (("项目", 24, None), ("说明", 100, None)), report.rate_notes)
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
