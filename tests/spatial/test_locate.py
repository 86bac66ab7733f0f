"""locate_points against geopandas.sjoin, and the boundary rule (smallest id wins)."""

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridmap.spatial.locate import Locator, locate_points


def _voronoi(n: int, rng: np.random.Generator) -> np.ndarray:
    box = shapely.box(116.30, 39.85, 116.45, 39.97)
    seeds = shapely.multipoints(
        np.column_stack([rng.uniform(116.30, 116.45, n), rng.uniform(39.85, 39.97, n)])
    )
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=box))
    return shapely.intersection(cells, box)


def _sjoin_min(lon, lat, ids, geoms) -> np.ndarray:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat))
    polygons = gpd.GeoDataFrame({"gid": ids}, geometry=geoms)
    joined = gpd.sjoin(points, polygons, predicate="intersects", how="left")
    best = joined.groupby(level=0)["gid"].min().reindex(range(len(lon)))
    return best.fillna(-1).astype(np.int64).to_numpy()


@pytest.mark.parametrize("n_points", [50, 20_000])  # the exact path, and the raster path
def test_matches_sjoin_on_random_data(rng, n_points):
    geoms = _voronoi(300, rng)
    ids = rng.permutation(len(geoms)).astype(np.int64) + 100
    # Points inside, outside the extent, and exactly on vertices (boundaries of 2-3 cells).
    vertices = shapely.get_coordinates(geoms)[: n_points // 5]
    lon = np.r_[rng.uniform(116.28, 116.47, n_points), vertices[:, 0]]
    lat = np.r_[rng.uniform(39.83, 39.99, n_points), vertices[:, 1]]
    got = locate_points(lon, lat, ids, geoms)
    assert np.array_equal(got, _sjoin_min(lon, lat, ids, shapely.from_wkb(shapely.to_wkb(geoms))))
    assert (got[n_points:] >= 0).all()  # boundary points are never lost


def test_a_locator_fed_in_batches_answers_as_one_call(rng):
    """An import's chunks: the first batches go the exact way, later ones through the raster
    built once the points seen pay for it, each cell decided once."""
    geoms = _voronoi(300, rng)
    ids = rng.permutation(len(geoms)).astype(np.int64) + 100
    vertices = shapely.get_coordinates(geoms)[:2000]
    lon = np.r_[rng.uniform(116.28, 116.47, 8000), vertices[:, 0], np.nan]
    lat = np.r_[rng.uniform(39.83, 39.99, 8000), vertices[:, 1], 39.9]
    order = rng.permutation(len(lon))
    lon, lat = lon[order], lat[order]
    locate = Locator(ids, geoms)
    batches = [locate(lon[i : i + 1000], lat[i : i + 1000]) for i in range(0, len(lon), 1000)]
    assert locate._cells is not None  # 10 000 points > 8 per polygon: the raster was used
    found = np.concatenate(batches)
    assert np.array_equal(found, _sjoin_min(lon, lat, ids, shapely.from_wkb(shapely.to_wkb(geoms))))
    assert found[np.isnan(lon)].tolist() == [-1]


def test_boundary_goes_to_smallest_id():
    left = shapely.box(116.0, 39.0, 116.1, 39.1)
    right = shapely.box(116.1, 39.0, 116.2, 39.1)
    top = shapely.box(116.0, 39.1, 116.2, 39.2)
    ids = np.array([30, 20, 10])
    lon = np.array([116.1, 116.1, 116.05, 116.0])
    lat = np.array([39.05, 39.1, 39.05, 39.05])  # shared edge, shared corner, interior, outer edge
    got = locate_points(lon, lat, ids, np.array([left, right, top], dtype=object))
    assert got.tolist() == [20, 10, 30, 30]


def test_overlapping_polygons_give_smallest_id_and_holes_none():
    outer = shapely.Polygon(
        shapely.box(116.0, 39.0, 116.4, 39.4).exterior.coords,
        [shapely.box(116.1, 39.1, 116.2, 39.2).exterior.coords],
    )
    overlapping = shapely.box(116.3, 39.3, 116.5, 39.5)
    ids = np.array([5, 3])
    lon = np.array([116.15, 116.35, 116.05, 116.45])
    lat = np.array([39.15, 39.35, 39.05, 39.45])
    got = locate_points(lon, lat, ids, np.array([outer, overlapping], dtype=object))
    assert got.tolist() == [-1, 3, 5, 3]


def test_nan_outside_and_empty_inputs():
    square = shapely.box(116.0, 39.0, 116.1, 39.1)
    geoms = np.array([square, shapely.Polygon(), None], dtype=object)
    got = locate_points([np.nan, 120.0, 116.05], [39.05, 30.0, 39.05], [1, 2, 3], geoms)
    assert got.tolist() == [-1, -1, 1]
    assert locate_points([], [], [1], [square]).shape == (0,)
    assert locate_points([116.05], [39.05], [], []).tolist() == [-1]


def test_raster_path_agrees_with_many_points_in_few_polygons(rng):
    # Thin and concave polygons stress the "no boundary in this cell" shortcut.
    comb = shapely.Polygon([(0, 0), (10, 0), (10, 1), (1, 1), (1, 2), (10, 2), (10, 3), (0, 3)])
    comb = shapely.transform(comb, lambda c: c * 0.01 + np.array([116.0, 39.0]))
    sliver = shapely.box(116.0, 39.0305, 116.1, 39.03051)
    geoms = np.array([comb, sliver, shapely.box(116.05, 39.0, 116.06, 39.05)], dtype=object)
    lon, lat = rng.uniform(115.99, 116.11, 30_000), rng.uniform(38.99, 39.04, 30_000)
    got = locate_points(lon, lat, [7, 8, 9], geoms)
    assert np.array_equal(got, _sjoin_min(lon, lat, [7, 8, 9], geoms))


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="lat"):
        locate_points([1.0, 2.0], [1.0], [1], [shapely.box(0, 0, 1, 1)])
