"""The division form's defaults (gridmap.spatial.loads): a load range that always fits, and
the members covering the households today plus the nearest others."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gridmap.spatial.balance import propose_division
from gridmap.spatial.loads import USUAL_LOAD, default_load_range, suggest_members


@pytest.mark.parametrize(
    ("total", "members"), [(46, 12), (400, 40), (400, 100), (3, 5), (61, 7), (500, 1)]
)
def test_the_default_range_always_fits(total: float, members: int) -> None:
    low, high = default_load_range(total, members, heaviest=2)
    assert members * low <= total <= members * high
    assert high >= 2 and low <= high
    mean = total / members
    assert high <= max(math.ceil(1.2 * mean), 2)


def test_the_nearest_members_are_added_until_the_mean_load_is_usual() -> None:
    rng = np.random.default_rng(3)
    house = pd.DataFrame(
        {
            "id": range(1, 61),
            "lon": 116.40 + rng.uniform(0, 0.002, 60),
            "lat": 39.90 + rng.uniform(0, 0.002, 60),
            "care": [i % 10 == 0 for i in range(60)],
            "current": [7] * 10 + [-1] * 50,
        }
    )
    far = {"id": 1, "lon": 116.50, "lat": 39.90}
    members = pd.DataFrame(
        [far]
        + [{"id": i, "lon": 116.401 + i * 1e-5, "lat": 39.901} for i in range(2, 7)]
        + [{"id": 7, "lon": np.nan, "lat": np.nan}]
    )
    chosen = suggest_members(house, members)
    # 66 weighted households need ceil(66 / 15) = 5 members: member 7 (covering today) and
    # the four nearest with a home; the far one is left out.
    assert chosen[0] == 7 and len(chosen) == math.ceil(66 / USUAL_LOAD[1])
    assert 1 not in chosen and set(chosen[1:]) <= {2, 3, 4, 5, 6}
    # The proposal from these defaults is feasible and balanced.
    homes = members[members["id"].isin(chosen)].copy()
    homes.loc[homes["id"] == 7, ["lon", "lat"]] = (116.401, 39.9012)
    low, high = default_load_range(66, len(chosen), heaviest=2)
    division = propose_division(house, homes, min_load=low, max_load=high)
    assert division.stats["coverage"] == 1.0 and division.stats["max_mean_load"] <= 1.25
