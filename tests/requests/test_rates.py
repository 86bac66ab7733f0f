"""三率, the ranking board (红黑榜) and the warning cards (红黄牌) on hand-built timelines.

Requests are filed and moved through the closed loop by the domain functions, with the clock
of ``gridmap.requests.service`` set to chosen moments (Asia/Shanghai, November 2024: no holidays),
so
every deadline is known. The category is ``sanitation.garbage``: response 2 working hours,
handling 1 working day, feedback 3 working days.

======  ======  ===============  ================  =========================================
req     grid    filed            accepted          then
======  ======  ===============  ================  =========================================
R1      01001   Mon 11-04 09:00  10:00 (on time)   completed 11-05, satisfied 11-06, archived
R2      01001   Mon 11-04 14:00  11-05 10:00 late  completed 11-06, basically satisfied 11-07
R3      01001   Mon 11-11 09:00  09:30 (on time)   completed 11-12, unsatisfied 11-13: reopened
R4      01002   Mon 11-18 09:00  never             (response deadline 11:00 passed)
R5      01002   Fri 11-29 17:00  12-02 10:00       (deadline Mon 12-02 10:30: on time)
R6      01001   Thu 10-31 16:00  16:30             completed 11-01 (due 11-01 17:30)
R7      01001   Wed 11-20 09:00  —                 marked a duplicate of R1: never counts
======  ======  ===============  ================  =========================================

The answers (R1–R3, recorded by the zone leader, who handled none of them) make 解决率 2 of 3
(R3's unsatisfied answer reopened it: 未解决); the old completion-based rate is checked too.
"""

from __future__ import annotations

import datetime as dt
import io
import operator
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from openpyxl import load_workbook

from gridmap import create_app
from gridmap.access.auth import Scope
from gridmap.core import db, glossary
from gridmap.core.errors import InvalidInput
from gridmap.requests import rates
from gridmap.storage import requests as store
from gridmap.storage.models import AuditEntry, ResidentRequest
from tests.conftest import COMMUNITY, client_for
from tests.helpers import clock_at
from tests.requests.timelines import M1, M2, M3, M4, SH, Desk, at, nov

NOVEMBER = rates.period("2024-11")
AS_OF = dt.datetime(2024, 12, 10, 10, 0, tzinfo=SH)
STREET = Scope((COMMUNITY[:9],))


def _ranking(session, scope: Scope = STREET, **kwargs):
    """The ranking of the hand-built table; its grids file 3 and 2 requests, so they are
    ranked from 1 request on unless a test asks for the minimum volume."""
    kwargs.setdefault("now", AS_OF)
    kwargs.setdefault("min_filed", 1)
    return rates.ranking(session, scope, kwargs.pop("when", NOVEMBER), **kwargs)


COUNTS = (
    "filed",
    "response_counted",
    "responded_on_time",
    "due",
    "resolved",
    "answered",
    "answered_resolved",
    "rated",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
)
RATES = ("response_rate", "resolution_rate", "satisfaction_rate", "score", "rank", "board")

#: code → counts (in COUNTS' order) and rates, score, rank, board; weights 10/50/40, boards of 1.
#: 解决率 from the answers: M1 2 of 3 answered; M2 none answered (null, so its score is its
#: response rate alone).
EXPECTED_MICRO = {
    M1: ((3, 3, 2, 4, 3, 3, 2, 3, 1, 1, 1), (0.6667, 0.6667, 0.6333, 65.33, 1, "red")),
    M2: ((2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0), (0.5, None, None, 50.0, 2, "black")),
    M3: ((0,) * 11, (None, None, None, None, None, None)),
    M4: ((0,) * 11, (None, None, None, None, None, None)),
}
#: The same with the old completion-based 解决率 (resolved / due), for comparison.
EXPECTED_MICRO_BY_COMPLETION = {
    M1: (EXPECTED_MICRO[M1][0], (0.6667, 0.75, 0.6333, 69.5, 1, "red")),
    M2: (EXPECTED_MICRO[M2][0], (0.5, 0.0, None, 8.33, 2, "black")),
    M3: EXPECTED_MICRO[M3],
    M4: EXPECTED_MICRO[M4],
}


def _table(ranking: rates.Ranking) -> dict[str, tuple[tuple[object, ...], tuple[object, ...]]]:
    return {
        r["code"]: (tuple(r[k] for k in COUNTS), tuple(r[k] for k in RATES)) for r in ranking.rows
    }


def test_the_rates_of_each_micro_grid_match_the_hand_computed_table(session, desk):
    found = _ranking(session, level="micro", size=1)
    assert _table(found) == EXPECTED_MICRO
    # Best first, the unranked (no request at all) last.
    assert [r["code"] for r in found.rows] == [M1, M2, M3, M4]
    assert found.rows[0]["name"] == "1-001" and found.rows[0]["level"] == "micro"


def test_the_old_completion_based_resolution_rate_is_a_setting_away(session, desk):
    by_completion = rates.Formula(resolution="completion")
    assert _table(_ranking(session, size=1, formula=by_completion)) == EXPECTED_MICRO_BY_COMPLETION
    # 基本满意's weight: M1's answers are satisfied, basically satisfied and unsatisfied.
    half = _ranking(session, size=1, formula=rates.Formula(basically=0.5))
    assert half.rows[0]["satisfaction_rate"] == 0.5
    with pytest.raises(InvalidInput):
        rates.Formula(resolution="clicks")  # type: ignore[arg-type]


def test_a_callback_is_an_answer_like_a_rating(session, desk, monkeypatch):
    """R6 (completed 11-01, never answered) gets a 回访 on 11-20: 未解决 but 基本满意. M1 then
    has 4 answers, 2 resolved; 满意率 (1 + 0.9 × 2) / 4."""
    r6 = desk[5]
    d = Desk(session, monkeypatch)
    d.revision[r6] = session.get(ResidentRequest, r6).revision
    verifier = d.caller("rate-verifier", "verifier", scope_code=COMMUNITY)
    d.act(
        r6,
        verifier,
        nov(20, 9),
        "callback",
        resolved="unresolved",
        rating="basically_satisfied",
        channel="phone",
    )
    session.commit()
    m1 = {r["code"]: r for r in _ranking(session, size=1).rows}[M1]
    assert (m1["answered"], m1["answered_resolved"], m1["rated"]) == (4, 2, 4)
    assert (m1["resolution_rate"], m1["satisfaction_rate"]) == (0.5, 0.7)


def test_zones_and_the_community_roll_the_micro_grids_up(session, desk):
    zone_01 = ((5, 5, 3, 5, 3, 3, 2, 3, 1, 1, 1), (0.6, 0.6667, 0.6333, 64.67, 1, "red"))
    assert _table(_ranking(session, level="zone", size=1)) == {
        COMMUNITY + "01": zone_01,
        COMMUNITY + "02": ((0,) * 11, (None,) * 6),
    }
    assert _table(_ranking(session, level="community", size=1)) == {COMMUNITY: zone_01}


def test_the_weights_are_configurable(session, desk):
    only_satisfaction = _ranking(session, weights=(0.0, 0.0, 1.0), size=1)
    assert [(r["code"], r["score"], r["rank"]) for r in only_satisfaction.rows[:2]] == [
        (M1, 63.33, 1),
        (M2, None, None),  # its only rated-less rates weigh nothing: no score
    ]
    only_response = _ranking(session, weights=(1.0, 0.0, 0.0), size=1)
    assert [(r["code"], r["score"]) for r in only_response.rows[:2]] == [(M1, 66.67), (M2, 50.0)]


def test_the_board_takes_a_count_or_a_share(session, desk):
    boards = {r["code"]: r["board"] for r in _ranking(session, size=3).rows}
    assert boards == {M1: "red", M2: "red", M3: None, M4: None}  # 3 ≥ ranked rows: all red
    boards = {r["code"]: r["board"] for r in _ranking(session, size=0.5).rows}
    assert boards == {M1: "red", M2: "black", M3: None, M4: None}  # ceil(0.5 × 2) = 1


def _rows(*scores: float | None, peer: str = "micro", filed: int = 5) -> list[dict]:
    return [
        {"code": f"{peer}-{i:02d}", "peer": peer, "filed": filed, "score": s}
        | {"resolution_rate": None if s is None else s / 100}
        for i, s in enumerate(scores)
    ]


def test_ties_share_a_rank():
    ranked, _ = rates.rank(_rows(90.0, 80.0, 80.0, 5.0), 1)
    assert [(r["rank"], r["tie"], r["board"]) for r in ranked] == [
        (1, False, "red"),
        (2, True, None),
        (2, True, None),
        (4, False, "black"),
    ]


def test_a_tie_at_the_boundary_is_seated_whole_and_declared():
    """Board of 3: 90, then three at 80 for the seats 2 to 4: all four are red, the three
    declared as tied at rank 2; the board holds n + 1 rows, never more than n + tied."""
    ranked, (group,) = rates.rank(_rows(90.0, 80.0, 80.0, 80.0, 60.0, 50.0), 3)
    assert [(r["score"], r["board"]) for r in ranked] == [
        (90.0, "red"),
        (80.0, "red"),
        (80.0, "red"),
        (80.0, "red"),
        (60.0, "black"),
        (50.0, "black"),
    ]
    assert group.red == rates.Board(size=3, rows=4, tie_rank=2, tied=3)
    assert group.black == rates.Board(size=3, rows=2)


def test_a_tie_larger_than_the_board_is_broken_by_requests_filed():
    """The review's case: 15 of 23 micro-grids at 100 on a board of 3. The three of them with
    the most requests filed are red, the tie declared as broken; all 15 keep rank 1, 并列."""
    scores = [100.0] * 15 + [90.0, 85.0, 80.0, 75.0, 70.0, 60.0, 40.0, 20.0]
    rows = _rows(*scores)
    for filed, row in enumerate(rows[:15], start=5):
        row["filed"] = filed  # 5 to 19 requests
    ranked, (group,) = rates.rank(rows, 3)
    assert sorted(r["filed"] for r in ranked if r["board"] == "red") == [17, 18, 19]
    assert group.red == rates.Board(3, 3, tie_rank=1, tied=15, broken=True, left_out=12)
    assert group.red.declared == 0
    assert [r["score"] for r in ranked if r["board"] == "black"] == [60.0, 40.0, 20.0]
    assert {r["rank"] for r in ranked if r["score"] == 100.0} == {1}
    assert all(r["tie"] for r in ranked if r["score"] == 100.0)


def test_then_by_resolution_rate_and_rows_equal_on_both_are_left_out():
    """Board of 2: 95, then four at 90 with 6 requests each for the second seat: the best
    resolution rate takes it. Had two of them the same best rate, neither would: the seat
    stays empty."""
    rows = _rows(95.0, 90.0, 90.0, 90.0, 90.0, 20.0, 10.0, filed=6)
    for row, resolution in zip(rows[1:5], (0.9, 1.0, None, 0.8), strict=True):
        row["resolution_rate"] = resolution
    ranked, (group,) = rates.rank(rows, 2)
    red = [(r["score"], r["resolution_rate"]) for r in ranked if r["board"] == "red"]
    assert red == [(95.0, 0.95), (90.0, 1.0)]
    assert group.red == rates.Board(2, 2, tie_rank=2, tied=4, broken=True, left_out=3)
    rows[1]["resolution_rate"] = 1.0
    ranked, (group,) = rates.rank(rows, 2)
    assert [r["score"] for r in ranked if r["board"] == "red"] == [95.0]
    assert group.red == rates.Board(2, 1, tie_rank=2, tied=4, broken=True, left_out=4)
    assert [r["score"] for r in ranked if r["board"] == "black"] == [20.0, 10.0]


def test_below_the_minimum_volume_a_unit_is_shown_but_never_ranked():
    rows = _rows(100.0, 40.0, filed=1) + _rows(70.0, 60.0, filed=5)[::-1]
    rows[0]["code"], rows[1]["code"] = "small-a", "small-b"
    ranked, (group,) = rates.rank(rows, 1, min_filed=5)
    found = [(r["code"], r["score"], r["rank"], r["board"], r["unranked"]) for r in ranked]
    assert found == [
        ("micro-00", 70.0, 1, "red", None),
        ("micro-01", 60.0, 2, "black", None),
        ("small-a", 100.0, None, None, "below_minimum"),  # its score is shown
        ("small-b", 40.0, None, None, "below_minimum"),
    ]
    assert group.ranked == 2


def test_peers_are_ranked_apart():
    """A grid worker, a zone leader and a department each top their own board: a person is
    never ranked against a department, nor a worker against a zone leader."""
    rows = (
        _rows(90.0, 50.0, peer="person:grid_worker")
        + _rows(60.0, 40.0, peer="department")
        + _rows(30.0, peer="person:zone_leader")
        + _rows(99.0, peer="nobody")
    )
    ranked, groups = rates.rank(rows, 1)
    assert [(g.peer, g.label, g.ranked) for g in groups] == [
        ("person:grid_worker", "网格员", 2),
        ("person:zone_leader", "网格长", 1),
        ("department", "职能部门", 2),
        ("nobody", "无责任单位", 0),
    ]
    assert [(r["peer"], r["score"], r["rank"], r["board"]) for r in ranked] == [
        ("person:grid_worker", 90.0, 1, "red"),
        ("person:grid_worker", 50.0, 2, "black"),
        ("person:zone_leader", 30.0, 1, "red"),
        ("department", 60.0, 1, "red"),
        ("department", 40.0, 2, "black"),
        ("nobody", 99.0, None, None),
    ]
    assert ranked[-1]["unranked"] == "no_owner"
    assert rates.peer("department:7", "street") == "department"  # departments by id too
    assert rates.peer("person:3", "community") == "person:chief"


_PEERS = ("micro", "person:grid_worker", "person:chief", "department", "user")


@st.composite
def _tables(draw: st.DrawFn) -> tuple[list[dict], float, int]:
    """Random rankings: a few peer groups, many ties (scores from a short list), units of
    0 to 12 requests, some without a score; boards of a count or a share."""
    n = draw(st.integers(0, 40))
    rows = [
        {
            "code": f"u{i:03d}",
            "peer": draw(st.sampled_from(_PEERS)),
            "filed": draw(st.integers(0, 12)),
            "score": draw(st.sampled_from((None, 0.0, 37.5, 50.0, 80.0, 99.99, 100.0))),
            "resolution_rate": draw(st.sampled_from((None, 0.0, 0.5, 1.0))),
        }
        for i in range(n)
    ]
    size = draw(st.sampled_from((1.0, 2.0, 3.0, 5.0, 0.1, 0.25, 0.5)))
    return rows, size, draw(st.integers(1, 8))


@examples(max_examples=400, deadline=None)
@given(_tables())
def test_no_board_exceeds_its_size_plus_its_declared_tie(table):
    """The must-hold: a board never shows more rows than its size plus the tie it declares,
    never a unit below the minimum volume, splits a tie only by the secondary key when it
    is larger than the board, and units only meet their peers (a row's rank counts the
    better rows of its own peer group only)."""
    rows, size, min_filed = table
    ranked, groups = rates.rank([dict(r) for r in rows], size, min_filed)
    assert sorted(r["code"] for r in ranked) == [r["code"] for r in rows]  # every row shown
    for group in groups:
        mine = [r for r in ranked if r["peer"] == group.peer]
        scored = [r for r in mine if r["unranked"] is None]
        assert group.ranked == len(scored)
        for side, better in (("red", operator.gt), ("black", operator.lt)):
            board: rates.Board = getattr(group, side)
            on = [r for r in mine if r["board"] == side]
            assert len(on) == board.rows <= board.size + board.declared
            assert board.rows <= max(2 * board.size - 1, 0)
            assert board.declared == 0 or not board.broken
            if board.broken:
                assert board.rows <= board.size and board.left_out > 0
            assert all(r["filed"] >= min_filed and r["score"] is not None for r in on)
            # Every row on the board beats every candidate off it: by score, or within a
            # broken tie by the secondary key (red: the best; black: the worst of the rest).
            off = [
                r for r in scored if r["board"] is None or (side, r["board"]) == ("red", "black")
            ]
            for r in on:
                for t in off:
                    assert better(r["score"], t["score"]) or (
                        board.broken
                        and r["score"] == t["score"]
                        and rates.secondary_key(r, side) < rates.secondary_key(t, side)
                    )
        for row in scored:
            better = sum(other["score"] > row["score"] for other in scored)
            assert row["rank"] == 1 + better
            assert row["tie"] == (sum(o["score"] == row["score"] for o in scored) > 1)
    for row in ranked:
        if row["filed"] < min_filed or row["score"] is None:
            assert (row["rank"], row["board"]) == (None, None) and row["unranked"]
    assert [r["peer"] for r in ranked] == sorted(
        (r["peer"] for r in ranked), key=lambda p: list(glossary.PEERS).index(p)
    )  # peer groups are not interleaved


def test_rates_by_owner_unit(session, desk):
    found = _ranking(session, by="owner", size=1)
    counts, (*rates_of_m2, _, _) = EXPECTED_MICRO[M2]
    assert _table(found) == {
        "person:3": EXPECTED_MICRO[M1],  # the worker owns R1–R3 and R6
        # The zone leader owns R4 and R5: first of the zone leaders (a peer group of one),
        # never ranked below the grid worker.
        "person:2": (counts, (*rates_of_m2, 1, "red")),
    }
    assert {r["code"]: (r["name"], r["level"], r["peer"]) for r in found.rows} == {
        "person:3": ("张*", "micro", "person:grid_worker"),
        "person:2": ("李*", "zone", "person:zone_leader"),
    }
    assert [(g.peer, g.ranked) for g in found.boards] == [
        ("person:grid_worker", 1),
        ("person:zone_leader", 1),
    ]


def test_the_minimum_volume_of_a_real_table(session, desk):
    """01001 files 3 requests in November, 01002 files 2: with a minimum of 3 only 01001 is
    ranked; at the default (5) neither is, and both keep their rates and scores."""
    found = {r["code"]: r for r in _ranking(session, min_filed=3).rows}
    assert (found[M1]["rank"], found[M1]["board"], found[M1]["unranked"]) == (1, "red", None)
    assert (found[M2]["score"], found[M2]["rank"], found[M2]["unranked"]) == (
        50.0,
        None,
        "below_minimum",
    )
    assert found[M3]["unranked"] == "no_filed"
    default = rates.ranking(session, STREET, NOVEMBER, now=AS_OF)
    assert default.min_filed == rates.MIN_FILED == 5
    assert {r["code"]: (r["score"], r["rank"], r["unranked"]) for r in default.rows} == {
        M1: (65.33, None, "below_minimum"),
        M2: (50.0, None, "below_minimum"),
        M3: (None, None, "no_filed"),
        M4: (None, None, "no_filed"),
    }
    (group,) = default.boards
    assert (group.ranked, group.red.rows, group.black.rows) == (0, 0, 0)


def test_a_request_counts_only_once_it_exists_and_while_its_clock_runs_it_waits(session, desk):
    """As of Mon 11-18 10:00, R4's response clock (to 11:00) still runs: not counted yet;
    R5 is not filed yet; R3 is due (11-12 17:30) and was reopened 11-13: unresolved."""
    found = _ranking(session, now=nov(18, 10), size=1)
    table = _table(found)
    assert table[M2] == ((1,) + (0,) * 10, (None,) * 6)
    assert table[M1][0] == (3, 3, 2, 4, 3, 3, 2, 3, 1, 1, 1)


def test_a_range_of_dates_is_a_period(session, desk):
    first_week = rates.period(None, dt.date(2024, 11, 1), dt.date(2024, 11, 7))
    found = _table(_ranking(session, when=first_week, size=1))
    # R1 and R2 filed; due: R6 (11-01), R1 (11-05), R2 (11-06); answers: R1 and R2, resolved.
    assert found[M1] == ((2, 2, 1, 3, 3, 2, 2, 2, 1, 1, 0), (0.5, 1.0, 0.95, 93.0, 1, "red"))


def test_a_grid_without_requests_filed_in_the_period_is_shown_but_not_ranked(session, desk):
    """December: nothing is filed, but R5 (filed 11-29, accepted 12-02) falls due in it and is
    not resolved by 12-10: by completion, 01002 has a resolution rate of 0 from an older
    request, which is shown with its count, and no score (issue 15: 0 requests showed 满意率
    100 %, 得分 100). By the answers it has none: nobody answered in December."""
    by_completion = rates.Formula(resolution="completion")
    december = _table(
        _ranking(session, when=rates.period("2024-12"), size=1, formula=by_completion)
    )
    counts, found = december[M2]
    assert counts[0] == 0 and counts[3] == 1  # filed 0, due 1
    assert found == (None, 0.0, None, None, None, None)  # rates kept; no score, rank, board
    by_answers = _table(_ranking(session, when=rates.period("2024-12"), size=1))
    assert by_answers[M2] == (counts, (None,) * 6)


def test_the_last_complete_month_is_the_one_before_today():
    assert rates.last_complete_month(dt.date(2026, 12, 3)) == "2026-11"
    assert rates.last_complete_month(dt.date(2027, 1, 1)) == "2026-12"
    assert rates.last_complete_month(dt.date(2026, 3, 31)) == "2026-02"


def test_an_out_of_scope_grid_never_appears(session, desk):
    other_zone = _ranking(session, Scope((COMMUNITY + "02",)), size=1)
    assert _table(other_zone) == {M3: ((0,) * 11, (None,) * 6), M4: ((0,) * 11, (None,) * 6)}
    assert _ranking(session, Scope((COMMUNITY + "02",)), by="owner").rows == []
    worker = _ranking(session, Scope((M1,), 3), size=1)
    assert _table(worker) == {M1: EXPECTED_MICRO[M1]}
    assert _ranking(session, Scope((COMMUNITY + "01",)), level="community").rows == []


def test_bad_periods_are_refused():
    for args in (("2024-13",), ("2024-11", dt.date(2024, 11, 1), dt.date(2024, 11, 2))):
        with pytest.raises(InvalidInput, match=r"period|not both"):
            rates.period(*args)
    with pytest.raises(InvalidInput, match="to must be"):
        rates.period(None, dt.date(2024, 11, 2), dt.date(2024, 11, 1))
    december = rates.period("2024-12")
    assert (december.start, december.end) == (at(12, 1, 0), dt.datetime(2025, 1, 1, tzinfo=SH))


# ------------------------------------------------------------------------------------- API


def test_the_api_ranks_within_the_callers_scope(clients, desk):
    body = clients("chief").get("/api/v1/rates?period=2024-11&level=micro").get_json()
    assert body["period"] == {
        "label": "2024-11",
        "from": "2024-11-01",
        "to": "2024-11-30",
        "tz": "Asia/Shanghai",
    }
    assert body["weights"] == {"response": 0.1, "resolution": 0.5, "satisfaction": 0.4}
    assert body["formula"] == {"resolution": "answers", "basically_satisfied": 0.9}
    assert body["board_size"] == 3 and body["by"] == "grid" and body["level"] == "micro"
    assert list(body["columns"])[:3] == ["code", "name", "level"]
    rows = {r["code"]: r for r in body["rows"]}
    assert set(rows) == {M1, M2, M3, M4}
    # 3 requests filed, below the default minimum of 5: scored, shown, not ranked.
    assert body["min_filed"] == 5
    assert (rows[M1]["score"], rows[M1]["rank"], rows[M3]["response_rate"]) == (65.33, None, None)
    assert (rows[M1]["unranked"], rows[M1]["board"], rows[M1]["peer"]) == (
        "below_minimum",
        None,
        "micro",
    )
    assert body["boards"] == [
        {
            "peer": "micro",
            "label": "微网格",
            "ranked": 0,
            "red": {"size": 3, "rows": 0, "tie_rank": None, "tied": 0, "broken": False}
            | {"left_out": 0},
            "black": {"size": 3, "rows": 0, "tie_rank": None, "tied": 0, "broken": False}
            | {"left_out": 0},
        }
    ]
    notes = {n["label"]: n["text"] for n in body["notes"]}
    assert notes["统计周期"].startswith("2024-11-01 至 2024-11-30（北京时间），数据截至 ")
    assert notes["综合得分"].startswith("100 ×（响应率 × 0.1 + 解决率 × 0.5 + 满意率 × 0.4）")
    assert "不少于 5 件" in notes["最低件数"] and "受理诉求数多、解决率高" in notes["并列规则"]
    assert notes["满意率"].startswith("（满意 + 0.9 × 基本满意）÷ 评价数")
    assert notes["解决率"].startswith("回访已解决数 ÷ 回访数")
    other = clients("zone_leader_02").get("/api/v1/rates?period=2024-11").get_json()
    assert {r["code"] for r in other["rows"]} == {M3, M4}
    dates = clients("chief").get("/api/v1/rates?from=2024-11-01&to=2024-11-07").get_json()
    assert dates["period"]["label"] == "2024-11-01..2024-11-07"
    assert {r["code"]: r["score"] for r in dates["rows"]}[M1] == 93.0
    refused = clients("chief").get("/api/v1/rates?period=2024-11&from=2024-11-01&to=2024-11-02")
    assert refused.status_code == 400


def test_the_weights_come_from_the_settings(settings, session_factory, make_user, desk):
    app = create_app(
        settings.replace(rate_weights="1,0,0", rate_board_size=1, rate_board_min_filed=2)
    )
    app.config["TESTING"] = True
    db.use_sessions(app, session_factory)
    chief = client_for(app, make_user("chief", COMMUNITY))
    body = chief.get("/api/v1/rates?period=2024-11").get_json()
    assert body["weights"] == {"response": 1.0, "resolution": 0.0, "satisfaction": 0.0}
    assert [(r["code"], r["score"], r["board"]) for r in body["rows"][:2]] == [
        (M1, 66.67, "red"),
        (M2, 50.0, "black"),
    ]
    notes = {n["label"]: n["text"] for n in body["notes"]}
    assert body["min_filed"] == 2 and "不少于 2 件" in notes["最低件数"]
    assert notes["微网格（排名 2 个）"] == "红榜 1 行（名额 1）；黑榜 1 行（名额 1）"
    with pytest.raises(ValueError, match="GRIDMAP_RATE_WEIGHTS"):
        settings.replace(rate_weights="0.5,0.5")
    with pytest.raises(
        ValueError, match="GRIDMAP_RATE_BOARD_MIN_FILED must be a whole number >= 1"
    ):
        settings.replace(rate_board_min_filed=0)


def test_the_resolution_formula_comes_from_the_settings(settings, session_factory, make_user, desk):
    chosen = settings.replace(rate_resolution="completion", rate_basically_weight=0.5)
    app = create_app(chosen)
    app.config["TESTING"] = True
    db.use_sessions(app, session_factory)
    chief = client_for(app, make_user("chief", COMMUNITY))
    body = chief.get("/api/v1/rates?period=2024-11").get_json()
    assert body["formula"] == {"resolution": "completion", "basically_satisfied": 0.5}
    m1 = {r["code"]: r for r in body["rows"]}[M1]
    assert (m1["resolution_rate"], m1["satisfaction_rate"]) == (0.75, 0.5)


@pytest.fixture
def frozen() -> Iterator[None]:
    """The clock stands still: answers made a moment apart state the same 数据截至 time."""
    with clock_at(AS_OF):
        yield


def test_the_excel_export_holds_the_same_numbers_and_is_audited(clients, session, desk, frozen):
    chief = clients("chief")
    body = chief.get("/api/v1/rates?period=2024-11").get_json()
    response = chief.get("/api/v1/rates.xlsx?period=2024-11")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    title, headings, *lines = list(sheet.iter_rows(values_only=True))
    assert title[0] == "三率排名（微网格，2024-11）"
    assert list(headings) == list(body["columns"].values())
    # Codes are named in Chinese in the downloads (the glossary's words), numbers are the API's.
    named: dict[str, dict[object, str | None]] = {
        "board": {"red": "红榜", "black": "黑榜", None: None},
        "level": {"micro": "微网格"},
        "peer": {"micro": "微网格"},
        "tie": {True: "并列", False: None},
        "unranked": {
            "below_minimum": "本期受理诉求少于最低件数，不排名",
            "no_filed": "本期无受理诉求，不排名",
        },
    }
    expected = [
        tuple(named[k][r[k]] if k in named else r[k] for k in body["columns"]) for r in body["rows"]
    ]
    assert [tuple(line) for line in lines] == expected
    # How the ranking was made: the page's notes, in a sheet of their own.
    about = load_workbook(io.BytesIO(response.data))["说明"]
    made = [tuple(line) for line in about.iter_rows(values_only=True)]
    assert made[0][0] == title[0]
    assert made[1:] == [(n["label"], n["text"]) for n in body["notes"]]
    # The CSV: the same notes as a header block, a blank line, then the table.
    csv = chief.get("/api/v1/rates.csv?period=2024-11").get_data(as_text=True)
    assert csv.startswith("\ufeff三率排名（微网格，2024-11）")
    block, table = csv.lstrip("\ufeff").split("\r\n\r\n")
    assert block.splitlines()[1:] == [f"{n['label']},{n['text']}" for n in body["notes"]]
    assert table.splitlines()[1].startswith(f"{M1},1-001,微网格,微网格,,,,本期受理诉求少于最低件数")
    exports = session.query(AuditEntry).filter(AuditEntry.object_type == "rates").all()
    assert [(e.action, e.object_id) for e in exports] == [("export", "2024-11")] * 2
    assert clients("grid_worker").get("/api/v1/rates.xlsx").status_code == 403


# ------------------------------------------------------------------------------- 红黄牌


def test_yellow_and_red_cards_at_a_fixed_moment(session, desk):
    """Tue 12-03 16:00: R5's handling (12-02 10:00 → 12-03 17:30, 13 working hours) is in
    its last 20 % (from 14:54): yellow, 1.5 h left. R3 (reopened 11-13 09:00, due 11-14
    17:30), R4 (due 11-18 11:00) and R6 (feedback due 11-06 17:30) are red."""
    _, _, r3, r4, r5, r6, _ = desk
    found = rates.warned(session, Scope((COMMUNITY,)), None, at(12, 3, 16))
    assert [(w.row.id, w.card, w.working_hours_late, w.working_hours_left) for w in found] == [
        (r6, "red", 131.5, None),
        (r3, "red", 89.5, None),
        (r4, "red", 80.5, None),
        (r5, "yellow", None, 1.5),
    ]
    assert rates.per_owner(found) == [
        {"id": "person:3", "name": "张*", "level": "micro", "yellow": 0, "red": 2},
        {"id": "person:2", "name": "李*", "level": "zone", "yellow": 1, "red": 1},
    ]
    earlier = rates.warned(session, Scope((COMMUNITY,)), None, at(12, 3, 14))
    assert r5 not in [w.row.id for w in earlier]  # still green
    assert rates.warned(session, Scope((COMMUNITY + "02",)), None, at(12, 3, 16)) == []


def test_the_warning_filter_of_the_request_list(session, clients, desk):
    _, _, r3, r4, r5, r6, _ = desk
    moment, scope = at(12, 3, 16), Scope((COMMUNITY,))

    def ids(card: str, limit: int = 10, before: int | None = None):
        wanted = store.RequestFilter(warning=card, now=moment)
        rows, after = rates.warning_page(
            session, wanted, scope=scope, limit=limit, before_id=before, now=moment
        )
        return [r.id for r in rows], after

    assert ids("yellow") == ([r5], None)
    assert ids("red") == ([r6, r4, r3], None)
    assert ids("yellow", limit=1) == ([r5], None)
    first, after = ids("red", limit=2)
    assert (first, ids("red", limit=2, before=after)) == ([r6, r4], ([r3], None))
    chief = clients("chief")
    listed = chief.get("/api/v1/requests?warning=red").get_json()["features"]
    assert {f["id"] for f in listed} == {r3, r4, r5, r6}  # by now all are long overdue
    assert {f["properties"]["warning"] for f in listed} == {"red"}
    assert chief.get("/api/v1/requests?warning=yellow").get_json()["features"] == []
    assert chief.get("/api/v1/requests?warning=blue").status_code in (400, 422)


def test_the_overdue_list_counts_per_owner_for_the_chief(clients, desk):
    _, _, r3, r4, r5, r6, _ = desk
    body = clients("chief").get("/api/v1/requests/overdue").get_json()
    assert body["counts"] == {"yellow": 0, "red": 4}
    assert body["by_owner"] == [
        # Staff read each other's names (亮明身份).
        {"id": "person:2", "name": "李长", "level": "zone", "yellow": 0, "red": 2},
        {"id": "person:3", "name": "张员", "level": "micro", "yellow": 0, "red": 2},
    ]
    rows = body["rows"]
    assert [r["id"] for r in rows] == [r6, r3, r4, r5]  # the longest overdue first
    assert rows[0]["warning"] == "red" and rows[0]["working_hours_late"] > 131.5
    assert rows[0]["owner"]["name"] == "张员" and rows[0]["owner_unit"]["id"] == "person:3"
    assert rows[0]["stage"] == "feedback" and rows[2]["level"] == "zone"
    worker = clients("grid_worker").get(f"/api/v1/requests/overdue?grid={M1}").get_json()
    assert {r["id"] for r in worker["rows"]} == {r3, r6}
    assert clients("zone_leader_02").get("/api/v1/requests/overdue").get_json()["rows"] == []
