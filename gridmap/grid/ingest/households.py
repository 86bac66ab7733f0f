"""Household imports: located to their micro-grids in bulk, then copied in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geoalchemy2.functions import ST_AsBinary
from numpy.typing import NDArray
from sqlalchemy import (
    BigInteger,
    any_,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session

from gridmap.core.errors import InvalidInput
from gridmap.grid.ingest.common import (
    CHINA_LAT,
    CHINA_LON,
    ImportReport,
    Progress,
    declared_crs,
    reject,
    require_columns,
)
from gridmap.spatial.crs import (
    parse_crs,
    to_cgcs2000,
)
from gridmap.spatial.locate import locate_points
from gridmap.storage.grids import current_at
from gridmap.storage.models import (
    CARE_TAGS,
    SRID,
    Grid,
    Household,
)
from gridmap.storage.sql import as_array


def flag(
    frame: pd.DataFrame, bad: pd.Series, message: Callable[[dict[str, Any]], str]
) -> list[dict[str, Any]]:
    """One problem per row where ``bad`` holds.

    Rows are numbered as a spreadsheet shows a CSV (header = row 1), or from 1 for features
    (``frame.attrs["first_row"]``).
    """
    return [
        {"where": f"row {i + 2}", "message": message(rec)}
        for i, rec in zip(
            np.flatnonzero(bad.to_numpy()), frame[bad].to_dict("records"), strict=True
        )
    ]


def coordinate_problems(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Coordinates that are not numbers, outside China, or with lon/lat swapped."""
    lon, lat = rows["lon"], rows["lat"]
    missing = ~(np.isfinite(lon) & np.isfinite(lat))
    inside = lon.between(*CHINA_LON) & lat.between(*CHINA_LAT)
    swapped = lat.between(*CHINA_LON) & lon.between(*CHINA_LAT)

    def where(r: dict[str, Any]) -> str:
        return f"({r['lon']}, {r['lat']}) is outside China"

    return (
        flag(rows, missing, lambda r: "coordinates are missing or not numbers")
        + flag(
            rows,
            ~missing & ~inside & swapped,
            lambda r: where(r) + "; longitude and latitude look swapped",
        )
        + flag(rows, ~missing & ~inside & ~swapped, where)
    )


def numbers(series: pd.Series) -> NDArray[np.float64]:
    numbers: NDArray[np.float64] = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    return numbers


def _current_micro_grids(session: Session) -> tuple[np.ndarray, np.ndarray]:
    rows = session.execute(
        select(Grid.id, ST_AsBinary(Grid.geom)).where(Grid.level == "micro", current_at())
    ).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return ids, shapely.from_wkb([bytes(r[1]) for r in rows]) if rows else np.array([])


def _household_problems(rows: pd.DataFrame, taken_ids: set[int]) -> list[dict[str, Any]]:
    ids, residents = rows["id"], rows["residents"]
    unknown_tags = pd.Series(
        [bool(set(t) - set(CARE_TAGS)) for t in rows["care_tags"]], index=rows.index
    )
    problems = (
        flag(
            rows,
            ids.notna() & ids.duplicated(keep=False),
            lambda r: f"id {r['id']} appears more than once",
        )
        + flag(rows, ids.isin(taken_ids), lambda r: f"household {r['id']} already exists")
        + flag(rows, rows["address"].str.strip() == "", lambda r: "address is empty")
        + flag(
            rows,
            ~residents.between(0, 99) | (residents % 1 != 0),
            lambda r: "residents must be a whole number 0–99",
        )
        + flag(
            rows,
            unknown_tags,
            lambda r: f"unknown care tag(s) in {r['care_tags']}; known: {list(CARE_TAGS)}",
        )
    )
    return problems


def _care_tags(value: object) -> list[str]:
    """Care tags from a list (GeoJSON) or a ``;``-separated text (CSV); blank means none."""
    if isinstance(value, list):
        return value
    if not isinstance(value, str) or value in ("nan", "None"):
        return []
    return [tag.strip() for tag in value.split(";") if tag.strip()]


def prepare_households(
    frame: pd.DataFrame | gpd.GeoDataFrame, crs_text: str | None
) -> pd.DataFrame:
    """Normalise households from a CSV (lon/lat or x/y columns) or a GeoJSON of points."""
    what = "household file"
    if isinstance(frame, gpd.GeoDataFrame):
        crs = declared_crs(frame, crs_text, what)
        geoms = frame.geometry.values
        if not all(geoms.geom_type == "Point"):
            raise InvalidInput(f"{what}: every feature must be a Point")
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    else:
        xcol, ycol = ("lon", "lat") if "lon" in frame.columns else ("x", "y")
        require_columns(frame, (xcol, ycol), what)
        if not crs_text:
            raise InvalidInput(f"{what}: declare the coordinate system (--crs), e.g. EPSG:4490")
        crs = parse_crs(crs_text)
        x, y = numbers(frame[xcol]), numbers(frame[ycol])
    require_columns(frame, ("address",), what)

    def text_column(name: str) -> pd.Series:
        if name not in frame.columns:
            return pd.Series([None] * len(frame), index=frame.index, dtype=object)
        col = frame[name].astype(str).str.strip()
        return col.where(~col.isin(["", "nan", "None"]), None)

    n = len(frame)
    out = pd.DataFrame(
        {
            "id": pd.to_numeric(frame["id"], errors="coerce").astype("Int64")
            if "id" in frame
            else pd.Series([pd.NA] * n, dtype="Int64"),
            "address": frame["address"].fillna("").astype(str),
            "building": text_column("building"),
            "unit": text_column("unit"),
            "room": text_column("room"),
            "residents": pd.to_numeric(frame["residents"], errors="coerce")
            if "residents" in frame
            else 1,
            "care_tags": [
                _care_tags(t) for t in (frame["care_tags"] if "care_tags" in frame else [None] * n)
            ],
        }
    )
    out.attrs["first_row"] = 1 if isinstance(frame, gpd.GeoDataFrame) else 2
    finite = np.isfinite(x) & np.isfinite(y)
    lon, lat = np.full(len(x), np.nan), np.full(len(y), np.nan)
    if finite.any():
        lon[finite], lat[finite] = to_cgcs2000(x[finite], y[finite], crs)
    out["lon"], out["lat"] = lon, lat
    return out


def import_households(
    session: Session,
    frame: pd.DataFrame | gpd.GeoDataFrame,
    crs_text: str | None,
    *,
    progress: Progress[Any] = iter,
) -> ImportReport:
    """Check and insert households, each located to its micro-grid.

    Households outside every micro-grid are imported (never dropped) and listed in the report.
    """
    rows = prepare_households(frame, crs_text)
    lon, lat = rows["lon"].to_numpy(), rows["lat"].to_numpy()
    problems = coordinate_problems(rows)
    given = [int(i) for i in rows["id"].dropna()]
    taken = (
        set(
            session.scalars(
                select(Household.id).where(Household.id == any_(as_array(given, BigInteger)))
            )
        )
        if given
        else set()
    )
    problems += _household_problems(rows, taken)
    if problems:
        raise reject("household file", problems)
    grid_ids, grid_geoms = _current_micro_grids(session)
    located = (
        locate_points(lon, lat, grid_ids, grid_geoms) if len(grid_ids) else np.full(len(rows), -1)
    )
    if rows["id"].isna().any():
        start = session.scalar(select(func.coalesce(func.max(Household.id), 0))) or 0
        start = max(start, int(rows["id"].max()) if rows["id"].notna().any() else 0)
        fill = np.arange(start + 1, start + 1 + int(rows["id"].isna().sum()))
        rows.loc[rows["id"].isna(), "id"] = fill
    _copy_households(session, rows, located, progress)
    outside = np.flatnonzero(located < 0)
    report = ImportReport("households", written=len(rows))
    if len(outside):
        listed = ", ".join(
            f"row {i + rows.attrs['first_row']} (id {rows['id'].iloc[i]})" for i in outside[:20]
        )
        more = f" and {len(outside) - 20} more" if len(outside) > 20 else ""
        report.notes.append(
            f"{len(outside)} household(s) lie outside every micro-grid: {listed}{more}"
        )
    return report


def _copy_households(
    session: Session, rows: pd.DataFrame, located: np.ndarray, progress: Progress[Any]
) -> None:
    """COPY households in chunks with the micro-grids located here.

    The flag tells the insert trigger that ``located`` follows the database's own rule (see
    the first migration), so it need not test each row again.
    """
    raw = driver_connection(session)
    columns = "id, geom, address, building, unit, room, residents, care_tags, micro_grid_id"
    chunk = 50_000
    with raw.cursor() as cur:
        cur.execute("SELECT set_config('gridmap.bulk_located', 'on', true)")
        for start in progress(range(0, len(rows), chunk)):
            part = rows.iloc[start : start + chunk]
            loc = located[start : start + chunk]
            with cur.copy(f"COPY household ({columns}) FROM STDIN") as copy:
                for rec, grid in zip(part.itertuples(index=False), loc, strict=True):
                    copy.write_row(
                        (
                            int(rec.id),
                            f"SRID={SRID};POINT({rec.lon!r} {rec.lat!r})",
                            rec.address,
                            rec.building,
                            rec.unit,
                            rec.room,
                            int(rec.residents),
                            rec.care_tags,
                            int(grid) if grid >= 0 else None,
                        )
                    )
        cur.execute("SELECT set_config('gridmap.bulk_located', 'off', true)")
    sync_sequence(session, "household")


def driver_connection(session: Session) -> Any:
    """The psycopg connection under the session's transaction, for COPY."""
    raw = session.connection().connection.driver_connection
    assert raw is not None, "the session has no open connection"
    return raw


def sync_sequence(session: Session, table: str) -> None:
    session.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" GREATEST((SELECT max(id) FROM {table}), 1))"
        )
    )
