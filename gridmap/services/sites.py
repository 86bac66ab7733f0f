"""Service site imports (服务点位导入): 党群服务中心, 党群服务站, 助餐点, clinics, day-care and
便民 points from a point layer (GeoJSON, Shapefile, GeoPackage, KML) or a table with lon/lat.

Columns (Chinese or English headers): ``code`` (编码), ``name`` (名称), ``kind`` (类型: an
English code or its Chinese name, ``glossary.SITE_KINDS``), and optionally ``address`` (地址),
``opening_hours`` (开放时间) and ``services`` (服务项目, separated by 、 ， ; or |). All or
nothing: any bad row rejects the file with every problem listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from gridmap.access.auth import Forbidden
from gridmap.core.glossary import SITE_KINDS as SITE_KIND_LABELS
from gridmap.grid.ingest.common import ImportReport, declared_crs, reject, require_columns
from gridmap.grid.ingest.readers import canonical_columns
from gridmap.spatial.crs import check_geometries_in_china, geoseries_to_cgcs2000
from gridmap.storage import service_map
from gridmap.storage.models import SITE_KINDS

SITE_ALIASES: Mapping[str, tuple[str, ...]] = {
    "code": ("code", "编码", "点位编码", "代码"),
    "name": ("name", "名称", "点位名称"),
    "kind": ("kind", "类型", "点位类型", "类别"),
    "address": ("address", "地址"),
    "opening_hours": ("opening_hours", "opening_ho", "开放时间", "营业时间"),
    "services": ("services", "服务项目", "服务内容"),
}
_KIND_BY_WORD = {**{k: k for k in SITE_KINDS}, **{v: k for k, v in SITE_KIND_LABELS.items()}}
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_SPLIT = re.compile(r"[、，,;；|]")


def import_sites(
    session: Session,
    frame: gpd.GeoDataFrame,
    crs: str,
    *,
    replace: bool = False,
    scope_code: str | None = None,
) -> ImportReport:
    """Check every row of a site layer and write it (by code); ``replace`` removes the sites
    the file does not list. With ``scope_code`` (a street administrator's import), every site
    must lie inside the current grids under that code."""
    frame = canonical_columns(frame, SITE_ALIASES, "服务点位")
    require_columns(frame, ("code", "name", "kind"), "service sites")
    declared = declared_crs(frame, crs, "service sites")
    rows, problems = _rows(frame)
    if problems:
        raise reject("service sites", problems)
    geoms = geoseries_to_cgcs2000(frame.geometry.values, declared, densify_m=None)
    check_geometries_in_china(geoms, label="site")
    for row, geom in zip(rows, geoms, strict=True):
        row["wkb"] = shapely.to_wkb(geom)
    written = service_map.upsert_sites(session, rows, replace=replace)
    if scope_code:
        outside = service_map.sites_outside(session, [r["code"] for r in rows], scope_code)
        if outside:
            raise Forbidden(
                f"服务点位不在您的管辖范围（{scope_code}）内：{'、'.join(outside[:20])}"
                "（sites outside your scope）"
            )
    return ImportReport("service sites", written=written)


def _rows(frame: gpd.GeoDataFrame) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, (record, geom) in enumerate(
        zip(frame.drop(columns="geometry").to_dict("records"), frame.geometry, strict=True),
        start=1,
    ):
        where = f"row {number}"
        row, found = _row(record, geom)
        if row["code"] in seen:
            found.append(f"编码 {row['code']} 重复（duplicate code）")
        seen.add(row["code"])
        problems += [{"where": where, "message": m} for m in found]
        rows.append(row)
    return rows, problems


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _row(record: Mapping[str, Any], geom: Any) -> tuple[dict[str, Any], list[str]]:
    code = _text(record.get("code")) or ""
    name = _text(record.get("name")) or ""
    kind = _KIND_BY_WORD.get(_text(record.get("kind")) or "")
    hours = _text(record.get("opening_hours"))
    services = [s.strip() for s in _SPLIT.split(_text(record.get("services")) or "") if s.strip()]
    found = []
    if not _CODE.match(code):
        found.append(f"编码 {code!r} 不合规：字母、数字、. _ -，至多 40 个（bad code）")
    if not 1 <= len(name) <= 100:
        found.append("名称应为 1–100 个字（name must have 1-100 characters）")
    if kind is None:
        allowed = "、".join(SITE_KIND_LABELS.values())
        found.append(f"类型 {record.get('kind')!r} 未知，可选：{allowed}（unknown kind）")
    if hours is not None and len(hours) > 200:
        found.append("开放时间过长（至多 200 字）（opening hours too long）")
    if len(services) > 30 or any(len(s) > 50 for s in services):
        found.append("服务项目至多 30 项、每项至多 50 字（too many or too long services）")
    if geom is None or geom.is_empty or geom.geom_type != "Point":
        found.append("几何应为点（the geometry must be a point）")
    row = {
        "code": code,
        "name": name,
        "kind": kind,
        "address": _text(record.get("address")),
        "opening_hours": hours,
        "services": services,
    }
    return row, found
