"""Staffing and coverage reports: the tables a chief reviews and exports.

- ``unstaffed`` (格中有人): grids without the post their level needs;
- ``uncovered`` (无遗漏): households nobody covers, care households first;
- ``overloaded``: members whose weighted load exceeds the capacity;
- ``coverage``: households, covered households and coverage rate per grid of a level.

Personal data is masked as everywhere else (addresses and staff names as the reader's
:class:`~gridmap.core.privacy.Disclosure` says); exports carry the same values.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core import glossary
from gridmap.core.cells import safe_row
from gridmap.core.privacy import Disclosure
from gridmap.storage import reports as queries

#: Columns holding codes, and the glossary table that names them in downloads.
_LABELLED: dict[str, Mapping[str, str]] = {
    "level": glossary.LEVELS,
    "missing_role": glossary.GRID_ROLES,
    "kind": glossary.PERSON_KINDS,
    "care_tags": glossary.CARE_TAGS,
}


@dataclass(frozen=True)
class Report:
    """A titled table: ``columns`` are (key, Chinese heading) pairs. ``rows`` keep the codes
    (the JSON answer is for machines); :meth:`cells` names them for people (CSV, Excel)."""

    name: str
    title: str
    columns: tuple[tuple[str, str], ...]
    rows: Sequence[Mapping[str, Any]]

    def cells(self) -> Iterator[list[Any]]:
        """The rows as a download shows them: every code by its Chinese label."""
        for row in self.rows:
            yield [_shown(key, row[key]) for key, _ in self.columns]


def _shown(key: str, value: Any) -> Any:
    labels = _LABELLED.get(key)
    if labels is None or value is None:
        return value
    if key == "care_tags":  # joined codes, e.g. "elderly_alone;veteran"
        return ";".join(glossary.label(labels, tag) for tag in value.split(";") if tag)
    return glossary.label(labels, value)


def build(
    session: Session,
    name: str,
    scope: Scope,
    *,
    disclosure: Disclosure,
    grid_code: str | None,
    level: str = "micro",
    max_load: float = 30,
    care_weight: float = 2.0,
) -> Report:
    """The report ``name`` for the caller's scope, optionally inside one grid."""
    if name == "unstaffed":
        return Report(
            name,
            "缺少人员的网格",
            (
                ("code", "网格编码"),
                ("name", "名称"),
                ("level", "层级"),
                ("missing_role", "缺少岗位"),
            ),
            queries.unstaffed(session, scope, grid_code),
        )
    if name == "uncovered":
        masked = [
            {
                **r,
                "address": disclosure.address(r["address"]),
                "care_tags": ";".join(r["care_tags"]),
            }
            for r in queries.uncovered(session, scope, grid_code)
        ]
        return Report(
            name,
            "未包户住户",
            (
                ("id", "住户编号"),
                ("address", "地址"),
                ("care_tags", "关爱标签"),
                ("micro_grid_code", glossary.LEVELS["micro"]),
            ),
            masked,
        )
    if name == "overloaded":
        overloaded = [
            disclosure.staff_contact(r)
            for r in queries.loads(session, scope, grid_code, care_weight)
            if r["weighted_load"] > max_load
        ]
        return Report(
            name,
            f"超负荷党员（加权户数 > {max_load:g}）",
            (
                ("id", "人员编号"),
                ("name", "姓名"),
                ("kind", "类别"),
                ("households", "户数"),
                ("weighted_load", "加权户数"),
            ),
            overloaded,
        )
    return Report(
        name,
        "包户覆盖率",
        (
            ("code", "网格编码"),
            ("name", "名称"),
            ("households", "住户数"),
            ("covered", "已包户"),
            ("rate", "覆盖率"),
        ),
        queries.coverage_rates(session, scope, grid_code, level),
    )


def to_xlsx(report: Report) -> bytes:
    """The report as an Excel workbook: a title row, headings, then the rows."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(report.name)
    sheet.append(safe_row([report.title]))
    sheet.append(safe_row(heading for _, heading in report.columns))
    for cells in report.cells():
        sheet.append(safe_row(cells))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
