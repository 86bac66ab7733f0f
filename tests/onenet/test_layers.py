"""A foreign layer's import: read like our grid files, checked on its own, kept apart."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box
from sqlalchemy import func, select

from gridmap.core.errors import InvalidInput
from gridmap.grid.ingest import ImportRejected
from gridmap.onenet import layers
from gridmap.spatial.crs import parse_crs, to_cgcs2000
from gridmap.spatial.foreign import validate_cells
from gridmap.storage.models import ForeignCell, ForeignLayer, Grid

SPEC = layers.LayerSpec("城管网格", "chengguan", "micro")


def _cells(*geoms, codes=None) -> gpd.GeoDataFrame:
    codes = codes or [f"C{i}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"code": codes}, geometry=list(geoms), crs=4490)


def test_overlaps_and_gaps_are_reported_and_kept():
    ring = [box(116.40, 39.90, 116.41, 39.91), box(116.41, 39.90, 116.42, 39.91)]
    ring += [box(116.40, 39.91, 116.405, 39.92), box(116.407, 39.91, 116.42, 39.92)]
    ring += [box(116.404, 39.912, 116.408, 39.918)]  # across the gap, over two cells
    report = validate_cells(_cells(*ring))
    assert report.ok
    kinds = sorted(n.kind for n in report.notes)
    # The strip between the north cells is closed by the fifth cell below it, open above.
    assert kinds == ["gap", "overlap", "overlap"]
    gaps = [n for n in report.notes if n.kind == "gap"]
    assert all(n.area_m2 and n.area_m2 > 1000 for n in gaps)


def test_unusable_cells_refuse_the_layer():
    bowtie = Polygon([(116.40, 39.90), (116.41, 39.91), (116.41, 39.90), (116.40, 39.91)])
    report = validate_cells(
        _cells(box(116.40, 39.90, 116.41, 39.91), bowtie, box(0, 0, 1, 1), codes=["A", "A", ""])
    )
    assert sorted(p.kind for p in report.problems) == [
        "duplicate_code",
        "invalid_geometry",
        "malformed_code",
        "outside_china",
    ]


def test_a_rejected_layer_writes_nothing(session, settings, small_grid):
    bowtie = Polygon([(116.40, 39.90), (116.41, 39.91), (116.41, 39.90), (116.40, 39.91)])
    with pytest.raises(ImportRejected) as refused:
        layers.import_layer(
            session,
            _cells(bowtie),
            "EPSG:4490",
            SPEC,
            settings,
            filename="x.geojson",
            scope_code=None,
            user_id=None,
        )
    assert refused.value.errors[0]["kind"] == "invalid_geometry"
    assert session.scalar(select(func.count()).select_from(ForeignLayer)) == 0


@pytest.mark.parametrize(
    ("name", "department", "level", "word"),
    [
        (" ", "police", "micro", "name"),
        ("警格", "army", "micro", "department"),
        ("警格", "police", "community", "compare_level"),
    ],
)
def test_a_wrong_spec_is_refused_naming_the_field(name, department, level, word):
    with pytest.raises(InvalidInput, match=word):
        layers.LayerSpec(name, department, level).checked()


def test_a_gcj02_gbk_shapefile_lands_on_our_grid(session, settings, small_grid, tmp_path):
    """A department's Shapefile in GCJ-02 with GBK text: read, converted, kept apart."""
    ours = small_grid[small_grid["level"] == "micro"].reset_index(drop=True)
    gcj = parse_crs("GCJ02")

    # Our micro-grids as GCJ-02 coordinates: the inverse of the import's conversion, found by
    # moving each vertex by the offset at that place (good to centimetres).
    def to_gcj(geom):
        def shift(xy):
            lon, lat = to_cgcs2000(xy[:, 0], xy[:, 1], gcj)
            return xy * 2 - np.column_stack([lon, lat])

        return shapely.transform(geom, shift)

    frame = gpd.GeoDataFrame(
        {"网格编码": [f"ZZ{i}" for i in range(4)], "网格名称": [f"综治网格{i}" for i in range(4)]},
        geometry=[to_gcj(g) for g in ours.geometry],
        crs=4326,
    )
    path = tmp_path / "zongzhi.shp"
    frame.to_file(path, encoding="gbk")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    read = layers.read_cells(path, layer=None, encoding=None)
    layer_id, report = layers.import_layer(
        session,
        read,
        "GCJ02",
        layers.LayerSpec("综治网格", "zongzhi"),
        settings,
        filename=path.name,
        scope_code="110101001",
        user_id=None,
    )
    assert report.ok and report.notes == []
    names = session.scalars(
        select(ForeignCell.name).where(ForeignCell.layer_id == layer_id).order_by("code")
    ).all()
    assert names == [f"综治网格{i}" for i in range(4)]
    # Kept apart: our grid is untouched, and each cell lies on its micro-grid within a metre.
    assert session.scalar(select(func.count()).select_from(Grid)) == len(small_grid)
    far = session.scalar(
        select(func.max(func.ST_HausdorffDistance(ForeignCell.geom, Grid.geom)))
        .join(Grid, Grid.code == ours["code"][0])
        .where(ForeignCell.code == "ZZ0")
    )
    assert far < 1e-5  # degrees: about a metre
