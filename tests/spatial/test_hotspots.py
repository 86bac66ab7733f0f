"""Hot spots: Gi* against esda, FDR against a hand Benjamini–Hochberg, Mann-Kendall against
pymannkendall, the emerging kinds on hand-made histories, and the edge cases."""

import warnings

import esda
import libpysal
import numpy as np
import pymannkendall
import pyproj
import pytest
from scipy.stats import norm

from gridmap.spatial import hotspots
from gridmap.spatial.hotspots import (
    EMERGING_KINDS,
    distance_band,
    emerging,
    fdr_bins,
    gi_star,
    gi_star_columns,
    local_metres,
    mann_kendall,
    neighbour_threshold,
    worsening,
)
from tests.spatial.conftest import lonlat

SPACING = 60.0  # metres between lattice cells, a micro-grid's size


def _lattice(side: int) -> np.ndarray:
    ix, iy = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    return np.column_stack([ix.ravel(), iy.ravel()]) * SPACING


def _block(side: int, x0: int, y0: int, size: int) -> np.ndarray:
    """Positions (in _lattice order) of the size × size block starting at column x0, row y0."""
    ix, iy = np.meshgrid(np.arange(x0, x0 + size), np.arange(y0, y0 + size), indexing="ij")
    return (ix * side + iy).ravel()


def _esda_z(values: np.ndarray, points: np.ndarray, threshold: float) -> tuple[object, np.ndarray]:
    """esda's own Gi* on libpysal's own distance band: (weights, z)."""
    with warnings.catch_warnings():
        # a distance band over scattered points is often disconnected; libpysal says so
        warnings.filterwarnings("ignore", message="The weights matrix is not fully connected")
        band = libpysal.weights.DistanceBand(points, threshold, binary=True)
        local = esda.G_Local(values, band, transform="B", star=True, permutations=0)
    return band, local.Zs


def _same_weights(ours, theirs) -> None:
    assert ours.n == theirs.n
    assert list(ours.id_order) == list(theirs.id_order)
    assert (ours.sparse != theirs.sparse).nnz == 0
    assert {i: set(ours.neighbors[i]) for i in ours.id_order} == {
        i: set(theirs.neighbors[i]) for i in theirs.id_order
    }


@pytest.fixture
def planted(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A 30 × 30 lattice of Poisson(5) counts with a hot 5 × 5 block and a cold (empty) one."""
    side = 30
    values = rng.poisson(5.0, side * side).astype(float)
    hot, cold = _block(side, 4, 4, 5), _block(side, 20, 20, 5)
    values[hot] += 15
    values[cold] = 0
    return _lattice(side), values, hot, cold


def _bh_reject(p: np.ndarray, q: float) -> np.ndarray:
    """Benjamini–Hochberg by hand: reject the k smallest, k = max{k : p_(k) ≤ k q / m}."""
    m = len(p)
    order = np.argsort(p)
    below = [k for k in range(1, m + 1) if p[order[k - 1]] <= k * q / m]
    reject = np.zeros(m, dtype=bool)
    if below:
        reject[order[: max(below)]] = True
    return reject


def _hand_bins(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    levels = sum(_bh_reject(p, q).astype(int) for q in (0.10, 0.05, 0.01))
    return np.sign(z).astype(int) * levels


# ------------------------------------------------------------------------------- weights, Gi*


@pytest.mark.parametrize("threshold", [SPACING, 1.5 * SPACING, 3.2 * SPACING])
def test_gi_star_equals_esda_on_a_lattice_with_planted_spots(planted, threshold):
    points, values, _, _ = planted
    ours = distance_band(points, threshold)
    theirs, z = _esda_z(values, points, threshold)
    _same_weights(ours, theirs)
    found = gi_star(values, ours, threshold)
    np.testing.assert_allclose(found.z, z, rtol=1e-10)
    assert found.threshold_m == threshold
    assert found.islands.size == 0


@pytest.mark.parametrize("widen", [1.0, 2.5])
def test_gi_star_equals_esda_on_irregular_points(rng, widen):
    points = rng.uniform(0, 3000, (400, 2))
    values = rng.poisson(2 + points[:, 0] / 500).astype(float)  # a gradient west to east
    threshold = neighbour_threshold(points) * widen
    ours = distance_band(points, threshold)
    theirs, z = _esda_z(values, points, threshold)
    _same_weights(ours, theirs)
    found = gi_star(values, ours, threshold)
    np.testing.assert_allclose(found.z, z, rtol=1e-10)
    np.testing.assert_allclose(found.p, 2 * norm.sf(np.abs(z)), rtol=1e-12)
    assert found.bins.dtype == np.int8


@pytest.mark.parametrize("widen", [1.0, 2.5])
def test_gi_star_of_many_periods_at_once_equals_esda_per_period(rng, widen):
    points = rng.uniform(0, 3000, (300, 2))
    threshold = neighbour_threshold(points) * widen
    ours = distance_band(points, threshold)
    periods = np.column_stack(
        [rng.poisson(1 + k + points[:, 0] / 800).astype(float) for k in range(5)]
        + [np.full(300, 4.0)]  # a period where every cell has the same count
    )
    found = gi_star_columns(periods, ours, threshold)
    for j, column in enumerate(found[:-1]):
        _, z = _esda_z(periods[:, j], points, threshold)
        np.testing.assert_allclose(column.z, z, rtol=1e-10, atol=1e-12)
        one = gi_star(periods[:, j], ours, threshold)
        np.testing.assert_array_equal(column.bins, one.bins)
    assert not found[-1].z.any() and not found[-1].bins.any()
    with pytest.raises(ValueError, match="NaN"):
        gi_star_columns(np.full((300, 2), np.nan), ours, threshold)


def test_the_planted_hot_block_is_99_percent_hot_and_the_empty_block_cold(planted):
    points, values, hot, cold = planted
    threshold = 1.5 * SPACING  # the 8 surrounding cells
    found = gi_star(values, distance_band(points, threshold), threshold)
    inner_hot = _block(30, 5, 5, 3)
    inner_cold = _block(30, 21, 21, 3)
    assert (found.bins[inner_hot] == 3).all()
    assert (found.bins[hot] > 0).sum() >= 20
    assert (found.bins[inner_cold] < 0).all()
    assert (found.bins[cold] > 0).sum() == 0
    elsewhere = np.setdiff1d(np.arange(900), np.concatenate([_block(30, 3, 3, 7), cold]))
    assert (found.bins[elsewhere] == 3).sum() == 0


def test_noise_gives_almost_no_spots_after_fdr_and_fewer_than_uncorrected(rng):
    side = 40
    points = _lattice(side)
    values = rng.poisson(5.0, side * side).astype(float)
    threshold = 1.5 * SPACING
    found = gi_star(values, distance_band(points, threshold), threshold)
    corrected = int((found.bins != 0).sum())
    uncorrected = int((found.p < 0.10).sum())
    assert corrected <= 0.01 * len(values)
    assert uncorrected > 3 * max(corrected, 1)  # ~10 % of noise cells pass at p < 0.10


def test_fdr_bins_equal_a_hand_benjamini_hochberg():
    # Sorted: 0.0005 0.0021 0.0025 0.012 0.03 0.2 …; at q = 0.01 the second is above its line
    # (0.0021 > 2 × 0.001) but the third is under (0.0025 < 3 × 0.001): step-up keeps all three.
    p = np.array([0.2, 0.0021, 0.9, 0.03, 0.0005, 0.7, 0.012, 0.5, 0.0025, 0.8])
    z = np.array([1.3, -3.1, 0.1, 2.2, 3.5, -0.4, -2.5, 0.7, 3.0, -0.2])
    expected = [0, -3, 0, 1, 3, 0, -2, 0, 3, 0]
    assert fdr_bins(z, p).tolist() == expected
    assert fdr_bins(z, p).tolist() == _hand_bins(z, p).tolist()
    uncorrected = np.sign(z) * ((p < 0.10).astype(int) + (p < 0.05) + (p < 0.01))
    assert uncorrected[3] == 2  # p = 0.03: 95 % without correction, 90 % with


def test_fdr_bins_count_only_the_tested_cells():
    p = np.array([0.004, 0.03, 0.0001, 0.5])
    z = np.array([3.0, 2.0, 4.0, 0.5])
    tested = np.array([True, True, False, True])
    bins = fdr_bins(z, p, tested)
    assert bins[2] == 0
    hand = _hand_bins(z[tested], p[tested])
    assert bins[tested].tolist() == hand.tolist()


def test_gi_star_bins_equal_a_hand_benjamini_hochberg_of_its_p_values(planted):
    points, values, _, _ = planted
    found = gi_star(values, distance_band(points, 2 * SPACING), 2 * SPACING)
    assert found.bins.tolist() == _hand_bins(found.z, found.p).tolist()
    assert set(np.unique(found.bins)) <= {-3, -2, -1, 0, 1, 2, 3}


def test_gi_star_takes_any_weights_as_binary_and_ignores_their_diagonal(planted):
    points, values, _, _ = planted
    threshold = 2 * SPACING
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)  # libpysal: 0 ** -1
        inverse = libpysal.weights.DistanceBand(points, threshold, binary=False)
    inverse = libpysal.weights.fill_diagonal(inverse, 5.0)
    binary = gi_star(values, distance_band(points, threshold), threshold)
    np.testing.assert_array_equal(gi_star(values, inverse, threshold).z, binary.z)


def test_gi_star_leaves_the_weights_unchanged(planted):
    points, values, _, _ = planted
    weights = distance_band(points, SPACING)
    before = weights.sparse.copy()
    first = gi_star(values, weights, SPACING)
    second = gi_star(values, weights, SPACING)
    assert weights.transform == "O"
    assert (weights.sparse != before).nnz == 0
    np.testing.assert_array_equal(first.z, second.z)


# ------------------------------------------------------------------------ threshold, metres


def test_neighbour_threshold_is_the_smallest_band_without_islands(rng):
    points = rng.uniform(0, 2000, (300, 2))
    threshold = neighbour_threshold(points)
    assert distance_band(points, threshold).islands == []
    assert len(distance_band(points, threshold * 0.999).islands) >= 1
    assert neighbour_threshold(_lattice(5)) == pytest.approx(SPACING)


def test_distance_band_counts_coincident_cells_as_neighbours():
    points = np.array([[0.0, 0.0], [0.0, 0.0], [50.0, 0.0], [500.0, 0.0]])
    weights = distance_band(points, 60.0)
    assert sorted(weights.neighbors[0]) == [1, 2]
    assert weights.islands == [3]


def test_local_metres_keeps_distances_of_a_city():
    offsets = [(0, 0), (3000, 0), (0, 4000), (-12000, 9000), (15000, -20000)]
    lon, lat = (np.array(c) for c in zip(*(lonlat(x, y) for x, y in offsets), strict=True))
    xy = local_metres(lon, lat)
    assert xy.shape == (5, 2)
    np.testing.assert_allclose(xy.mean(axis=0), 0, atol=200)  # centred on the points
    geod = pyproj.Geod(ellps="GRS80")
    for i in range(5):
        for j in range(i + 1, 5):
            _, _, metres = geod.inv(lon[i], lat[i], lon[j], lat[j])
            assert np.hypot(*(xy[i] - xy[j])) == pytest.approx(metres, rel=1e-4)


def test_local_metres_rejects_nan_and_places_outside_china():
    with pytest.raises(ValueError, match="not a finite number"):
        local_metres(np.array([116.4, np.nan]), np.array([39.9, 39.9]))
    with pytest.raises(ValueError, match="outside China"):
        local_metres(np.array([2.35]), np.array([48.85]))


# ------------------------------------------------------------------------------ edge cases


@pytest.mark.parametrize("value", [0.0, 4.0])
def test_constant_values_give_no_spots(value):
    points = _lattice(6)
    found = gi_star(np.full(36, value), distance_band(points, SPACING), SPACING)
    assert (found.z == 0).all()
    assert (found.p == 1).all()
    assert (found.bins == 0).all()


def test_a_single_cell():
    points = np.array([[0.0, 0.0]])
    assert neighbour_threshold(points) == 0.0
    weights = distance_band(points, 0.0)
    found = gi_star(np.array([7.0]), weights, 0.0)
    assert found.z.tolist() == [0.0]
    assert found.bins.tolist() == [0]
    assert found.islands.tolist() == [0]


def test_two_cells_sharing_one_band_are_undefined_not_nan():
    points = np.array([[0.0, 0.0], [30.0, 0.0]])
    found = gi_star(np.array([1.0, 9.0]), distance_band(points, 50.0), 50.0)
    assert found.z.tolist() == [0.0, 0.0]
    assert found.p.tolist() == [1.0, 1.0]


def test_islands_are_reported_keep_their_z_and_get_no_bin(planted):
    points, values, _, _ = planted
    far = np.array([[-5000.0, -5000.0], [9000.0, 0.0]])
    points = np.vstack([points, far])
    values = np.concatenate([values, [60.0, 0.0]])  # a lone, very busy micro-grid
    weights = distance_band(points, 1.5 * SPACING)
    assert weights.islands == [900, 901]
    found = gi_star(values, weights, 1.5 * SPACING)
    assert found.islands.tolist() == [900, 901]
    _, z = _esda_z(values, points, 1.5 * SPACING)
    np.testing.assert_allclose(found.z, z, rtol=1e-10)
    assert found.z[900] > 5
    assert found.bins[900] == 0 and found.bins[901] == 0
    assert (found.bins[_block(30, 5, 5, 3)] == 3).all()


def test_bad_values_are_rejected_with_the_problem_named():
    weights = distance_band(_lattice(3), SPACING)
    values = np.arange(9.0)
    values[4] = np.nan
    with pytest.raises(ValueError, match="NaN: cell 4"):
        gi_star(values, weights, SPACING)
    with pytest.raises(ValueError, match="one number per cell of the weights"):
        gi_star(np.arange(8.0), weights, SPACING)
    with pytest.raises(ValueError, match=">= 0: cell 0"):
        gi_star(np.arange(9.0) - 1, weights, SPACING)
    with pytest.raises(ValueError, match="finite"):
        distance_band(np.array([[0.0, np.nan]]), 10.0)
    with pytest.raises(ValueError, match="threshold"):
        distance_band(_lattice(3), -1.0)


# ---------------------------------------------------------------------------- Mann-Kendall


@pytest.mark.parametrize("periods", [2, 5, 12])
def test_mann_kendall_equals_pymannkendall_with_ties(rng, periods):
    series = rng.integers(0, 4, (300, periods)).astype(float)  # many ties
    series[:100] += np.arange(periods) * rng.uniform(0, 0.6, (100, 1))  # some trends
    series[0] = 2.0  # all tied
    series[1] = np.arange(periods)  # strictly increasing
    s, z, p = mann_kendall(series)
    assert s.dtype == np.int64
    for i, row in enumerate(series):
        theirs = pymannkendall.original_test(row)
        assert s[i] == theirs.s
        np.testing.assert_allclose(z[i], theirs.z, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(p[i], theirs.p, rtol=1e-9, atol=1e-14)


def test_mann_kendall_of_a_single_period_and_bad_input():
    s, z, p = mann_kendall(np.array([[3.0], [1.0]]))
    assert s.tolist() == [0, 0] and z.tolist() == [0, 0] and p.tolist() == [1, 1]
    with pytest.raises(ValueError, match=r"NaN: cell 1, period 2"):
        mann_kendall(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, np.nan]]))
    with pytest.raises(ValueError, match=r"\(cells, periods\)"):
        mann_kendall(np.arange(5.0))


# -------------------------------------------------------------------------------- emerging

HISTORIES = {
    # kind: (z per period, bins per period), six periods, oldest first
    "intensifying": ([2.0, 2.6, 3.1, 3.5, 4.2, 5.0], [1, 2, 3, 3, 3, 3]),
    "diminishing": ([6.0, 5.1, 4.4, 3.8, 3.3, 2.9], [3, 3, 3, 3, 3, 2]),
    "persistent": ([3.4, 3.1, 3.6, 3.2, 3.5, 3.3], [3, 3, 3, 3, 3, 3]),
    "new": ([0.2, -0.1, 0.4, 0.3, 0.1, 3.4], [0, 0, 0, 0, 0, 3]),
    "consecutive": ([0.1, 0.2, 0.0, 2.8, 3.0, 3.1], [0, 0, 0, 2, 3, 3]),
    "sporadic": ([2.9, 0.3, 3.0, 0.1, 0.2, 3.1], [2, 0, 2, 0, 0, 3]),
    "cold": ([-0.5, -1.0, -2.0, -2.5, -3.0, -3.2], [0, 0, -1, -2, -3, -3]),
    "none": ([0.3, 0.2, 0.4, 0.3, 0.1, 0.2], [0, 0, 0, 0, 0, 0]),
}


def test_emerging_kinds_of_hand_made_histories():
    z = np.array([z for z, _ in HISTORIES.values()])
    bins = np.array([bins for _, bins in HISTORIES.values()])
    assert emerging(z, bins) == list(HISTORIES)


def test_historical_is_mostly_hot_but_not_lately():
    # 90 % of the periods needs ten periods to leave one out
    z = np.array([[3.0, 3.2, 3.1, 3.3, 3.0, 3.4, 3.2, 3.1, 3.3, 3.0, 0.4]])
    bins = np.array([[3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0]])
    assert emerging(z, bins) == ["historical"]
    bins[0, 4] = 0  # hot in 9 of 11: no longer mostly hot
    assert emerging(z, bins) == ["none"]


def test_worsening_is_a_significant_rise_of_z():
    z = np.array(
        [
            HISTORIES["intensifying"][0],
            HISTORIES["persistent"][0],
            HISTORIES["diminishing"][0],
            [-2.0, -1.5, -1.0, -0.5, 0.0, 0.5],  # not hot yet, getting hotter
            [1.0] * 6,  # flat
        ]
    )
    assert worsening(z).tolist() == [True, False, False, True, False]
    assert worsening(z, alpha=0.001).tolist() == [False] * 5


def test_a_cluster_growing_month_by_month_is_intensifying(rng):
    side, months = 30, 6
    points = _lattice(side)
    weights = distance_band(points, 1.5 * SPACING)
    centre = _block(side, 13, 13, 3)
    results = []
    for month in range(months):
        values = rng.poisson(5.0, side * side).astype(float)
        values[centre] += 12 + 6 * month
        results.append(gi_star(values, weights, 1.5 * SPACING))
    z = np.column_stack([r.z for r in results])
    bins = np.column_stack([r.bins for r in results])
    kinds = emerging(z, bins)
    middle = centre[4]
    assert kinds[middle] == "intensifying"
    assert worsening(z)[middle]
    assert worsening(z).mean() < 0.1
    assert kinds.count("none") > 0.9 * len(kinds)


def test_emerging_rejects_mismatched_or_impossible_bins():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="shape of z_by_period"):
        emerging(z, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"-3\.\.3"):
        emerging(z, np.full((2, 3), 4))
    with pytest.raises(ValueError, match="NaN"):
        emerging(np.full((2, 3), np.nan), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="alpha"):
        worsening(z, alpha=1.5)


def test_module_constants():
    assert hotspots.CONFIDENCE_LEVELS == (0.10, 0.05, 0.01)
    assert EMERGING_KINDS[-1] == "none"
