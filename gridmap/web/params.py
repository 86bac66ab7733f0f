"""Query strings of the pages, parsed into typed values (the pages' ``api/params.py``).

Times are typed and shown in Asia/Shanghai and stored in UTC: a ``datetime-local`` field
("2026-11-22T09:30") is read as Beijing time and turned into an aware UTC datetime.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gridmap.core import clock, glossary
from gridmap.core.clock import BEIJING
from gridmap.core.errors import InvalidInput
from gridmap.requests.rates import last_complete_month

#: Audit rows shown per page.
AUDIT_PAGE_SIZE = 100
#: Rows the CSV link asks for: the most ``/api/v1/audit.csv`` gives in one file.
AUDIT_CSV_ROWS = 5000

#: The tabs of the request inbox (诉求工作台), in order: key → label.
INBOX_TABS = {
    "mine": "我的",
    "filed": "我上报的",
    "yellow": "即将到期",
    "red": glossary.OVERDUE,
    "all": "全部",
}
#: 延期: the street's tab of the extensions waiting for its answer.
STREET_TABS = {**INBOX_TABS, "extension": "延期申请"}
#: A department's inbox (部门报到): summoned and not yet accepted, in hand, its extensions
#: waiting for the street, and the requests it co-handles (协办).
DEPARTMENT_TABS = {
    "summoned": "待报到",
    "handling": "办理中",
    "extension": "延期申请",
    "cohandling": "协办",
    "all": "全部",
}


def inbox_tabs(role: str) -> dict[str, str]:
    """The inbox's tabs for an account of ``role``."""
    if role == "department":
        return DEPARTMENT_TABS
    return STREET_TABS if role == "street_admin" else INBOX_TABS


#: The ranking board's levels (红黑榜 per micro-grid, zone or community).
RANKING_LEVELS = {level: glossary.LEVELS[level] for level in ("micro", "zone", "community")}
#: What the ranking board ranks: grids of the level, or the owner units among their peers.
RANKING_BY = glossary.RANKING_BY

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_TEXT_FILTERS = ("username", "action", "object_type", "object_id")
_LABELS = {"since": "开始时间", "until": "结束时间", "before_id": "翻页位置"}


def assign_grid_code(args: Mapping[str, str]) -> str | None:
    """The assignment page's ``grid``: a zone (14 digits) or micro-grid (17) code, or None."""
    code = args.get("grid", "").strip()
    if not code:
        return None
    if not code.isascii() or not code.isdigit() or len(code) not in (14, 17):
        raise InvalidInput("grid 应为片区（14 位）或微网格（17 位）编码")
    return code


def inbox_tab(
    args: Mapping[str, str], *, handles: bool, tabs: Mapping[str, str] = INBOX_TABS
) -> str:
    """The inbox's ``tab`` (one of ``tabs``); without one, the first tab for roles that
    handle requests (``mine``, a department's ``summoned``) and ``all`` for the others."""
    tab = args.get("tab", "").strip()
    if not tab:
        return next(iter(tabs)) if handles else "all"
    if tab not in tabs:
        raise InvalidInput(f"tab 应为 {'、'.join(tabs)} 之一")
    return tab


@dataclass(frozen=True)
class RankingFilters:
    """The ranking board's level, what it ranks (grids or owner units) and month
    (``YYYY-MM``, Beijing time; default the last complete month,
    :func:`gridmap.requests.rates.last_complete_month`)."""

    level: str
    period: str
    by: str = "grid"

    @classmethod
    def from_args(cls, args: Mapping[str, str], now: dt.datetime | None = None) -> RankingFilters:
        level = args.get("level", "").strip() or "micro"
        if level not in RANKING_LEVELS:
            raise InvalidInput(f"level 应为 {'、'.join(RANKING_LEVELS)} 之一")
        by = args.get("by", "").strip() or "grid"
        if by not in RANKING_BY:
            raise InvalidInput(f"by 应为 {'、'.join(RANKING_BY)} 之一")
        period = args.get("period", "").strip()
        if not period:
            period = last_complete_month((now or clock.now()).astimezone(BEIJING).date())
        found = _MONTH.fullmatch(period)
        if not found or not clock.supported_year(int(found[1])):
            raise InvalidInput(
                f"月份格式不正确，应为 {clock.FIRST_YEAR}–{clock.LAST_YEAR} 年的"
                " 年-月（如 2026-11）"
            )
        return cls(level=level, period=period, by=by)

    def api_args(self) -> dict[str, str]:
        """The same choice for ``/api/v1/rates`` and its downloads."""
        return {"level": self.level, "period": self.period, "by": self.by}


def local_time(value: dt.datetime) -> str:
    """A stored (UTC) time as Beijing time, to the second (the audit log's events)."""
    return clock.local_text(value, seconds=True)


def _parse_local(name: str, text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text) if text.isascii() else None
    except ValueError:
        value = None
    if value is None:
        raise InvalidInput(f"{_LABELS[name]}格式不正确，应为 年-月-日T时:分")
    if not clock.supported_year(value.year):
        raise InvalidInput(f"{_LABELS[name]}应在 {clock.FIRST_YEAR}–{clock.LAST_YEAR} 年之间")
    if value.tzinfo is None:
        value = value.replace(tzinfo=BEIJING)
    return value.astimezone(dt.UTC)


def _parse_id(text: str) -> int | None:
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise InvalidInput(f"{_LABELS['before_id']}应为正整数")
    return int(text)


@dataclass(frozen=True)
class AuditFilters:
    """The audit page's filters: ``form`` as typed (to refill the form), the rest parsed."""

    form: dict[str, str] = field(default_factory=dict)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    before_id: int | None = None
    #: What is wrong with the filters (in Chinese), or None.
    error: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilters:
        """Read the filters; a bad value leaves them unparsed with ``error`` saying why."""
        form = {k: args.get(k, "").strip()[:100] for k in (*_TEXT_FILTERS, "since", "until")}
        try:
            return cls(
                form=form,
                since=_parse_local("since", form["since"]),
                until=_parse_local("until", form["until"]),
                before_id=_parse_id(args.get("before_id", "").strip()),
            )
        except InvalidInput as exc:
            return cls(form=form, error=exc.detail)

    def search_args(self) -> dict[str, Any]:
        """Keyword arguments of ``gridmap.access.audit.search`` (one row more than a page, to tell
        whether there is a next page)."""
        text = {k: self.form.get(k) or None for k in _TEXT_FILTERS}
        return text | {
            "since": self.since,
            "until": self.until,
            "before_id": self.before_id,
            "limit": AUDIT_PAGE_SIZE + 1,
        }

    def page_args(self, before_id: int | None = None) -> dict[str, str | int]:
        """The page's own query string: the form as typed, and where the next page starts."""
        args: dict[str, str | int] = {k: v for k, v in self.form.items() if v}
        if before_id is not None:
            args["before_id"] = before_id
        return args

    def api_args(self) -> dict[str, str]:
        """The same filters for ``/api/v1/audit.csv`` (times as UTC ISO 8601), newest rows
        first up to ``AUDIT_CSV_ROWS``."""
        args = {k: self.form[k] for k in _TEXT_FILTERS if self.form.get(k)}
        args["limit"] = str(AUDIT_CSV_ROWS)
        for name, value in (("since", self.since), ("until", self.until)):
            if value is not None:
                args[name] = value.isoformat()
        return args
