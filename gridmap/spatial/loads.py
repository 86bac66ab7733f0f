"""The defaults of a division form (党员分片包户): which members take part, and their load range.

:mod:`gridmap.spatial.balance` solves a division for given members and loads; this module
proposes those inputs from the households and members a grid has, so that a form's defaults
always give a feasible, balanced proposal. It needs no SciPy (a grid's coverage answer
carries the suggested members).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["USUAL_LOAD", "default_load_range", "suggest_members"]

#: Households a member usually looks after (党员中心户 and 党员分片包户 take 5–15 neighbouring
#: households); :func:`suggest_members` adds members until the mean load is at most the top.
USUAL_LOAD = (5, 15)


def default_load_range(
    total_weight: float, members: int, *, heaviest: float = 1.0, balance: float = 1.2
) -> tuple[float, float]:
    """The load range a division form proposes when nobody typed one: around the mean load.

    ``min_load = ⌊mean / balance⌋`` and ``max_load = ⌈mean × balance⌉`` (never below the
    heaviest household, so that a care household can be taken at all), where ``mean`` is the
    total weight over the members. The range always fits (``members × min ≤ total ≤ members ×
    max``), so :func:`propose_division` never refuses it for capacity, and the hard maximum
    keeps every load near the mean (max/mean ≈ ``balance``) even when existing pairs are kept.

    Parameters
    ----------
    total_weight : float
        Sum of the households' weights (care households count ``care_weight``).
    members : int
        Number of members dividing them (≥ 1).
    heaviest : float
        Weight of the heaviest household.
    balance : float
        Allowed ratio of a load to the mean (≥ 1).
    """
    if members < 1:
        raise ValueError(f"members must be at least 1, got {members!r}")
    if not (math.isfinite(balance) and balance >= 1):
        raise ValueError(f"balance must be a finite number >= 1, got {balance!r}")
    mean = total_weight / members
    low = float(math.floor(mean / balance))
    high = float(max(math.ceil(mean * balance - 1e-9), math.ceil(heaviest), 1))
    return low, high


def suggest_members(
    households: pd.DataFrame, members: pd.DataFrame, *, care_weight: float = 2.0
) -> list[int]:
    """The members a division form checks by default: those covering the households today,
    then the nearest others with a home, until the mean load is at most ``USUAL_LOAD[1]``.

    Offering every member of the community (several times more than a zone needs) gave loads
    of 0–4 beside today's 5–15, and minimum loads that could not be met.

    Parameters
    ----------
    households : DataFrame
        ``lon``, ``lat``, optional ``care`` and ``current`` (person id or -1/NaN).
    members : DataFrame
        ``id``, ``lon``, ``lat`` (NaN: no recorded home).

    Returns
    -------
    list of int
        Person ids, those covering today first (by id), then the others by distance.
    """
    if households.empty or members.empty:
        return []
    care = households["care"].to_numpy(bool) if "care" in households.columns else False
    weight = float(np.where(care, care_weight, 1.0).sum())
    current = set()
    if "current" in households.columns:
        current = set(pd.to_numeric(households["current"]).dropna().astype(np.int64).tolist())
    ids = members["id"].to_numpy(np.int64)
    chosen = [int(i) for i in ids if int(i) in current]
    homed = members[members["lon"].notna() & ~members["id"].isin(chosen)]
    if homed.empty:
        return sorted(chosen)
    lon0 = float(households["lon"].mean())
    lat0 = float(households["lat"].mean())
    dx = (homed["lon"].to_numpy(np.float64) - lon0) * math.cos(math.radians(lat0))
    dy = homed["lat"].to_numpy(np.float64) - lat0
    order = homed["id"].to_numpy(np.int64)[
        np.lexsort((homed["id"].to_numpy(np.int64), np.hypot(dx, dy)))
    ]
    need = max(1, math.ceil(weight / USUAL_LOAD[1]))
    extra = [int(i) for i in order[: max(0, need - len(chosen))]]
    return sorted(chosen) + extra
