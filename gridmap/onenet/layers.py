"""A department's grid layer (外部门网格图层): read, checked and stored apart from ours.

The file is read as the grid importers read theirs (Shapefile, GeoPackage, GeoJSON, KML; a
declared CRS, GCJ-02 and BD-09 included; GBK text detected), one layer of cells with a code
and a name each. :func:`gridmap.spatial.foreign.validate_cells` checks it: a problem refuses
the whole file, nothing written; overlaps and gaps are kept with the layer as its report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy.orm import Session

from gridmap.core import glossary
from gridmap.core.errors import InvalidInput
from gridmap.core.settings import Settings
from gridmap.grid.ingest.common import ImportRejected, declared_crs
from gridmap.grid.ingest.readers import canonical_columns, read_features
from gridmap.spatial.crs import geoseries_to_cgcs2000
from gridmap.spatial.foreign import validate_cells
from gridmap.spatial.grid_report import ValidationReport
from gridmap.storage import onenet as store
from gridmap.storage.models import COMPARE_LEVELS, SRID

#: A cell's code and name under the headers departments use.
CELL_ALIASES: Mapping[str, tuple[str, ...]] = {
    "code": ("code", "编码", "网格编码", "网格代码", "代码", "警格编码", "警格号"),
    "name": ("name", "名称", "网格名称", "警格名称"),
}
#: Problems listed in a rejection's text; its errors list holds them all.
_LISTED = 20


@dataclass(frozen=True)
class LayerSpec:
    """What a person says about a foreign layer: its name, whose it is (a code of
    :data:`gridmap.core.glossary.ONENET_DEPARTMENTS`) and which of our levels to compare it
    with."""

    name: str
    department: str
    compare_level: str = "micro"

    def checked(self) -> LayerSpec:
        """The spec with its name trimmed; 400 naming the field that is wrong."""
        name = self.name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidInput("name: 1 to 100 characters (图层名称 1–100 个字)")
        if self.department not in glossary.ONENET_DEPARTMENTS:
            known = ", ".join(glossary.ONENET_DEPARTMENTS)
            raise InvalidInput(f"department must be one of {known}, not {self.department!r}")
        if self.compare_level not in COMPARE_LEVELS:
            raise InvalidInput(
                f"compare_level must be one of {', '.join(COMPARE_LEVELS)}, "
                f"not {self.compare_level!r}"
            )
        return LayerSpec(name, self.department, self.compare_level)


def read_cells(path: Path, *, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    """One layer of a foreign grid file, its code and name headers renamed."""
    frame = read_features(path, layer=layer, encoding=encoding)
    return canonical_columns(frame, CELL_ALIASES, path.name)


def prepare_cells(frame: gpd.GeoDataFrame, crs_text: str | None) -> gpd.GeoDataFrame:
    """Code, name (the code when there is none) and the outline in EPSG:4490."""
    if "code" not in frame.columns:
        found = ", ".join(map(str, frame.columns))
        raise InvalidInput(
            f"外部门网格文件缺少编码列（code、编码、网格编码）；现有列：{found}"
            f"（foreign grid file: missing column code; found {found}）"
        )
    crs = declared_crs(frame, crs_text, "foreign grid file")
    codes = frame["code"].astype(object).where(frame["code"].notna(), "").astype(str).str.strip()
    names = (
        frame["name"].astype(object).where(frame["name"].notna(), "").astype(str).str.strip()
        if "name" in frame.columns
        else codes
    )
    names = names.where(names != "", codes)
    # A missing outline stays missing: the validity check reports it with its row.
    present = ~(frame.geometry.isna() | frame.geometry.is_empty).to_numpy()
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if present.any():
        converted = geoseries_to_cgcs2000(frame.geometry.values[present], crs)
        geoms[present] = np.asarray(converted.values, dtype=object)
    return gpd.GeoDataFrame(
        {"code": codes.to_numpy(), "name": names.to_numpy()},
        geometry=gpd.GeoSeries(geoms, crs=SRID),
        crs=SRID,
    )


def import_layer(
    session: Session,
    frame: gpd.GeoDataFrame,
    crs_text: str | None,
    spec: LayerSpec,
    settings: Settings,
    *,
    filename: str,
    scope_code: str | None,
    user_id: int | None,
) -> tuple[int, ValidationReport]:
    """Check a foreign layer and store it (the caller commits); returns its id and report.

    Raises ``ImportRejected`` listing every problem when a cell has no code, a code twice or
    an unusable outline; overlaps and gaps are notes of the report, stored with the layer.
    """
    spec = spec.checked()
    cells = prepare_cells(frame, crs_text)
    report = validate_cells(
        cells, sliver_area_m2=settings.sliver_area_m2, sliver_width_m=settings.sliver_width_m
    )
    if not report.ok:
        raise _rejected(report)
    layer_id = store.add_layer(
        session,
        name=spec.name,
        department=spec.department,
        compare_level=spec.compare_level,
        scope_code=scope_code,
        filename=filename,
        crs=str(crs_text),
        imported_by=user_id,
        report=report.as_geojson(),
    )
    store.add_cells(session, layer_id, _rows(cells))
    return layer_id, report


def _rows(cells: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    def multi(geom: shapely.Geometry) -> shapely.Geometry:
        return shapely.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom

    return [
        {
            "code": code,
            "name": name,
            "geom": f"SRID={SRID};{shapely.to_wkt(multi(geom), rounding_precision=-1)}",
        }
        for code, name, geom in zip(cells["code"], cells["name"], cells.geometry, strict=True)
    ]


def _rejected(report: ValidationReport) -> ImportRejected:
    errors: list[dict[str, Any]] = [
        {"where": f"cell {p.code}" if p.code else "file", **p.as_dict()} for p in report.problems
    ]
    text = report.as_text(limit=_LISTED, english=True)
    return ImportRejected(
        f"外部门网格文件未导入 (foreign grid file rejected, nothing written): {text}",
        errors=errors,
    )
