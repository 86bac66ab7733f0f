"""Shared helpers for the spatial tests: metric squares near Beijing and a small generated grid."""

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from gridmap.spatial.generate import generate_grid

# Hand-made shapes are drawn in metres in the local Gauss–Krüger zone (CM 117E) and converted to
# EPSG:4490, so that "5 m outside" or "1000 m² overlap" are exact.
ORIGIN = (447_000.0, 4_418_000.0)  # about 116.38E, 39.91N in EPSG:4548
_TO_LONLAT = pyproj.Transformer.from_crs("EPSG:4548", "EPSG:4490", always_xy=True)


def lonlat(x: float, y: float) -> tuple[float, float]:
    """A point given in metres from ORIGIN, as lon/lat."""
    lon, lat = _TO_LONLAT.transform(ORIGIN[0] + x, ORIGIN[1] + y)
    return float(lon), float(lat)


def metric_polygon(coords: list[tuple[float, float]]) -> shapely.Polygon:
    """A polygon from metre offsets, densified so that its edges stay straight in metres."""
    ring = shapely.segmentize(shapely.LineString([*coords, coords[0]]), 10.0)
    return shapely.Polygon([lonlat(x, y) for x, y in shapely.get_coordinates(ring)])


def metric_box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return metric_polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


SMALL_OUTLINE = shapely.Polygon(
    [(116.40, 39.90), (116.43, 39.902), (116.432, 39.925), (116.405, 39.93), (116.398, 39.915)]
)


@pytest.fixture(scope="session")
def small_grid() -> gpd.GeoDataFrame:
    """About 10 communities, 45 zones, 500 micro-grids."""
    return generate_grid(SMALL_OUTLINE, communities=10, streets=3, seed=7)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)
