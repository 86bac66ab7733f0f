"""propose_division: hand-made cases with known optimal divisions, capacity, keeping, errors."""

from typing import Any

import numpy as np
import pandas as pd
import pytest

from gridmap.spatial.balance import (
    DivisionImpossible,
    nearest_member_baseline,
    propose_division,
)
from tests.spatial.conftest import lonlat


def _households(points, *, care=None, current=None, first_id=1) -> pd.DataFrame:
    """Households at metre offsets from the test origin."""
    lon, lat = zip(*(lonlat(x, y) for x, y in points), strict=True)
    n = len(points)
    return pd.DataFrame(
        {
            "id": np.arange(first_id, first_id + n),
            "lon": lon,
            "lat": lat,
            "care": np.zeros(n, dtype=bool) if care is None else care,
            "current": np.full(n, -1) if current is None else current,
        }
    )


def _members(homes: dict[int, tuple[float, float]], **columns) -> pd.DataFrame:
    lon, lat = zip(*(lonlat(x, y) for x, y in homes.values()), strict=True)
    return pd.DataFrame({"id": list(homes), "lon": lon, "lat": lat, **columns})


def _cluster(cx: float, cy: float, n: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    return [(cx + dx, cy + dy) for dx, dy in rng.uniform(-60, 60, (n, 2))]


@pytest.fixture
def two_clusters(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """15 households around (0, 0) and 15 around (2000, 0); member 1 and 2 live in each."""
    house = _households(_cluster(0, 0, 15, rng) + _cluster(2000, 0, 15, rng))
    return house, _members({1: (0, 0), 2: (2000, 0)})


def test_each_member_takes_the_cluster_they_live_in(two_clusters):
    house, members = two_clusters
    division = propose_division(house, members)
    assert division.assignment.tolist() == [1] * 15 + [2] * 15
    assert division.assignment.index.tolist() == house["id"].tolist()
    assert division.loads.to_dict() == {1: 15.0, 2: 15.0}
    assert division.stats["coverage"] == 1.0
    assert division.stats["status"] == "optimal"
    assert division.stats["solution"] == "optimal"
    assert division.stats["mean_distance_m"] < 90
    assert division.changed.tolist() == house["id"].tolist()  # nobody was covered before


def test_max_load_is_never_exceeded_and_the_rest_goes_further(rng):
    house = _households(_cluster(0, 0, 40, rng))
    members = _members({1: (0, 0), 2: (1500, 0)})
    division = propose_division(house, members, min_load=0, max_load=25)
    assert division.loads.max() <= 25
    assert division.loads.sum() == 40
    assert division.stats["coverage"] == 1.0
    assert division.stats["above_max"] == 0


def test_member_specific_load_ranges_override_the_defaults(two_clusters):
    house, members = two_clusters
    members = members.assign(max_load=[12, np.nan])  # member 1 can take 12, member 2 the default
    division = propose_division(house, members)
    assert division.loads[1] <= 12
    assert division.loads.sum() == 30


@pytest.mark.parametrize(("care_weight", "expected"), [(2.0, 13.0), (3.0, 16.0)])
def test_care_households_weigh_more(rng, care_weight, expected):
    care = np.array([True] * 3 + [False] * 7)
    house = _households(_cluster(0, 0, 10, rng), care=care)
    division = propose_division(house, _members({1: (0, 0)}), min_load=0, care_weight=care_weight)
    assert division.loads[1] == expected


def test_care_weight_counts_against_capacity(rng):
    house = _households(_cluster(0, 0, 12, rng), care=np.ones(12, dtype=bool))
    with pytest.raises(DivisionImpossible, match=r"1 members × at most 20 = 20 < 24 weighted"):
        propose_division(house, _members({1: (0, 0)}), min_load=0, max_load=20)


def test_full_coverage_and_balanced_loads_when_capacity_suffices(rng):
    points = [(x, y) for x, y in rng.uniform(0, 1500, (300, 2))]
    care = rng.random(300) < 0.1
    house = _households(points, care=care)
    homes = {100 + k: points[i] for k, i in enumerate(rng.choice(300, 15, replace=False))}
    division = propose_division(house, _members(homes))
    loads = division.loads
    assert division.stats["coverage"] == 1.0
    assert (division.assignment >= 0).all()
    assert loads.sum() == pytest.approx(300 + care.sum())
    assert loads.between(10, 30).all()
    assert division.stats["max_mean_load"] <= 1.2
    baseline = nearest_member_baseline(house, _members(homes))
    assert division.stats["mean_distance_m"] >= _mean_distance(house, _members(homes), baseline)


def _mean_distance(house, members, assignment) -> float:
    h = house.set_index("id").loc[assignment.index]
    m = members.set_index("id").loc[assignment.to_numpy()]
    dx = (h["lon"].to_numpy() - m["lon"].to_numpy()) * 111_320 * np.cos(np.radians(39.9))
    dy = (h["lat"].to_numpy() - m["lat"].to_numpy()) * 110_574
    return float(np.hypot(dx, dy).mean()) * 0.99  # the two metric systems differ by < 1 %


def test_existing_pairs_are_kept_unless_a_fresh_division_is_asked(two_clusters):
    house, members = two_clusters
    # Five households of the first cluster are looked after by member 2, who lives 2 km away.
    current = np.array([2] * 5 + [1] * 10 + [2] * 15)
    house = house.assign(current=current)
    kept = propose_division(house, members)
    assert kept.assignment.tolist() == current.tolist()
    assert kept.changed.empty
    fresh = propose_division(house, members, keep_existing=False)
    assert fresh.assignment.tolist() == [1] * 15 + [2] * 15
    assert fresh.changed.tolist() == [1, 2, 3, 4, 5]


def test_keeping_moves_only_what_the_load_range_requires(rng):
    house = _households(_cluster(0, 0, 40, rng), current=np.full(40, 1))
    members = _members({1: (0, 0), 2: (3000, 0)})
    division = propose_division(house, members, min_load=10, max_load=30)
    assert division.loads.to_dict() == {1: 30.0, 2: 10.0}
    assert division.changed.size == 10
    assert division.stats["changed"] == 10


def test_uncovered_and_unknown_current_members_count_as_changed(two_clusters):
    house, members = two_clusters
    current = np.array([-1, 99] + [1] * 13 + [2] * 14 + [np.nan])
    division = propose_division(house.assign(current=current), members)
    assert division.changed.tolist() == [1, 2, 30]
    assert division.assignment.loc[[1, 2, 30]].tolist() == [1, 1, 2]


def test_candidate_lists_widen_until_everyone_is_covered(rng):
    house = _households(_cluster(0, 0, 30, rng))
    members = _members({1: (0, 0), 2: (800, 0), 3: (1600, 0)})
    division = propose_division(house, members, min_load=0, max_load=10, candidates=1)
    assert division.stats["coverage"] == 1.0
    assert division.stats["candidates"] == 3
    assert division.loads.tolist() == [10.0, 10.0, 10.0]


@pytest.mark.parametrize(
    ("members", "kwargs", "message"),
    [
        (12, {}, r"12 members × at most 30 = 360 < 417 weighted households: capacity short by 57"),
        (
            50,
            {"min_load": 10},
            r"50 members × at least 10 = 500 > 417 weighted households: .* by 83",
        ),
        (0, {}, r"members is empty: nobody to cover 417 weighted households"),
    ],
)
def test_impossible_capacity_says_by_how_much(rng, members, kwargs, message):
    care = np.arange(400) < 17
    house = _households([(x, y) for x, y in rng.uniform(0, 900, (400, 2))], care=care)
    homes = {k + 1: (10.0 * k, 0.0) for k in range(members)}
    team = _members(homes) if members else pd.DataFrame({"id": [], "lon": [], "lat": []})
    with pytest.raises(DivisionImpossible, match=message):
        propose_division(house, team, **kwargs)


def test_impossible_capacity_with_differing_member_ranges(two_clusters):
    house, members = two_clusters
    with pytest.raises(DivisionImpossible, match=r"2 members with at most 5–20 each = 25 < 30"):
        propose_division(house, members.assign(max_load=[5, 20]), min_load=0)


def _bad(house: pd.DataFrame, members: pd.DataFrame, case: str):
    """Return (households, members, kwargs) broken in one way."""
    kwargs: dict[str, Any] = {}
    if case == "nan":
        house.loc[3, "lon"] = np.nan
    elif case == "swapped":
        house.loc[0, ["lon", "lat"]] = house.loc[0, ["lat", "lon"]].to_numpy().copy()
    elif case == "dup_house":
        house.loc[4, "id"] = house.loc[5, "id"]
    elif case == "dup_member":
        members.loc[1, "id"] = members.loc[0, "id"]
    elif case == "empty":
        house = house.iloc[:0]
    elif case == "missing":
        house = house.drop(columns="lat")
    elif case == "member_range":
        members = members.assign(min_load=[40, np.nan])
    elif case == "care":
        house["care"] = house["care"].astype(object)
        house.loc[2, "care"] = "yes"
    else:
        bad_options: dict[str, dict[str, Any]] = {
            "min_max": {"min_load": 40, "max_load": 30},
            "care_weight": {"care_weight": 0},
            "candidates": {"candidates": 0},
            "time_limit": {"time_limit": 0},
            "balance": {"balance": 0.5},
        }
        kwargs = bad_options[case]
    return house, members, kwargs


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("nan", r"households id 4: coordinate is not a finite number"),
        ("swapped", r"households id 1: .*look swapped"),
        ("dup_house", r"households: duplicate id\(s\) \[6\]"),
        ("dup_member", r"members: duplicate id\(s\) \[1\]"),
        ("empty", r"households is empty"),
        ("missing", r"households is missing column\(s\) lat"),
        ("member_range", r"members: min_load 40 > max_load 30 for member id 1"),
        ("care", r"households: care must be True or False"),
        ("min_max", r"min_load \(40\) must not exceed max_load \(30\)"),
        ("care_weight", r"care_weight must be a finite number > 0"),
        ("candidates", r"candidates must be an integer >= 1"),
        ("time_limit", r"time_limit must be"),
        ("balance", r"balance must be a finite number >= 1"),
    ],
)
def test_bad_input_is_rejected_naming_the_argument(two_clusters, case, message):
    house, members, kwargs = _bad(two_clusters[0].copy(), two_clusters[1].copy(), case)
    with pytest.raises(ValueError, match=message):
        propose_division(house, members, **kwargs)


def test_the_same_input_gives_the_same_division_whatever_the_row_order(rng):
    points = [(x, y) for x, y in rng.uniform(0, 1200, (400, 2))]
    house = _households(points, care=rng.random(400) < 0.1, current=rng.integers(0, 25, 400))
    members = _members({k: points[k] for k in range(20)})
    first = propose_division(house, members)
    again = propose_division(house, members)
    shuffled = propose_division(house.sample(frac=1, random_state=3), members.iloc[::-1])
    for other in (again, shuffled):
        pd.testing.assert_series_equal(first.assignment, other.assignment)
        pd.testing.assert_series_equal(first.loads, other.loads)
        pd.testing.assert_index_equal(first.changed, other.changed)


def test_solver_time_limit_falls_back_to_the_greedy_start(rng):
    points = [(x, y) for x, y in rng.uniform(0, 3000, (3000, 2))]
    house = _households(points, care=rng.random(3000) < 0.1)
    members = _members({1000 + k: points[k] for k in range(150)})
    division = propose_division(house, members, time_limit=1e-6)
    assert division.stats["status"] == "time limit: greedy start"
    assert division.stats["solution"] == "greedy_start"
    assert division.loads.max() <= 30
    assert division.stats["coverage"] == 1.0


def test_the_greedy_start_keeps_todays_pairs(two_clusters):
    house, members = two_clusters
    current = np.array([2] * 5 + [1] * 10 + [2] * 15)
    kept = propose_division(house.assign(current=current), members, time_limit=1e-6)
    assert kept.stats["status"] == "time limit: greedy start"
    assert kept.assignment.tolist() == current.tolist()


def test_the_greedy_start_lifts_members_to_their_minimum(rng):
    # A loose balance lets member 1 take all 30 households round its home; member 2, 3 km
    # away, must still get its minimum of 10 from them.
    house = _households(_cluster(0, 0, 30, rng))
    members = _members({1: (0, 0), 2: (3000, 0)})
    division = propose_division(
        house, members, min_load=10, max_load=30, balance=3.0, time_limit=1e-6
    )
    assert division.stats["status"] == "time limit: greedy start"
    assert division.loads.to_dict() == {1: 20.0, 2: 10.0}
    assert division.stats["below_min"] == 0
    assert division.stats["coverage"] == 1.0


def _community(rng: np.random.Generator, n: int, members: int):
    """``n`` households in 60 clusters over 4 km, 6 % care; members live among them."""
    centres = rng.uniform(0, 4000, (60, 2))
    points = centres[rng.integers(0, 60, n)] + rng.normal(0, 150, (n, 2))
    house = _households([(x, y) for x, y in points], care=rng.random(n) < 0.06)
    homes = rng.choice(n, members, replace=False)
    return house, _members({10_000 + k: tuple(points[i]) for k, i in enumerate(homes)})


def test_ten_thousand_households_are_all_covered_within_a_two_second_limit(rng):
    # The MILP of this community takes about 10 s on the project's machine: 2 s cuts it.
    house, members = _community(rng, 10_000, 880)
    division = propose_division(
        house, members, min_load=5, max_load=15, keep_existing=False, time_limit=2.0
    )
    assert division.stats["coverage"] == 1.0
    assert division.stats["uncovered"] == 0
    assert division.assignment.isin(members["id"]).all()
    assert division.loads.max() <= 15
    assert division.loads.sum() == pytest.approx(len(house) + house["care"].sum())
    assert division.stats["seconds"] < 10  # the limit holds, give or take the model's build


def test_ten_thousand_households_short_of_capacity_say_so(rng):
    house, members = _community(rng, 10_000, 660)
    with pytest.raises(DivisionImpossible, match=r"660 members × at most 15 = 9900 < 10\d{3}"):
        propose_division(house, members, min_load=5, max_load=15, time_limit=2.0)


def test_care_households_that_cannot_be_placed_whole_say_so(rng):
    # 30 ≤ 2 × 15, but a member with room for 15 takes only 7 households of weight 2.
    house = _households(_cluster(0, 0, 15, rng), care=np.ones(15, dtype=bool))
    message = r"15 households of weight 2 but 2 members × at most 15 have room for only 14"
    with pytest.raises(DivisionImpossible, match=message):
        propose_division(house, _members({1: (0, 0), 2: (500, 0)}), min_load=0, max_load=15)


def test_baseline_takes_the_nearest_member_whatever_the_load(rng):
    house = _households([*_cluster(0, 0, 40, rng), (1900, 0)])
    members = _members({7: (0, 0), 8: (2000, 0)})
    baseline = nearest_member_baseline(house, members)
    assert baseline.tolist() == [7] * 40 + [8]
    assert baseline.index.tolist() == house["id"].tolist()
