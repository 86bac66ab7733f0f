"""CRS parsing, GCJ-02/BD-09/Gauss–Krüger conversion and the China sanity checks."""

import numpy as np
import pyproj
import pytest
import shapely
from geopandas import GeoSeries

from gridmap.spatial.crs import (
    SpatialInputError,
    bd09_to_wgs84,
    check_geometries_in_china,
    check_lonlat,
    gcj02_to_wgs84,
    geoseries_to_cgcs2000,
    parse_crs,
    to_cgcs2000,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

METRES_PER_DEGREE = 111_320.0
TIANANMEN = (116.397428, 39.90923)  # WGS 84


@pytest.mark.parametrize(
    ("text", "name", "geographic"),
    [
        ("EPSG:4326", "EPSG:4326", True),
        ("4326", "EPSG:4326", True),
        ("WGS84", "EPSG:4326", True),
        ("wgs 84", "EPSG:4326", True),
        ("epsg:4490", "EPSG:4490", True),
        ("4490", "EPSG:4490", True),
        ("CGCS2000", "EPSG:4490", True),
        ("cgcs 2000", "EPSG:4490", True),
        ("EPSG:4491", "EPSG:4491", False),
        ("EPSG:4548", "EPSG:4548", False),
        ("4554", "EPSG:4554", False),
        ("GCJ02", "gcj02", True),
        ("gcj-02", "gcj02", True),
        ("BD09", "bd09", True),
        ("bd-09", "bd09", True),
        ("urn:ogc:def:crs:EPSG::4490", "EPSG:4490", True),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326", True),
    ],
)
def test_parse_crs_accepts(text, name, geographic):
    crs = parse_crs(text)
    assert (crs.name, crs.geographic) == (name, geographic)


@pytest.mark.parametrize("text", ["", "  ", None, "EPSG:3857", "3857", "EPSG:4555", "4490x", "wgs"])
def test_parse_crs_rejects_naming_allowed_values(text):
    with pytest.raises(SpatialInputError, match="allowed: EPSG:4326") as err:
        parse_crs(text)
    assert "GCJ02" in err.value.message and "BD09" in err.value.message


def _random_china(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(74, 135, n), rng.uniform(18, 53, n)


def test_gcj02_round_trip_below_half_a_metre():
    lon, lat = _random_china(50_000)
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    error_m = np.hypot((back_lon - lon) * np.cos(np.radians(lat)), back_lat - lat)
    assert error_m.max() * METRES_PER_DEGREE < 0.5


def test_bd09_round_trip_below_half_a_metre():
    lon, lat = _random_china(50_000, seed=1)
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    error_m = np.hypot((back_lon - lon) * np.cos(np.radians(lat)), back_lat - lat)
    assert error_m.max() * METRES_PER_DEGREE < 0.5


def test_gcj02_shift_around_beijing_is_hundreds_of_metres_north_east():
    glon, glat = wgs84_to_gcj02(*TIANANMEN)
    east = (glon - TIANANMEN[0]) * METRES_PER_DEGREE * np.cos(np.radians(TIANANMEN[1]))
    north = (glat - TIANANMEN[1]) * METRES_PER_DEGREE
    # AMap shows Tiananmen about 530 m east and 155 m north of its GPS position.
    assert 450 < east < 600
    assert 100 < north < 200
    assert 100 < np.hypot(east, north) < 700


def test_bd09_is_further_shifted_than_gcj02():
    glon, glat = wgs84_to_gcj02(*TIANANMEN)
    blon, blat = wgs84_to_bd09(*TIANANMEN)
    # Baidu adds roughly +0.0065° lon, +0.006° lat on top of GCJ-02.
    assert 0.005 < blon - glon < 0.008
    assert 0.005 < blat - glat < 0.008


def test_gcj02_is_identity_outside_china():
    lon, lat = np.array([2.35, -74.0]), np.array([48.85, 40.7])
    assert np.array_equal(wgs84_to_gcj02(lon, lat)[0], lon)
    assert np.array_equal(gcj02_to_wgs84(lon, lat)[1], lat)


@pytest.mark.parametrize("epsg", [4548, 4527, 4491 + 7, 4509])
def test_gauss_kruger_inverse_matches_pyproj_forward(epsg):
    lon = np.array([116.40, 116.45, 117.2, 118.9])
    lat = np.array([39.90, 39.95, 39.1, 40.5])
    forward = pyproj.Transformer.from_crs("EPSG:4490", f"EPSG:{epsg}", always_xy=True)
    x, y = forward.transform(lon, lat)
    back_lon, back_lat = to_cgcs2000(x, y, parse_crs(f"EPSG:{epsg}"))
    assert np.abs(back_lon - lon).max() < 1e-8
    assert np.abs(back_lat - lat).max() < 1e-8


def test_to_cgcs2000_identity_for_geographic_inputs():
    lon, lat = np.array([116.4]), np.array([39.9])
    for text in ("EPSG:4326", "EPSG:4490"):
        out = to_cgcs2000(lon, lat, parse_crs(text))
        assert out[0][0] == 116.4 and out[1][0] == 39.9


def test_geoseries_to_cgcs2000_converts_every_vertex_and_keeps_index():
    square = shapely.box(116.40, 39.90, 116.41, 39.91)
    series = GeoSeries([square, shapely.Point(116.4, 39.9)], index=[7, 9])
    out = geoseries_to_cgcs2000(series, parse_crs("GCJ-02"), densify_m=None)
    assert out.crs.to_epsg() == 4490
    assert list(out.index) == [7, 9]
    coords = shapely.get_coordinates(square)
    expected = np.column_stack(gcj02_to_wgs84(coords[:, 0], coords[:, 1]))
    assert np.allclose(shapely.get_coordinates(out.iloc[0]), expected, atol=1e-12, rtol=0)
    plain = geoseries_to_cgcs2000(np.array([square], dtype=object), parse_crs("4490"))
    assert plain.iloc[0].equals(square)


@pytest.mark.parametrize(("declared", "bend_m"), [("GCJ02", 0.5), ("BD09", 10.0)])
def test_long_edges_are_densified_before_conversion_so_shared_edges_stay_shared(declared, bend_m):
    # A 5 km east-west edge (bent most: 0.9 m by GCJ-02, 30 m by BD-09), and the same edge cut
    # at a T-junction.
    a, b = (116.33, 39.90), (116.3885, 39.90)
    t = (116.33 + 0.0585 / 3, 39.90)
    whole = shapely.LineString([a, b])
    halves = shapely.MultiLineString([[a, t], [t, b]])
    lines = np.array([whole, halves], dtype=object)
    metres = 111_320.0
    bare = geoseries_to_cgcs2000(lines, parse_crs(declared), densify_m=None)
    assert bare.iloc[0].hausdorff_distance(bare.iloc[1]) * metres > bend_m  # bent apart
    dense = geoseries_to_cgcs2000(lines, parse_crs(declared))
    assert dense.iloc[0].hausdorff_distance(dense.iloc[1]) * metres < 0.01
    assert shapely.get_num_coordinates(dense.iloc[0]) > 5000 / 50


def test_check_lonlat_accepts_china():
    check_lonlat([116.4, 121.5, 87.6], [39.9, 31.2, 43.8])


def test_check_lonlat_names_the_nan_index():
    with pytest.raises(SpatialInputError, match="not a finite number") as err:
        check_lonlat([116.4, np.nan], [39.9, 39.9], label="row")
    assert err.value.where == "row 1"


def test_check_lonlat_rejects_infinity():
    with pytest.raises(SpatialInputError) as err:
        check_lonlat([116.4], [np.inf])
    assert err.value.where == "point 0"


def test_check_lonlat_outside_china_reports_index_and_value():
    with pytest.raises(SpatialInputError, match=r"lon=2\.35, lat=48\.85 is outside China") as err:
        check_lonlat([116.4, 116.5, 2.35], [39.9, 39.9, 48.85])
    assert err.value.where == "point 2"
    assert "swapped" not in err.value.message


def test_check_lonlat_detects_swapped_pair():
    with pytest.raises(SpatialInputError, match="look swapped") as err:
        check_lonlat([39.9], [116.4], label="coordinate")
    assert err.value.where == "coordinate 0"


def test_check_lonlat_hints_at_projected_metres():
    with pytest.raises(SpatialInputError, match="projected metres"):
        check_lonlat([500_000.0], [4_420_000.0])


def test_check_geometries_in_china():
    good = shapely.box(116.4, 39.9, 116.5, 40.0)
    check_geometries_in_china(np.array([good], dtype=object))
    with pytest.raises(SpatialInputError, match="missing or empty") as err:
        check_geometries_in_china(GeoSeries([good, shapely.Polygon()]))
    assert err.value.where == "feature 1"
    with np.errstate(invalid="ignore"):  # shapely warns when building it; that is the point
        nan_square = shapely.Polygon([(116.4, 39.9), (116.5, np.nan), (116.5, 40.0), (116.4, 39.9)])
    with pytest.raises(SpatialInputError, match="not a finite number"):
        check_geometries_in_china(np.array([good, nan_square], dtype=object))
    with pytest.raises(SpatialInputError, match="look swapped") as err:
        check_geometries_in_china(np.array([shapely.box(39.9, 116.4, 40.0, 116.5)], dtype=object))
    assert err.value.where == "feature 0"
