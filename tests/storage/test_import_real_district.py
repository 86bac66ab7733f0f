"""Issue 12: a real district's grid, drawn in GCJ-02 with T-junctions and kilometre-long shared
edges, loads on the first try at the default settings; real problems of a few m² are still
reported, each with its place."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import text

from gridmap.core.settings import Settings
from gridmap.grid import ingest
from gridmap.spatial.crs import gcj02_to_wgs84
from gridmap.spatial.validate import ValidationReport
from tests import real_district as rd
from tests.helpers import row_counts

TOLERANCES = ("inside_tolerance_m", "sliver_area_m2", "sliver_width_m", "snap_tolerance_m")


@pytest.fixture(scope="module")
def drawn() -> gpd.GeoDataFrame:
    return rd.build()


def test_the_drawn_grid_is_what_breaks_naive_validation(drawn):
    levels = drawn["level"].value_counts()
    assert levels["community"] >= 5 and levels["zone"] >= 20 and 200 <= levels["micro"] <= 400
    assert rd.t_junctions(drawn) >= 200
    # Straight edges of several kilometres between communities.
    assert (rd.longest_edges_m(drawn, "community") >= 3000).sum() >= 4
    assert (rd.longest_edges_m(drawn, "zone") >= 1500).sum() >= 8


def test_defaults_are_the_settings_defaults(settings):
    for name in TOLERANCES:
        assert getattr(settings, name) == Settings.model_fields[name].default


def _points_inside(micros: gpd.GeoDataFrame, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """n random GCJ-02 points, each at least ~2 m inside a random micro-grid, and its code."""
    rng = np.random.default_rng(seed)
    inner = shapely.buffer(micros.geometry.values, -2e-5)
    usable = np.flatnonzero(~shapely.is_empty(inner))
    pick = rng.choice(usable, size=n)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    bounds = shapely.bounds(inner[pick])
    todo = np.arange(n)
    while todo.size:
        b = bounds[todo]
        cx = rng.uniform(b[:, 0], b[:, 2])
        cy = rng.uniform(b[:, 1], b[:, 3])
        hit = shapely.contains_xy(inner[pick[todo]], cx, cy)
        x[todo[hit]], y[todo[hit]] = cx[hit], cy[hit]
        todo = todo[~hit]
    return x, y, micros["code"].to_numpy()[pick]


def test_real_district_in_gcj02_imports_and_points_locate(session, settings, drawn):
    reports: list[ValidationReport] = []
    result = ingest.import_grids(session, drawn, "GCJ02", settings, on_report=reports.append)
    [report] = reports
    assert report.ok, report.as_text(limit=10)
    assert result.written == len(drawn)
    assert report.notes and all(n.kind == "snapped" for n in report.notes)
    assert max(n.distance_m or 0 for n in report.notes) <= settings.snap_tolerance_m
    assert report.summary["area_km2"]["community"] == pytest.approx(50.5, abs=1.0)
    assert "覆盖面积" in result.as_text()

    micros = drawn[drawn["level"] == "micro"]
    gx, gy, expected = _points_inside(micros, 1000, seed=12)
    lon, lat = gcj02_to_wgs84(gx, gy)
    found = session.execute(
        text(
            "SELECT g.code FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[]))"
            " WITH ORDINALITY AS p(lon, lat, i)"
            " LEFT JOIN grid g ON g.id = gridmap_micro_grid_at(ST_SetSRID(ST_Point(p.lon, p.lat),"
            " 4490)) ORDER BY p.i"
        ),
        {"lon": lon.tolist(), "lat": lat.tolist()},
    ).scalars()
    assert list(found) == list(expected)


# --- planted problems --------------------------------------------------------------------------
def _rectangles(drawn: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    micros = drawn[drawn["level"] == "micro"]
    square = np.isclose(shapely.area(micros.geometry.values), shapely.area(micros.envelope.values))
    return micros[square & (shapely.get_num_coordinates(micros.geometry.values) == 5)]


def _box(cx: float, cy: float, w: float, h: float, anchor: str) -> shapely.Polygon:
    """A w x h metre box at (cx, cy): ``anchor`` says which side of it (cx, cy) is on."""
    dx, dy = rd.metres(w, h)
    x0, y0 = {
        "bottom": (cx - dx / 2, cy),
        "top": (cx - dx / 2, cy - dy),
        "left": (cx, cy - dy / 2),
    }[anchor]
    return shapely.box(x0, y0, x0 + dx, y0 + dy)


def _plant(
    drawn: gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, dict[str, tuple[str, shapely.Point]]]:
    """The clean file with a 5 m² gap, a 5 m² overlap and a micro-grid 3 m outside its zone."""
    frame = drawn.copy()
    zones = dict(zip(drawn["code"], drawn.geometry, strict=True))
    rects = _rectangles(drawn)
    planted: dict[str, tuple[str, shapely.Point]] = {}

    def inside_zone(code: str, spot: shapely.Geometry) -> bool:
        zone = zones[code[:14]]
        return bool(zone.contains(spot) and zone.boundary.distance(spot) > rd.metres(0, 5)[1])

    def change(code: str, geom: shapely.Geometry) -> None:
        frame.loc[frame["code"] == code, "geometry"] = shapely.set_precision(
            geom, 10.0**-rd.DECIMALS, mode="pointwise"
        )

    it = iter(rects.itertuples())
    for r in it:  # the gap: a 2.5 m x 2 m notch out of the middle of a micro-grid's south edge
        x0, y0, x1, y1 = r.geometry.bounds
        notch = _box((x0 + x1) / 2, y0, 2.5, 2, "bottom")
        change(r.code, r.geometry.difference(notch))
        planted["gap"] = (r.code[:14], notch.centroid)
        break
    for r in it:  # the overlap: a 2.5 m x 2 m bump into the sibling to the north
        x0, y0, x1, y1 = r.geometry.bounds
        bump = _box((x0 + x1) / 2, y1, 2.5, 2, "bottom")
        if inside_zone(r.code, bump.centroid) and r.code[:14] != planted["gap"][0]:
            change(r.code, r.geometry.union(bump))
            planted["overlap"] = (r.code, bump.centroid)
            break
    for r in it:  # outside its parent: a 3 m x 4 m bump east, across its zone's edge
        x0, y0, x1, y1 = r.geometry.bounds
        bump = _box(x1, (y0 + y1) / 2, 3, 4, "left")
        zone = zones[r.code[:14]]
        if zone.boundary.distance(shapely.Point(x1, (y0 + y1) / 2)) < 1e-7 and not zone.contains(
            bump.centroid
        ):
            if r.code[:14] in (planted["gap"][0], planted["overlap"][0][:14]):
                continue
            change(r.code, r.geometry.union(bump))
            planted["outside_parent"] = (
                r.code,
                shapely.Point(x1 + rd.metres(3, 0)[0], (y0 + y1) / 2),
            )
            break
    assert set(planted) == {"gap", "overlap", "outside_parent"}
    return frame, planted


def _cgcs(point: shapely.Point) -> tuple[float, float]:
    lon, lat = gcj02_to_wgs84([point.x], [point.y])
    return float(lon[0]), float(lat[0])


def test_planted_real_problems_are_all_reported_with_their_place(session, settings, drawn):
    frame, planted = _plant(drawn)
    reports: list[ValidationReport] = []
    before = row_counts(session)
    with pytest.raises(ingest.ImportRejected) as caught:
        ingest.import_grids(session, frame, "GCJ02", settings, on_report=reports.append)
    session.rollback()
    assert row_counts(session) == before
    [report] = reports
    assert sorted(p.kind for p in report.problems) == ["gap", "outside_parent", "overlap"]
    metre = rd.metres(1, 1)[1]
    for p in report.problems:
        code, spot = planted[p.kind]
        assert p.code == code or (p.kind == "overlap" and code in p.message)  # either sibling
        lon, lat = _cgcs(spot)
        assert p.lon is not None and p.lat is not None
        assert np.hypot((p.lon - lon) / rd.metres(1, 0)[0], (p.lat - lat) / metre) < 5
        assert p.message and p.message_en and p.message != p.message_en
    by_kind = {p.kind: p for p in report.problems}
    for kind in ("gap", "overlap"):
        assert by_kind[kind].area_m2 == pytest.approx(5.0, abs=0.3)
        shape = by_kind[kind].geometry
        assert shape is not None and shape.geom_type == "Polygon"
    assert by_kind["outside_parent"].distance_m == pytest.approx(3.0, abs=0.2)
    # The API/problem+json errors carry the same fields.
    errors = {e["kind"]: e for e in caught.value.errors}
    assert errors["gap"]["lon"] == by_kind["gap"].lon and errors["gap"]["area_m2"] is not None
    assert errors["overlap"]["message_en"].startswith("micro-grid")


def test_cli_writes_the_geojson_report_whether_refused_or_passed(runner, session, drawn, tmp_path):
    frame, _ = _plant(drawn)
    bad, good, out = tmp_path / "bad.geojson", tmp_path / "good.geojson", tmp_path / "r.geojson"
    bad.write_text(frame.to_json(), encoding="utf-8")
    good.write_text(drawn.to_json(), encoding="utf-8")
    args = ["gridmap", "import-grids", "--crs", "GCJ02", "--report", str(out)]
    refused = runner.invoke(args=[*args[:2], str(bad), *args[2:]])
    assert refused.exit_code == 1, refused.output
    assert "nothing written" in refused.output and str(out) in refused.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["type"] == "FeatureCollection" and written["ok"] is False
    assert written["counts"] == {"gap": 1, "overlap": 1, "outside_parent": 1}
    problems = [f for f in written["features"] if f["properties"]["severity"] == "problem"]
    assert {f["properties"]["kind"] for f in problems} == {"gap", "overlap", "outside_parent"}
    for f in problems:
        assert {"code", "kind", "message", "message_en", "area_m2", "lon", "lat"} <= set(
            f["properties"]
        )
        if f["properties"]["kind"] in ("gap", "overlap"):
            assert f["geometry"]["type"] == "Polygon"
    assert row_counts(session)["grid"] == 0

    passed = runner.invoke(args=[*args[:2], str(good), *args[2:]])
    assert passed.exit_code == 0, passed.output
    assert f"grids: {len(drawn)} written" in passed.output and "km²" in passed.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["ok"] is True and written["summary"]["grids"]["micro"] > 200
    assert all(f["properties"]["severity"] == "note" for f in written["features"])


def test_cli_report_says_why_when_the_file_is_refused_before_validation(runner, drawn, tmp_path):
    path, out = tmp_path / "grid.geojson", tmp_path / "r.geojson"
    path.write_text(drawn.to_json(), encoding="utf-8")
    args = ["gridmap", "import-grids", str(path), "--crs", "EPSG:3857", "--report", str(out)]
    assert runner.invoke(args=args).exit_code == 1
    written = json.loads(out.read_text(encoding="utf-8"))
    [feature] = written["features"]
    assert written["ok"] is False and feature["properties"]["kind"] == "file"
    assert "EPSG:3857" in feature["properties"]["message_en"] and feature["geometry"] is None
