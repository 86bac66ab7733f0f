"""Imports on real PostGIS: all or nothing, with a report of what is wrong and where."""

from __future__ import annotations

import json
import math

import pytest
from shapely.geometry import Polygon, box
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from gridmap.grid import ingest
from gridmap.storage.models import Grid, Household
from tests.conftest import COMMUNITY, MID_LAT, MID_LON, small_grid_frame
from tests.helpers import households_csv, row_counts


def test_grid_import_links_parents(session, small_grid):
    rows = session.execute(select(Grid.code, Grid.level, Grid.parent_id, Grid.id)).all()
    by_id = {r.id: r.code for r in rows}
    parents = {r.code: by_id.get(r.parent_id) for r in rows}
    assert len(rows) == 7
    assert parents[COMMUNITY] is None
    assert parents[COMMUNITY + "02"] == COMMUNITY
    assert parents[COMMUNITY + "02001"] == COMMUNITY + "02"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # micro 01001 reaching 0.001° (≈ 110 m) south into its sibling 01002
        (lambda f: box(116.40, MID_LAT - 0.001, MID_LON, 39.92), "overlap"),
        # micro 01001 reaching 0.001° (≈ 85 m) east, out of its zone
        (lambda f: box(116.40, MID_LAT, MID_LON + 0.001, 39.92), "outside"),
        (
            lambda f: Polygon([(116.40, 39.91), (116.41, 39.92), (116.41, 39.91), (116.40, 39.92)]),
            "invalid",
        ),
        (lambda f: box(116.40, 39.91, 116.409, 39.92), "gap"),
    ],
    ids=["overlap", "outside-parent", "self-intersection", "gap"],
)
def test_bad_grid_file_is_rejected_and_writes_nothing(session, settings, change, expected):
    frame = small_grid_frame()
    frame.loc[3, "geometry"] = change(frame)
    before = row_counts(session)
    with pytest.raises(ingest.ImportRejected) as caught:
        ingest.import_grids(session, frame, "EPSG:4490", settings)
    session.rollback()
    kinds = " ".join(e.get("kind", "") + " " + e["message"] for e in caught.value.errors).lower()
    assert expected in kinds
    assert row_counts(session) == before


def test_duplicate_code_needs_redraw_and_redraw_keeps_history(session, settings, small_grid):
    # Drawn a month ago: a redraw today closes that version (a same-day one corrects it).
    session.execute(update(Grid).values(valid_from=text("current_date - 30")))
    micro = small_grid_frame().iloc[[3]]
    with pytest.raises(ingest.ImportRejected, match="already exists"):
        ingest.import_grids(session, micro, "EPSG:4490", settings)
    report = ingest.import_grids(session, micro, "EPSG:4490", settings, redraw=True)
    assert (report.written, report.closed) == (1, 1)
    versions = (
        session.execute(
            select(Grid.valid_to).where(Grid.code == COMMUNITY + "01001").order_by(Grid.id)
        )
        .scalars()
        .all()
    )
    assert len(versions) == 2 and versions[0] is not None and versions[1] is None


def test_unknown_or_missing_crs_is_an_error(session, settings):
    with pytest.raises(Exception, match="EPSG:4490"):
        ingest.import_grids(session, small_grid_frame(), "EPSG:3857", settings)
    with pytest.raises(Exception, match="declare"):
        ingest.import_grids(session, small_grid_frame(), None, settings)


def test_households_are_located_and_outsiders_listed(session, small_grid):
    frame = households_csv(
        [
            {"id": 1, "lon": 116.405, "lat": 39.915, "address": "甲1号", "residents": 2},
            {
                "id": 2,
                "lon": 116.415,
                "lat": 39.905,
                "address": "乙2号",
                "residents": 3,
                "care_tags": "elderly_alone;disabled",
            },
            {"id": 3, "lon": 116.50, "lat": 39.95, "address": "网格外", "residents": 1},
        ]
    )
    report = ingest.import_households(session, frame, "EPSG:4326")
    assert report.written == 3
    assert "1 household(s) lie outside every micro-grid: row 4 (id 3)" in report.as_text()
    located = dict(
        session.execute(
            select(Household.id, Grid.code).outerjoin(Grid, Grid.id == Household.micro_grid_id)
        ).all()
    )
    assert located == {1: COMMUNITY + "01001", 2: COMMUNITY + "02002", 3: None}


@pytest.mark.parametrize(
    ("lon", "lat", "message"),
    [
        ("nan", "39.9", "not numbers"),
        ("", "39.9", "not numbers"),
        ("39.91", "116.41", "swapped"),
        ("2.35", "48.85", "outside China"),
    ],
)
def test_bad_household_rows_reject_the_whole_file(session, small_grid, lon, lat, message):
    frame = households_csv(
        [
            {"id": 1, "lon": 116.405, "lat": 39.915, "address": "好的", "residents": 2},
            {"id": 2, "lon": lon, "lat": lat, "address": "坏的", "residents": 2},
        ]
    )
    before = row_counts(session)
    with pytest.raises(ingest.ImportRejected) as caught:
        ingest.import_households(session, frame, "EPSG:4326")
    session.rollback()
    assert caught.value.errors[0]["where"] == "row 3"
    assert message in caught.value.errors[0]["message"]
    assert row_counts(session) == before


def test_gcj02_households_are_converted(session, small_grid):
    # A point 50 m inside micro-grid 02002's south-west corner, as an AMap SDK reports it.
    from gridmap.spatial.crs import wgs84_to_gcj02

    glon, glat = wgs84_to_gcj02([MID_LON + 0.0006], [39.9005])
    frame = households_csv([{"id": 9, "lon": glon[0], "lat": glat[0], "address": "高德点"}])
    ingest.import_households(session, frame, "GCJ02")
    x = session.scalar(text("SELECT ST_X(geom) FROM household WHERE id = 9"))
    assert math.isclose(x, MID_LON + 0.0006, abs_tol=1e-5)


def test_point_moves_and_grid_redraws_keep_micro_grid_consistent(session, settings, small_grid):
    ingest.import_households(
        session,
        households_csv([{"id": 1, "lon": 116.405, "lat": 39.915, "address": "甲1号"}]),
        "EPSG:4326",
    )
    code_of = lambda: session.scalar(  # noqa: E731
        select(Grid.code).join(Household, Household.micro_grid_id == Grid.id)
    )
    assert code_of() == COMMUNITY + "01001"
    session.execute(
        update(Household).values(geom=text("ST_SetSRID(ST_Point(116.415, 39.915), 4490)"))
    )
    assert code_of() == COMMUNITY + "02001"
    # Close the micro-grid: its household is no longer in any current micro-grid.
    session.execute(
        update(Grid).where(Grid.code == COMMUNITY + "02001").values(valid_to=text("current_date"))
    )
    assert code_of() is None


def test_database_refuses_invalid_geometry_even_without_validation(session, small_grid):
    bowtie = "MULTIPOLYGON(((116.40 39.90,116.41 39.91,116.41 39.90,116.40 39.91,116.40 39.90)))"
    with pytest.raises(IntegrityError, match="geom_valid"):
        session.execute(
            text(
                "INSERT INTO grid (code, name, level, geom) VALUES "
                "('110101001999', 'x', 'community', ST_GeomFromText(:wkt, 4490))"
            ),
            {"wkt": bowtie},
        )


def test_cli_rejects_bad_file_with_report(runner, session, tmp_path):
    frame = small_grid_frame()
    frame.loc[5, "geometry"] = box(MID_LON, MID_LAT - 0.002, 116.42, 39.92)  # overlaps 02002
    path = tmp_path / "grid.geojson"
    path.write_text(json.dumps(json.loads(frame.to_json())))
    before = row_counts(session)
    result = runner.invoke(args=["gridmap", "import-grids", str(path), "--crs", "EPSG:4326"])
    assert result.exit_code == 1
    assert "nothing written" in result.output and "overlap" in result.output.lower()
    assert row_counts(session) == before


@pytest.mark.parametrize(
    ("suffix", "driver"),
    [
        ("geojson", "GeoJSON"),
        ("gpkg", "GPKG"),
        ("shp", "ESRI Shapefile"),
        ("kml", "KML"),
    ],
)
def test_cli_imports_every_grid_format(runner, session, tmp_path, suffix, driver):
    import pyogrio

    path = tmp_path / f"grid.{suffix}"
    frame = small_grid_frame()
    if suffix == "shp":  # Shapefile field names have at most 10 characters
        frame = frame.rename(columns={"parent_code": "parent_cod"})
    pyogrio.write_dataframe(frame, path, driver=driver)
    result = runner.invoke(args=["gridmap", "import-grids", str(path), "--crs", "EPSG:4490"])
    assert result.exit_code == 0, result.output
    assert "grids: 7 written" in result.output
    assert row_counts(session)["grid"] == 7


@pytest.mark.parametrize(
    ("content", "word"),
    [("{not json", "not a readable"), ('{"type": "FeatureCollection"}', "not a readable")],
)
def test_cli_rejects_malformed_geojson(runner, session, tmp_path, content, word):
    path = tmp_path / "broken.geojson"
    path.write_text(content)
    result = runner.invoke(args=["gridmap", "import-grids", str(path), "--crs", "EPSG:4326"])
    assert result.exit_code == 1 and word in result.output
    assert row_counts(session)["grid"] == 0


@pytest.mark.parametrize("how", [[], ["--row-by-row"]], ids=["bulk", "row-by-row"])
def test_cli_household_csv_reports_outsiders(runner, session, small_grid, tmp_path, how):
    path = tmp_path / "households.csv"
    path.write_text("id,lon,lat,address\n1,116.405,39.915,甲1号\n2,116.6,39.95,网格外\n")
    result = runner.invoke(
        args=["gridmap", "import-households", str(path), "--crs", "EPSG:4326", *how]
    )
    assert result.exit_code == 0, result.output
    assert "1 household(s) lie outside every micro-grid: row 3 (id 2)" in result.output
    assert row_counts(session)["household"] == 2


def test_bulk_locate_agrees_with_postgis(session, settings):
    """The import path's locate follows the database's rule on a generated Dongcheng grid."""
    from gridmap.demo import loader as demo

    demo.load(session, households=3000, seed=5, settings=settings)
    disagree = session.scalar(
        text(
            "SELECT count(*) FROM household"
            " WHERE micro_grid_id IS DISTINCT FROM gridmap_micro_grid_at(geom)"
        )
    )
    assert disagree == 0
    assert session.scalar(text("SELECT current_setting('gridmap.bulk_located', true)")) == "off"


@pytest.mark.parametrize("drawn_days_ago", [0, 30], ids=["same-day", "later"])
def test_redrawn_zone_keeps_its_children(session, settings, small_grid, drawn_days_ago):
    session.execute(
        update(Grid).values(valid_from=text("current_date - :d")), {"d": drawn_days_ago}
    )
    zone = small_grid_frame().iloc[[1]]
    ingest.import_grids(session, zone, "EPSG:4490", settings, redraw=True)
    current_zone = session.scalar(
        select(Grid.id).where(Grid.code == COMMUNITY + "01", Grid.valid_to.is_(None))
    )
    parents = set(
        session.scalars(
            select(Grid.parent_id).where(
                Grid.code.like(COMMUNITY + "01___"), Grid.valid_to.is_(None)
            )
        )
    )
    assert parents == {current_zone}
