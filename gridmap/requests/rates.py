"""三率 (response, resolution and satisfaction rates), the ranking board (红黑榜) and the
timeliness warnings (红黄牌) of residents' requests.

Formulas
--------
A period ``P = [start, end)`` is a month ``YYYY-MM`` or a range of dates, in Asia/Shanghai; the
rates are judged as of a moment ``T`` (now, unless given): nothing recorded after ``T`` counts.
Requests marked ``duplicate`` never count (they are merged into their original). Every rate is
a share from 0 to 1, and ``null`` when its denominator is 0 (no requests is not a rate of 0).

**Response rate (响应率)** = ``responded_on_time / response_counted`` over the requests filed
in ``P``.

- A *response stage* is a span in state ``reported``, opened by ``report``, ``escalate``,
  ``return`` or ``reassign``. Its deadline is the one the timeline recorded when it opened
  (``detail.deadline``); for ``report``, the ``response`` limit of the request's category
  version counted in working time from the filing (as intake computes it). No limit: no
  deadline.
- ``response_counted``: accepted by ``T``, or its open response stage's deadline passed
  before ``T`` (still unaccepted: late). A request whose clock still runs is not counted yet.
- ``responded_on_time``: its first ``accept`` came at or before the deadline of the response
  stage it closed (a stage without a deadline is always on time).

**Resolution rate (解决率)** = ``resolved / due`` over the requests due in ``P`` by ``T``.

- The *due date* is the deadline of the first handling stage (recorded on the first
  ``accept``); accepted without a handling limit: the moment of that ``accept``; never
  accepted by ``T``: the deadline of its open response stage, else its filing time.
- ``resolved``: its state at ``T`` (that of its last event by ``T``) is ``completed``,
  ``feedback`` or ``archived``; a request an unsatisfied resident reopened is ``handling``
  again and is resolved only once completed again.

**Satisfaction rate (满意率)** = ``(satisfied + 0.9 × basically_satisfied) / rated``, where
``rated`` counts the requests whose resident answered (a ``rate`` event) in ``P`` by ``T``,
each by its latest answer in ``P``; ``unsatisfied`` answers count in ``rated`` only.

**Score (综合得分)** = ``100 × Σ wᵢ·rateᵢ / Σ wᵢ`` over the rates that are not null, with the
weights ``(w_response, w_resolution, w_satisfaction)`` of ``GRIDMAP_RATE_WEIGHTS`` (default
``0.1,0.5,0.4``, a public district tool's); ``null`` when all three rates are, and ``null``
for a row without requests filed in ``P``: its rates then come from older requests alone (one
rating of last month's request made a 满意率 of 100 % and a score of 100), which say little of
its period, so it is shown but not ranked.

Rows
----
By grid, a request counts for its micro-grid (17-digit code), its zone (the first 14 digits)
and its community (the first 12): the rows are today's grids of the level in the caller's
scope, empty ones included (their rates null). By owner, a request counts for the unit that
owns it now (首接负责: it answers for it): a person (grid worker, zone leader, chief), the
street's account, a department, or nobody at a level.

Ranking (红黑榜)
----------------
Rows with a score are ranked by it, best first, ties sharing a rank (1, 2, 2, 4); rows without
one are unranked. With ``n`` = ``GRIDMAP_RATE_BOARD_SIZE`` when it is a whole number (default
3), or ``ceil(share × ranked rows)`` when it is a share below 1: ``board`` is ``"red"`` for
rank ≤ n, ``"black"`` for the rows not red whose rank counted from the bottom (1 + rows with
a strictly lower score) is ≤ n, ``null`` otherwise. Rates are rounded to 4 decimals and the
score to 2 before ranking, so rows that look equal rank equal.

Warnings (红黄牌)
-----------------
A request whose stage clock runs (reported, accepted, handling, completed) is ``red`` after
its stage deadline and ``yellow`` from :func:`gridmap.requests.deadlines.yellow_at` (the last 20 %
of the allowed working time) to the deadline.
"""

from __future__ import annotations

import bisect
import datetime as dt
import io
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from openpyxl import Workbook
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core import clock, glossary
from gridmap.core.cells import safe_row
from gridmap.core.clock import BEIJING
from gridmap.core.errors import InvalidInput
from gridmap.core.privacy import MASKED, Disclosure
from gridmap.requests import deadlines, lifecycle
from gridmap.requests.service import stage_deadline
from gridmap.storage import rates as queries
from gridmap.storage import requests as request_store

Level = Literal["micro", "zone", "community"]
By = Literal["grid", "owner"]
Card = Literal["yellow", "red"]

#: Code length of each grid level: a request's micro-grid code cut to it gives its grid.
CODE_LENGTH: dict[str, int] = {"community": 12, "zone": 14, "micro": 17}
BASICALLY = 0.9
RESOLVED = frozenset({"completed", "feedback", "archived"})
#: Actions that open a response stage (the request is reported to a new owner).
_OPENS_RESPONSE = frozenset({"report", "escalate", "return", "reassign"})
_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
#: The longest period a ranking covers.
MAX_DAYS = 366

#: (key, Chinese heading) of the table every answer and export shows.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("code", "编码"),
    ("name", "名称"),
    ("level", "层级"),
    ("rank", "排名"),
    ("board", "红黑榜"),
    ("filed", "受理诉求数"),
    ("response_counted", "响应应计数"),
    ("responded_on_time", "按时响应数"),
    ("response_rate", "响应率"),
    ("due", "到期诉求数"),
    ("resolved", "已解决数"),
    ("resolution_rate", "解决率"),
    ("rated", "评价数"),
    *glossary.RATINGS.items(),
    ("satisfaction_rate", "满意率"),
    ("score", "综合得分"),
)
#: A row's board as shown (no board: blank).
BOARD_NAMES: dict[str | None, str] = {**glossary.BOARDS, None: ""}


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in Asia/Shanghai; ``label`` is ``YYYY-MM`` or ``from..to``."""

    start: dt.datetime
    end: dt.datetime
    label: str

    @property
    def first_day(self) -> dt.date:
        return self.start.date()

    @property
    def last_day(self) -> dt.date:
        return self.end.date() - dt.timedelta(days=1)


def period(
    month: str | None = None,
    first: dt.date | None = None,
    last: dt.date | None = None,
    *,
    today: dt.date | None = None,
) -> Period:
    """A month ``YYYY-MM``, or the dates ``first`` to ``last`` included; default this month."""
    if month is not None and (first is not None or last is not None):
        raise InvalidInput("give either period=YYYY-MM or from and to, not both")
    if (first is None) != (last is None):
        raise InvalidInput("from and to go together: give both dates")
    if first is not None and last is not None:
        if last < first or (last - first).days >= MAX_DAYS:
            raise InvalidInput(f"to must be on or after from, at most {MAX_DAYS} days later")
        return _span(first, last + dt.timedelta(days=1), f"{first}..{last}")
    if month is None:
        month = (today or clock.today()).strftime("%Y-%m")
    found = _MONTH.match(month)
    if not found or not clock.supported_year(int(found[1])):
        raise InvalidInput(
            f"period must be a month YYYY-MM of {clock.FIRST_YEAR} to {clock.LAST_YEAR}, "
            f"not {month!r}"
        )
    year, number = int(found[1]), int(found[2])
    after = dt.date(year + number // 12, number % 12 + 1, 1)
    return _span(dt.date(year, number, 1), after, month)


def last_complete_month(today: dt.date | None = None) -> str:
    """``YYYY-MM`` of the last whole month before ``today`` (Beijing time): what a ranking
    opens on, so that it does not rank three days of a month."""
    first = (today or clock.today()).replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def _span(first: dt.date, after: dt.date, label: str) -> Period:
    start = dt.datetime.combine(first, dt.time(), tzinfo=BEIJING)
    return Period(start, dt.datetime.combine(after, dt.time(), tzinfo=BEIJING), label)


# ------------------------------------------------------------------------- one request's facts


@dataclass(frozen=True)
class Facts:
    """What one request contributes to the rates as of ``T`` (see the module's formulas)."""

    filed_at: dt.datetime
    #: None: not counted yet (its response clock still runs); else whether on time.
    on_time: bool | None
    due_at: dt.datetime
    resolved: bool
    #: The latest answer in the period and when it was given (None: no answer in it).
    rating: str | None = None


def _recorded_deadline(event: Any) -> dt.datetime | None:
    text = (event.detail or {}).get("deadline")
    return dt.datetime.fromisoformat(text) if text else None


def _response_deadline(request: Any, event: Any) -> dt.datetime | None:
    if event.action == "report":
        limit = request.time_limits.get("response")
        return stage_deadline(event.at, limit if isinstance(limit, dict) else None)
    return _recorded_deadline(event)


def facts(request: Any, events: Sequence[Any], when: Period, now: dt.datetime) -> Facts:
    """The contribution of ``request`` with its timeline ``events`` (oldest first)."""
    seen = [e for e in events if e.at <= now]
    deadline: dt.datetime | None = None
    accept = None
    for event in seen:
        if event.action == "accept":
            accept = event
            break
        if event.action in _OPENS_RESPONSE and event.to_state == "reported":
            deadline = _response_deadline(request, event)
    if accept is not None:
        on_time: bool | None = deadline is None or accept.at <= deadline
        due_at = _recorded_deadline(accept) or accept.at
    else:
        on_time = False if deadline is not None and deadline < now else None
        due_at = deadline or request.created_at
    state = seen[-1].to_state if seen else request.state
    answers = [e for e in seen if e.action == "rate" and when.start <= e.at < when.end]
    rating = (answers[-1].detail or {}).get("rating") if answers else None
    return Facts(request.created_at, on_time, due_at, state in RESOLVED, rating)


# --------------------------------------------------------------------------------- the tally


@dataclass
class Tally:
    """The counts behind one row's rates."""

    filed: int = 0
    response_counted: int = 0
    responded_on_time: int = 0
    due: int = 0
    resolved: int = 0
    satisfied: int = 0
    basically_satisfied: int = 0
    unsatisfied: int = 0

    def add(self, fact: Facts, when: Period, now: dt.datetime) -> None:
        if when.start <= fact.filed_at < when.end:
            self.filed += 1
            if fact.on_time is not None:
                self.response_counted += 1
                self.responded_on_time += fact.on_time
        if when.start <= fact.due_at < when.end and fact.due_at <= now:
            self.due += 1
            self.resolved += fact.resolved
        if fact.rating in ("satisfied", "basically_satisfied", "unsatisfied"):
            setattr(self, fact.rating, getattr(self, fact.rating) + 1)

    @property
    def rated(self) -> int:
        return self.satisfied + self.basically_satisfied + self.unsatisfied

    def rates(self) -> tuple[float | None, float | None, float | None]:
        """Response, resolution and satisfaction rates, rounded to 4 decimals."""
        satisfied = self.satisfied + BASICALLY * self.basically_satisfied
        return (
            _share(self.responded_on_time, self.response_counted),
            _share(self.resolved, self.due),
            _share(satisfied, self.rated),
        )


def _share(part: float, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def score(rates: Sequence[float | None], weights: Sequence[float]) -> float | None:
    """100 × the weighted mean of the rates that are not null (None if all are)."""
    pairs = [(r, w) for r, w in zip(rates, weights, strict=True) if r is not None]
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        return None
    return round(100 * sum(r * w for r, w in pairs) / total, 2)


# -------------------------------------------------------------------------------- the board


def board_size(size: float, ranked: int) -> int:
    """How many rows each board holds: ``size`` if whole, else ``ceil(size × ranked)``."""
    return int(size) if size >= 1 else math.ceil(size * ranked)


def rank(rows: list[dict[str, Any]], size: float) -> list[dict[str, Any]]:
    """Set ``rank`` and ``board`` on rows with a ``score``; returns them best first."""
    scores = sorted(r["score"] for r in rows if r["score"] is not None)
    n = board_size(size, len(scores))
    for row in rows:
        s = row["score"]
        if s is None:
            row["rank"], row["board"] = None, None
            continue
        row["rank"] = 1 + len(scores) - bisect.bisect_right(scores, s)  # 1 + rows better
        from_bottom = 1 + bisect.bisect_left(scores, s)  # 1 + rows worse
        row["board"] = "red" if row["rank"] <= n else "black" if from_bottom <= n else None
    unranked = len(rows) + 1
    return sorted(rows, key=lambda r: (r["rank"] or unranked, r["code"]))


# ---------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Ranking:
    """The rows of one ranking and how they were made."""

    by: By
    level: Level
    grid_code: str | None
    period: Period
    as_of: dt.datetime
    weights: tuple[float, float, float]
    board_size: float
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        what = "责任单位" if self.by == "owner" else glossary.label(glossary.LEVELS, self.level)
        return f"三率排名（{what}，{self.period.label}）"


def _owner_key(request: Any) -> str:
    if request.department_id is not None:
        return f"department:{request.department_id}"
    if request.owner_person_id is not None:
        return f"person:{request.owner_person_id}"
    if request.owner_user_id is not None:
        return f"user:{request.owner_user_id}"
    return f"nobody:{request.level}"


def _owner_name(request: Any, disclosure: Disclosure) -> str:
    if request.department_id is not None:
        return str(request.department or f"部门 {request.department_id}")
    if request.owner_person_id is not None:
        return disclosure.staff_name(request.owner_name) or f"人员 {request.owner_person_id}"
    if request.owner_user_id is not None:
        return f"街道（账号 {request.owner_user_id}）"
    return f"无人值守（{request.level}）"


def _tallies(
    requests: Iterable[Any], events: Iterable[Any], key: Any, when: Period, now: dt.datetime
) -> dict[str, Tally]:
    timeline: dict[int, list[Any]] = defaultdict(list)
    for event in events:
        timeline[event.request_id].append(event)
    tallies: dict[str, Tally] = defaultdict(Tally)
    for request in requests:
        if request.created_at > now:
            continue  # filed after the moment judged: it did not exist yet
        fact = facts(request, timeline[request.id], when, now)
        tallies[key(request)].add(fact, when, now)
    return tallies


def _row(
    code: str, name: str, level: str, tally: Tally, weights: Sequence[float]
) -> dict[str, Any]:
    response, resolution, satisfaction = tally.rates()
    return {
        "code": code,
        "name": name,
        "level": level,
        "filed": tally.filed,
        "response_counted": tally.response_counted,
        "responded_on_time": tally.responded_on_time,
        "response_rate": response,
        "due": tally.due,
        "resolved": tally.resolved,
        "resolution_rate": resolution,
        "rated": tally.rated,
        "satisfied": tally.satisfied,
        "basically_satisfied": tally.basically_satisfied,
        "unsatisfied": tally.unsatisfied,
        "satisfaction_rate": satisfaction,
        "score": score((response, resolution, satisfaction), weights) if tally.filed else None,
    }


def ranking(
    session: Session,
    scope: Scope,
    when: Period,
    *,
    by: By = "grid",
    level: Level = "micro",
    grid_code: str | None = None,
    weights: tuple[float, float, float] = (0.1, 0.5, 0.4),
    size: float = 3,
    now: dt.datetime | None = None,
    disclosure: Disclosure = MASKED,
) -> Ranking:
    """The 三率 of each grid of ``level`` (or each owner unit, staff named as ``disclosure``
    says) in ``scope``, ranked."""
    as_of = now or clock.now()
    requests = queries.period_requests(session, scope, grid_code, when.start, when.end)
    events = queries.period_events(session, scope, grid_code, when.start, when.end)
    if by == "owner":
        tallies = _tallies(requests, events, _owner_key, when, as_of)
        names = {_owner_key(r): (_owner_name(r, disclosure), r.level) for r in requests}
        rows = [_row(k, *names[k], t, weights) for k, t in tallies.items()]
    else:
        cut = CODE_LENGTH[level]
        tallies = _tallies(requests, events, lambda r: r.micro_grid_code[:cut], when, as_of)
        rows = [
            _row(g.code, g.name, level, tallies.get(g.code, Tally()), weights)
            for g in queries.grids(session, scope, level, grid_code)
        ]
    return Ranking(by, level, grid_code, when, as_of, weights, size, rank(rows, size))


def to_xlsx(table: Ranking) -> bytes:
    """The ranking as an Excel workbook: a title row, headings, then the rows."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("rates")
    sheet.append(safe_row([table.title]))
    sheet.append(safe_row(heading for _, heading in COLUMNS))
    for row in table.rows:
        sheet.append(safe_row(cell(row, key) for key, _ in COLUMNS))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def cell(row: dict[str, Any], key: str) -> Any:
    """A value as the downloads show it (the board and the level by their Chinese names)."""
    if key == "board":
        return BOARD_NAMES[row["board"]]
    if key == "level":
        return glossary.label(glossary.LEVELS, row["level"])
    return row[key]


# ------------------------------------------------------------------------------- 红黄牌


@dataclass(frozen=True)
class Warned:
    """A request with a card: how late (red) or how little time is left (yellow)."""

    row: Any
    card: Card
    working_hours_late: float | None
    working_hours_left: float | None
    owner_key: str
    owner_name: str


def card(row: Any, now: dt.datetime) -> Card | None:
    """红黄牌 of a request's running stage at ``now`` (None: green or no clock)."""
    if row.stage_deadline is None or not lifecycle.clock_runs(row.state):
        return None
    found = deadlines.warning_level(now, row.stage_deadline, row.stage_started_at)
    return None if found == "green" else found


def _hours(delta: dt.timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def warned(
    session: Session,
    scope: Scope,
    grid_code: str | None,
    now: dt.datetime,
    disclosure: Disclosure = MASKED,
) -> list[Warned]:
    """Requests in ``scope`` with a yellow or a red card at ``now``, red first, the most
    overdue first; their owners named as ``disclosure`` says."""
    found: list[Warned] = []
    for row in queries.clocked_requests(session, scope, grid_code, now):
        colour = card(row, now)
        if colour is None:
            continue
        late = deadlines.working_time_between(row.stage_deadline, now)
        left = deadlines.working_time_between(now, row.stage_deadline)
        found.append(
            Warned(
                row,
                colour,
                _hours(late) if colour == "red" else None,
                _hours(left) if colour == "yellow" else None,
                _owner_key(row),
                _owner_name(row, disclosure),
            )
        )
    return sorted(found, key=lambda w: (w.card != "red", w.row.stage_deadline, w.row.id))


def per_owner(found: Iterable[Warned]) -> list[dict[str, Any]]:
    """Yellow and red cards per owner unit (for the chief), the most red first."""
    counts: dict[str, dict[str, Any]] = {}
    for w in found:
        entry = counts.setdefault(
            w.owner_key,
            {"id": w.owner_key, "name": w.owner_name, "level": w.row.level, "yellow": 0, "red": 0},
        )
        entry[w.card] += 1
    return sorted(counts.values(), key=lambda e: (-e["red"], -e["yellow"], e["id"]))


def warning_page(
    session: Session,
    wanted: request_store.RequestFilter,
    *,
    scope: Scope,
    limit: int,
    before_id: int | None,
    now: dt.datetime,
) -> tuple[list[Any], int | None]:
    """A page of ``list_requests``; with ``wanted.warning == "yellow"``, only the requests
    showing the yellow card at ``now``.

    SQL decides the red card exactly (past the deadline) and narrows the yellow one, which
    needs working time: pages are read until ``limit`` rows have it or none are left.
    Returns the rows and the next page's cursor.
    """
    if wanted.warning != "yellow":
        return request_store.list_requests(
            session, wanted, scope=scope, limit=limit, before_id=before_id
        )
    kept: list[Any] = []
    cursor = before_id
    while True:
        rows, after = request_store.list_requests(
            session, wanted, scope=scope, limit=limit, before_id=cursor
        )
        kept += [r for r in rows if card(r, now) == wanted.warning]
        if len(kept) >= limit or after is None:
            break
        cursor = after
    if len(kept) > limit or (len(kept) == limit and after is not None):
        return kept[:limit], kept[limit - 1].id
    return kept, None
