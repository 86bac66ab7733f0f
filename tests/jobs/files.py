"""Small grid files for the import page's tests, built from frames like the small grid's
(``tests.conftest``): a redraw of zone 01's two micro-grids plus a new community to the east,
and a redraw that overlaps the micro-grid it leaves in place."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import box

from tests.conftest import COMMUNITY, MID_LAT, MID_LON, N, S, W, square_grid_frame

Z1 = COMMUNITY + "01"
#: The new community east of the small grid (same street).
EAST = COMMUNITY[:9] + "002"
#: Where zone 01's two micro-grids meet after the redraw (south of the old MID_LAT).
NEW_MID = 39.905


def _frame(rows: list[tuple[str, str, str, object]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        [(code, name, level, geom) for code, name, level, geom in rows],
        columns=["code", "name", "level", "geometry"],
        crs=4490,
    )


def redraw_frame() -> gpd.GeoDataFrame:
    """Zone 01's micro-grids redrawn (the line between them 555 m further south) and a new
    community of 7 grids east of the small grid: 2 changed, 7 new."""
    moved = _frame(
        [
            (Z1 + "001", "1-001", "micro", box(W, NEW_MID, MID_LON, N)),
            (Z1 + "002", "1-002", "micro", box(W, S, MID_LON, NEW_MID)),
        ]
    )
    names = ("东侧社区", "东1片区", "东2片区", "东1-001", "东1-002", "东2-001", "东2-002")
    east = square_grid_frame(EAST, (116.42, S, 116.44, N), names)
    east = east[["code", "name", "level", "geometry"]]
    return gpd.GeoDataFrame(pd.concat([moved, east], ignore_index=True), crs=4490)


def overlapping_frame() -> gpd.GeoDataFrame:
    """Micro-grid 01001 stretched south over half of 01002, which stays: an overlap."""
    return _frame([(Z1 + "001", "1-001", "micro", box(W, NEW_MID, MID_LON, N))])


def bad_level_frame() -> gpd.GeoDataFrame:
    return _frame([(Z1 + "001", "1-001", "楼栋", box(W, MID_LAT, MID_LON, N))])


def geojson(frame: gpd.GeoDataFrame) -> bytes:
    return json.dumps(json.loads(frame.to_json()), ensure_ascii=False).encode()


def shapefile_zip(frame: gpd.GeoDataFrame, folder: Path) -> bytes:
    """The frame as a zipped Shapefile (.shp, .shx, .dbf, .prj, .cpg), in a sub-folder of
    the zip as Windows' 'send to zip' makes them."""
    frame.to_file(folder / "grids.shp", encoding="UTF-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in sorted(folder.glob("grids.*")):
            archive.write(part, f"网格/{part.name}")
    return buffer.getvalue()


def geopackage(frame: gpd.GeoDataFrame, folder: Path) -> bytes:
    path = folder / "grids.gpkg"
    frame.to_file(path, layer="网格", driver="GPKG")
    return path.read_bytes()


def retire_unknown_frame() -> gpd.GeoDataFrame:
    """Retires a micro-grid that was never drawn."""
    frame = _frame([(Z1 + "009", "1-009", "micro", None)])
    frame["status"] = "撤销"
    return frame
