"""Grid imports: validated as a whole, then written as one new version of each grid."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from geoalchemy2.functions import ST_AsBinary
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from gridmap.core.settings import Settings
from gridmap.grid.ingest.common import ImportRejected, ImportReport, declared_crs, require_columns
from gridmap.grid.ingest.redraw import (
    RedrawPlan,
    close,
    follow,
    household_notes,
    households_of,
    plan_redraw,
    retire,
    split_status,
)
from gridmap.spatial.crs import (
    check_geometries_in_china,
    geoseries_to_cgcs2000,
)
from gridmap.spatial.row_checks import LEVEL_ZH, LEVELS
from gridmap.spatial.validate import ValidationReport, validate_grids
from gridmap.storage.grids import current_at
from gridmap.storage.models import SRID, Grid


def _existing_grids(session: Session) -> gpd.GeoDataFrame:
    parent = Grid.__table__.alias("parent")
    rows = session.execute(
        select(
            Grid.id,
            Grid.code,
            Grid.name,
            Grid.level,
            Grid.kind,
            parent.c.code,
            (Grid.valid_from == func.current_date()).label("today"),
            ST_AsBinary(Grid.geom),
        )
        .outerjoin(parent, parent.c.id == Grid.parent_id)
        .where(current_at())
    ).all()
    columns = ["id", "code", "name", "level", "kind", "parent_code", "today"]
    frame = pd.DataFrame([r[:7] for r in rows], columns=columns).astype({"today": bool})
    geoms = shapely.from_wkb([bytes(r[7]) for r in rows]) if rows else []
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=SRID), crs=SRID)


def _as_multipolygons(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    single = geoms.geom_type == "Polygon"
    out = geoms.copy()
    out[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
    return out


def prepare_grids(frame: gpd.GeoDataFrame, crs_text: str | None) -> gpd.GeoDataFrame:
    """Normalise a grid file: columns, text codes, geometries converted to EPSG:4490."""
    # KML keeps the name as "Name"; Shapefile cuts field names to 10 characters.
    aliases = {"Name": "name", "parent_cod": "parent_code"}
    frame = frame.rename(columns={k: v for k, v in aliases.items() if v not in frame.columns})
    require_columns(frame, ("code", "name", "level"), "grid file")
    crs = declared_crs(frame, crs_text, "grid file")
    out = gpd.GeoDataFrame(
        {
            "code": frame["code"].astype(str).str.strip(),
            "name": frame["name"].astype(str).str.strip(),
            "level": frame["level"].astype(str).str.strip(),
            "kind": frame["kind"].fillna("ordinary").astype(str) if "kind" in frame else "ordinary",
            "parent_code": frame["parent_code"]
            .astype(str)
            .str.strip()
            .replace({"": None, "None": None, "nan": None})
            if "parent_code" in frame
            else None,
        },
        geometry=geoseries_to_cgcs2000(frame.geometry.values, crs).values,
        crs=SRID,
    )
    check_geometries_in_china(out.geometry.values)
    return out


#: Problems listed in a rejection's text; the errors list and the report file hold them all.
_LISTED = 20


def import_grids(
    session: Session,
    frame: gpd.GeoDataFrame,
    crs_text: str | None,
    settings: Settings,
    *,
    redraw: bool = False,
    on_report: Callable[[ValidationReport], None] | None = None,
) -> ImportReport:
    """Validate a grid file against itself and the current grids, then write it.

    With ``redraw`` a code that already exists closes the current row (``valid_to`` today)
    and the file's geometry becomes the new current row, or corrects the row in place when it
    was drawn today; a ``status`` of ``retired`` (撤销) retires a grid. Without it, either is an
    error. The rules are in :mod:`gridmap.grid.ingest.redraw`.

    ``on_report`` receives the full validation report before anything is written or refused
    (the CLI writes it as GeoJSON). Grids whose corners were snapped onto their parent's edge
    (``GRIDMAP_SNAP_TOLERANCE_M``) are written snapped, and the report notes them.
    """
    frame, retiring = split_status(frame)
    grids = prepare_grids(frame, crs_text)
    plan = plan_redraw(grids, retiring, _existing_grids(session), redraw=redraw)
    summary: list[str] = []
    if len(grids):
        grids, summary = _validate(grids, plan.kept, settings, on_report)
    before = households_of(session, [int(i) for i in plan.retired["id"]])
    notes = retire(session, plan.retired)
    close(session, plan.replaced["code"])
    ids = _write(session, grids, plan)
    moved = zip(plan.replaced["code"], plan.replaced["id"], strict=True)
    follow(session, {int(old): ids[code] for code, old in moved})
    if len(plan.corrected):
        corrected = ", ".join(sorted(plan.corrected["code"]))
        notes.insert(
            0, f"{len(plan.corrected)} grid(s) drawn today, corrected in place: {corrected}"
        )
    notes += household_notes(session, before)
    closed = len(plan.replaced) + int((~plan.retired["today"]).sum())
    return ImportReport("grids", written=len(grids), closed=closed, notes=summary + notes)


def _validate(
    grids: gpd.GeoDataFrame,
    kept: gpd.GeoDataFrame,
    settings: Settings,
    on_report: Callable[[ValidationReport], None] | None,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The file's grids as they will be written (snapped), and the success summary; or the
    rejection with every problem."""
    report = validate_grids(
        grids,
        kept,
        inside_tolerance_m=settings.inside_tolerance_m,
        sliver_area_m2=settings.sliver_area_m2,
        sliver_width_m=settings.sliver_width_m,
        snap_tolerance_m=settings.snap_tolerance_m,
    )
    if on_report is not None:
        on_report(report)
    if not report.ok:
        raise _rejected(report)
    if report.geometries is not None:
        grids = grids.set_geometry(gpd.GeoSeries(report.geometries, index=grids.index, crs=SRID))
    return grids, _summary_lines(report)


def _rejected(report: ValidationReport) -> ImportRejected:
    """The rejection: its text lists the first problems, its ``errors`` all of them."""
    errors: list[dict[str, Any]] = [
        {"where": f"grid {p.code}" if p.code else "file", **p.as_dict()} for p in report.problems
    ]
    text = report.as_text(limit=_LISTED, english=True)
    return ImportRejected(
        f"grid file rejected, nothing written (网格文件未导入): {text}", errors=errors
    )


def _summary_lines(report: ValidationReport) -> list[str]:
    """For the person who imported: what went in per level, how much area, what was snapped."""
    grids = report.summary.get("grids", {})
    area = report.summary.get("area_km2", {})
    counts = ", ".join(f"{LEVEL_ZH[lv]} {lv} {grids.get(lv, 0)}" for lv in LEVELS)
    covered = next((area[lv] for lv in LEVELS if grids.get(lv)), 0.0)
    lines = [f"网格 (grids): {counts}; 覆盖面积 (area covered) {covered:.2f} km²"]
    if report.notes:
        lines.append(
            f"{len(report.notes)} 个网格的顶点已吸附到上级网格的边上 "
            f"({len(report.notes)} grid(s) had corners snapped onto their parent's edge; "
            "see the report file)"
        )
    return lines


def _write(session: Session, grids: gpd.GeoDataFrame, plan: RedrawPlan) -> dict[str, int]:
    """Insert the file's grids level by level (parents first), correcting in place the
    versions drawn today; returns the id of every current grid by code."""
    ids = dict(zip(plan.kept["code"], plan.kept["id"], strict=True))
    in_place = {
        str(c): int(i) for c, i in zip(plan.corrected["code"], plan.corrected["id"], strict=True)
    }
    ids.update(in_place)
    for level in ("community", "zone", "micro"):
        rows = grids[grids["level"] == level]
        if rows.empty:
            continue
        values = _values(rows, level, ids)
        fixes = [{"id": in_place[v["code"]], **v} for v in values if v["code"] in in_place]
        new = [v for v in values if v["code"] not in in_place]
        if fixes:
            session.execute(update(Grid), fixes)
        if new:
            result = session.execute(insert(Grid).returning(Grid.id, Grid.code), new)
            ids.update({code: gid for gid, code in result})
    return ids


def _values(rows: gpd.GeoDataFrame, level: str, ids: dict[str, int]) -> list[dict[str, Any]]:
    """The columns of the file's rows of one level, parents resolved to ids."""
    parent_codes = rows["parent_code"].where(rows["parent_code"].notna(), None)
    derived = rows["code"].str[: {"community": 0, "zone": 12, "micro": 14}[level]]
    return [
        {
            "code": code,
            "name": name,
            "level": level,
            "kind": kind or "ordinary",
            "parent_id": ids.get(pc or dc) if level != "community" else None,
            "geom": f"SRID={SRID};{shapely.to_wkt(g, rounding_precision=-1)}",
        }
        for code, name, kind, pc, dc, g in zip(
            rows["code"],
            rows["name"],
            rows["kind"],
            parent_codes,
            derived,
            _as_multipolygons(rows.geometry),
            strict=True,
        )
    ]
