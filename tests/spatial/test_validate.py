"""validate_grids on hand-made squares (one problem kind each) and on generated grids."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from gridmap.spatial.validate import PROBLEM_KINDS, validate_grids

from .conftest import lonlat, metric_box, metric_polygon

C = "110101001001"
Z1, Z2 = C + "01", C + "02"
M1, M2 = Z1 + "001", Z1 + "002"
GRID_FILE = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "dongcheng_grid.geojson"


def _frame(rows: list[tuple]) -> gpd.GeoDataFrame:
    """Rows of (code, level, geometry[, kind[, parent_code]])."""
    records = []
    for row in rows:
        code, level, geom, *rest = row
        kind = rest[0] if rest else "ordinary"
        parent = rest[1] if len(rest) > 1 else None
        records.append(
            {
                "code": code,
                "name": code,
                "level": level,
                "kind": kind,
                "parent_code": parent,
                "geometry": geom,
            }
        )
    return gpd.GeoDataFrame(records, geometry="geometry", crs="EPSG:4490")


def _clean_rows(**replace) -> list[tuple]:
    """A 200 m community, two zones of 100 m x 200 m, zone 1 cut into two micro-grids."""
    rows = {
        C: (C, "community", metric_box(0, 0, 200, 200)),
        Z1: (Z1, "zone", metric_box(0, 0, 100, 200)),
        Z2: (Z2, "zone", metric_box(100, 0, 200, 200)),
        M1: (M1, "micro", metric_box(0, 0, 100, 100)),
        M2: (M2, "micro", metric_box(0, 100, 100, 200)),
    }
    rows.update(replace)
    return [r for r in rows.values() if r is not None]


def _kinds(report) -> list[str]:
    return sorted(p.kind for p in report.problems)


def test_clean_hand_made_grid_passes():
    report = validate_grids(_frame(_clean_rows()))
    assert report.ok, report.as_text()
    assert report.as_text() == "grid file OK: no problems found"
    assert report.as_dicts() == []


def test_bow_tie_is_invalid_with_its_location():
    bow_tie = metric_polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    report = validate_grids(_frame(_clean_rows(**{M1: (M1, "micro", bow_tie)})))
    problems = [p for p in report.problems if p.kind == "invalid_geometry"]
    assert len(problems) == 1 and problems[0].code == M1
    assert "Self-intersection" in problems[0].message
    lon, lat = lonlat(50, 50)
    assert problems[0].lon == pytest.approx(lon, abs=1e-6)
    assert problems[0].lat == pytest.approx(lat, abs=1e-6)


def test_child_five_metres_outside_parent():
    poking = metric_box(0, -5, 100, 100)
    report = validate_grids(_frame(_clean_rows(**{M1: (M1, "micro", poking)})))
    assert _kinds(report) == ["outside_parent"]
    problem = report.problems[0]
    assert problem.code == M1 and Z1 in problem.message
    assert "reaches 5.0 m outside" in problem.message_en
    assert problem.lat is not None
    assert problem.lat < lonlat(50, 0)[1]  # the worst point is south of the zone's edge
    loose = validate_grids(
        _frame(_clean_rows(**{M1: (M1, "micro", poking)})), inside_tolerance_m=6.0
    )
    assert loose.ok


def test_edge_across_a_notch_counts_mid_edge():
    # The zone has a 20 m deep notch; the micro-grid's straight edge crosses it, so its vertices
    # are all on the zone but the middle of its edge, (50, 0), is 200/sqrt(500) = 8.9 m away.
    notched = metric_polygon([(0, 0), (40, 0), (50, 20), (60, 0), (100, 0), (100, 200), (0, 200)])
    rows = _clean_rows(**{Z1: (Z1, "zone", notched), M2: None})
    rows.append((M2, "micro", metric_polygon([(0, 100), (0, 200), (100, 200), (100, 100)])))
    rows = [r if r[0] != M1 else (M1, "micro", metric_box(0, 0, 100, 100)) for r in rows]
    report = validate_grids(_frame(rows))
    outside = [p for p in report.problems if p.kind == "outside_parent"]
    assert len(outside) == 1 and outside[0].code == M1
    assert "reaches 8.9 m outside" in outside[0].message_en
    assert outside[0].lon == pytest.approx(lonlat(50, 0)[0], abs=2e-6)
    assert isinstance(outside[0].row, int)


def test_overlapping_siblings_with_area_and_point():
    report = validate_grids(_frame(_clean_rows(**{M2: (M2, "micro", metric_box(0, 90, 100, 200))})))
    assert _kinds(report) == ["overlap"]
    problem = report.problems[0]
    assert M1 in problem.message and M2 in problem.message
    assert "1000.0 m²" in problem.message_en
    inside = shapely.Point(problem.lon, problem.lat)
    assert metric_box(0, 90, 100, 100).buffer(1e-7).contains(inside)


def test_overlap_below_sliver_is_ignored():
    sliver = metric_box(0, 99.995, 100, 200)  # 0.5 m²
    assert validate_grids(_frame(_clean_rows(**{M2: (M2, "micro", sliver)}))).ok


def test_gap_between_children():
    report = validate_grids(
        _frame(_clean_rows(**{M2: (M2, "micro", metric_box(0, 110, 100, 200))}))
    )
    assert _kinds(report) == ["gap"]
    problem = report.problems[0]
    assert problem.code == Z1 and "1000.0 m²" in problem.message_en
    assert (
        metric_box(0, 100, 100, 110).buffer(1e-7).contains(shapely.Point(problem.lon, problem.lat))
    )


def test_no_gap_check_for_parents_without_children():
    rows = [r for r in _clean_rows() if r[2] is not None and r[1] != "micro"]
    rows = [r for r in rows if r[0] != Z2]  # the community is then half covered: a gap
    assert _kinds(validate_grids(_frame(rows))) == ["gap"]
    communities_only = [r for r in _clean_rows() if r[1] == "community"]
    assert validate_grids(_frame(communities_only)).ok


def test_duplicate_code():
    rows = [*_clean_rows(), (M2, "micro", metric_box(0, 100, 100, 200))]
    report = validate_grids(_frame(rows))
    assert _kinds(report) == ["duplicate_code"]
    assert "appears 2 times" in report.problems[0].message_en


def test_malformed_codes():
    rows = _clean_rows(**{Z2: ("1101010010010", "zone", metric_box(100, 0, 200, 200))})
    rows.append(("11010100100A", "community", metric_box(500, 500, 600, 600)))
    report = validate_grids(_frame(rows))
    # The malformed zone belongs to no community, so the community also shows a gap.
    assert _kinds(report) == ["gap", "malformed_code", "malformed_code"]
    assert any("must be 14 digits" in p.message_en for p in report.problems)


def test_orphans_missing_parent_and_wrong_level():
    rows = _clean_rows(**{M2: (C + "09" + "002", "micro", metric_box(0, 100, 100, 200))})
    rows.append((C + "03", "zone", metric_box(300, 0, 400, 100), "ordinary", M1))
    report = validate_grids(_frame(rows))
    kinds = _kinds(report)
    assert kinds.count("orphan") == 2
    messages = " ".join(p.message_en for p in report.problems if p.kind == "orphan")
    assert "neither in the file nor stored" in messages
    assert "is a micro-grid, not a community" in messages


def test_parents_may_come_from_existing():
    existing = _frame([r for r in _clean_rows() if r[1] != "micro"])
    micros = _frame([r for r in _clean_rows() if r[1] == "micro"])
    assert validate_grids(micros, existing).ok
    assert _kinds(validate_grids(micros)) == ["orphan", "orphan"]
    # A stored sibling counts for overlaps.
    stored = _frame(
        [*[r for r in _clean_rows() if r[1] != "micro"], (M1, "micro", metric_box(0, 0, 100, 100))]
    )
    newcomer = _frame([(M2, "micro", metric_box(0, 50, 100, 200))])
    assert _kinds(validate_grids(newcomer, stored)) == ["overlap"]


def test_attribute_and_geometry_kinds():
    rows = _clean_rows()
    rows += [
        (C[:-1] + "2", "street", metric_box(300, 300, 400, 400)),
        (C[:-1] + "3", "community", metric_box(500, 300, 600, 400), "school"),
        (C[:-1] + "4", "community", shapely.Polygon()),
        (C[:-1] + "5", "community", shapely.LineString([lonlat(0, 0), lonlat(5, 5)])),
        (C[:-1] + "6", "community", shapely.box(2.0, 48.0, 2.1, 48.1)),
        (Z1 + "003", "micro", metric_box(0, 0, 10, 10), "ordinary", Z2),
    ]
    kinds = _kinds(validate_grids(_frame(rows)))
    for kind in (
        "unknown_level",
        "unknown_kind",
        "empty_geometry",
        "not_polygon",
        "outside_china",
        "parent_mismatch",
    ):
        assert kind in kinds, kinds
    assert set(kinds) <= set(PROBLEM_KINDS)


def test_report_serialises():
    report = validate_grids(
        _frame(_clean_rows(**{M2: (M2, "micro", metric_box(0, 110, 100, 200))}))
    )
    [record] = report.as_dicts()
    assert {"kind", "code", "message", "lon", "lat", "row"} <= set(record)
    assert "[gap]" in report.as_text() and not report.ok


def test_generated_grid_is_clean(small_grid):
    report = validate_grids(small_grid)
    assert report.ok, report.as_text()


def test_committed_dongcheng_grid_is_clean_after_geojson_round_trip():
    grid = pyogrio.read_dataframe(GRID_FILE)
    assert 100 <= (grid["level"] == "community").sum() <= 140
    report = validate_grids(grid)
    assert report.ok, report.as_text()


def test_shifted_micro_grids_are_all_reported(small_grid):
    shifted = small_grid.copy()
    micro = shifted["level"] == "micro"
    shifted.loc[micro, "geometry"] = shapely.transform(
        shifted.loc[micro, "geometry"].to_numpy(), lambda c: c + np.array([0.0062, 0.0014])
    )  # the size of an unconverted GCJ-02 shift
    report = validate_grids(shifted)
    outside = [p for p in report.problems if p.kind == "outside_parent"]
    assert len(outside) >= 0.5 * micro.sum()
    assert np.isfinite(np.array([p.lon for p in outside], dtype=float)).all()


def test_a_long_thin_sliver_is_noise_but_a_metres_wide_gap_is_not():
    # A 2 km community cut in two zones along its length; the northern zone starts 3 cm too far
    # north: a 60 m² gap, 2 km long and 3 cm wide, which only an area rule would report.
    community = (C, "community", metric_box(0, 0, 2000, 200))
    south = (Z1, "zone", metric_box(0, 0, 2000, 100))
    north = (Z2, "zone", metric_box(0, 100.03, 2000, 200))
    sliver = _frame([community, south, north])
    assert validate_grids(sliver).ok
    bare = validate_grids(sliver, sliver_width_m=0, snap_tolerance_m=0)
    assert _kinds(bare) == ["gap"] and bare.problems[0].area_m2 == pytest.approx(60, abs=1)
    # A 2.5 m x 2 m notch out of the southern zone is a real gap, reported with its shape.
    notched = (Z1, "zone", metric_box(0, 0, 2000, 100).difference(metric_box(999, 98, 1001.5, 100)))
    report = validate_grids(
        _frame([community, notched, (Z2, "zone", metric_box(0, 100, 2000, 200))])
    )
    assert _kinds(report) == ["gap"]
    gap = report.problems[0]
    assert gap.code == C and gap.area_m2 == pytest.approx(5.0, abs=0.05)
    assert gap.geometry is not None and gap.geometry.contains(shapely.Point(gap.lon, gap.lat))
    assert "5.0 平方米" in gap.message and "5.0 m²" in gap.message_en


def test_a_corner_off_its_parents_edge_is_snapped_onto_it_and_noted():
    # Both zones meet at x = 105 on the community's north edge, which has vertices every 10 m
    # (at 100 and 110): a T-junction, drawn 5 cm too far north.
    community = (C, "community", metric_box(0, 0, 200, 200))
    west = (Z1, "zone", metric_polygon([(0, 0), (105, 0), (105, 200.05), (0, 200)]))
    east = (Z2, "zone", metric_polygon([(105, 0), (200, 0), (200, 200), (105, 200.05)]))
    report = validate_grids(_frame([community, west, east]))
    assert report.ok, report.as_text()
    assert sorted(str(n.code) for n in report.notes) == sorted([Z1, Z2, C])
    moved = {n.code: n for n in report.notes}
    assert moved[Z1].distance_m == pytest.approx(0.05, abs=0.01)
    assert moved[Z1].kind == "snapped" and "吸附" in moved[Z1].message
    assert report.geometries is not None
    corner = shapely.Point(lonlat(105, 200))
    for geom in report.geometries:  # the community gained the corner; the zones moved onto it
        assert shapely.distance(geom, corner) * 111_320 < 0.001
    unsnapped = validate_grids(_frame([community, west, east]), snap_tolerance_m=0)
    assert unsnapped.ok and not unsnapped.notes and unsnapped.geometries is None


def test_report_is_geojson_with_every_problem(small_grid):
    shifted = small_grid.copy()
    micro = shifted["level"] == "micro"
    shifted.loc[micro, "geometry"] = shapely.transform(
        shifted.loc[micro, "geometry"].to_numpy(), lambda c: c + np.array([0.0062, 0.0014])
    )
    report = validate_grids(shifted)
    collection = report.as_geojson()
    assert len(collection["features"]) == len(report.problems) + len(report.notes) > 50
    assert collection["counts"] == report.counts() and collection["ok"] is False
    for feature in collection["features"]:
        props = feature["properties"]
        assert props["code"] and props["message"] and props["message_en"]
        assert feature["geometry"] is not None and props["lon"] is not None
    assert "… 另有" in report.as_text(limit=5)
