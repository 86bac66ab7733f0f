"""Balanced division of households among members (党员分片包户): who looks after whom.

A zone leader divides the zone's households among the party members and volunteers who live or
serve there. This module owns the proposal: :func:`propose_division` returns a division that a
chief can review as a diff against who covers each household today, and
:func:`nearest_member_baseline` gives the naive answer (everyone to the nearest member) that the
proposal is measured against.

Formulation
-----------
Households ``i`` (weight ``w_i = care_weight`` for care households — elderly living alone,
disabled, low-income… — else 1) and members ``j`` (home ``p_j``, load range ``[L_j, U_j]``).
Distances ``d_ij`` are metres in the local CGCS2000 Gauss–Krüger zone. Each household may go to
one of its ``candidates`` nearest members (and to its current member, when existing coverage is
kept); the model is a generalised assignment MILP solved by HiGHS (``scipy.optimize.milp``)::

    minimise   Σ_ij w_i (d_ij / D)² x_ij  +  K Σ_ij k_ij x_ij            distance, keeping
             + R Σ_j e_j  +  Q Σ_j s_j  +  P Σ_i w_i u_i                  balance, min, cover
    subject to Σ_j x_ij + u_i = 1                       for every household i
               Σ_i w_i x_ij ≤ U_j                       for every member j (hard)
               Σ_i w_i x_ij + s_j ≥ L_j                 (soft minimum load)
               Σ_i w_i x_ij − e_j ≤ T_j                 (soft balance target)
               x_ij ∈ {0, 1},  u_i ∈ [0, 1],  s_j, e_j ≥ 0

where ``D`` is the longest candidate distance (costs are scaled to at most ``w_i``),
``k_ij = 1`` when household ``i`` has a current member among ``members`` and ``j`` is not that
member (0 otherwise, and always 0 for a fresh division), and ``T_j = ⌊balance × total weight /
number of members⌋`` clipped into ``[L_j, U_j]``. The target is rounded down because loads of
households weighing 1 or 2 are whole numbers: a fractional target would be filled by split
households in the LP relaxation, weakening its bound (at 10 000 households HiGHS took about
twice as long). The penalties are tiered, ``P > Q > K > R > 1``, each tier ``4 × max w_i`` times
the one below, more than moving one household can gain in the tiers below, so the solver in
effect optimises lexicographically:

1. cover every household (无遗漏) when capacity allows (the greedy start guarantees it);
2. bring every member up to ``L_j`` (loads never exceed ``U_j``: a hard constraint);
3. keep existing pairs (only with ``keep_existing``);
4. keep every load at or below ``T_j``, so that max/mean load stays ≤ ``balance``;
5. minimise the weighted squared distance from households to their member's home.

Why squared distance: without the keeping term, the relaxed problem is a capacity-constrained
transport of households to homes under squared Euclidean cost, whose optimum is a power diagram
of the homes (Aurenhammer, Hoffmann & Aronov, 1998): each member gets the households of one
convex cell, so each member's set is compact by construction, with no quadratic pairwise term.
It also spreads distance fairly: one household 1 km away costs as much as four at 500 m.

Why HiGHS through SciPy: with ``candidates`` arcs per household the model has about
``candidates × households`` binaries, but in a basic optimum of its LP relaxation at most as many
households are split between members as there are binding load rows, so the relaxation is nearly
integral and HiGHS closes the gap at the root node: about 0.2 s for a 500-household zone and
5–9 s for a 10 000-household community on a shared 2-core machine
(``scripts/bench_assignment.py``). SciPy's HiGHS is maintained,
open source and deterministic, and needs no new dependency; a min-cost-flow solver (OR-Tools)
cannot express the care weights (a household of weight 2 must not be split) without this MILP.

Greedy start, time limit and candidate lists: before the MILP, a greedy division covers every
household whenever the load ranges allow it (heaviest households first, nearest pairs first,
each member filled to its balance target, then to its maximum, households left over going to
the nearest member anywhere with room, and members short of their minimum taking households
from neighbours who can spare them; :func:`_start`). Its pairs join the model, so the MILP's
optimum covers everyone too. If HiGHS stops at ``time_limit``, its best division (free
households placed on the nearest members with room) is used when the objective rates it no worse
than the start, else the start; when HiGHS found nothing, the start. So a proposal covers 100 %
of the households whenever capacity suffices, however early the time limit cuts the search; only
balance, minimum loads and distance suffer. If the best division needs pairs beyond the
``candidates`` nearest members, the lists are doubled and the model solved again while time
remains, up to all members. Output is deterministic for given inputs whenever the solver finishes
within its time limit (status ``"optimal"``): rows are sorted by id before the model is built,
the start is deterministic, and so is HiGHS.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp
from scipy.spatial import KDTree

from gridmap.spatial.crs import (
    CGCS2000,
    SpatialInputError,
    check_lonlat,
    local_metric_crs,
    transform_xy,
)

__all__ = [
    "SOLUTIONS",
    "Division",
    "DivisionImpossible",
    "nearest_member_baseline",
    "propose_division",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

UNCOVERED = -1
#: What a proposal is (``stats["solution"]``): the MILP's optimum, the best division HiGHS
#: found before the time limit, or the greedy start.
SOLUTIONS = ("optimal", "best_found", "greedy_start")
# Penalty tiers (see the module docstring). Each tier is this many times what one household of
# the tier below can be worth, so longer chains of moves are still priced in the right order.
_TIER = 4.0
#: Seconds left below which the MILP is not started and the greedy start is the answer.
_MIN_SOLVE = 0.05
_MIP_GAP = 1e-4


class DivisionStats(TypedDict):
    """The figures of a :class:`Division` (see ``Division.stats``)."""

    coverage: float
    uncovered: int
    max_mean_load: float
    below_min: int
    above_max: int
    mean_distance_m: float
    changed: int
    candidates: int
    seconds: float
    status: str
    solution: str


class DivisionImpossible(ValueError):
    """The members cannot take these households within their load ranges (capacity short)."""


@dataclass
class Division:
    """A proposed division of households among members.

    Attributes
    ----------
    assignment : Series
        Household id → person id (int64), ``-1`` for a household left uncovered; sorted by
        household id.
    loads : Series
        Person id → weighted load (care households count ``care_weight``), every member listed,
        sorted by person id.
    changed : Index
        Household ids whose proposed member differs from their ``current`` one (newly covered
        households included), sorted.
    stats : dict
        ``coverage`` (share of households covered), ``uncovered`` (count), ``max_mean_load``
        (largest load / mean load), ``below_min`` and ``above_max`` (members out of range),
        ``mean_distance_m`` (household to member's home, covered households), ``changed``
        (count), ``candidates`` (nearest members considered per household), ``seconds``,
        ``status``: ``"optimal"``; ``"time limit: best found (gap …)"``; or
        ``"time limit: greedy start"`` (also ``"…: greedy start (better than the best
        found)"``), when the solver found nothing better in time. Every status covers all
        households when capacity suffices and respects ``max_load``; only ``"optimal"`` also
        guarantees the minimum loads, balance and distance the model asks for.
        ``solution`` is the status as a code of :data:`SOLUTIONS`.
    """

    assignment: pd.Series
    loads: pd.Series
    changed: pd.Index
    stats: DivisionStats


@dataclass(frozen=True)
class _Problem:
    """Validated inputs, sorted by id, with coordinates in metres."""

    household_id: IntArray
    hx: FloatArray
    hy: FloatArray
    weight: FloatArray
    current: IntArray  # index into the member arrays, or -1 (none, or not among members)
    current_id: IntArray  # the person id given as current, -1 when none
    member_id: IntArray
    mx: FloatArray
    my: FloatArray
    low: FloatArray
    high: FloatArray


@dataclass(frozen=True)
class _Arcs:
    """Allowed (household, member) pairs with their distance in metres."""

    house: IntArray
    member: IntArray
    dist: FloatArray


# --- public verbs -----------------------------------------------------------------------------
def propose_division(
    households: pd.DataFrame,
    members: pd.DataFrame,
    *,
    min_load: float = 10,
    max_load: float = 30,
    care_weight: float = 2.0,
    keep_existing: bool = True,
    candidates: int = 8,
    balance: float = 1.2,
    time_limit: float = 20.0,
) -> Division:
    """Propose which member looks after each household (党员分片包户).

    Parameters
    ----------
    households : DataFrame or GeoDataFrame
        Columns ``id`` (int, unique), ``lon``, ``lat`` (EPSG:4490 degrees), optional ``care``
        (bool; such households weigh ``care_weight``) and ``current`` (person id covering it now,
        ``-1`` or NaN for none).
    members : DataFrame
        Columns ``id`` (int, unique), ``lon``, ``lat`` (where the member lives), optional
        ``min_load``/``max_load`` overriding the defaults per member (NaN: the default).
    min_load, max_load : float
        Default weighted load range of a member. ``max_load`` is never exceeded; ``min_load`` is
        met whenever the households allow it.
    care_weight : float
        Weight of a care household (关爱对象) in a member's load.
    keep_existing : bool
        Keep current pairs whose member is among ``members`` unless coverage or the load range
        needs them moved; False proposes a fresh division.
    candidates : int
        Nearest members considered per household (widened automatically when some household
        cannot otherwise be covered).
    balance : float
        Soft cap on a member's load as a multiple of the mean load (≥ 1, rounded down to a
        whole load): it gives way to coverage, the load range and kept pairs, and prevails
        over distance (the benchmark target for max/mean load is 1.2).
    time_limit : float
        Seconds allowed in all; past it the best division found is used, or the greedy
        start when that is better or nothing was found (``stats["status"]`` tells which).
        Coverage never depends on it; only a proposal solved to ``"optimal"`` is guaranteed
        to be reproducible. The proposal may overrun the limit: SciPy's set-up of the model
        and HiGHS's presolve are not cut short (at 10 000 households on a busy 2-core
        machine, 1–2 s).

    Returns
    -------
    Division

    Raises
    ------
    DivisionImpossible
        When there are no members, the members' maximum loads add up to less than the
        households' total weight, or their minimum loads to more, or the heaviest (care)
        households cannot all be placed whole within the maximum loads; the message gives
        the numbers.
    ValueError
        For bad input, naming the argument: missing columns, empty ``households``, duplicate
        ids, NaN or impossible coordinates, ``min_load > max_load``, non-positive weights.
    """
    start = time.perf_counter()
    _check_options(min_load, max_load, care_weight, candidates, balance, time_limit)
    problem = _prepare(households, members, min_load, max_load, care_weight)
    _check_capacity(problem)
    choice, status, k = _solve_widening(
        problem, candidates, keep_existing, balance, start + time_limit
    )
    return _division(problem, choice, status, k, time.perf_counter() - start)


def nearest_member_baseline(households: pd.DataFrame, members: pd.DataFrame) -> pd.Series:
    """Each household to its nearest member, ignoring loads: the naive division.

    Parameters
    ----------
    households, members : DataFrame
        As for :func:`propose_division` (``care``, ``current`` and load columns are ignored).

    Returns
    -------
    Series
        Household id → person id of the member living nearest, sorted by household id.
    """
    unloaded = members.drop(columns=["min_load", "max_load"], errors="ignore")
    problem = _prepare(households, unloaded, 0.0, math.inf, 1.0)
    if problem.member_id.size == 0:
        raise DivisionImpossible("members is empty: nobody to cover the households")
    _, nearest = KDTree(np.column_stack([problem.mx, problem.my])).query(
        np.column_stack([problem.hx, problem.hy])
    )
    return pd.Series(
        problem.member_id[nearest],
        index=pd.Index(problem.household_id, name="household_id"),
        name="person_id",
    )


# --- input ------------------------------------------------------------------------------------
def _check_options(
    min_load: float,
    max_load: float,
    care_weight: float,
    candidates: int,
    balance: float,
    time_limit: float,
) -> None:
    if not (math.isfinite(min_load) and min_load >= 0):
        raise ValueError(f"min_load must be a finite number >= 0, got {min_load!r}")
    if not (max_load > 0 and not math.isnan(max_load)):
        raise ValueError(f"max_load must be a number > 0, got {max_load!r}")
    if min_load > max_load:
        raise ValueError(f"min_load ({min_load:g}) must not exceed max_load ({max_load:g})")
    if not (math.isfinite(care_weight) and care_weight > 0):
        raise ValueError(f"care_weight must be a finite number > 0, got {care_weight!r}")
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
        raise ValueError(f"candidates must be an integer >= 1, got {candidates!r}")
    if not (math.isfinite(balance) and balance >= 1):
        raise ValueError(f"balance must be a finite number >= 1, got {balance!r}")
    if not (time_limit > 0 and not math.isnan(time_limit)):
        raise ValueError(f"time_limit must be a number of seconds > 0, got {time_limit!r}")


def _prepare(
    households: pd.DataFrame,
    members: pd.DataFrame,
    min_load: float,
    max_load: float,
    care_weight: float,
) -> _Problem:
    """Validate both frames, sort them by id and project them to metres."""
    house = _frame(households, "households").sort_values("id", kind="stable")
    if house.empty:
        raise ValueError("households is empty: nothing to divide")
    member = _frame(members, "members").sort_values("id", kind="stable")
    member_id = member["id"].to_numpy(np.int64)
    low = _load_column(member, "min_load", min_load)
    high = _load_column(member, "max_load", max_load)
    bad = np.flatnonzero(low > high)
    if bad.size:
        j = bad[0]
        raise ValueError(
            f"members: min_load {low[j]:g} > max_load {high[j]:g} for member id {member_id[j]}"
        )
    current_id = _current(house)
    position = pd.Index(member_id).get_indexer(current_id)
    crs = local_metric_crs(float(np.median(house["lon"].to_numpy(np.float64))))
    hx, hy = transform_xy(house["lon"], house["lat"], CGCS2000, crs)
    mx, my = transform_xy(member["lon"], member["lat"], CGCS2000, crs)
    return _Problem(
        household_id=house["id"].to_numpy(np.int64),
        hx=hx,
        hy=hy,
        weight=np.where(_care(house), care_weight, 1.0),
        current=np.where(current_id >= 0, position, -1).astype(np.int64),
        current_id=current_id,
        member_id=member_id,
        mx=mx,
        my=my,
        low=low,
        high=high,
    )


def _frame(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Check the id and coordinate columns of one input frame."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a DataFrame, got {type(frame).__name__}")
    missing = [c for c in ("id", "lon", "lat") if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {', '.join(missing)}")
    ids = pd.to_numeric(frame["id"], errors="coerce")
    if ids.isna().any() or not (ids == np.round(ids)).all():
        raise ValueError(f"{name}: id must be integers, got {frame['id'].tolist()[:5]!r}…")
    duplicated = ids[ids.duplicated()].unique()
    if duplicated.size:
        raise ValueError(f"{name}: duplicate id(s) {sorted(duplicated.astype(int).tolist())[:10]}")
    out = pd.DataFrame(frame, copy=False).assign(id=ids.astype(np.int64))
    _check_coordinates(out, name)
    return out


def _check_coordinates(frame: pd.DataFrame, name: str) -> None:
    """Reject NaN and impossible lon/lat, naming the frame and the id of the row."""
    lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(np.float64)
    lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(np.float64)
    try:
        check_lonlat(lon, lat, label="row")
    except SpatialInputError as error:
        row = int(str(error.where).split()[-1])
        where = f"{name} id {frame['id'].iloc[row]}"
        raise SpatialInputError(error.message, where) from None


def _load_column(member: pd.DataFrame, column: str, default: float) -> FloatArray:
    """A per-member load bound, the default where the column is absent or NaN."""
    if column not in member.columns:
        return np.full(len(member), float(default))
    values = pd.to_numeric(member[column], errors="coerce").to_numpy(np.float64)
    given = member[column].notna().to_numpy()
    if (given & ~(values >= 0)).any():
        raise ValueError(f"members: {column} must be numbers >= 0")
    return np.where(given, values, float(default))


def _care(house: pd.DataFrame) -> NDArray[np.bool_]:
    if "care" not in house.columns:
        return np.zeros(len(house), dtype=bool)
    care = house["care"]
    if not care.isin([True, False]).all():
        raise ValueError("households: care must be True or False for every household")
    flags: NDArray[np.bool_] = care.to_numpy(dtype=bool)
    return flags


def _current(house: pd.DataFrame) -> IntArray:
    if "current" not in house.columns:
        return np.full(len(house), UNCOVERED, dtype=np.int64)
    current = pd.to_numeric(house["current"], errors="coerce")
    given = house["current"].notna()
    if (given & (current.isna() | (current != np.round(current)))).any():
        raise ValueError("households: current must be a person id, -1 or NaN")
    ids: IntArray = current.where(given, UNCOVERED).to_numpy(np.float64).astype(np.int64)
    return ids


def _check_capacity(problem: _Problem) -> None:
    """Raise DivisionImpossible when the load ranges cannot fit the total weight."""
    total = float(problem.weight.sum())
    n = problem.member_id.size
    if n == 0:
        raise DivisionImpossible(f"members is empty: nobody to cover {total:g} weighted households")
    most, least = float(problem.high.sum()), float(problem.low.sum())
    if most < total:
        raise DivisionImpossible(
            f"{_members_text(problem.high, 'at most')} = {most:g} < {total:g} weighted "
            f"households: capacity short by {total - most:g}"
        )
    if least > total:
        raise DivisionImpossible(
            f"{_members_text(problem.low, 'at least')} = {least:g} > {total:g} weighted "
            f"households: minimum loads exceed them by {least - total:g}"
        )
    _check_heaviest(problem)


def _check_heaviest(problem: _Problem) -> None:
    """Raise DivisionImpossible when the heaviest households cannot all be placed whole.

    A member with room for 15 takes at most 7 care households of weight 2: total capacity
    can suffice while the care households do not fit (each is one household, never split).
    """
    heaviest = float(problem.weight.max())
    count = int((problem.weight == heaviest).sum())
    places = int(np.floor(problem.high / heaviest + 1e-9).sum())
    if count > places:
        raise DivisionImpossible(
            f"{count} households of weight {heaviest:g} but "
            f"{_members_text(problem.high, 'at most')} have room for only {places} of them "
            f"whole: capacity short by {count - places} such households"
        )


def _members_text(bound: FloatArray, word: str) -> str:
    """'12 members × at most 30', or '12 members with at most 5–30 each' when they differ."""
    n = bound.size
    if np.all(bound == bound[0]):
        return f"{n} members × {word} {bound[0]:g}"
    return f"{n} members with {word} {bound.min():g}–{bound.max():g} each"


# --- the model --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Tiers:
    """Cost scale of the distance tier and the weights of the tiers above it (K, R, Q, P)."""

    scale: float
    keep: float
    balance: float
    minimum: float
    cover: float

    @classmethod
    def of(cls, problem: _Problem, arcs: _Arcs) -> _Tiers:
        step = _TIER * float(problem.weight.max())
        balance_r = step
        keep_k = step * balance_r
        min_q = step * keep_k
        return cls(max(float(arcs.dist.max()), 1.0), keep_k, balance_r, min_q, step * min_q)


def _solve_widening(
    problem: _Problem, candidates: int, keep: bool, balance: float, deadline: float
) -> tuple[IntArray, str, int]:
    """Solve with ``candidates`` nearest members, doubling them while the best division found
    needs a pair beyond them (a household left out, or placed by the greedy start's last
    resort) and time remains."""
    n_members = problem.member_id.size
    target = _targets(problem, balance)
    k = min(candidates, n_members)
    while True:
        near = _arcs(problem, k, keep)
        start = _start(problem, near, target, keep)
        arcs = _with_pairs(problem, near, start)
        choice, status = _solve(problem, arcs, keep, target, start, deadline)
        beyond = _beyond(problem, near, choice)
        if not beyond or k >= n_members or time.perf_counter() >= deadline:
            return choice, status, k
        k = min(2 * k, n_members)


def _targets(problem: _Problem, balance: float) -> FloatArray:
    """Each member's soft balance target ``T_j`` (see the module docstring)."""
    mean = float(problem.weight.sum()) / problem.member_id.size
    target: FloatArray = np.clip(np.floor(balance * mean), problem.low, problem.high)
    return target


def _arcs(problem: _Problem, k: int, keep: bool) -> _Arcs:
    """Each household's ``k`` nearest members, plus its current member when it is kept."""
    tree = KDTree(np.column_stack([problem.mx, problem.my]))
    dist, member = tree.query(np.column_stack([problem.hx, problem.hy]), k=k)
    nearest = np.asarray(member, dtype=np.int64).reshape(-1, k)
    house = np.repeat(np.arange(problem.household_id.size, dtype=np.int64), k)
    member, dist = nearest.ravel(), np.asarray(dist, dtype=np.float64).ravel()
    if keep:
        listed = (nearest == problem.current[:, None]).any(axis=1)
        extra = np.flatnonzero((problem.current >= 0) & ~listed)
        house = np.r_[house, extra]
        member = np.r_[member, problem.current[extra]]
        dist = np.r_[dist, _distance(problem, extra, problem.current[extra])]
    return _Arcs(house, member, dist)


def _distance(problem: _Problem, house: IntArray, member: IntArray) -> FloatArray:
    distance: FloatArray = np.hypot(
        problem.hx[house] - problem.mx[member], problem.hy[house] - problem.my[member]
    )
    return distance


def _keys(problem: _Problem, house: IntArray, member: IntArray) -> IntArray:
    keys: IntArray = house * problem.member_id.size + member
    return keys


def _with_pairs(problem: _Problem, arcs: _Arcs, choice: IntArray) -> _Arcs:
    """The arcs plus the pairs of ``choice`` that are not among them."""
    house = np.flatnonzero(choice != UNCOVERED)
    member = choice[house]
    listed = np.isin(_keys(problem, house, member), _keys(problem, arcs.house, arcs.member))
    house, member = house[~listed], member[~listed]
    return _Arcs(
        np.r_[arcs.house, house],
        np.r_[arcs.member, member],
        np.r_[arcs.dist, _distance(problem, house, member)],
    )


def _beyond(problem: _Problem, arcs: _Arcs, choice: IntArray) -> bool:
    """Whether ``choice`` leaves a household out or pairs one outside ``arcs``."""
    if (choice == UNCOVERED).any():
        return True
    pairs = _keys(problem, np.arange(choice.size), choice)
    return not np.isin(pairs, _keys(problem, arcs.house, arcs.member)).all()


# --- the greedy start -------------------------------------------------------------------------
def _start(problem: _Problem, arcs: _Arcs, target: FloatArray, keep: bool) -> IntArray:
    """A division covering every household whenever the loads allow it, found greedily.

    Heaviest households first (with weights 1 and ``care_weight`` and whole load bounds, a
    weight class placed before the lighter one fits whenever any division fits, so the start
    covers everyone whenever capacity suffices). Within a class, in the model's order of
    priorities: today's pairs when they are kept (up to the maximum loads), the nearest pairs
    first up to each member's balance target, then each
    household left to the nearest member anywhere below its target, then the same two steps up
    to the maximum loads. Last, members below their minimum load take the nearest households
    whose member can spare them. The MILP starts from this: its pairs are added to the model,
    and the MILP's answer is used only when the objective rates it no worse.
    """
    choice = np.full(problem.household_id.size, UNCOVERED, dtype=np.int64)
    load = np.zeros(problem.member_id.size)
    by_distance = np.argsort(arcs.dist, kind="stable")
    kept = np.flatnonzero(problem.current >= 0) if keep else np.empty(0, dtype=np.int64)
    for weight in np.unique(problem.weight)[::-1]:
        mine = kept[problem.weight[kept] == weight]
        _fill(choice, load, mine, problem.current[mine], float(weight), problem.high)
        order = by_distance[problem.weight[arcs.house[by_distance]] == weight]
        for cap in (target, problem.high):
            _fill(choice, load, arcs.house[order], arcs.member[order], float(weight), cap)
            _fill_anywhere(problem, choice, load, float(weight), cap)
    _lift(problem, choice, load, target)
    return choice


def _fill(
    choice: IntArray,
    load: FloatArray,
    house: IntArray,
    member: IntArray,
    weight: float,
    cap: FloatArray,
) -> None:
    """Take the pairs in order while the household is free and the member below ``cap``."""
    taken, loads, caps = choice.tolist(), load.tolist(), cap.tolist()
    for i, j in zip(house.tolist(), member.tolist(), strict=True):
        if taken[i] == UNCOVERED and loads[j] + weight <= caps[j] + 1e-9:
            taken[i] = j
            loads[j] += weight
    choice[:] = taken
    load[:] = loads


def _fill_anywhere(
    problem: _Problem, choice: IntArray, load: FloatArray, weight: float, cap: FloatArray
) -> None:
    """Each free household of this weight to the nearest member below ``cap`` by its weight."""
    for i in np.flatnonzero((choice == UNCOVERED) & (problem.weight == weight)).tolist():
        room = np.flatnonzero(load + weight <= cap + 1e-9)
        if room.size == 0:
            return
        d = np.hypot(problem.hx[i] - problem.mx[room], problem.hy[i] - problem.my[room])
        j = int(room[np.argmin(d)])
        choice[i] = j
        load[j] += weight


#: Households nearest a member below its minimum load that it may take from their member.
_LIFT_NEIGHBOURS = 64


def _lift(problem: _Problem, choice: IntArray, load: FloatArray, cap: FloatArray) -> None:
    """Members below their minimum load, most short first, take the households nearest their
    home from members that stay at or above their own minimum (never past ``cap``)."""
    short = np.flatnonzero(load < problem.low - 1e-9)
    if short.size == 0:
        return
    tree = KDTree(np.column_stack([problem.hx, problem.hy]))
    k = min(problem.household_id.size, _LIFT_NEIGHBOURS)
    low, weight = problem.low, problem.weight
    for j in short[np.argsort(load[short] - low[short], kind="stable")].tolist():
        _, near = tree.query([problem.mx[j], problem.my[j]], k=k)
        for i in np.atleast_1d(near).tolist():
            if load[j] >= low[j] - 1e-9:
                break
            m, w = int(choice[i]), float(weight[i])
            spare = m == UNCOVERED or (m != j and load[m] - w >= low[m] - 1e-9)
            if spare and load[j] + w <= cap[j] + 1e-9:
                if m != UNCOVERED:
                    load[m] -= w
                choice[i] = j
                load[j] += w


def _completed(problem: _Problem, choice: IntArray) -> IntArray:
    """``choice`` with its free households placed on the nearest members with room."""
    filled = choice.copy()
    covered = filled != UNCOVERED
    load: FloatArray = np.bincount(
        filled[covered], problem.weight[covered], problem.member_id.size
    ).astype(np.float64)
    for weight in np.unique(problem.weight[~covered])[::-1]:
        _fill_anywhere(problem, filled, load, float(weight), problem.high)
    return filled


def _value(
    problem: _Problem, tiers: _Tiers, keep: bool, target: FloatArray, choice: IntArray
) -> float:
    """The model's objective for a division given as a member index per household."""
    covered = choice != UNCOVERED
    house, member = np.flatnonzero(covered), choice[covered]
    w = problem.weight
    distance = w[house] * (_distance(problem, house, member) / tiers.scale) ** 2
    load = np.bincount(member, w[house], problem.member_id.size)
    value = float(distance.sum()) + tiers.cover * float(w[~covered].sum())
    value += tiers.minimum * float(np.maximum(problem.low - load, 0).sum())
    value += tiers.balance * float(np.maximum(load - target, 0).sum())
    if keep:
        current = problem.current[house]
        value += tiers.keep * float(((current >= 0) & (current != member)).sum())
    return value


# --- the MILP ---------------------------------------------------------------------------------
def _costs(problem: _Problem, arcs: _Arcs, tiers: _Tiers, keep: bool) -> FloatArray:
    """Per-arc cost: the distance tier, plus the keeping tier for a move."""
    cost: FloatArray = problem.weight[arcs.house] * (arcs.dist / tiers.scale) ** 2
    if keep:
        current = problem.current[arcs.house]
        cost = cost + tiers.keep * ((current >= 0) & (current != arcs.member))
    return cost


def _model(
    problem: _Problem, arcs: _Arcs, tiers: _Tiers, keep: bool, target: FloatArray
) -> tuple[FloatArray, list[LinearConstraint], Bounds]:
    """Objective, constraints and bounds over [x arcs | u households | s members | e members]."""
    n_h, n_m, n_a = problem.household_id.size, problem.member_id.size, arcs.house.size
    c = np.r_[
        _costs(problem, arcs, tiers, keep),
        tiers.cover * problem.weight,
        np.full(n_m, tiers.minimum),
        np.full(n_m, tiers.balance),
    ]
    cols = np.arange(n_a)
    cover = sparse.hstack(
        [
            sparse.csr_array((np.ones(n_a), (arcs.house, cols)), shape=(n_h, n_a)),
            sparse.eye_array(n_h),
            sparse.csr_array((n_h, 2 * n_m)),
        ]
    )
    load = sparse.csr_array((problem.weight[arcs.house], (arcs.member, cols)), shape=(n_m, n_a))
    eye, none = sparse.eye_array(n_m), sparse.csr_array((n_m, n_h))
    zero = sparse.csr_array((n_m, n_m))
    constraints = [
        LinearConstraint(cover, 1.0, 1.0),
        LinearConstraint(sparse.hstack([load, none, zero, zero]), -np.inf, problem.high),
        LinearConstraint(sparse.hstack([load, none, eye, zero]), problem.low, np.inf),
        LinearConstraint(sparse.hstack([load, none, zero, -eye]), -np.inf, target),
    ]
    upper = np.r_[np.ones(n_a + n_h), np.full(2 * n_m, np.inf)]
    return c, constraints, Bounds(0.0, upper)


def _solve(
    problem: _Problem,
    arcs: _Arcs,
    keep: bool,
    target: FloatArray,
    start: IntArray,
    deadline: float,
) -> tuple[IntArray, str]:
    """The MILP's division when it is no worse than the greedy start, else the start."""
    tiers = _Tiers.of(problem, arcs)
    if deadline - time.perf_counter() < _MIN_SOLVE:
        return start, "time limit: greedy start"
    c, constraints, bounds = _model(problem, arcs, tiers, keep, target)
    n_a = arcs.house.size
    integrality = np.r_[np.ones(n_a), np.zeros(c.size - n_a)]
    result = _highs(c, constraints, bounds, integrality, deadline)
    why = "time limit" if result.status == 1 else f"HiGHS: {result.message}"
    if result.x is None:
        return start, f"{why}: greedy start"
    found = _completed(problem, _chosen(problem, arcs, result.x[:n_a]))
    if _value(problem, tiers, keep, target, found) <= _value(problem, tiers, keep, target, start):
        return found, _status(result)
    return start, f"{why}: greedy start (better than the best found)"


def _highs(
    c: FloatArray,
    constraints: list[LinearConstraint],
    bounds: Bounds,
    integrality: FloatArray,
    deadline: float,
) -> OptimizeResult:
    left = max(deadline - time.perf_counter(), 1e-3)
    options = {"time_limit": left, "mip_rel_gap": _MIP_GAP, "presolve": True}
    return milp(c, integrality=integrality, bounds=bounds, constraints=constraints, options=options)


def _status(result: OptimizeResult) -> str:
    if result.status == 0:
        return "optimal"
    if result.status != 1:
        return f"HiGHS: {result.message}"
    gap = getattr(result, "mip_gap", None)
    gap_text = f" (gap {100 * gap:.2g} %)" if gap is not None and math.isfinite(gap) else ""
    return f"time limit: best found{gap_text}"


def _chosen(problem: _Problem, arcs: _Arcs, x: FloatArray) -> IntArray:
    """Member index per household from the arc values (-1 where none is taken)."""
    choice = np.full(problem.household_id.size, UNCOVERED, dtype=np.int64)
    taken = x > 0.5
    choice[arcs.house[taken]] = arcs.member[taken]
    return choice


# --- output -----------------------------------------------------------------------------------
def _solution(status: str) -> str:
    """The code of :data:`SOLUTIONS` that a status text describes."""
    if status == "optimal":
        return "optimal"
    return (
        "greedy_start"
        if status.endswith(("greedy start", "(better than the best found)"))
        else "best_found"
    )


def _division(problem: _Problem, choice: IntArray, status: str, k: int, seconds: float) -> Division:
    covered = choice != UNCOVERED
    person = np.where(covered, problem.member_id[np.maximum(choice, 0)], UNCOVERED)
    index = pd.Index(problem.household_id, name="household_id")
    assignment = pd.Series(person, index=index, name="person_id")
    load = np.bincount(choice[covered], problem.weight[covered], problem.member_id.size)
    loads = pd.Series(load, index=pd.Index(problem.member_id, name="person_id"), name="load")
    changed = index[person != problem.current_id]
    j = choice[covered]
    dist = np.hypot(problem.hx[covered] - problem.mx[j], problem.hy[covered] - problem.my[j])
    mean_load = float(load.mean())
    stats: DivisionStats = {
        "coverage": float(covered.mean()),
        "uncovered": int((~covered).sum()),
        "max_mean_load": float(load.max() / mean_load) if mean_load > 0 else 0.0,
        "below_min": int((load < problem.low - 1e-9).sum()),
        "above_max": int((load > problem.high + 1e-9).sum()),
        "mean_distance_m": float(dist.mean()) if dist.size else 0.0,
        "changed": int(changed.size),
        "candidates": k,
        "seconds": seconds,
        "status": status,
        "solution": _solution(status),
    }
    return Division(assignment=assignment, loads=loads, changed=changed, stats=stats)
