"""A grid file's building layer (楼栋图层): Chinese headers, footprints or points, read through
the grid importers (GeoPackage layer, GBK Shapefile without .prj), located to micro-grids,
households linked; bad rows refused with every problem listed and nothing written."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import Point, box
from sqlalchemy import func, select, text

from gridmap.access import accounts
from gridmap.core.settings import Settings
from gridmap.grid import import_jobs
from gridmap.grid.ingest import ImportRejected, read_grid_features
from gridmap.grid.ingest.buildings import import_buildings, split_buildings
from gridmap.storage import jobs as job_store
from gridmap.storage.jobs import JobRecord
from gridmap.storage.models import Building, BuildingUnit, Grid, Household
from tests.security.conftest import A


def _layer(rows: Sequence[tuple[Any, ...]]) -> gpd.GeoDataFrame:
    """A building layer with Chinese headers: 楼号, 名称, 层数, 单元数."""
    return gpd.GeoDataFrame(
        [(n, name, floors, units, geom) for n, name, floors, units, geom in rows],
        columns=["楼号", "名称", "层数", "单元数", "geometry"],
        crs=4490,
    )


GOOD = [
    ("12号楼", "和平里12号楼", 6, 3, box(116.4048, 39.9148, 116.4052, 39.9152)),
    ("8", None, 18, 2, Point(116.415, 39.905)),
]


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_geopackage_building_layer_is_imported_and_links_households(
    session, world, tmp_path: Path
):
    path = tmp_path / "grid.gpkg"
    _layer(GOOD).to_file(path, layer="楼栋", driver="GPKG")
    grids, buildings = split_buildings(read_grid_features(path))
    assert (len(grids), len(buildings)) == (0, 2)
    report = import_buildings(session, buildings, "EPSG:4490")
    assert report.written == 2
    assert "2 household(s) linked" in report.notes[-1]
    rows = session.execute(
        select(Building.number, Building.name, Building.floors).order_by(Building.number)
    ).all()
    assert [tuple(r) for r in rows] == [("12", "和平里12号楼", 6), ("8", None, 18)]
    assert _count(session, BuildingUnit) == 5
    linked = session.execute(
        select(Household.id, Household.building_id.is_not(None), Household.unit_id.is_not(None))
        .where(Household.id.in_([1, 2]))
        .order_by(Household.id)
    ).all()
    assert [tuple(r) for r in linked] == [(1, True, True), (2, True, True)]
    # Imported again: redrawn in place, not doubled.
    again = import_buildings(session, buildings, "EPSG:4490")
    assert again.written == 2 and "redrawn in place" in again.notes[0]
    assert _count(session, Building) == 2


def test_a_gbk_shapefile_without_prj_is_read_with_its_chinese_headers(
    session, world, tmp_path: Path
):
    path = tmp_path / "楼栋.shp"
    _layer(GOOD[1:]).to_file(path, encoding="GBK")
    path.with_suffix(".prj").unlink()
    path.with_suffix(".cpg").unlink(missing_ok=True)
    _, buildings = split_buildings(read_grid_features(path))
    assert import_buildings(session, buildings, "EPSG:4490").written == 1
    assert session.scalar(select(Building.number)) == "8"


@pytest.mark.parametrize(
    ("rows", "scope", "found"),
    [
        ([("", None, 6, None, box(116.4048, 39.9148, 116.4052, 39.9152))], None, "楼号为空"),
        ([("3", None, 0, None, Point(116.405, 39.915))], None, "层数应为 1–200"),
        ([("3", None, 6, None, Point(116.505, 39.955))], None, "不在任何微网格内"),
        ([("3", None, 6, None, Point(116.445, 39.915))], A, "不在管辖范围内"),
        ([("3", None, 6, None, Point(39.915, 116.405))], None, "不在中国境内"),
        ([("3", None, 6, None, box(116.40, 39.90, 116.43, 39.93))], None, "面积过大"),
        (
            [
                ("3", None, 6, None, Point(116.405, 39.915)),
                ("3号楼", None, 6, None, Point(116.406, 39.916)),
            ],
            None,
            "重复",
        ),
    ],
)
def test_bad_rows_are_refused_and_nothing_is_written(session, world, rows, scope, found):
    good = _layer(GOOD)
    bad = _layer(rows)
    frame = gpd.GeoDataFrame(
        [*good.itertuples(index=False), *bad.itertuples(index=False)],
        columns=good.columns,
        crs=4490,
    )
    frame = frame.rename(
        columns={"楼号": "number", "名称": "name", "层数": "floors", "单元数": "units"}
    )
    with pytest.raises(ImportRejected) as refused:
        import_buildings(session, frame, "EPSG:4490", scope_prefix=scope)
    assert refused.value.status == 422
    assert found in refused.value.detail and "nothing written" in refused.value.detail
    assert _count(session, Building) == 0


def test_the_import_page_job_takes_a_building_layer_beside_the_grids(
    session, world, tmp_path: Path
):
    """The page's validation (a dry run) reports the buildings, writes nothing; the import
    job records them; a refused building refuses the whole file."""
    path = tmp_path / "grid.gpkg"
    _layer(GOOD).to_file(path, layer="楼栋", driver="GPKG")
    user = accounts.create_user(session, "import-buildings", "a long enough password 1")
    upload = job_store.add_upload(session, user.id, "grid.gpkg", path.read_bytes())
    job = JobRecord(
        1, import_jobs.VALIDATE, user.id, user.username, A[:9], {"crs": "EPSG:4490"}, upload, None
    )
    settings = Settings()
    checked = import_jobs.validate(session, job, lambda *_: None, settings=settings)
    assert checked["ok"] is True
    assert any("楼栋 2 栋" in note for note in checked["notes"])
    assert _count(session, Building) == 0
    done = import_jobs.apply(session, job, lambda *_: None, settings=settings)
    assert any("楼栋 2 栋" in note for note in done["notes"])
    assert _count(session, Building) == 2
    far = tmp_path / "far.gpkg"
    _layer([("5", None, 6, None, Point(116.445, 39.915))]).to_file(far, layer="楼栋", driver="GPKG")
    upload = job_store.add_upload(session, user.id, "far.gpkg", far.read_bytes())
    job = JobRecord(
        2, import_jobs.VALIDATE, user.id, user.username, A, {"crs": "EPSG:4490"}, upload, None
    )
    refused = import_jobs.validate(session, job, lambda *_: None, settings=settings)
    assert refused["ok"] is False
    assert "不在管辖范围内" in str(refused["report"])
    with pytest.raises(ImportRejected):
        import_jobs.apply(session, job, lambda *_: None, settings=settings)


def test_the_grid_command_imports_grids_and_their_buildings_together(runner, session, tmp_path):
    """``flask gridmap import-grids`` with a 微网格 layer and a 楼栋 layer in one GeoPackage:
    the buildings are located in the grids of the same file; a bad building refuses both."""
    from tests.conftest import small_grid_frame

    path = tmp_path / "grid.gpkg"
    small_grid_frame().to_file(path, layer="网格", driver="GPKG")
    _layer(GOOD).to_file(path, layer="楼栋", driver="GPKG")
    result = runner.invoke(args=["gridmap", "import-grids", str(path), "--crs", "EPSG:4490"])
    assert result.exit_code == 0, result.output
    assert "grids: 7 written" in result.output and "buildings: 2" in result.output
    assert _count(session, Building) == 2

    bad = tmp_path / "bad.gpkg"
    _layer([("", None, 6, None, Point(116.405, 39.915))]).to_file(bad, layer="楼栋", driver="GPKG")
    result = runner.invoke(args=["gridmap", "import-grids", str(bad), "--crs", "EPSG:4490"])
    assert result.exit_code != 0 and "楼号为空" in result.output
    assert _count(session, Building) == 2


def test_buildings_are_derived_from_the_households_addresses(runner, session, world):
    """``flask gridmap derive-buildings``: each building the addresses name in a micro-grid,
    once, its units, and the households linked; run again, nothing new."""
    result = runner.invoke(args=["gridmap", "derive-buildings", "--grid", A])
    assert result.exit_code == 0, result.output
    assert "buildings: 2 written" in result.output and "2 household(s) linked" in result.output
    rows = session.execute(select(Building.number, Building.name).order_by(Building.number)).all()
    assert [tuple(r) for r in rows] == [("12", "12号楼"), ("8", "8号楼")]
    assert _count(session, BuildingUnit) == 2
    again = runner.invoke(args=["gridmap", "derive-buildings"])
    assert "buildings: 2 written" in again.output  # B's two, A's not again
    assert _count(session, Building) == 4


def test_a_building_stays_itself_across_a_redraw_of_its_micro_grid(
    session, world, settings, tmp_path
):
    """Redrawn on a later day, micro-grid A01001 is a new row: the building recorded before
    is redrawn in place by the next import (not doubled) and keeps its households."""
    from gridmap.grid.ingest import import_grids
    from tests.conftest import small_grid_frame

    path = tmp_path / "grid.gpkg"
    _layer(GOOD[:1]).to_file(path, layer="楼栋", driver="GPKG")
    _, buildings = split_buildings(read_grid_features(path))
    import_buildings(session, buildings, "EPSG:4490")
    session.execute(text("UPDATE grid SET valid_from = current_date - 3"))
    frame = small_grid_frame()
    import_grids(session, frame[frame["code"] == A + "01001"], "EPSG:4490", settings, redraw=True)
    versions = select(func.count()).select_from(Grid).where(Grid.code == A + "01001")
    assert session.scalar(versions) == 2
    again = import_buildings(session, buildings, "EPSG:4490")
    assert again.written == 1 and "redrawn in place" in again.notes[0]
    assert _count(session, Building) == 1
    linked = session.scalar(select(Household.building_id).where(Household.id == 1))
    assert linked == session.scalar(select(Building.id))
