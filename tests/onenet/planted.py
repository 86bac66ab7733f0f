"""Foreign layers for the 一张网 tests: our grid shifted, a cell split 60/40, households."""

from __future__ import annotations

import math

import geopandas as gpd
import shapely
from shapely.geometry import box
from sqlalchemy import insert
from sqlalchemy.orm import Session

from gridmap.core.settings import Settings
from gridmap.onenet import layers, overlay
from gridmap.storage import onenet as store
from gridmap.storage.models import Household

#: Metres per degree of longitude at the small grid's latitude (39.91°N).
M_PER_DEG_LON = 111_320 * math.cos(math.radians(39.91))


def shifted(frame: gpd.GeoDataFrame, level: str, east_m: float) -> gpd.GeoDataFrame:
    """Our grids of ``level`` as another department's cells, moved ``east_m`` metres east."""
    ours = frame[frame["level"] == level]
    dx = east_m / M_PER_DEG_LON
    return gpd.GeoDataFrame(
        {
            "code": [f"JG{i:03d}" for i in range(1, len(ours) + 1)],
            "name": [f"警格{i}" for i in range(1, len(ours) + 1)],
        },
        geometry=[shapely.affinity.translate(g, xoff=dx) for g in ours.geometry],
        crs=4490,
    )


def split_cell(mid_lon: float, south: float, north: float) -> gpd.GeoDataFrame:
    """One cell 0.002° wide across our two zones' border at ``mid_lon``: 60 % west, 40 % east."""
    return gpd.GeoDataFrame(
        {"code": ["CG001"], "name": ["城管网格1"]},
        geometry=[box(mid_lon - 0.0012, south, mid_lon + 0.0008, north)],
        crs=4490,
    )


def add_households(session: Session, points: list[tuple[float, float]]) -> None:
    session.execute(
        insert(Household),
        [
            {"geom": f"SRID=4490;POINT({lon} {lat})", "address": f"测试地址{i}"}
            for i, (lon, lat) in enumerate(points)
        ],
    )


def plant(
    session: Session,
    settings: Settings,
    cells: gpd.GeoDataFrame,
    *,
    level: str,
    name: str = "公安警格",
    department: str = "police",
    scope_code: str | None = None,
) -> int:
    """Import ``cells`` as a foreign layer and compute its overlay; returns the layer's id."""
    spec = layers.LayerSpec(name, department, level)
    layer_id, _ = layers.import_layer(
        session,
        cells,
        "EPSG:4490",
        spec,
        settings,
        filename="test.geojson",
        scope_code=scope_code,
        user_id=None,
    )
    overlay.compute(session, layer_id, overlay.Rule.of(settings))
    return layer_id


def plant_as(
    session: Session,
    settings: Settings,
    cells: gpd.GeoDataFrame,
    layer_id: int,
    *,
    name: str,
    scope_code: str | None,
    level: str = "micro",
) -> None:
    """A foreign layer with a fixed id (the security matrix names it), overlaid."""
    store.add_layer(
        session,
        id=layer_id,
        name=name,
        department="police",
        compare_level=level,
        scope_code=scope_code,
        filename="planted.geojson",
        crs="EPSG:4490",
    )
    store.add_cells(session, layer_id, layers._rows(cells))
    overlay.compute(session, layer_id, overlay.Rule.of(settings))
