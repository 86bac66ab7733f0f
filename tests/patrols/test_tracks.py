"""Reading and cleaning tracks (no database): GPX and GeoJSON, GCJ-02, and bad tracks that are
cleaned with a report or refused naming the point."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from gridmap.spatial.crs import SpatialInputError, wgs84_to_gcj02
from gridmap.spatial.tracks import RawTrack, clean_track, haversine_m, read_track
from tests.patrols.conftest import HOME, geojson_of, gpx_of, iso, walk

T0 = dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)
#: An XML entity bomb: expat refuses to expand it, so it is a malformed file, not a hang.
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE g [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
    )
    + b"]><gpx><trk><name>&i;</name></trk></gpx>"
)


def a_walk(n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return walk((HOME[0] - 0.002, HOME[1]), (HOME[0] + 0.002, HOME[1]), n, T0)


def test_gpx_is_read_over_segments_in_file_order():
    lon, lat, t = a_walk(30)
    raw = read_track(gpx_of(lon, lat, t, segments=3))
    assert raw.source == "gpx"
    np.testing.assert_allclose(raw.x, lon)
    np.testing.assert_allclose(raw.y, lat)
    np.testing.assert_allclose(raw.t, t)


def test_geojson_line_and_point_collection_read_the_same():
    lon, lat, t = a_walk(10)
    line = read_track(geojson_of(lon, lat, t))
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": {"time": s},  # UNIX seconds work as well as ISO text
            }
            for x, y, s in zip(lon.tolist(), lat.tolist(), t.tolist(), strict=True)
        ],
    }
    points = read_track(json.dumps(collection).encode())
    for a, b in ((line.x, points.x), (line.y, points.y), (line.t, points.t)):
        np.testing.assert_allclose(a, b)


def test_multilinestring_with_times_per_line():
    lon, lat, t = a_walk(10)
    feature = {
        "type": "Feature",
        "geometry": {
            "type": "MultiLineString",
            "coordinates": [
                [[x, y] for x, y in zip(lon[:5], lat[:5], strict=True)],
                [[x, y] for x, y in zip(lon[5:], lat[5:], strict=True)],
            ],
        },
        "properties": {
            "coordinateProperties": {"times": [[iso(s) for s in t[:5]], t[5:].tolist()]}
        },
    }
    raw = read_track(json.dumps(feature, default=float).encode())
    np.testing.assert_allclose(raw.t, t)


def test_gcj02_track_is_converted_to_the_true_positions():
    lon, lat, t = a_walk()
    gx, gy = wgs84_to_gcj02(lon, lat)
    # The GCJ-02 offset in central Beijing is about 570 m (0.0062° east, 0.0014° north).
    shift = haversine_m(lon, lat, gx, gy)
    assert 500 < shift.min() <= shift.max() < 650
    cleaned = clean_track(read_track(gpx_of(gx, gy, t)), "GCJ02")
    assert cleaned.report["crs"] == "gcj02" and cleaned.report["points_kept"] == len(t)
    assert haversine_m(cleaned.lon, cleaned.lat, lon, lat).max() < 0.01
    bd = clean_track(RawTrack(gx, gy, t), "EPSG:4326")  # declared wrongly: stays 570 m off
    assert haversine_m(bd.lon, bd.lat, lon, lat).min() > 500


def test_unordered_timestamps_are_sorted_and_reported():
    lon, lat, t = a_walk(20)
    order = np.r_[0:5, 10:15, 5:10, 15:20]  # a GPX whose segments were merged out of order
    cleaned = clean_track(RawTrack(lon[order], lat[order], t[order]))
    np.testing.assert_allclose(cleaned.t, t)
    np.testing.assert_allclose(cleaned.lon, lon)
    assert cleaned.report["reordered"] == 5
    assert cleaned.report["dropped"]["teleport"] == 0


def test_duplicate_fixes_are_dropped():
    lon, lat, t = a_walk(20)
    twice = np.r_[np.arange(20), [3, 7, 7]]
    cleaned = clean_track(RawTrack(lon[twice], lat[twice], t[twice]))
    assert cleaned.report["dropped"]["duplicate_time"] == 3
    assert cleaned.report["dropped_points"]["duplicate_time"] == [20, 21, 22]
    assert len(cleaned.t) == 20


def test_a_teleport_spike_is_dropped_and_named():
    lon, lat, t = a_walk(40)
    lon, lat = lon.copy(), lat.copy()
    lon[17] += 0.05  # 4 km east for one fix, 5 s either side: 850 m/s
    lat[0] -= 0.01  # the first fix 1 km south
    cleaned = clean_track(RawTrack(lon, lat, t), max_speed_mps=30)
    assert cleaned.report["dropped"]["teleport"] == 2
    assert sorted(cleaned.report["dropped_points"]["teleport"]) == [0, 17]
    assert cleaned.parts == [(0, 38)]
    assert cleaned.report["length_m"] < 360  # the walk itself, not the detours


def test_a_sustained_jump_splits_the_track_instead_of_joining_it():
    lon, lat, t = a_walk(40)
    lon = lon.copy()
    lon[20:] += 0.05  # the phone lost its fix and came back 4 km east
    cleaned = clean_track(RawTrack(lon, lat, t))
    assert cleaned.parts == [(0, 20), (20, 40)]
    assert cleaned.report["breaks"][0]["before_point"] == 20
    assert cleaned.report["breaks"][0]["speed_mps"] > 800


def test_a_short_piece_after_a_jump_is_dropped():
    lon, lat, t = a_walk(40)
    lon = lon.copy()
    lon[10:12] += 0.05  # two fixes far away: no spike alone, a short part
    cleaned = clean_track(RawTrack(lon, lat, t))
    assert cleaned.report["dropped"]["short_part"] == 2
    assert len(cleaned.parts) == 2  # the walk before and after the glitch
    assert 10 not in cleaned.index and 11 not in cleaned.index


def test_points_outside_china_among_good_ones_are_dropped():
    lon, lat, t = a_walk(10)
    lon = lon.copy()
    lon[4] = 0.0
    cleaned = clean_track(RawTrack(lon, lat, t))
    assert cleaned.report["dropped"]["outside_china"] == 1
    assert cleaned.report["dropped_points"]["outside_china"] == [4]


def test_a_standing_phone_gives_no_line():
    t = T0.timestamp() + np.arange(5, dtype=np.float64) * 5.0
    cleaned = clean_track(RawTrack(np.full(5, HOME[0]), np.full(5, HOME[1]), t))
    assert not cleaned.usable and cleaned.report["dropped"]["no_movement"] == 5
    with pytest.raises(SpatialInputError, match="no usable track"):
        cleaned.require_line()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "neither GPX"),
        (b"hello", "neither GPX"),
        (b"<gpx><trk><trkseg>", "not a readable GPX"),
        (b'<gpx><trk><trkseg><trkpt lat="abc" lon="1"/></trkseg></trk></gpx>', "GPX"),
        (b"<gpx>\xff</gpx>", "UTF-8"),
        (b"{", "not readable JSON"),
        (b"[" * 100_000, "JSON"),
        (b'{"type": "Point", "coordinates": [116.4, 39.9]}', "no track"),
        (b'{"type": "LineString", "coordinates": [[116.4, 39.9]]}', "no times"),
        (
            b'{"type": "Feature", "properties": {"times": [1]}, '
            b'"geometry": {"type": "LineString", "coordinates": [[116.4, 39.9], [116.5, 39.9]]}}',
            "1 times for 2 positions",
        ),
        (
            b'{"type": "Feature", "properties": {"times": [1767574800, 1767574805]}, '
            b'"geometry": {"type": "LineString", "coordinates": [[116.4, 39.9], ["x", 39.9]]}}',
            "point 1",
        ),
        (b'{"type": "FeatureCollection", "features": []}', "no features"),
        (BILLION_LAUGHS, "not a readable GPX"),
    ],
)
def test_malformed_files_are_refused_with_a_clear_message(data, words):
    with pytest.raises(SpatialInputError) as caught:
        clean_track(read_track(data))
    assert words in str(caught.value)


def test_a_gpx_point_without_time_is_named():
    lon, lat, t = a_walk(5)
    text = gpx_of(lon, lat, t).decode().replace(f"<time>{iso(t[3])}</time>", "")
    with pytest.raises(SpatialInputError, match="point 3: has no readable <time>"):
        read_track(text.encode())


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda x, y, t: (x[:0], y[:0], t[:0]), "no points"),
        (lambda x, y, t: (np.where(np.arange(len(x)) == 2, np.nan, x), y, t), "point 2"),
        (lambda x, y, t: (x, y, np.where(np.arange(len(t)) == 1, np.nan, t)), "point 1: time"),
        (lambda x, y, t: (x * 0 + 2.35, y * 0 + 48.85, t), "no point lies in China"),
        (lambda x, y, t: (y, x, t), "swapped"),
        (lambda x, y, t: (x, y, t - 1e9), "before 2000"),
        (lambda x, y, t: (x, y, t + 1e8), "in the future"),
    ],
)
def test_impossible_tracks_are_refused_naming_the_point(change, words):
    lon, lat, t = a_walk(5)
    with pytest.raises(SpatialInputError) as caught:
        clean_track(RawTrack(*change(lon, lat, t)), latest=float(t.max()) + 86_400)
    assert words in str(caught.value)


def test_cleaning_is_vectorised_enough_for_a_day_of_fixes():
    """12 hours at one fix a second, with glitches, cleans in well under a second."""
    n = 43_200
    rng = np.random.default_rng(7)
    lon, lat, t = walk((116.40, 39.90), (116.42, 39.92), n, T0, step_s=1.0)
    lon = lon + rng.normal(0, 2e-6, n)
    spikes = rng.choice(n, 200, replace=False)
    lon[spikes] += 0.02
    start = dt.datetime.now()
    cleaned = clean_track(RawTrack(lon, lat, t))
    assert (dt.datetime.now() - start).total_seconds() < 2
    assert cleaned.report["dropped"]["teleport"] >= 190
