"""Building layers (楼栋图层) of a grid file: footprints or points with their number (楼号), name
and floors, each located to its micro-grid; all or nothing.

A layer whose name says it holds buildings (楼栋, 楼宇, 建筑, building) is read with
:data:`BUILDING_ALIASES` (Chinese headers accepted) instead of the grid headers, and its rows
carry the level ``building``; :func:`split_buildings` takes them out of the grid rows. A
building already recorded in its micro-grid (the same number) is redrawn in place; its
households are linked to it by their address's building and unit numbers.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.core.errors import InvalidInput
from gridmap.grid.ingest.common import (
    CHINA_LAT,
    CHINA_LON,
    ImportReport,
    declared_crs,
    reject,
    require_columns,
)
from gridmap.grid.ingest.readers import BUILDING
from gridmap.party import buildings as party
from gridmap.spatial.crs import to_cgcs2000
from gridmap.storage import buildings as store
from gridmap.storage.models import SRID

#: Largest footprint accepted, in square degrees (about 1 km²).
_MAX_FOOTPRINT = 1e-4
_SUFFIX = re.compile(r"(号楼|号|栋|幢|座|楼|单元)$")


def number_key(value: object) -> str:
    """A building number as the database compares them (``gridmap_number_key``)."""
    plain = re.sub(r"\s", "", unicodedata.normalize("NFKC", str(value)))
    return _SUFFIX.sub("", plain).lower()


def split_buildings(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The grid rows and the building rows of a grid file as read."""
    if "level" not in frame:
        return frame, frame.iloc[0:0]
    is_building = frame["level"].astype(str) == BUILDING
    return frame[~is_building].copy(), frame[is_building].copy()


def _text(frame: pd.DataFrame, name: str) -> pd.Series:
    """A text column, blanks (and missing values of any kind) as None."""
    if name not in frame:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    values = [
        None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
        for v in frame[name].tolist()
    ]
    return pd.Series(
        [None if v in ("", "nan", "None", "<NA>") else v for v in values],
        index=frame.index,
        dtype=object,
    )


def _whole(frame: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(_text(frame, name), errors="coerce")


def _problem(where: int, message: str) -> dict[str, Any]:
    return {"where": f"楼栋图层 row {where}", "message": message}


def _geometry_problems(geoms: NDArray[Any], first: int) -> list[dict[str, Any]]:
    problems = []
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            problems.append(_problem(first + i, "没有几何（no geometry）"))
        elif geom.geom_type not in ("Point", "Polygon", "MultiPolygon"):
            problems.append(
                _problem(first + i, f"楼栋应为面或点，不是 {geom.geom_type}（not a footprint)")
            )
    return problems


def _converted(geoms: NDArray[Any], crs_text: str, frame: gpd.GeoDataFrame) -> NDArray[Any]:
    crs = declared_crs(frame, crs_text, "楼栋图层")

    def convert(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = to_cgcs2000(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([lon, lat])

    converted: NDArray[Any] = shapely.transform(shapely.force_2d(geoms), convert)
    return converted


def _shape_problems(geoms: NDArray[Any], first: int) -> list[dict[str, Any]]:
    problems = []
    bounds = shapely.bounds(geoms)
    for i, geom in enumerate(geoms):
        w, s, e, n = bounds[i]
        if not (
            CHINA_LON[0] <= w and e <= CHINA_LON[1] and CHINA_LAT[0] <= s and n <= CHINA_LAT[1]
        ):
            problems.append(
                _problem(first + i, f"坐标不在中国境内（({w:.5f}, {s:.5f}) outside China）")
            )
        elif not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            problems.append(_problem(first + i, f"几何无效（invalid geometry: {reason}）"))
        elif geom.area > _MAX_FOOTPRINT:
            problems.append(_problem(first + i, "面积过大，不像一栋楼（larger than about 1 km²）"))
    return problems


def _value_problems(rows: pd.DataFrame, first: int) -> list[dict[str, Any]]:
    problems = []
    for i, rec in enumerate(rows.to_dict("records")):
        where = first + i
        if not rec["number"]:
            problems.append(_problem(where, "楼号为空（number is empty）"))
        elif len(rec["number"]) > 40:
            problems.append(_problem(where, "楼号过长（number over 40 characters）"))
        if rec["name"] and len(rec["name"]) > 100:
            problems.append(_problem(where, "名称过长（name over 100 characters）"))
        for field, top, label in (("floors", 200, "层数"), ("units", 50, "单元数")):
            value = rec[field]
            if pd.notna(value) and not (value % 1 == 0 and 1 <= value <= top):
                problems.append(_problem(where, f"{label}应为 1–{top} 的整数（{field}: {value}）"))
    return problems


_LOCATE_SQL = """
SELECT t.i, g.id, g.code
FROM unnest(CAST(:wkts AS text[])) WITH ORDINALITY AS t(wkt, i)
LEFT JOIN grid g ON g.id = gridmap_micro_grid_at(ST_PointOnSurface(ST_GeomFromEWKT(t.wkt)))
ORDER BY t.i
"""


def _locate(session: Session, wkts: list[str]) -> list[tuple[int | None, str | None]]:
    rows = session.execute(text(_LOCATE_SQL), {"wkts": wkts}).all()
    return [(r[1], r[2]) for r in rows]


def _place_problems(
    rows: pd.DataFrame,
    located: list[tuple[int | None, str | None]],
    scope_prefix: str | None,
    first: int,
) -> list[dict[str, Any]]:
    problems = []
    seen: dict[tuple[int, str], int] = {}
    for i, ((grid_id, code), rec) in enumerate(zip(located, rows.to_dict("records"), strict=True)):
        where = first + i
        if grid_id is None or code is None:
            problems.append(_problem(where, "楼栋不在任何微网格内（outside every micro-grid）"))
            continue
        if scope_prefix and not code.startswith(scope_prefix):
            problems.append(
                _problem(where, f"楼栋所在微网格 {code} 不在管辖范围内（out of scope）")
            )
        if rec["micro_grid"] and rec["micro_grid"] != code:
            problems.append(
                _problem(
                    where, f"楼栋位于微网格 {code}，不是 {rec['micro_grid']}（wrong micro-grid）"
                )
            )
        key = (grid_id, number_key(rec["number"] or ""))
        if key in seen:
            problems.append(
                _problem(
                    where, f"楼号 {rec['number']} 与第 {seen[key]} 行重复（same number twice）"
                )
            )
        seen.setdefault(key, where)
    return problems


def import_buildings(
    session: Session,
    frame: gpd.GeoDataFrame,
    crs_text: str | None,
    *,
    scope_prefix: str | None = None,
) -> ImportReport:
    """Check every building of a layer, then record them (a number already recorded in its
    micro-grid is redrawn in place) with their units and link their households; raises
    ``ImportRejected`` listing every problem, writing nothing."""
    require_columns(frame, ("number",), "楼栋图层（building layer）")
    if not crs_text:
        raise InvalidInput("楼栋图层: declare the coordinate system (--crs), e.g. EPSG:4490")
    first = int(frame.attrs.get("first_row", 1))
    rows = pd.DataFrame(
        {
            "number": _text(frame, "number"),
            "name": _text(frame, "name"),
            "floors": _whole(frame, "floors"),
            "units": _whole(frame, "units"),
            "micro_grid": _text(frame, "micro_grid"),
        }
    ).reset_index(drop=True)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    problems = _geometry_problems(geoms, first) + _value_problems(rows, first)
    if problems:
        raise reject("building layer", problems)
    geoms = _converted(geoms, crs_text, frame)
    if problems := _shape_problems(geoms, first):
        raise reject("building layer", problems)
    wkts = [f"SRID={SRID};{g.wkt}" for g in geoms]
    located = _locate(session, wkts)
    if problems := _place_problems(rows, located, scope_prefix, first):
        raise reject("building layer", problems)
    return _write(session, rows, wkts, located)


def _write(
    session: Session,
    rows: pd.DataFrame,
    wkts: list[str],
    located: list[tuple[int | None, str | None]],
) -> ImportReport:
    report = ImportReport("buildings")
    ids, redrawn = [], 0
    for rec, wkt, (grid_id, _) in zip(rows.to_dict("records"), wkts, located, strict=True):
        values = {
            "micro_grid_id": grid_id,
            "number": number_key(rec["number"]),
            "name": rec["name"],
            "floors": None if pd.isna(rec["floors"]) else int(rec["floors"]),
        }
        found = store.building_numbered(session, int(grid_id or 0), values["number"])
        if found is None:
            building_id = store.insert_building(session, values, wkt)
            report.written += 1
        else:
            building_id = found
            store.update_building(session, found, values, wkt)
            redrawn += 1
        if pd.notna(rec["units"]):
            numbers = [(str(n), None) for n in range(1, int(rec["units"]) + 1)]
            store.add_units(session, building_id, numbers)
        ids.append(building_id)
    linked = party.link_households(session, building_ids=ids)
    report.written += redrawn
    if redrawn:
        report.notes.append(f"{redrawn} building(s) already recorded were redrawn in place")
    report.notes.append(f"{linked} household(s) linked to their building")
    return report
