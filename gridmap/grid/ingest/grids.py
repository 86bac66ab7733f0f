"""Grid imports: validated as a whole, then written as one new version of each grid."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from geoalchemy2.functions import ST_AsBinary
from sqlalchemy import (
    Table,
    Text,
    any_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from gridmap.core.settings import Settings
from gridmap.grid.ingest.common import ImportReport, declared_crs, reject, require_columns
from gridmap.spatial.crs import (
    check_geometries_in_china,
    geoseries_to_cgcs2000,
)
from gridmap.spatial.validate import validate_grids
from gridmap.storage.grids import current_at
from gridmap.storage.models import (
    SRID,
    Grid,
)
from gridmap.storage.sql import as_array


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
            ST_AsBinary(Grid.geom),
        )
        .outerjoin(parent, parent.c.id == Grid.parent_id)
        .where(current_at())
    ).all()
    columns = ["id", "code", "name", "level", "kind", "parent_code"]
    frame = pd.DataFrame([r[:6] for r in rows], columns=columns)
    geoms = shapely.from_wkb([bytes(r[6]) for r in rows]) if rows else []
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


def import_grids(
    session: Session,
    frame: gpd.GeoDataFrame,
    crs_text: str | None,
    settings: Settings,
    *,
    redraw: bool = False,
) -> ImportReport:
    """Validate a grid file against itself and the current grids, then insert it.

    With ``redraw`` a code that already exists closes the current row (``valid_to`` today)
    and the file's geometry becomes the new current row; without it, that is an error.
    """
    grids = prepare_grids(frame, crs_text)
    existing = _existing_grids(session)
    taken = existing[existing["code"].isin(grids["code"])]
    if len(taken) and not redraw:
        raise reject(
            "grid file",
            [
                {
                    "where": f"grid {c}",
                    "message": "already exists; import with --redraw to replace it",
                }
                for c in taken["code"]
            ],
        )
    others = existing[~existing["code"].isin(grids["code"])]
    report = validate_grids(
        grids,
        others,
        inside_tolerance_m=settings.inside_tolerance_m,
        sliver_area_m2=settings.sliver_area_m2,
    )
    if not report.ok:
        raise reject(
            "grid file",
            [
                {
                    "where": f"grid {p.code}" if p.code else "file",
                    "message": p.message,
                    "kind": p.kind,
                    "lon": p.lon,
                    "lat": p.lat,
                }
                for p in report.problems
            ],
        )
    closed = 0
    if len(taken):
        session.execute(
            update(Grid)
            .where(Grid.code == any_(as_array(taken["code"], Text)), current_at())
            .values(valid_to=func.current_date())
        )
        closed = len(taken)
    ids = dict(zip(others["code"], others["id"], strict=True))
    for level in ("community", "zone", "micro"):
        rows = grids[grids["level"] == level]
        if rows.empty:
            continue
        parent_codes = rows["parent_code"].where(rows["parent_code"].notna(), None)
        derived = rows["code"].str[: {"community": 0, "zone": 12, "micro": 14}[level]]
        values = [
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
        result = session.execute(insert(Grid).returning(Grid.id, Grid.code), values)
        ids.update({code: gid for gid, code in result})
    if len(taken):
        moved = zip(taken["code"], taken["id"], strict=True)
        _reparent(session, {int(old): ids[code] for code, old in moved})
    return ImportReport("grids", written=len(grids), closed=closed)


def _reparent(session: Session, new_id_of: dict[int, int]) -> None:
    """Current children of redrawn grids follow their parent to its new row."""
    table = Grid.__table__
    assert isinstance(table, Table)
    stmt = (
        update(table)
        .where(table.c.parent_id == bindparam("old"), table.c.valid_to.is_(None))
        .values(parent_id=bindparam("new"))
    )
    session.connection().execute(stmt, [{"old": o, "new": n} for o, n in new_id_of.items()])
