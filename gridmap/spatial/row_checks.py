"""Checks of a grid file row by row (网格属性检查): levels, kinds, codes, duplicates, geometry
and parents, each problem with its row and a place to look at. The topology of the three levels
(inside parents, overlaps, gaps) is :mod:`gridmap.spatial.validate`'s.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmap.spatial.crs import CHINA_LAT, CHINA_LON
from gridmap.spatial.grid_report import Problem

__all__ = [
    "CODE_LENGTH",
    "GRID_KINDS",
    "LEVELS",
    "LEVEL_NAME",
    "LEVEL_ZH",
    "PARENT_LEVEL",
    "attribute_problems",
    "duplicate_problems",
    "geometry_problems",
    "grid_name",
    "grid_name_zh",
    "is_areal",
    "orphan_problems",
]

LEVELS = ("community", "zone", "micro")
GRID_KINDS = ("ordinary", "dedicated")
#: Digits of a code per level: community = 12-digit statistical division code (统计用区划代码),
#: zone = community + 2, micro-grid = zone + 3.
CODE_LENGTH = {"community": 12, "zone": 14, "micro": 17}
PARENT_LEVEL = {"zone": "community", "micro": "zone"}
LEVEL_NAME = {"community": "community", "zone": "zone", "micro": "micro-grid"}
LEVEL_ZH = {"community": "社区", "zone": "片区网格", "micro": "微网格"}
_REASON_AT = re.compile(r"\[\s*([-+0-9.eEnaif]+)\s+([-+0-9.eEnaif]+)\s*\]")


def is_areal(geoms: NDArray[np.object_]) -> NDArray[np.bool_]:
    kind = shapely.get_type_id(geoms)
    areal: NDArray[np.bool_] = ((kind == 3) | (kind == 6)) & ~shapely.is_empty(geoms)
    return areal


def grid_name(level: str, code: str) -> str:
    return f"{LEVEL_NAME.get(level, 'grid')} {code}" if code else "grid"


def grid_name_zh(level: str, code: str) -> str:
    return f"{LEVEL_ZH.get(level, '网格')} {code}" if code else "网格"


def _who(row: Any) -> str:
    return grid_name(row.level, row.code) if row.code else f"row {row.row} (no code)"


def _who_zh(row: Any) -> str:
    return grid_name_zh(row.level, row.code) if row.code else f"第 {row.row} 行 (无编码)"


def _at(row: Any) -> dict[str, Any]:
    """The keywords locating a one-row problem: its point and file row."""
    return {"lon": row.at_lon, "lat": row.at_lat, "row": row.row}


# --- attributes, codes, duplicates -----------------------------------------------------------
def attribute_problems(table: pd.DataFrame) -> list[Problem]:
    problems: list[Problem] = []
    for r in table.itertuples():
        code = r.code or None
        if r.level not in LEVELS:
            what = f"unknown level {r.level!r}" if r.level else "missing level"
            what_zh = f"层级 {r.level!r} 未知" if r.level else "缺少层级"
            problems.append(
                Problem(
                    "unknown_level",
                    code,
                    f"{_who_zh(r)}: {what_zh}; 可选: {', '.join(LEVELS)}",
                    message_en=f"{_who(r)}: {what}; allowed: {', '.join(LEVELS)}",
                    **_at(r),
                )
            )
        elif not r.code_ok:
            zh, en = _code_message(r)
            problems.append(Problem("malformed_code", code, zh, message_en=en, **_at(r)))
        elif r.given_parent and r.level in PARENT_LEVEL and not r.code.startswith(r.given_parent):
            problems.append(
                Problem(
                    "parent_mismatch",
                    code,
                    f"{_who_zh(r)}: 编码不以上级编码 {r.given_parent} 开头",
                    message_en=f"{_who(r)}: code does not extend its parent code {r.given_parent}",
                    **_at(r),
                )
            )
        if r.kind not in GRID_KINDS:
            what = f"unknown kind {r.kind!r}" if r.kind else "missing kind"
            what_zh = f"类型 {r.kind!r} 未知" if r.kind else "缺少类型"
            problems.append(
                Problem(
                    "unknown_kind",
                    code,
                    f"{_who_zh(r)}: {what_zh}; 可选: {', '.join(GRID_KINDS)}",
                    message_en=f"{_who(r)}: {what}; allowed: {', '.join(GRID_KINDS)}",
                    **_at(r),
                )
            )
    return problems


def _code_message(r: Any) -> tuple[str, str]:
    length = CODE_LENGTH[r.level]
    rule = {
        "community": "the 12-digit statistical division code",
        "zone": "its community's 12 digits + 2",
        "micro": "its zone's 14 digits + 3",
    }[r.level]
    rule_zh = {
        "community": "12 位统计用区划代码",
        "zone": "所属社区的 12 位 + 2 位",
        "micro": "所属片区网格的 14 位 + 3 位",
    }[r.level]
    shown = repr(r.code) if r.code else "missing"
    shown_zh = repr(r.code) if r.code else "缺失"
    return (
        f"{_who_zh(r)}: 编码 {shown_zh} 应为 {length} 位数字 ({rule_zh})",
        f"{_who(r)}: code {shown} must be {length} digits ({rule})",
    )


def duplicate_problems(table: pd.DataFrame) -> list[Problem]:
    coded = table[table["code"] != ""]
    dup = coded["code"].duplicated(keep=False)
    problems = []
    for code, group in coded[dup].groupby("code", sort=True):
        listed = ", ".join(str(i) for i in group["row"])
        first = group.iloc[0]
        problems.append(
            Problem(
                "duplicate_code",
                code,
                f"编码 {code} 出现 {len(group)} 次 (第 {listed} 行)",
                first["at_lon"],
                first["at_lat"],
                message_en=f"code {code} appears {len(group)} times (rows {listed})",
            )
        )
    # Keep the first of each duplicate for the topology checks; the rest would only echo.
    table.loc[coded.index[coded["code"].duplicated(keep="first")], "spatial"] = False
    return problems


# --- geometry ----------------------------------------------------------------------------------
def geometry_problems(table: pd.DataFrame) -> list[Problem]:
    geoms = table["geometry"].to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    areal = is_areal(geoms)
    valid = np.zeros(len(geoms), dtype=bool)
    valid[areal] = shapely.is_valid(geoms[areal])
    bounds = np.full((len(geoms), 4), np.nan)
    bounds[areal] = shapely.bounds(geoms[areal])
    with np.errstate(invalid="ignore"):
        in_china = (
            (bounds[:, 0] >= CHINA_LON[0])
            & (bounds[:, 2] <= CHINA_LON[1])
            & (bounds[:, 1] >= CHINA_LAT[0])
            & (bounds[:, 3] <= CHINA_LAT[1])
        )
    problems: list[Problem] = []
    for i in np.flatnonzero(~(areal & valid & in_china)):
        r = table.iloc[i]
        problems.append(_geometry_problem(r, bool(empty[i]), bool(areal[i]), bool(valid[i])))
    table.loc[~(areal & valid & in_china), "spatial"] = False
    return problems


def _geometry_problem(r: pd.Series, empty: bool, areal: bool, valid: bool) -> Problem:
    who, code, geom = _who(r), r["code"] or None, r["geometry"]
    who_zh = _who_zh(r)
    at = {"lon": r["at_lon"], "lat": r["at_lat"], "row": r["row"]}
    if empty:
        return Problem(
            "empty_geometry",
            code,
            f"{who_zh}: 几何缺失或为空",
            message_en=f"{who}: geometry is missing or empty",
            **at,
        )
    if not areal:
        return Problem(
            "not_polygon",
            code,
            f"{who_zh}: 几何是 {geom.geom_type}，不是面 (Polygon/MultiPolygon)",
            message_en=f"{who}: geometry is a {geom.geom_type}, not a Polygon or MultiPolygon",
            **at,
        )
    if not valid:
        reason = shapely.is_valid_reason(geom)
        lon, lat = _reason_location(reason)
        if lon is not None:
            at.update(lon=lon, lat=lat)
        return Problem(
            "invalid_geometry",
            code,
            f"{who_zh}: 几何无效: {reason}",
            message_en=f"{who}: invalid geometry: {reason}",
            **at,
        )
    x0, y0, x1, y1 = shapely.bounds(geom)
    box = f"{x0:.5f},{y0:.5f},{x1:.5f},{y1:.5f}"
    return Problem(
        "outside_china",
        code,
        f"{who_zh}: 超出中国范围 (范围 {box})；请检查声明的坐标系和经纬度顺序",
        message_en=f"{who}: extends outside China (bounds {box}); "
        "check the declared coordinate system and the lon/lat order",
        **at,
    )


def _reason_location(reason: str) -> tuple[float | None, float | None]:
    """Parse the ``[x y]`` GEOS appends to an invalidity reason, e.g. 'Self-intersection[1 2]'."""
    match = _REASON_AT.search(reason)
    if not match:
        return None, None
    try:
        lon, lat = float(match.group(1)), float(match.group(2))
    except ValueError:
        return None, None
    return (lon, lat) if np.isfinite(lon) and np.isfinite(lat) else (None, None)


# --- parents -----------------------------------------------------------------------------------
def orphan_problems(table: pd.DataFrame) -> list[Problem]:
    first = table.drop_duplicates("code")
    level_of = dict(zip(first["code"], first["level"], strict=True))
    problems = []
    checked = table[table["in_file"] & table["level"].isin(PARENT_LEVEL) & table["code_ok"]]
    for r in checked.itertuples():
        want = PARENT_LEVEL[r.level]
        found = level_of.get(r.parent)
        want_zh = LEVEL_ZH[want]
        if found is None:
            message = f"{_who(r)}: parent {want} {r.parent} is neither in the file nor stored"
            zh = f"{_who_zh(r)}: 上级{want_zh} {r.parent} 既不在文件中也未入库"
        elif found != want:
            message = (
                f"{_who(r)}: parent {r.parent} is a {LEVEL_NAME.get(found, found)}, not a {want}"
            )
            zh = f"{_who_zh(r)}: 上级 {r.parent} 是{LEVEL_ZH.get(found, found)}，不是{want_zh}"
        else:
            continue
        problems.append(Problem("orphan", r.code, zh, message_en=message, **_at(r)))
    return problems
