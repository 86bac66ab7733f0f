"""The validity of another department's grid layer (外部门网格检查), one flat layer of cells.

A foreign layer is theirs, not ours: it has no levels and no parents. What would make it
unusable refuses it (a cell without a code, a code twice, a geometry that is missing, not a
polygon, invalid or outside China); its overlaps and gaps are facts about their grid that the
departments' meeting needs to see, so they are reported as notes (same kinds, same shapes as
our grid's report) and the layer is kept.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmap.spatial.crs import CGCS2000, local_metric_crs, transform_xy
from gridmap.spatial.edges import sliver_mask
from gridmap.spatial.grid_report import Note, Problem, ValidationReport
from gridmap.spatial.row_checks import duplicate_problems, geometry_problems

__all__ = ["FOREIGN_LEVEL", "validate_cells"]

#: The level the row checks name a foreign cell by (网格).
FOREIGN_LEVEL = "foreign"


def validate_cells(
    cells: gpd.GeoDataFrame, *, sliver_area_m2: float = 1.0, sliver_width_m: float = 0.2
) -> ValidationReport:
    """Check a foreign layer's cells: codes and geometries (problems), overlaps and gaps
    (notes).

    Parameters
    ----------
    cells : GeoDataFrame
        Columns ``code`` and a geometry in EPSG:4490, one row per cell.
    sliver_area_m2, sliver_width_m : float
        Overlaps and gaps this small or this thin are digitising noise (as for our grid).

    Returns
    -------
    ValidationReport
        ``problems`` refuse the layer; ``notes`` are its overlaps and gaps; ``summary`` has
        ``cells`` and ``area_km2``.
    """
    if min(sliver_area_m2, sliver_width_m) < 0:
        raise ValueError("sliver_area_m2 and sliver_width_m must be >= 0")
    table = _table(cells)
    problems = _missing_codes(table) + duplicate_problems(table) + geometry_problems(table)
    report = ValidationReport(problems=problems)
    usable = np.flatnonzero(table["spatial"].to_numpy())
    geoms = table["geometry"].to_numpy()[usable]
    report.summary = {"cells": len(table), "area_km2": 0.0}
    if len(usable):
        metric = _Metric(geoms)
        slivers = {"area_m2": sliver_area_m2, "width_m": sliver_width_m}
        report.notes = _overlaps(table, usable, metric, slivers) + _gaps(geoms, metric, slivers)
        area = float(shapely.area(metric.project(geoms)).sum())
        report.summary["area_km2"] = round(area / 1e6, 4)
    return report


def _table(cells: gpd.GeoDataFrame) -> pd.DataFrame:
    if "code" not in cells.columns:
        raise ValueError("foreign cells lack a code column")
    codes = cells["code"].astype(object).where(cells["code"].notna(), "").astype(str).str.strip()
    geoms = np.asarray(cells.geometry.values, dtype=object)
    usable = ~shapely.is_missing(geoms) & shapely.is_valid(geoms)
    anchor = np.full(len(geoms), None, dtype=object)
    anchor[usable] = shapely.point_on_surface(geoms[usable])
    lon = [None if p is None or p.is_empty else round(p.x, 7) for p in anchor]
    lat = [None if p is None or p.is_empty else round(p.y, 7) for p in anchor]
    table = pd.DataFrame(
        {
            "code": codes.where(~codes.str.lower().isin(["nan", "none", "<na>"]), "").to_numpy(),
            "level": FOREIGN_LEVEL,
            "row": np.arange(len(cells)),
            "at_lon": lon,
            "at_lat": lat,
            "spatial": True,
        }
    )
    table["geometry"] = geoms
    return table


def _missing_codes(table: pd.DataFrame) -> list[Problem]:
    missing = table[table["code"] == ""]
    table.loc[missing.index, "spatial"] = False
    return [
        Problem(
            "malformed_code",
            None,
            f"第 {r.row} 行: 网格没有编码",
            r.at_lon,
            r.at_lat,
            row=r.row,
            message_en=f"row {r.row}: the cell has no code",
        )
        for r in missing.itertuples()
    ]


class _Metric:
    """Lon/lat geometries into the CGCS2000 Gauss–Krüger zone of their centre, for metres."""

    def __init__(self, geoms: NDArray[np.object_]) -> None:
        x0, _, x1, _ = shapely.total_bounds(geoms)
        self.crs = local_metric_crs((x0 + x1) / 2)

    def project(self, geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        projected: NDArray[np.object_] = shapely.transform(geoms, self._forward)
        return projected

    def _forward(self, coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack(transform_xy(coords[:, 0], coords[:, 1], CGCS2000, self.crs))


def _real_parts(
    geoms: NDArray[np.object_], metric: _Metric, slivers: dict[str, float]
) -> tuple[NDArray[np.object_], NDArray[np.intp], NDArray[np.float64]]:
    """The areal parts of ``geoms`` that are not slivers, their owner and area (m²)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    projected = metric.project(parts)
    real = (shapely.get_type_id(parts) == 3) & ~sliver_mask(projected, **slivers)
    return parts[real], owner[real], shapely.area(projected[real])


def _overlaps(
    table: pd.DataFrame, usable: NDArray[np.intp], metric: _Metric, slivers: dict[str, float]
) -> list[Note]:
    geoms = table["geometry"].to_numpy()[usable]
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    parts, owner, area = _real_parts(shapely.intersection(geoms[a], geoms[b]), metric, slivers)
    codes = table["code"].to_numpy()[usable]
    notes: list[Note] = []
    for k, part, s in zip(owner, parts, area, strict=True):
        ci, cj = codes[a[k]], codes[b[k]]
        at = shapely.point_on_surface(part)
        notes.append(
            Note(
                "overlap",
                ci,
                f"网格 {ci} 与 {cj} 重叠 {s:.1f} 平方米",
                at.x,
                at.y,
                message_en=f"cells {ci} and {cj} overlap by {s:.1f} m²",
                area_m2=s,
                geometry=part,
            )
        )
    return notes


def _gaps(geoms: NDArray[np.object_], metric: _Metric, slivers: dict[str, float]) -> list[Note]:
    """Holes of the layer's union: land inside their grid that no cell of theirs covers."""
    union = shapely.union_all(geoms)
    polygons = shapely.get_parts(union)
    polygons = polygons[shapely.get_type_id(polygons) == 3]
    holes = np.asarray(
        [
            shapely.polygons(shapely.get_interior_ring(p, i))
            for p in polygons
            for i in range(shapely.get_num_interior_rings(p))
        ],
        dtype=object,
    )
    if holes.size == 0:
        return []
    parts, _, area = _real_parts(holes, metric, slivers)
    notes: list[Note] = []
    for part, s in zip(parts, area, strict=True):
        at = shapely.point_on_surface(part)
        notes.append(
            Note(
                "gap",
                None,
                f"图层内有 {s:.1f} 平方米的缝隙不属于任何网格",
                at.x,
                at.y,
                message_en=f"a gap of {s:.1f} m² lies in no cell of the layer",
                area_m2=s,
                geometry=part,
            )
        )
    return notes
