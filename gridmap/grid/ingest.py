"""Imports of grids, households, people, assignments and coverage: all or nothing.

Each ``import_*`` function checks the whole input first, raises ``ImportRejected`` with every
problem it found (what and where) when anything is wrong, and otherwise writes into the
caller's session; the caller commits once, so a rejected or failed import writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from geoalchemy2.functions import ST_AsBinary
from numpy.typing import NDArray
from sqlalchemy import (
    BigInteger,
    Table,
    Text,
    any_,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from gridmap.core.errors import InvalidInput, Unprocessable
from gridmap.core.settings import Settings
from gridmap.spatial.crs import (
    InputCrs,
    check_geometries_in_china,
    geoseries_to_cgcs2000,
    parse_crs,
    to_cgcs2000,
)
from gridmap.spatial.locate import locate_points
from gridmap.spatial.validate import validate_grids
from gridmap.storage.grids import current_at
from gridmap.storage.models import (
    CARE_TAGS,
    PERSON_KINDS,
    ROLES,
    SRID,
    Assignment,
    Grid,
    Household,
    Person,
)
from gridmap.storage.sql import as_array

T = TypeVar("T")
Progress = Callable[[Iterable[T]], Iterable[T]]

_CHINA_LON = (73.0, 136.0)
_CHINA_LAT = (3.0, 54.0)
_MAX_LISTED = 50


class ImportRejected(Unprocessable):
    """The input has problems; ``errors`` lists each with where it is."""

    code = "import-rejected"
    title = "Import rejected"


@dataclass
class ImportReport:
    """What an import wrote, and what a person should look at."""

    kind: str
    written: int = 0
    closed: int = 0
    notes: list[str] = field(default_factory=list)

    def as_text(self) -> str:
        lines = [
            f"{self.kind}: {self.written} written"
            + (f", {self.closed} closed" if self.closed else "")
        ]
        lines += [f"  - {n}" for n in self.notes]
        return "\n".join(lines)


def _reject(what: str, problems: list[dict[str, Any]]) -> ImportRejected:
    listed = problems[:_MAX_LISTED]
    more = len(problems) - len(listed)
    lines = [f"{p['where']}: {p['message']}" for p in listed]
    if more:
        lines.append(f"... and {more} more")
    return ImportRejected(
        f"{what} rejected, nothing written: {len(problems)} problem(s).\n" + "\n".join(lines),
        errors=problems,
    )


# ---------------------------------------------------------------------------- reading


def read_features(path: Path) -> gpd.GeoDataFrame:
    """Read a GeoJSON, Shapefile, GeoPackage or KML file (its first layer)."""
    try:
        return pyogrio.read_dataframe(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InvalidInput(f"{path}: not a readable GeoJSON/Shapefile/GPKG/KML: {exc}") from None


def read_table(path: Path) -> pd.DataFrame:
    """Read a UTF-8 CSV (a byte-order mark is accepted) with every column as text."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(f"{path}: not a readable UTF-8 CSV file: {exc}") from None


def _require_columns(df: pd.DataFrame, required: Iterable[str], what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        found = ", ".join(map(str, df.columns))
        raise InvalidInput(f"{what}: missing column(s) {', '.join(missing)}; found {found}")


def _declared_crs(frame: gpd.GeoDataFrame, crs_text: str | None, what: str) -> InputCrs:
    """The declared CRS; a file whose own CRS contradicts the declaration is refused."""
    if not crs_text:
        raise InvalidInput(
            f"{what}: declare the coordinate system (--crs), e.g. EPSG:4490 or GCJ02"
        )
    crs = parse_crs(crs_text)
    own = frame.crs
    if own is not None and own.is_projected != (not crs.geographic):
        raise InvalidInput(
            f"{what}: the file says its coordinates are in {own.name}, but {crs.name} was declared"
        )
    return crs


# ---------------------------------------------------------------------------- grids


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
    _require_columns(frame, ("code", "name", "level"), "grid file")
    crs = _declared_crs(frame, crs_text, "grid file")
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
        raise _reject(
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
        raise _reject(
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


# ---------------------------------------------------------------------------- households


def _flag(
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


def _coordinate_problems(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Coordinates that are not numbers, outside China, or with lon/lat swapped."""
    lon, lat = rows["lon"], rows["lat"]
    missing = ~(np.isfinite(lon) & np.isfinite(lat))
    inside = lon.between(*_CHINA_LON) & lat.between(*_CHINA_LAT)
    swapped = lat.between(*_CHINA_LON) & lon.between(*_CHINA_LAT)

    def where(r: dict[str, Any]) -> str:
        return f"({r['lon']}, {r['lat']}) is outside China"

    return (
        _flag(rows, missing, lambda r: "coordinates are missing or not numbers")
        + _flag(
            rows,
            ~missing & ~inside & swapped,
            lambda r: where(r) + "; longitude and latitude look swapped",
        )
        + _flag(rows, ~missing & ~inside & ~swapped, where)
    )


def _numbers(series: pd.Series) -> NDArray[np.float64]:
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
        _flag(
            rows,
            ids.notna() & ids.duplicated(keep=False),
            lambda r: f"id {r['id']} appears more than once",
        )
        + _flag(rows, ids.isin(taken_ids), lambda r: f"household {r['id']} already exists")
        + _flag(rows, rows["address"].str.strip() == "", lambda r: "address is empty")
        + _flag(
            rows,
            ~residents.between(0, 99) | (residents % 1 != 0),
            lambda r: "residents must be a whole number 0–99",
        )
        + _flag(
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
        crs = _declared_crs(frame, crs_text, what)
        geoms = frame.geometry.values
        if not all(geoms.geom_type == "Point"):
            raise InvalidInput(f"{what}: every feature must be a Point")
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    else:
        xcol, ycol = ("lon", "lat") if "lon" in frame.columns else ("x", "y")
        _require_columns(frame, (xcol, ycol), what)
        if not crs_text:
            raise InvalidInput(f"{what}: declare the coordinate system (--crs), e.g. EPSG:4490")
        crs = parse_crs(crs_text)
        x, y = _numbers(frame[xcol]), _numbers(frame[ycol])
    _require_columns(frame, ("address",), what)

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
    problems = _coordinate_problems(rows)
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
        raise _reject("household file", problems)
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
    raw = _driver_connection(session)
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
    _sync_sequence(session, "household")


def _driver_connection(session: Session) -> Any:
    """The psycopg connection under the session's transaction, for COPY."""
    raw = session.connection().connection.driver_connection
    assert raw is not None, "the session has no open connection"
    return raw


def _sync_sequence(session: Session, table: str) -> None:
    session.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" GREATEST((SELECT max(id) FROM {table}), 1))"
        )
    )


# ---------------------------------------------------------------------------- people


def _codes_to_ids(session: Session, codes: Iterable[str]) -> dict[str, int]:
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    stmt = select(Grid.code, Grid.id).where(Grid.code == any_(as_array(wanted, Text)), current_at())
    return {code: grid_id for code, grid_id in session.execute(stmt)}


def _homes(frame: pd.DataFrame, crs_text: str | None) -> tuple[list[Any], list[dict[str, Any]]]:
    """Home points (EWKT or None) from optional ``home_lon``/``home_lat`` columns, and the
    problems of the rows whose home is not a point in China."""
    if "home_lon" not in frame.columns:
        return [None] * len(frame), []
    if not crs_text:
        raise InvalidInput(
            "people file: declare the coordinate system of home_lon/home_lat (--crs)"
        )
    given = (frame["home_lon"] != "") | (frame["home_lat"] != "")
    rows = pd.DataFrame({"lon": _numbers(frame["home_lon"]), "lat": _numbers(frame["home_lat"])})
    finite = given & np.isfinite(rows["lon"]) & np.isfinite(rows["lat"])
    if finite.any():
        lon, lat = to_cgcs2000(
            rows.loc[finite, "lon"].to_numpy(),
            rows.loc[finite, "lat"].to_numpy(),
            parse_crs(crs_text),
        )
        rows.loc[finite, "lon"], rows.loc[finite, "lat"] = lon, lat
    problems = _coordinate_problems(rows[given])
    points = [
        f"SRID={SRID};POINT({x!r} {y!r})" if g else None
        for x, y, g in zip(rows["lon"], rows["lat"], given, strict=True)
    ]
    return points, problems


def import_people(
    session: Session, frame: pd.DataFrame, crs_text: str | None = None
) -> ImportReport:
    """People from a CSV: id (optional), name, phone, kind, home_community_code, and where
    they live (``home_lon``, ``home_lat`` in the declared ``crs_text``) when known."""
    _require_columns(frame, ("name", "kind"), "people file")
    frame = frame.fillna("").reindex(
        columns=[*frame.columns, *{"id", "phone", "home_community_code"} - set(frame.columns)],
        fill_value="",
    )
    homes, home_problems = _homes(frame, crs_text)
    communities = _codes_to_ids(session, frame["home_community_code"])
    phone_digits = frame["phone"].str.replace(r"[+\-]", "", regex=True)
    home = frame["home_community_code"]
    problems = (
        _flag(frame, frame["name"].str.strip() == "", lambda r: "name is empty")
        + _flag(
            frame,
            ~frame["kind"].isin(PERSON_KINDS),
            lambda r: f"kind {r['kind']!r} is not one of {list(PERSON_KINDS)}",
        )
        + _flag(
            frame,
            (frame["phone"] != "") & ~phone_digits.str.fullmatch(r"\d{5,20}"),
            lambda r: f"phone {r['phone']!r} is not a phone number",
        )
        + _flag(
            frame,
            (home != "") & ~home.isin(communities),
            lambda r: f"no current community with code {r['home_community_code']!r}",
        )
        + _flag(
            frame,
            (frame["id"] != "") & ~frame["id"].str.isdigit(),
            lambda r: f"id {r['id']!r} is not a number",
        )
        + _flag(
            frame,
            (frame["id"] != "") & frame["id"].duplicated(keep=False),
            lambda r: f"id {r['id']} appears more than once",
        )
        + home_problems
    )
    if problems:
        raise _reject("people file", problems)
    values = [
        {
            **({"id": int(r["id"])} if r["id"] else {}),
            "name": r["name"].strip(),
            "phone": r["phone"] or None,
            "kind": r["kind"],
            "home_community_id": communities.get(r["home_community_code"]),
            "home": home,
        }
        for r, home in zip(frame.to_dict("records"), homes, strict=True)
    ]
    if values:
        session.execute(insert(Person), values)
    _sync_sequence(session, "person")
    return ImportReport("people", written=len(values))


def import_assignments(session: Session, frame: pd.DataFrame) -> ImportReport:
    """Assignments from a CSV: person_id, grid_code, role, start_date, end_date (optional)."""
    _require_columns(frame, ("person_id", "grid_code", "role"), "assignment file")
    frame = frame.fillna("")
    grid_ids = _codes_to_ids(session, frame["grid_code"])
    person_ids = _existing_ids(session, Person, frame["person_id"])
    problems = (
        _flag(
            frame,
            ~frame["role"].isin(ROLES),
            lambda r: f"role {r['role']!r} is not one of {list(ROLES)}",
        )
        + _flag(
            frame,
            ~frame["grid_code"].isin(grid_ids),
            lambda r: f"no current grid with code {r['grid_code']!r}",
        )
        + _flag(
            frame,
            ~frame["person_id"].isin(person_ids),
            lambda r: f"no person with id {r['person_id']!r}",
        )
    )
    if problems:
        raise _reject("assignment file", problems)
    values = [
        {
            "person_id": int(r["person_id"]),
            "grid_id": grid_ids[r["grid_code"]],
            "role": r["role"],
            **({"start_date": r["start_date"]} if r.get("start_date") else {}),
            **({"end_date": r["end_date"]} if r.get("end_date") else {}),
        }
        for r in frame.to_dict("records")
    ]
    if values:
        session.execute(insert(Assignment), values)
    return ImportReport("assignments", written=len(values))


def _existing_ids(session: Session, model: Any, column: pd.Series) -> set[str]:
    wanted = {int(v) for v in column if str(v).isdigit()}
    if not wanted:
        return set()
    stmt = select(model.id).where(model.id == any_(as_array(wanted, BigInteger)))
    return {str(i) for i in session.scalars(stmt)}


def import_coverage(session: Session, frame: pd.DataFrame) -> ImportReport:
    """Coverage (党员分片包户) from a CSV: person_id, household_id."""
    _require_columns(frame, ("person_id", "household_id"), "coverage file")
    frame = frame.fillna("")
    person_ids = _existing_ids(session, Person, frame["person_id"])
    household_ids = _existing_ids(session, Household, frame["household_id"])
    problems = (
        _flag(
            frame,
            ~frame["person_id"].isin(person_ids),
            lambda r: f"no person with id {r['person_id']!r}",
        )
        + _flag(
            frame,
            ~frame["household_id"].isin(household_ids),
            lambda r: f"no household with id {r['household_id']!r}",
        )
        + _flag(
            frame,
            frame.duplicated(["person_id", "household_id"]),
            lambda r: "the same person and household appear twice",
        )
    )
    if problems:
        raise _reject("coverage file", problems)
    raw = _driver_connection(session)
    pairs = frame[["person_id", "household_id"]].astype(int).itertuples(index=False)
    with (
        raw.cursor() as cur,
        cur.copy("COPY coverage (person_id, household_id) FROM STDIN") as copy,
    ):
        for pair in pairs:
            copy.write_row(tuple(pair))
    return ImportReport("coverage", written=len(frame))
