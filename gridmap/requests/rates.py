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

**Answers (回访记录).** An *answer* is a ``callback`` event (a 回访 recorded by a verifier or a
leader who did not handle the request: ``resolved`` 已解决/未解决, ``rating``, ``channel``) or
a ``rate`` event (the resident's own rating, or a leader's record of it), which maps into the
same record: ``resolved`` unless it is ``unsatisfied`` (it reopens the request). Each request
counts by its latest answer in ``P`` by ``T``; ``answered`` is the number of requests with one.

**Resolution rate (解决率)**, chosen by ``GRIDMAP_RATE_RESOLUTION`` (:class:`Formula`):

- ``answers`` (default, as Beijing's 12345 publishes it): ``answered_resolved / answered``,
  the requests whose latest answer in ``P`` says 已解决 over those answered in ``P``. The
  handler's own ``complete`` counts for nothing here.
- ``completion`` (the old rate, for comparison): ``resolved / due`` over the requests due in
  ``P`` by ``T``, defined below.

The completion-based rate:

- The *due date* is the deadline of the first handling stage (recorded on the first
  ``accept``); accepted without a handling limit: the moment of that ``accept``; never
  accepted by ``T``: the deadline of its open response stage, else its filing time.
- ``resolved``: its state at ``T`` (that of its last event by ``T``) is ``completed``,
  ``feedback`` or ``archived``; a request an unsatisfied resident reopened is ``handling``
  again and is resolved only once completed again.

**Satisfaction rate (满意率)** = ``(satisfied + b × basically_satisfied) / rated``, where
``rated`` counts the requests answered (a ``rate`` or ``callback`` event) in ``P`` by ``T``,
each by its latest answer's satisfaction in ``P``; ``unsatisfied`` answers count in ``rated``
only; ``b`` is ``GRIDMAP_RATE_BASICALLY_WEIGHT`` (default 0.9).

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
**Peers (同类比较).** Rows are ranked against their peers only (``peer``): by grid, the grids
of the one level asked for; by owner, the kind of unit before the ``:`` of its key
(``department``, ``user`` for the street's accounts, any kind added later) and, for a person,
the post the level of their requests says (micro: ``person:grid_worker``, zone:
``person:zone_leader``, community: ``person:chief``). A person is never ranked against a
department, nor a grid worker against a chief; ``nobody`` (requests no unit owns) is shown
and never ranked. Each peer group has its own ranks and its own two boards.

**Minimum volume (最低件数).** A row is ranked only with at least ``m`` =
``GRIDMAP_RATE_BOARD_MIN_FILED`` requests filed in ``P`` (default 5), and a score. Below it
the row keeps its rates and score, with ``rank`` and ``board`` null and the reason in
``unranked`` (``no_owner``, ``no_filed``, ``below_minimum``, ``no_score``). Why 5: a
micro-grid files a median of one request a month, and a rate over k requests moves by 1/k
with each one: at 1 or 2 requests one late answer swings the score by 50 to 100 points and
the board is chance (a review found 15 of 23 micro-grids tied at 100 on a red board of 3);
from 5, one request is at most a fifth of a rate, and a unit below it is ranked at the zone
or community level, where its requests add up.

**Ranks.** Ranked rows are ordered by score, best first, ties sharing a rank (1, 2, 2, 4);
``tie`` is true for a row sharing its rank with another (并列). Rates are rounded to 4
decimals and the score to 2 before ranking, so rows that look equal rank equal.

**Boards.** With ``n`` = ``GRIDMAP_RATE_BOARD_SIZE`` when it is a whole number (default 3),
or ``ceil(share × ranked rows of the peer group)`` when it is a share below 1, the red board
takes the best ``n`` rows and the black board the worst ``n`` rows not on the red one.
*Tie rule:* when the ``n``-th seat falls inside a group of rows of one score (the tie at
the edge), the whole group is on the board and declared (``boards[].red.tied`` rows sharing
``tie_rank``) if it has at most ``n`` rows. A larger tie is broken (``broken``) by a
secondary key, for its seats only: more requests filed in ``P`` first (the same rate over
more requests is firmer evidence), then the better resolution rate (the worse, on the black
board); rows still equal on both at the last seat are all left out, so that seat stays
empty (``left_out`` counts the tied rows not seated). Ranks stay by score alone: the rows of
a broken tie keep their shared rank and their 并列 mark. (Leaving a large tie off the board
altogether was tried: on a generated month six communities of 112 tied at 100, and the red
board of 3 was empty.) So a board holds at most ``n`` rows plus its declared tie, and never
more than ``2n − 1``. Each peer group's boards are summed up in :attr:`Ranking.boards`, and
:func:`notes` says all of the above in Chinese for the page and the downloads.

Warnings (红黄牌)
-----------------
A request whose stage clock runs (reported, accepted, handling, completed) is ``red`` after
its stage deadline and ``yellow`` from :func:`gridmap.requests.deadlines.yellow_at` (the last 20 %
of the allowed time, counted in the stage's basis: working time, or elapsed time for a
clock-time stage) to the deadline.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections import Counter, defaultdict
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
from gridmap.storage import rate_facts
from gridmap.storage import rates as queries
from gridmap.storage import requests as request_store

Level = Literal["micro", "zone", "community"]
Resolution = Literal["answers", "completion"]
By = Literal["grid", "owner"]
Card = Literal["yellow", "red"]

#: Code length of each grid level: a request's micro-grid code cut to it gives its grid.
CODE_LENGTH: dict[str, int] = {"community": 12, "zone": 14, "micro": 17}
BASICALLY = 0.9
RESOLUTIONS: tuple[Resolution, ...] = ("answers", "completion")
RESOLVED = frozenset(queries.RESOLVED_STATES)
#: Actions that open a response stage (the request is reported to a new owner).
_OPENS_RESPONSE = frozenset(rate_facts.OPENS_RESPONSE)
_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
#: The longest period a ranking covers.
MAX_DAYS = 366
#: Fewest requests filed in the period for a unit to be ranked (GRIDMAP_RATE_BOARD_MIN_FILED;
#: why 5: the module's "Minimum volume").
MIN_FILED = 5
#: A person's post by the level of the requests they own (their peer group).
PERSON_POSTS: dict[str, str] = {"micro": "grid_worker", "zone": "zone_leader", "community": "chief"}

#: (key, Chinese heading) of the table every answer and export shows.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("code", "编码"),
    ("name", "名称"),
    ("level", "层级"),
    ("peer", "比较类别"),
    ("rank", "排名"),
    ("tie", glossary.TIE),
    ("board", "红黑榜"),
    ("unranked", "不排名原因"),
    ("filed", "受理诉求数"),
    ("response_counted", "响应应计数"),
    ("responded_on_time", "按时响应数"),
    ("response_rate", "响应率"),
    ("due", "到期诉求数"),
    ("resolved", "已办结数"),
    ("answered", "回访数"),
    ("answered_resolved", "回访已解决数"),
    ("resolution_rate", "解决率"),
    ("rated", "评价数"),
    *glossary.RATINGS.items(),
    ("satisfaction_rate", "满意率"),
    ("score", "综合得分"),
)
#: The workbook's sheet that says how the ranking was made.
NOTES_SHEET = "说明"
#: A row's board as shown (no board: blank).
BOARD_NAMES: dict[str | None, str] = {**glossary.BOARDS, None: ""}


@dataclass(frozen=True)
class Formula:
    """How 解决率 and 满意率 are counted (see the module's formulas): ``resolution`` is
    ``answers`` (已解决 answers / answered) or ``completion`` (the old completion-based rate),
    ``basically`` the weight of a 基本满意 answer in 满意率."""

    resolution: Resolution = "answers"
    basically: float = BASICALLY

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise InvalidInput(f"resolution must be one of {', '.join(RESOLUTIONS)}")
        if not 0 <= self.basically <= 1:
            raise InvalidInput("the weight of basically_satisfied must be between 0 and 1")

    @classmethod
    def of(cls, settings: Any) -> Formula:
        """The formula the settings choose (``GRIDMAP_RATE_RESOLUTION``,
        ``GRIDMAP_RATE_BASICALLY_WEIGHT``)."""
        return cls(settings.rate_resolution, settings.rate_basically_weight)


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
    #: The latest answer's satisfaction in the period (None: no answer in it).
    rating: str | None = None
    #: The latest answer's "resolved?" in the period (None: no answer in it).
    answer_resolved: bool | None = None


def _recorded_deadline(event: Any) -> dt.datetime | None:
    return rate_facts.recorded_deadline(event.detail)


def _response_deadline(request: Any, event: Any) -> dt.datetime | None:
    if event.action == "report" and _recorded_deadline(event) is None:
        # Recorded only for an urgent request; a normal one's is its category's limit.
        limit = request.time_limits.get("response")
        return stage_deadline(event.at, limit if isinstance(limit, dict) else None)
    return _recorded_deadline(event)


def _handling_due(accept: Any, later: Sequence[Any]) -> dt.datetime:
    """The due date the first accept fixes: its handling deadline (else its moment), moved by
    a change of urgency while that first handling stage runs."""
    due = _recorded_deadline(accept)
    for event in later:
        if event.to_state not in ("accepted", "handling"):
            break
        if event.action == "set_urgency" and due is not None:
            due = _recorded_deadline(event) or due
    return due or accept.at


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
        if event.action == "set_urgency" and event.to_state == "reported":
            deadline = _recorded_deadline(event)
    if accept is not None:
        on_time: bool | None = deadline is None or accept.at <= deadline
        due_at = _handling_due(accept, seen[seen.index(accept) + 1 :])
    else:
        on_time = False if deadline is not None and deadline < now else None
        due_at = deadline or request.created_at
    state = seen[-1].to_state if seen else request.state
    answers = [e for e in seen if e.action in lifecycle.ANSWERS and when.start <= e.at < when.end]
    record = (answers[-1].detail or {}) if answers else {}
    rating = record.get("rating")
    answer_resolved = _answer_resolved(record) if answers else None
    return Facts(request.created_at, on_time, due_at, state in RESOLVED, rating, answer_resolved)


_answer_resolved = rate_facts.answer_resolved


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
    answered: int = 0
    answered_resolved: int = 0

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
        if fact.answer_resolved is not None:
            self.answered += 1
            self.answered_resolved += fact.answer_resolved

    @property
    def rated(self) -> int:
        return self.satisfied + self.basically_satisfied + self.unsatisfied

    def rates(
        self, formula: Formula | None = None
    ) -> tuple[float | None, float | None, float | None]:
        """Response, resolution and satisfaction rates as ``formula`` counts them (default:
        :class:`Formula`'s), rounded to 4 decimals."""
        formula = formula or Formula()
        satisfied = self.satisfied + formula.basically * self.basically_satisfied
        if formula.resolution == "answers":
            resolution = _share(self.answered_resolved, self.answered)
        else:
            resolution = _share(self.resolved, self.due)
        return (
            _share(self.responded_on_time, self.response_counted),
            resolution,
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


@dataclass(frozen=True)
class Board:
    """One board (红榜 or 黑榜) of one peer group: its seats, the rows on it, and the tie at
    its edge: ``tied`` rows sharing ``tie_rank`` (counted from the board's own end: from the
    top for the red board, from the bottom for the black one), of which ``left_out`` are not
    on it because the tie had more rows than the board has seats (``broken``: the secondary
    key chose among them)."""

    size: int
    rows: int
    tie_rank: int | None = None
    tied: int = 0
    broken: bool = False
    left_out: int = 0

    @property
    def declared(self) -> int:
        """The tied rows the board holds beyond its size's worth (a tie seated whole)."""
        return 0 if self.broken else self.tied


@dataclass(frozen=True)
class PeerBoards:
    """The boards of one peer group (同类): its ranked rows and its red and black boards."""

    peer: str
    label: str
    ranked: int
    red: Board
    black: Board


Key = tuple[Any, ...]


def seat(scores: Sequence[float], keys: Sequence[Key], n: int) -> Board:
    """Who sits on a board of ``n`` seats: the first ``rows`` of ``scores``, ordered from the
    board's end (best first for the red board) and, among equal scores, by the secondary
    ``keys`` (the smaller first); by the module's tie rule."""
    if n <= 0 or not scores:
        return Board(max(n, 0), 0)
    if len(scores) <= n:
        return Board(n, len(scores))
    edge = scores[n - 1]
    first = scores.index(edge)
    tied = scores.count(edge)  # ordered: the tied rows follow one another
    if first + tied == n:
        return Board(n, n)
    if tied <= n:
        return Board(n, first + tied, first + 1, tied)
    # More tied rows than seats: the secondary key chooses; rows equal on it as well at the
    # last seat are all left out (the board then has fewer rows than seats).
    pairs = list(zip(scores, keys, strict=True))
    cut = pairs.index(pairs[n - 1])
    rows = n if pairs[n] != pairs[n - 1] else cut
    return Board(n, rows, first + 1, tied, broken=True, left_out=first + tied - rows)


def secondary_key(row: dict[str, Any], side: str) -> Key:
    """Among equal scores, who takes a seat on ``side``'s board first: more requests filed
    (a rate over more requests is firmer evidence), then the better resolution rate for the
    red board or the worse for the black one; a row without one comes after."""
    resolution = row["resolution_rate"]
    if resolution is None:
        return (-row["filed"], 1, 0.0)
    return (-row["filed"], 0, -resolution if side == "red" else resolution)


def peer(key: str, level: str) -> str:
    """The peer group of an owner unit keyed ``key`` whose requests are at ``level``."""
    kind = key.partition(":")[0]
    if kind == "person":
        return f"person:{PERSON_POSTS.get(level, level)}"
    return kind


def _unranked(row: dict[str, Any], min_filed: int) -> str | None:
    if row["peer"] == "nobody":
        return "no_owner"
    if not row["filed"]:
        return "no_filed"
    if row["filed"] < min_filed:
        return "below_minimum"
    return "no_score" if row["score"] is None else None


def _peer_order(code: str) -> tuple[int, str]:
    known = list(glossary.PEERS)
    return (known.index(code), "") if code in known else (len(known), code)


def rank(
    rows: list[dict[str, Any]], size: float, min_filed: int = MIN_FILED
) -> tuple[list[dict[str, Any]], list[PeerBoards]]:
    """Set ``rank``, ``tie``, ``board`` and ``unranked`` on ``rows`` (each with ``peer``,
    ``filed``, ``score`` and ``resolution_rate``), per peer group; returns them (peer group
    by peer group, best first, the unranked last) and each group's boards."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        row["unranked"] = _unranked(row, min_filed)
        row["rank"], row["tie"], row["board"] = None, False, None
        groups[row["peer"]].append(row)
    boards = [_rank_peers(code, groups[code], size) for code in sorted(groups, key=_peer_order)]
    unranked = len(rows) + 1
    ordered = sorted(rows, key=lambda r: (_peer_order(r["peer"]), r["rank"] or unranked, r["code"]))
    return ordered, boards


def _rank_peers(code: str, rows: list[dict[str, Any]], size: float) -> PeerBoards:
    ranked = sorted((r for r in rows if r["unranked"] is None), key=lambda r: -r["score"])
    scores = [r["score"] for r in ranked]
    first: dict[float, int] = {}
    for i, s in enumerate(scores):
        first.setdefault(s, i)
    shared = Counter(scores)
    for row in ranked:
        row["rank"] = 1 + first[row["score"]]  # 1 + rows better
        row["tie"] = shared[row["score"]] > 1
    n = board_size(size, len(ranked))
    best = sorted(ranked, key=lambda r: (-r["score"], secondary_key(r, "red")))
    red = seat([r["score"] for r in best], [secondary_key(r, "red") for r in best], n)
    rest = sorted(best[red.rows :], key=lambda r: (r["score"], secondary_key(r, "black")))
    black = seat([r["score"] for r in rest], [secondary_key(r, "black") for r in rest], n)
    for row in best[: red.rows]:
        row["board"] = "red"
    for row in rest[: black.rows]:
        row["board"] = "black"
    return PeerBoards(code, glossary.label(glossary.PEERS, code), len(ranked), red, black)


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
    min_filed: int = MIN_FILED
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: Each peer group's boards, in the rows' order.
    boards: list[PeerBoards] = field(default_factory=list)
    formula: Formula = field(default_factory=Formula)

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


def _grid_tallies(
    session: Session,
    scope: Scope,
    grid_code: str | None,
    when: Period,
    now: dt.datetime,
    cut: int,
) -> dict[str, Tally]:
    """The tallies per grid code (cut to ``cut``): the requests whose kept facts hold summed
    in the database (:func:`gridmap.storage.rates.fact_tallies`), the others (answered again
    after the period, or changed after ``now``) replayed from their timelines."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for row in queries.fact_tallies(session, scope, grid_code, when.start, when.end, now, cut):
        tallies[row[0]] = Tally(**dict(zip(queries.TALLY_COLUMNS, row[1:], strict=True)))
    span = (session, scope, grid_code, when.start, when.end)
    requests = queries.period_requests(*span, replayed=now)
    events = queries.period_events(session, requests)
    for code, tally in _tallies(
        requests, events, lambda r: r.micro_grid_code[:cut], when, now
    ).items():
        for name in queries.TALLY_COLUMNS:
            setattr(tallies[code], name, getattr(tallies[code], name) + getattr(tally, name))
    return tallies


def _row(
    code: str,
    name: str,
    level: str,
    group: str,
    tally: Tally,
    weights: Sequence[float],
    formula: Formula,
) -> dict[str, Any]:
    response, resolution, satisfaction = tally.rates(formula)
    return {
        "code": code,
        "name": name,
        "level": level,
        "peer": group,
        "filed": tally.filed,
        "response_counted": tally.response_counted,
        "responded_on_time": tally.responded_on_time,
        "response_rate": response,
        "due": tally.due,
        "resolved": tally.resolved,
        "answered": tally.answered,
        "answered_resolved": tally.answered_resolved,
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
    min_filed: int = MIN_FILED,
    now: dt.datetime | None = None,
    disclosure: Disclosure = MASKED,
    formula: Formula | None = None,
) -> Ranking:
    """The 三率 of each grid of ``level`` (or each owner unit, staff named as ``disclosure``
    says) in ``scope``, ranked among their peers on boards of ``size`` (rows with fewer than
    ``min_filed`` requests filed are not ranked); 解决率 and 满意率 counted as ``formula``
    says."""
    formula = formula or Formula()
    as_of = now or clock.now()
    if by == "owner":
        requests = queries.period_requests(session, scope, grid_code, when.start, when.end)
        events = queries.period_events(session, requests)
        tallies = _tallies(requests, events, _owner_key, when, as_of)
        names = {_owner_key(r): (_owner_name(r, disclosure), r.level) for r in requests}
        rows = [
            _row(k, *names[k], peer(k, names[k][1]), t, weights, formula)
            for k, t in tallies.items()
        ]
    else:
        cut = CODE_LENGTH[level]
        tallies = _grid_tallies(session, scope, grid_code, when, as_of, cut)
        rows = [
            _row(g.code, g.name, level, level, tallies.get(g.code, Tally()), weights, formula)
            for g in queries.grids(session, scope, level, grid_code)
        ]
    ordered, boards = rank(rows, size, min_filed)
    return Ranking(
        by, level, grid_code, when, as_of, weights, size, min_filed, ordered, boards, formula
    )


def _size_text(size: float) -> str:
    return f"{int(size)} 名" if size >= 1 else f"{size * 100:g} %（向上取整）"


def _board_text(side: str, board: Board) -> str:
    name = glossary.BOARDS[side]
    text = f"{name} {board.rows} 行（名额 {board.size}）"
    if board.tie_rank is None:
        return text
    end = "倒数" if side == "black" else ""
    tie = f"{end}第 {board.tie_rank} 名 {board.tied} 个单位{glossary.TIE}"
    if board.broken:
        seated = board.tied - board.left_out
        return f"{text}，{tie}，多于名额，按受理诉求数、解决率取 {seated} 个"
    return f"{text}，含{tie}"


def notes(table: Ranking) -> list[tuple[str, str]]:
    """How ``table`` was made, in Chinese (glossary ``RANKING_NOTES``): the period, the
    formula of each rate and the score's weights, the minimum volume, the boards and the tie
    rule, the peer groups; then each peer group's boards. What the page and the downloads
    show above the rows."""
    response, resolution, satisfaction = table.weights
    values = {
        "first": table.period.first_day.isoformat(),
        "last": table.period.last_day.isoformat(),
        "as_of": clock.local_text(table.as_of),
        "response": f"{response:g}",
        "resolution": f"{resolution:g}",
        "satisfaction": f"{satisfaction:g}",
        "min_filed": table.min_filed,
        "resolution_formula": glossary.RESOLUTION_FORMULAS[table.formula.resolution],
        "basically": f"{table.formula.basically:g}",
        "size": _size_text(table.board_size),
        "peers": "、".join(b.label for b in table.boards) or "（无）",
    }
    found = [(label, text.format(**values)) for label, text in glossary.RANKING_NOTES.values()]
    for group in table.boards:
        boards = "；".join(_board_text(side, getattr(group, side)) for side in ("red", "black"))
        found.append((f"{group.label}（排名 {group.ranked} 个）", boards))
    return found


def to_xlsx(table: Ranking) -> bytes:
    """The ranking as an Excel workbook: a title row, headings, then the rows; a second sheet
    says how it was made (:func:`notes`)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("rates")
    sheet.append(safe_row([table.title]))
    sheet.append(safe_row(heading for _, heading in COLUMNS))
    for row in table.rows:
        sheet.append(safe_row(cell(row, key) for key, _ in COLUMNS))
    about = book.create_sheet(NOTES_SHEET)
    about.append(safe_row([table.title]))
    for line in notes(table):
        about.append(safe_row(line))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def cell(row: dict[str, Any], key: str) -> Any:
    """A value as the downloads show it (codes by their Chinese names)."""
    if key == "board":
        return BOARD_NAMES[row["board"]]
    if key == "level":
        return glossary.label(glossary.LEVELS, row["level"])
    if key == "peer":
        return glossary.label(glossary.PEERS, row["peer"])
    if key == "tie":
        return glossary.TIE if row["tie"] else ""
    if key == "unranked":
        return glossary.label(glossary.UNRANKED, row["unranked"])
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
    found = deadlines.warning_level(
        now, row.stage_deadline, row.stage_started_at, basis=row.stage_basis
    )
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
