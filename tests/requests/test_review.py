"""The review's aggregates (一月一研判) on the hand-built timelines of test_rates.

In November 2024 the small grid's micro-grid 01001 received R1, R2, R3 (and R7, a duplicate,
which never counts), 01002 received R4 and R5; R6 was filed on 31 October. As of today R3
(reopened, handling), R4 (never accepted) and R5 (accepted) are past their stage deadlines.
"""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import text

from gridmap.access.auth import Scope
from gridmap.review import service as review
from gridmap.storage import review as review_store
from tests.conftest import COMMUNITY
from tests.helpers import TALLY_CHECK
from tests.requests.timelines import M1, M2

ZONE_01 = COMMUNITY + "01"


def _get(client, path: str, **query: str):
    response = client.get(f"/api/v1/review/{path}", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_summary_counts_a_month_by_category_and_overdue(clients, desk):
    body = _get(clients("chief"), "summary", period="2024-11")
    assert (body["total"], body["overdue"]) == (5, 3)
    assert body["by_category"] == {"sanitation.garbage": 5}
    assert body["by_period"] == {"2024-11": 5}
    assert body["filter"]["from"] == body["filter"]["to"] == "2024-11"
    october = _get(clients("chief"), "summary", **{"from": "2024-10", "to": "2024-11"})
    assert october["by_period"] == {"2024-10": 1, "2024-11": 5}


def test_choropleth_per_level_state_and_overdue(clients, desk):
    chief = clients("chief")
    micro = _get(chief, "choropleth", period="2024-11", level="micro")
    assert micro["values"] == {M1: 3, M2: 2} and micro["max"] == 3
    assert _get(chief, "choropleth", period="2024-11", level="zone")["values"] == {ZONE_01: 5}
    opened = _get(chief, "choropleth", period="2024-11", level="micro", state="open")
    assert opened["values"] == {M1: 1, M2: 2}
    archived = _get(chief, "choropleth", period="2024-11", level="micro", state="archived")
    assert archived["values"] == {M1: 1}
    late = _get(chief, "choropleth", period="2024-11", level="micro", overdue="true")
    assert late["values"] == {M1: 1, M2: 2}
    rate = _get(chief, "choropleth", period="2024-11", level="micro", measure="per_100_households")
    assert rate["values"] == {M1: 300.0}  # one household in 01001, none in 01002


def test_weeks_and_the_heat_layer(clients, desk):
    chief = clients("chief")
    week = _get(chief, "choropleth", period="2024-W45", level="micro")
    assert week["values"] == {M1: 2}  # R1 and R2, Monday 4 November
    heat = _get(chief, "heat", period="2024-11")
    assert heat["level"] == "micro" and sorted(p[2] for p in heat["points"]) == [2, 3]
    assert heat["max"] == 3


def test_the_tallies_equal_the_requests_after_every_transition(session, desk):
    assert tuple(session.execute(text(TALLY_CHECK)).one()) == (0, 0, 7)


def test_the_review_stays_in_the_callers_scope(clients, desk):
    zone_02 = _get(clients("zone_leader_02"), "summary", period="2024-11")
    assert (zone_02["total"], zone_02["by_category"]) == (0, {})
    zone_01 = _get(clients("zone_leader"), "choropleth", period="2024-11", level="micro")
    assert zone_01["values"] == {M1: 3, M2: 2}
    outside = clients("zone_leader_02").get(
        "/api/v1/review/summary", query_string={"period": "2024-11", "grid": ZONE_01}
    )
    assert outside.status_code == 404
    assert (
        clients("zone_leader_02").get(f"/api/v1/review/grids/{M1}?period=2024-11").status_code
        == 404
    )
    for role in ("member", "grid_worker"):
        assert clients(role).get("/api/v1/review/summary").status_code == 403


def test_hot_spots_and_one_grids_figures(clients, desk):
    spots = _get(clients("chief"), "hotspots", period="2024-11", trend_periods="3")
    assert spots["micro_grids"] == 4 and spots["threshold_m"] > 0
    assert spots["trend_periods"] == ["2024-09", "2024-10", "2024-11"]
    detail = _get(clients("chief"), f"grids/{M1}", period="2024-11")
    assert (detail["code"], detail["level"], detail["total"]) == (M1, "micro", 3)
    assert detail["top_categories"] == [["sanitation.garbage", 3]]
    assert [r["id"] for r in detail["overdue"]] == [desk[2]]
    assert detail["rates"]["filed"] == 3
    assert detail["trend"]["2024-11"] == 3 and detail["trend"]["2024-10"] == 1
    assert len(detail["trend"]) == 12


def test_micro_grids_are_named_with_their_community(session, desk):
    """The 未诉先办 candidates read "测试社区 1-001": each micro-grid's community is found
    whatever the subtree reviewed (its street, community, zone or the micro-grid itself)."""
    for prefix in (COMMUNITY[:9], COMMUNITY, ZONE_01, M1):
        assert review_store.community_names(session, [prefix]) == {COMMUNITY: "测试社区"}
    assert review_store.community_names(session, ["110101002"]) == {}
    assert review_store.community_names(session, []) == {}


@pytest.mark.parametrize(
    "query",
    [
        {"period": "2024-13"},
        {"period": "2024-W54"},
        {"from": "2024-11", "to": "2024-W45"},
        {"from": "2024-11", "to": "2024-10"},
        {"from": "2000-01", "to": "2024-11"},
        {"period": "2024-11", "state": "bogus"},
        {"period": "2024-11", "grid": "12"},
        {"period": "2024-11", "category": "Not A Code"},
    ],
)
def test_bad_filters_are_refused_with_a_problem(clients, desk, query):
    response = clients("chief").get("/api/v1/review/summary", query_string=query)
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


def test_the_hot_spots_of_a_closed_period_are_stored_until_their_data_change(session, desk):
    """November 2024 is over: its answer is stored under its filter and served again while
    the grids and the tally of the periods it read stay as they were; a request filed in
    them (or any change of their tally) makes it be computed again."""
    wanted = review.build_filter(Scope((COMMUNITY[:9],)), review.Query("2024-11"))
    computed = review.hot_spots(session, wanted, trend_periods=3, keep=session)
    assert computed["micro_grids"] == 4
    stored = session.execute(text("SELECT count(*), min(stamp) FROM review_hot_spots")).one()
    assert stored[0] == 1
    # Served from the table: a marked answer under the same stamp comes back as it is.
    session.execute(text("UPDATE review_hot_spots SET answer = answer || '{\"marked\": true}'"))
    assert review.hot_spots(session, wanted, trend_periods=3)["marked"] is True
    # A request of October changes the tally of the trend's periods: computed again.
    session.execute(
        text("UPDATE resident_request SET state = 'archived' WHERE id = :id"), {"id": desk[5]}
    )
    again = review.hot_spots(session, wanted, trend_periods=3, keep=session)
    assert "marked" not in again and again == review._hot_spots(session, wanted, 3)
    assert session.scalar(text("SELECT stamp FROM review_hot_spots")) != stored[1]
    # A running period is never stored.
    now = review.build_filter(Scope((COMMUNITY[:9],)), review.Query(review.last_month()))
    running = dataclasses.replace(now, last=review.next_start("M", now.last))
    review.hot_spots(session, running, trend_periods=3, keep=session)
    assert session.scalar(text("SELECT count(*) FROM review_hot_spots")) == 1
